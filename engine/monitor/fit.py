"""Fit a model bundle on a folder of normal recordings, whatever their names, through the shared engine: the
same features, training loop, reference fit and gamma thresholds as a DCASE run of the same model."""

from __future__ import annotations

import csv
import datetime
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch

import common
from datasets.clip_features import extract_features
from datasets.features import FeatureParams
from datasets.file_list import Clip
from datasets.folder_clips import folder_clips, folder_training_set, machine_names
from datasets.vector_data import VectorSet
from datasets.waveforms import machine_clips_of
from engine.checkpoint import run_fingerprint
from engine.monitor import bundle as files
from engine.runner import resolve_score_mode, save_thresholds, start
from engine.saved_model import file_sha256
from engine.train_loop import TrainingSettings, build_and_train
from errors import ConfigError, DataError
from networks import registry
from networks.base import Inputs, Model, Scope
from networks.family_classifier import OneClassError
from safe_io import write_csv

DOMAINS = ("source", "target")


def list_wavs(folder: Path) -> list[Path]:
    """Every ``.wav`` file under ``folder`` (sub-folders included, hidden files left out), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; give the folder that holds the normal recordings")
    found = sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() == ".wav"
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    if not found:
        raise DataError(f"{folder} holds no WAV files (*.wav, sub-folders included); give the folder of the recordings")
    return found


def read_domains(csv_path: Path, folder: Path, clips: Sequence[Path]) -> np.ndarray:
    """Whether each clip is a target-domain clip, from a CSV of ``file,domain`` rows (file: its path under
    ``folder``; domain: source or target). Clips the CSV does not name are source clips."""
    known = {clip.relative_to(folder).as_posix(): index for index, clip in enumerate(clips)}
    is_target = np.zeros(len(clips), dtype=bool)
    try:
        with open(csv_path, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"--domains {csv_path} cannot be read ({error})") from error
    for number, row in enumerate(rows, start=1):
        if not row or (number == 1 and [cell.strip().lower() for cell in row[:2]] == ["file", "domain"]):
            continue
        if len(row) < 2 or row[1].strip() not in DOMAINS:
            raise DataError(
                f"--domains {csv_path} line {number}: expected 'file,source' or 'file,target', got {','.join(row)!r}"
            )
        name = row[0].strip()
        if name not in known:
            raise DataError(
                f"--domains {csv_path} line {number}: {name!r} is not a WAV file under {folder} (give "
                "paths relative to that folder, e.g. 2026-11-30T08-15-00.wav)"
            )
        is_target[known[name]] = row[1].strip() == "target"
    return is_target


def fit_config(model: str | None, config_files: Sequence[str], flags: Sequence[str]) -> Any:
    """The run settings of a fit: baseline.yaml, the ``--config`` overlays, then ``model`` when given and ``flags``
    (train.py's options)."""
    argv = ["--dataset", "monitor", "-d", *(["--model", model] if model else [])]
    for path in config_files:
        argv += ["--config", str(path)]
    return common.parse_config([*argv, *flags])


def fits_one_folder(model_class: type[Model]) -> bool:
    """Whether a model can be fitted on folders of recordings: one trained per machine type on log-mel vectors, or
    a family classifier (its classes then come from the folders, the file names and the domains)."""
    return model_class.scope == Scope.FAMILY or model_class.inputs == Inputs.VECTORS


def check_model_fits(model_name: str, model_class: type[Model], others: Sequence[Path] = ()) -> None:
    """ConfigError unless the model can be fitted on a folder of recordings (with ``others``: a family model)."""
    if not fits_one_folder(model_class):
        usable = [name for name in registry.names() if fits_one_folder(registry.get(name))]
        raise ConfigError(
            f"--model {model_name} trains on its machine type with the other machine types of a DCASE dataset "
            f"family as outliers, not on folders of recordings; monitoring works with {', '.join(usable)}"
        )
    if others and model_class.scope != Scope.FAMILY:
        family = [name for name in registry.names() if registry.get(name).scope == Scope.FAMILY]
        raise ConfigError(
            f"--others: {model_name} learns from the monitored machine's recordings alone; other machines' "
            f"folders are for the classifiers of several machine types ({', '.join(family)})"
        )


def clip_rows(folder: Path, clips: Sequence[Path], is_target: np.ndarray) -> tuple[list[list[str]], np.ndarray]:
    """clips.csv's rows (path under the folder, SHA-256, domain, seconds) and each clip's length in seconds."""
    rows, seconds = [["file", "sha256", "domain", "seconds"]], []
    for clip, target in zip(clips, is_target, strict=True):
        info = soundfile.info(str(clip))
        seconds.append(info.frames / info.samplerate)
        rows.append(
            [clip.relative_to(folder).as_posix(), file_sha256(clip), DOMAINS[int(target)], f"{seconds[-1]:.6f}"]
        )
    return rows, np.array(seconds)


def _training_inputs(
    model_class: type[Model],
    config: Any,
    params: FeatureParams,
    folders: Sequence[tuple[Path, list[Clip]]],
    names: Sequence[str],
    cache_dir: Path,
    device: torch.device,
) -> tuple[Any, Any, int]:
    """``(training data, reference data, sample rate)``: the monitored machine's log-mel vectors (both), or the
    waveforms of every folder's clips (machine types ``names``) to train on and the monitored machine's (first
    folder's) as reference."""
    if model_class.inputs == Inputs.VECTORS:
        clips = folders[0][1]
        features = extract_features([clip.path for clip in clips], params, config.num_workers, "training clips")
        is_target = np.array([clip.domain == "target" for clip in clips], dtype=bool)
        data = VectorSet.from_features(features, params, is_target, device)
        return data, data, features.sample_rate
    data = folder_training_set(folders, names, cache_dir, params.channel_rule)
    reference = machine_clips_of(data.machines[0], folders[0][1], data.waveforms[0])
    return data, reference, data.sample_rate


def _train_in(
    staging: Path, model_class: type[Model], config: Any, data: Any, reference: Any, device: torch.device
) -> tuple[Model, dict[str, np.ndarray]]:
    """Train, fit the reference and the thresholds into ``staging``; the per-clip training scores."""
    options = model_class.options_class.from_config(config)
    paths = files.bundle_paths(staging)
    try:
        model, run = build_and_train(
            model_class,
            options,
            data,
            TrainingSettings.from_config(config),
            paths,
            run_fingerprint(config, options),
            device,
        )
    except OneClassError as error:
        raise DataError(
            f"{error} (one machine's recordings: add other machines' folders with --others, or mark its "
            "target-domain clips with --domains)"
        ) from error
    reference_scores = model.fit_reference(reference)
    save_thresholds(paths, {**run.calibration, **reference_scores})
    if model_class.inputs == Inputs.VECTORS:
        return model, model.score(data)
    # a nearest-neighbour score of a training clip among its own embeddings is 0: its leave-one-out score (the
    # threshold's sample) is what a new clip's percentile is compared with
    return model, reference_scores


def _other_folders(others: Sequence[Path]) -> list[tuple[Path, list[Clip]]]:
    """Every ``--others`` folder with its WAV files as source-domain clips."""
    folders = []
    for other in others:
        paths = list_wavs(Path(other))
        folders.append((Path(other), folder_clips(paths, np.zeros(len(paths), dtype=bool))))
    return folders


def fit_bundle(
    folder: Path,
    out: Path,
    model_name: str | None = None,
    config_files: Sequence[str] = (),
    flags: Sequence[str] = (),
    domains: Path | None = None,
    others: Sequence[Path] = (),
) -> dict[str, Any]:
    """Train ``model_name`` (default: the configuration's, baseline.yaml's) on every WAV under ``folder`` (a
    family model also on those under each of ``others``) and write the bundle ``out``; returns its manifest."""
    started = time.perf_counter()
    folder, out = Path(folder), Path(out)
    if out.exists():
        raise DataError(f"--out {out} already exists; give a new folder name or delete the old bundle first")
    config = fit_config(model_name, config_files, flags)
    model_class = registry.get(config.model)
    check_model_fits(config.model, model_class, others)
    score = resolve_score_mode(config.score, config.model, model_class.score_modes)
    paths = list_wavs(folder)
    is_target = read_domains(Path(domains), folder, paths) if domains else np.zeros(len(paths), dtype=bool)
    if len(paths) < 2:
        raise DataError(f"{folder} holds {len(paths)} WAV file; the model needs at least two normal recordings")
    folders = [(folder, folder_clips(paths, is_target)), *_other_folders(others)]
    names = machine_names([path for path, _ in folders])
    params = FeatureParams.from_config(config)
    device = start(config)  # as a DCASE run: seeded before any data is read
    with files.bundle_staging(out) as staging:
        data, reference, sample_rate = _training_inputs(
            model_class, config, params, folders, names, staging / ".waveforms", device
        )
        model, training_scores = _train_in(staging, model_class, config, data, reference, device)
        files.save_model(
            staging, model, {"fingerprint": run_fingerprint(config, model.options), "epochs": config.epochs}
        )
        rows, seconds = clip_rows(folder, paths, is_target)
        write_csv(staging / files.CLIPS, rows)
        files.write_json(
            staging / files.TRAINING_SCORES,
            {mode: {"scores": values.tolist()} for mode, values in training_scores.items()},
        )
        manifest = {
            "format": files.BUNDLE_FORMAT,
            "version": files.BUNDLE_VERSION,
            "model": config.model,
            "options": files.options_record(model.options),
            "features": params.as_dict(),
            "sample_rate": sample_rate,
            "clip_seconds": float(np.median(seconds)),
            "score": score,
            "score_modes": list(model_class.score_modes),
            "decision_threshold": config.decision_threshold,
            "epochs": config.epochs,
            "seed": config.seed,
            "n_clips": len(paths),
            "n_target_clips": int(is_target.sum()),
            "trained_on": names[0],  # the machine type's name in the classes of a family model
            "also_trained_on": dict(zip(names[1:], [len(clips) for _, clips in folders[1:]], strict=True)),
            "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        files.finish_bundle(staging, out, manifest)
    loaded = files.load_bundle(out)
    thresholds = ", ".join(f"{mode} {value:.4g}" for mode, value in loaded.thresholds.items())
    n_others = len(folders) - 1
    others_text = (
        f" (+ {sum(len(clips) for _, clips in folders[1:])} of {n_others} other machine{'s' * (n_others > 1)})"
    )
    print(
        f"fitted {config.model} on {len(paths)} clips{others_text if others else ''} ({manifest['clip_seconds']:.1f} "
        f"s, {sample_rate} Hz) in {time.perf_counter() - started:.1f} s; thresholds {thresholds} -> {out}"
    )
    return loaded.manifest
