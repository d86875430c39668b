"""Models trained once per dataset family (``scope = "family"``: STgram-MFN) behind the per-machine scripts.

``train.py --dataset DCASE2024T2fan --train_only`` with such a model:

1. the family model: if the model of the family and split (``<model>_DCASE2024T2<_tag><_Eval>_seed<seed>.pth``)
   is missing or was trained with other settings or other data, it is trained on the training clips of ALL
   machine types of the family, under a lock, so that parallel per-machine runs train it once and later
   machine types reuse it. Every epoch writes log.csv and an atomic checkpoint; ``--restart`` resumes.
2. the machine step: embeddings and class logits of this machine type's training clips (saved as .npz with
   their domain flags), and the decision thresholds of both score modes, fitted like the autoencoder's
   (gamma, ``paths.score_distribution(mode)``) on the leave-one-out KNN scores and the NLL scores of the
   training clips.

``--test_only --score KNN|NLL`` scores each section's test clips and hands them to ``engine.test_loop.evaluate``,
so every CSV, decision and picture follows the autoencoder's contract.
"""

from __future__ import annotations

import hashlib
import io
import json
import resource
import time
from argparse import Namespace
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import common
from datasets.features import mel_filterbank
from datasets.file_list import Clip, list_test_clips, list_train_clips
from datasets.registry import DatasetSpec, machine_types, stage_script
from datasets.waveforms import (
    FamilyTrainingSet,
    belongs_to_section,
    family_listing_digest,
    list_family_training_clips,
    load_family_training_set,
    load_machine_training_waveforms,
    read_waveforms,
)
from engine.checkpoint import config_differences, load_resume_checkpoint, load_torch, read_model_info, save_torch
from engine.paths import RunPaths
from engine.test_loop import evaluate
from engine.train_loop import TrainingDivergedError, save_score_distribution, write_log_csv
from errors import DataError
from networks.stgram_mfn.detector import STgramMFNDetector, learning_rate_at
from networks.stgram_mfn.network import NetworkShape
from networks.stgram_mfn.scoring import section_nll, selective_knn_scores
from networks.stgram_mfn.settings import StgramSettings
from progress import progress_bar
from safe_io import atomic_write, atomic_write_text, file_lock, remove_stale_temporaries

EMBED_SAMPLES_PER_BATCH = 16 * 160_000  # about sixteen 10-second clips at 16 kHz per forward pass
TEST_CLIPS_PER_READ = 64  # test clips held in memory at a time


# ---------------------------------------------------------------- paths


def family_paths(config: Namespace, spec: DatasetSpec) -> RunPaths:
    """The family model's paths: those of a run whose dataset is the family (``DCASE2024T2``)."""
    return RunPaths.from_config(Namespace(**{**vars(config), "dataset": spec.family}))


def family_lock(paths: RunPaths) -> Path:
    return paths.model_dir / f"{paths.base_name}.lock"


def machine_embeddings_path(paths: RunPaths) -> Path:
    """A machine type's training embeddings, logits and domain flags."""
    return paths.model_dir / f"{paths.base_name}_embeddings.npz"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------- the family model


@dataclass
class FamilyModel:
    detector: STgramMFNDetector
    class_names: list[str]
    sample_rate: int
    weights_sha256: str
    path: Path  # the weights


def family_fingerprint(config: Namespace, spec: DatasetSpec, settings: StgramSettings,
                       data_digest: str) -> dict[str, Any]:
    """What a trained family model depends on, ``--epochs`` aside."""
    return {"model": config.model, "family": spec.family, "split": spec.split, "use_ids": list(config.use_ids),
            **settings.model_fingerprint(), "data": data_digest}


def _build_detector(shape: NetworkShape, sample_rate: int, settings: StgramSettings,
                    device: torch.device) -> STgramMFNDetector:
    filters = mel_filterbank(sample_rate, settings.n_fft, settings.n_mels, settings.fmin, settings.fmax)
    return STgramMFNDetector(shape, filters, settings, device)


def _network_shape(n_classes: int, settings: StgramSettings) -> NetworkShape:
    return NetworkShape(n_classes=n_classes, n_mels=settings.n_mels, n_fft=settings.n_fft,
                        hop_length=settings.hop_length, win_length=settings.win_length, power=settings.power,
                        width=settings.network_width, embedding_dim=settings.embedding_dim)


def _trained_model_is_current(paths: RunPaths, fingerprint: dict[str, Any], epochs: int) -> bool:
    info = read_model_info(paths.model_info)
    if info is None or not paths.model_weights.is_file():
        return False
    return info.get("fingerprint") == fingerprint and info.get("epochs") == epochs and \
        info.get("weights_sha256") == file_sha256(paths.model_weights)


def load_family_model(paths: RunPaths, settings: StgramSettings, device: torch.device,
                      dataset: str, split_flag: str) -> FamilyModel:
    """The trained family model, or a DataError saying how to train it."""
    info = read_model_info(paths.model_info)
    if info is None or not paths.model_weights.is_file():
        script = f"{stage_script(paths.dataset, '01_train')} {split_flag}"
        raise DataError(f"trained family model {paths.model_weights} not found. Train it first: python train.py "
                        f"--dataset {dataset} {split_flag} --train_only --config stgram_mfn.yaml (or bash {script} "
                        "--config stgram_mfn.yaml), with the same --export_dir, -tag and --seed")
    try:
        saved = {key: info["fingerprint"].get(key) for key in settings.model_fingerprint()}
        shape = NetworkShape(**info["shape"])
        classes, sample_rate, digest = list(info["classes"]), int(info["sample_rate"]), str(info["weights_sha256"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{paths.model_info} is damaged ({type(error).__name__}: {error}); train the model "
                        "again") from error
    differing = config_differences(saved, settings.model_fingerprint())
    if differing:
        raise DataError(f"{paths.model_weights} was trained with other settings ({'; '.join(differing)}); test "
                        "with the same settings or train again")
    state = load_torch(paths.model_weights, "trained family model")
    detector = _build_detector(shape, sample_rate, settings, device)
    try:
        detector.load_model_state(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        raise DataError(f"{paths.model_weights} does not fit its own description {paths.model_info} "
                        f"({type(error).__name__}); train it again") from error
    return FamilyModel(detector, classes, sample_rate, digest, paths.model_weights)


def _restore(detector: STgramMFNDetector, config: Namespace, paths: RunPaths,
             fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    keys = ("epoch", "model_state_dict", "optimizer_state_dict", "fingerprint", "log_rows")
    checkpoint = load_resume_checkpoint(config, paths.checkpoint, keys, fingerprint)
    if checkpoint is None:
        return None
    detector.load_model_state(checkpoint["model_state_dict"])
    detector.load_optimizer_state(checkpoint["optimizer_state_dict"])
    return checkpoint


def epoch_batches(n_clips: int, batch_size: int, shuffle: bool, rng: np.random.Generator,
                  draw_weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Clip ids of every batch of an epoch; a last batch of one clip is dropped (BatchNorm needs two).

    Without ``draw_weights`` (or with equal ones) every clip comes once; with them, ``n_clips`` clips are
    drawn with replacement, each with a probability proportional to its weight."""
    if draw_weights is not None and np.ptp(draw_weights) > 0:
        order = rng.choice(n_clips, n_clips, replace=True, p=draw_weights / draw_weights.sum())
    else:
        order = rng.permutation(n_clips) if shuffle else np.arange(n_clips)
    batches = [order[start:start + batch_size] for start in range(0, n_clips, batch_size)]
    return [batch for batch in batches if len(batch) > 1]


def train_family_model(config: Namespace, spec: DatasetSpec, settings: StgramSettings, device: torch.device,
                       paths: RunPaths, data: FamilyTrainingSet, fingerprint: dict[str, Any]) -> None:
    """Train the family's classifier for ``settings.epochs`` epochs; write the weights and their description."""
    shape = _network_shape(len(data.class_names), settings)
    detector = _build_detector(shape, data.sample_rate, settings, device)
    for written_each_epoch in (paths.checkpoint, paths.log_csv):
        remove_stale_temporaries(written_each_epoch)
    log_rows: list[list[float]] = []
    first_epoch = 1
    checkpoint = _restore(detector, config, paths, fingerprint) if config.restart else None
    if checkpoint is not None:
        first_epoch = int(checkpoint["epoch"]) + 1
        log_rows = [list(map(float, row)) for row in checkpoint["log_rows"]]
        tqdm.write(f"resuming {paths.base_name} after epoch {first_epoch - 1} of {settings.epochs}")
    write_log_csv(paths.log_csv, detector.log_columns, log_rows)
    common.save_config(paths.args_json, config)

    crop = settings.crop_samples(data.sample_rate)
    steps_per_epoch = len(epoch_batches(data.n_clips, settings.batch_size, False, np.random.default_rng(0)))
    total_steps = steps_per_epoch * settings.epochs
    labels_all = torch.from_numpy(data.labels)
    # the few target-domain clips (10 of 1000 per machine type in DCASE2023/2024) may be drawn more often
    draw_weights = np.where(data.is_target, settings.target_weight, 1.0)
    tqdm.write(f"training {paths.base_name} on {data.n_clips} clips of {len(data.machines)} machine types, "
               f"{len(data.class_names)} classes, {crop / data.sample_rate:.2f} s crops, {device} "
               f"({detector.precision_name})")
    started = time.perf_counter()
    epochs = progress_bar(range(first_epoch, settings.epochs + 1), desc=f"train {spec.family}", unit="epoch",
                          initial=first_epoch - 1, total=settings.epochs)
    for epoch in epochs:
        rng = np.random.default_rng([settings.seed, epoch])  # the same draws whether resumed or not
        batches = epoch_batches(data.n_clips, settings.batch_size, settings.shuffle, rng, draw_weights)
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}", unit="batch", transient=True)
        loss_sum, correct, seen = 0.0, 0, 0
        for number, ids in enumerate(batches):
            waveforms = torch.from_numpy(data.random_crops(ids, crop, rng)).to(device, non_blocking=True)
            labels = labels_all[ids].to(device, non_blocking=True)
            rate = learning_rate_at((epoch - 1) * steps_per_epoch + number, total_steps, settings.learning_rate)
            loss, right = detector.train_step(waveforms, labels, rate)
            loss_sum += loss * len(ids)
            correct += right
            seen += len(ids)
            bar.update()
        bar.close()
        row = [loss_sum / max(seen, 1), correct / max(seen, 1), rate]
        if not np.isfinite(row[0]):
            kept = f"the checkpoint of epoch {epoch - 1} is kept in {paths.checkpoint}" if epoch > 1 else \
                "no epoch completed, so no model was saved"
            raise TrainingDivergedError(f"training {paths.base_name} diverged at epoch {epoch} (loss {row[0]}); "
                                        f"lower the learning rate (-lr) or check the data, then train again; {kept}")
        log_rows.append(row)
        write_log_csv(paths.log_csv, detector.log_columns, log_rows)
        save_torch(paths.checkpoint, {
            "epoch": epoch, "model_state_dict": detector.model_state(),
            "optimizer_state_dict": detector.optimizer_state(), "fingerprint": json.dumps(fingerprint, sort_keys=True),
            "log_rows": log_rows})
        epochs.set_postfix(loss=f"{row[0]:.3f}", accuracy=f"{row[1]:.3f}", refresh=False)
    epochs.close()
    seconds = time.perf_counter() - started

    save_torch(paths.model_weights, detector.model_state())
    info = {"fingerprint": fingerprint, "epochs": settings.epochs, "shape": shape.as_dict(),
            "classes": data.class_names, "machines": data.machines, "n_clips": data.n_clips,
            "sample_rate": data.sample_rate, "device": str(device), "precision": detector.precision_name,
            "train_seconds": round(seconds, 2), "weights_sha256": file_sha256(paths.model_weights)}
    atomic_write_text(paths.model_info, json.dumps(info, indent=2) + "\n")  # written last: the commit mark
    _plot_log(paths, detector.log_columns, log_rows)
    last = log_rows[-1] if log_rows else [float("nan")] * 3
    tqdm.write(f"trained {paths.base_name}: {settings.epochs - first_epoch + 1} epochs x {data.n_clips} clips in "
               f"{seconds:.1f} s on {device} ({detector.precision_name}), loss {last[0]:.4f}, training accuracy "
               f"{last[1]:.3f}, peak memory {peak_memory_mib():.0f} MiB -> {paths.model_weights}")


def _plot_log(paths: RunPaths, columns: Sequence[str], rows: list[list[float]]) -> None:
    from evaluation.plots import plot_loss_curve

    plot_loss_curve(paths.loss_plot, columns, rows, paths.base_name, ylabel="loss, accuracy, learning rate")


def ensure_family_model(config: Namespace, spec: DatasetSpec, settings: StgramSettings, device: torch.device,
                        paths: RunPaths) -> None:
    """Train the family model unless a current one exists; parallel runs wait for the one that trains it."""
    listing = list_family_training_clips(spec.family, spec.split, Path(config.dataset_directory), config.use_ids,
                                         required=spec.machine)
    fingerprint = family_fingerprint(config, spec, settings, family_listing_digest(listing))
    if _trained_model_is_current(paths, fingerprint, settings.epochs):
        tqdm.write(f"family model {paths.model_weights} is trained: reused for {spec.machine}")
        return

    def say_waiting() -> None:
        tqdm.write(f"waiting for another process that is training the family model {paths.model_weights} ...")

    with file_lock(family_lock(paths), on_wait=say_waiting):
        if _trained_model_is_current(paths, fingerprint, settings.epochs):
            tqdm.write(f"family model {paths.model_weights} was trained meanwhile: reused for {spec.machine}")
            return
        if paths.model_info.is_file():
            tqdm.write(f"family model {paths.model_weights} was trained with other settings, epochs or data: "
                       "training it again")
            paths.model_info.unlink()  # the weights are no longer described: never served half-replaced
        data = load_family_training_set(listing, Path(config.dataset_directory))
        if data.n_clips < 2:
            raise DataError(f"{spec.family} ({spec.split}) has {data.n_clips} training clip(s); the classifier "
                            "needs at least two")
        train_family_model(config, spec, settings, device, paths, data, fingerprint)


# ---------------------------------------------------------------- embeddings


def _length_groups(lengths: np.ndarray) -> Iterator[np.ndarray]:
    """Indices of clips of equal length, in batches that hold about EMBED_SAMPLES_PER_BATCH samples."""
    for length in np.unique(lengths):
        members = np.flatnonzero(lengths == length)
        per_batch = max(1, EMBED_SAMPLES_PER_BATCH // max(int(length), 1))
        for start in range(0, len(members), per_batch):
            yield members[start:start + per_batch]


def embed_signals(detector: STgramMFNDetector, get_signals: Callable[[np.ndarray], np.ndarray],
                  lengths: np.ndarray, description: str) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and logits of clips ``0..len(lengths)-1``; ``get_signals(ids)`` gives (len(ids), length)
    float32 waveforms of clips of one length."""
    n_clips = len(lengths)
    embeddings = np.zeros((n_clips, detector.shape.embedding_dim))
    logits = np.zeros((n_clips, detector.shape.n_classes))
    bar = progress_bar(total=n_clips, desc=description, unit="clip", transient=True)
    for ids in _length_groups(np.asarray(lengths)):
        batch = torch.from_numpy(np.ascontiguousarray(get_signals(ids))).to(detector.device)
        embeddings[ids], logits[ids] = detector.embed(batch)
        bar.update(len(ids))
    bar.close()
    return embeddings, logits


def _class_mask(class_names: Sequence[str], machine: str, section: str, model_path: Path) -> np.ndarray:
    mask = np.array([belongs_to_section(name, machine, section) for name in class_names], dtype=bool)
    if not mask.any():
        raise DataError(f"{model_path} has no class of {machine} section {section}: it was trained without "
                        "that section's clips (see --use_ids); train it again with them")
    return mask


# ---------------------------------------------------------------- the machine step (after training)


def machine_fingerprint(config: Namespace, settings: StgramSettings) -> dict[str, Any]:
    return {"model": config.model, "dataset": config.dataset, "dev": config.dev, "eval": config.eval,
            "use_ids": list(config.use_ids), "knn_k": settings.knn_k, **settings.model_fingerprint()}


def _save_distribution(path: Path, samples: np.ndarray, what: str) -> None:
    try:
        save_score_distribution(path, samples)
    except ValueError as error:
        raise DataError(f"cannot fit the decision threshold of the {what} score ({error}); the machine type needs "
                        "at least two training clips with different scores") from error


def prepare_machine(config: Namespace, spec: DatasetSpec, settings: StgramSettings, model: FamilyModel,
                    paths: RunPaths) -> None:
    """Embeddings of this machine type's training clips and the thresholds of both score modes."""
    dataset_directory = Path(config.dataset_directory)
    clips = list_train_clips(spec, dataset_directory, config.use_ids)
    sections = sorted({clip.section for clip in clips})
    waves = load_machine_training_waveforms(spec, clips, dataset_directory)
    started = time.perf_counter()
    embeddings, logits = embed_signals(
        model.detector, lambda ids: np.stack([waves.clip(int(i)) for i in ids]), waves.rows_per_clip(),
        f"{spec.name} train embeddings")
    is_target = np.array([clip.domain == "target" for clip in clips], dtype=bool)
    knn = selective_knn_scores(embeddings, embeddings, is_target, settings.knn_k,
                               query_is_reference=np.arange(len(clips)))
    nll = np.zeros(len(clips))
    for section in sections:
        rows = np.array([clip.section == section for clip in clips])
        nll[rows] = section_nll(logits[rows], _class_mask(model.class_names, spec.machine, section, model.path))

    def write_npz(stream: io.BufferedWriter) -> None:
        np.savez(stream, embeddings=embeddings, is_target=is_target, sections=np.array([c.section for c in clips]),
                 names=np.array([clip.name for clip in clips]))

    atomic_write(machine_embeddings_path(paths), write_npz)
    _save_distribution(paths.score_distribution("KNN"), knn, "KNN")
    _save_distribution(paths.score_distribution("NLL"), nll, "NLL")
    common.save_config(paths.args_json, config)
    info = {"fingerprint": machine_fingerprint(config, settings), "family_model": str(model.path),
            "family_weights_sha256": model.weights_sha256, "sample_rate": model.sample_rate,
            "n_train_clips": len(clips), "n_target_clips": int(is_target.sum())}
    atomic_write_text(paths.model_info, json.dumps(info, indent=2) + "\n")
    tqdm.write(f"{spec.name}: {len(clips)} training clips embedded in {time.perf_counter() - started:.1f} s; "
               f"thresholds of KNN and NLL fitted -> {machine_embeddings_path(paths)}")


# ---------------------------------------------------------------- test


@dataclass
class SectionClips:
    """A section's test clips in the baseline's order: what ``engine.test_loop.evaluate`` needs of a set."""

    clips: list[Clip]
    labelled: bool

    @property
    def names(self) -> list[str]:
        return [clip.name for clip in self.clips]

    @property
    def labels(self) -> np.ndarray:
        return np.array([-1 if clip.label is None else clip.label for clip in self.clips], dtype=int)

    @property
    def is_target(self) -> np.ndarray:
        return np.array([clip.domain == "target" for clip in self.clips], dtype=bool)


def _load_machine_reference(config: Namespace, settings: StgramSettings, model: FamilyModel,
                            paths: RunPaths) -> dict[str, np.ndarray]:
    info = read_model_info(paths.model_info)
    embeddings_path = machine_embeddings_path(paths)
    split_flag = common.split_flag(config)
    again = (f"train again: python train.py --dataset {config.dataset} {split_flag} --train_only --config "
             "stgram_mfn.yaml (same --export_dir, -tag, --seed)")
    if info is None or not embeddings_path.is_file():
        raise DataError(f"the training embeddings of {config.dataset} ({embeddings_path}) are missing; {again}")
    if info.get("family_weights_sha256") != model.weights_sha256:
        raise DataError(f"the training embeddings of {config.dataset} were computed with another version of the "
                        f"family model {info.get('family_model')}; {again}")
    differing = config_differences(info.get("fingerprint", {}), machine_fingerprint(config, settings))
    if differing:
        raise DataError(f"{paths.model_info} was written with other settings ({'; '.join(differing)}); test with "
                        f"the same settings or {again}")
    try:
        with np.load(embeddings_path, allow_pickle=False) as stored:
            return {key: stored[key] for key in ("embeddings", "is_target")}
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{embeddings_path} cannot be read ({error}); {again}") from error


def test_machine(config: Namespace, spec: DatasetSpec, settings: StgramSettings, model: FamilyModel,
                 paths: RunPaths) -> None:
    reference = _load_machine_reference(config, settings, model, paths)
    dataset_directory = Path(config.dataset_directory)

    def load_section(section: str) -> SectionClips:
        clips, labelled = list_test_clips(spec, dataset_directory, section)
        return SectionClips(clips, labelled)

    def score_section(test_set: SectionClips) -> np.ndarray:
        embeddings, logits = _embed_test_clips(model, test_set.clips, f"{spec.name} test embeddings")
        if config.score == "KNN":
            return selective_knn_scores(embeddings, reference["embeddings"], reference["is_target"], settings.knn_k)
        section = test_set.clips[0].section
        return section_nll(logits, _class_mask(model.class_names, spec.machine, section, model.path))

    evaluate(score_section, spec.sections, load_section, config, paths)


def _embed_test_clips(model: FamilyModel, clips: Sequence[Clip], description: str) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and logits of test clips, read a few dozen at a time."""
    parts_embeddings, parts_logits = [], []
    for start in range(0, len(clips), TEST_CLIPS_PER_READ):
        chunk = clips[start:start + TEST_CLIPS_PER_READ]
        signals, rate = read_waveforms([clip.path for clip in chunk])
        if rate != model.sample_rate:
            raise DataError(f"the test clips (e.g. {chunk[0].path}) are sampled at {rate} Hz but the family model "
                            f"was trained on {model.sample_rate} Hz clips; resample them or train on clips of "
                            "their rate")
        lengths = np.array([len(signal) for signal in signals])
        embeddings, logits = embed_signals(model.detector, lambda ids, s=signals: np.stack([s[i] for i in ids]),
                                           lengths, description)
        parts_embeddings.append(embeddings)
        parts_logits.append(logits)
    return np.concatenate(parts_embeddings), np.concatenate(parts_logits)


# ---------------------------------------------------------------- entry


def run_family_model(config: Namespace, spec: DatasetSpec, device: torch.device) -> None:
    """``train.run`` for a model with ``scope = "family"``: train (family model, then the machine step)
    and/or test this machine type."""
    settings = StgramSettings.from_config(config)
    paths = RunPaths.from_config(config)
    fpaths = family_paths(config, spec)
    split_flag = common.split_flag(config)
    if config.is_auto_download:
        from datasets.download import ensure_machine_data

        needed = [spec.machine] if config.test_only else machine_types(spec.family, spec.split)
        for machine in needed:
            ensure_machine_data(Path(config.dataset_directory), spec.family, machine, spec.split)
    model = None
    if not config.test_only:
        ensure_family_model(config, spec, settings, device, fpaths)
        model = load_family_model(fpaths, settings, device, config.dataset, split_flag)
        prepare_machine(config, spec, settings, model, paths)
    if not config.train_only:
        model = model or load_family_model(fpaths, settings, device, config.dataset, split_flag)
        test_machine(config, spec, settings, model, paths)
