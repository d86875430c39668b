"""A model bundle: one folder that holds everything needed to score new recordings of one machine.

    manifest.json               format name and version, model, options, feature settings, sample rate, clip
                                length, thresholds, and the SHA-256 of every other file (written last)
    model.pth, model.json       the network's weights and their description (shape, SHA-256), and
    reference.npz               what the model fitted after training (a memory bank), when it has one: the
                                saved-model store of a DCASE run (engine/saved_model.py), its checks included
    score_distr_bundle_<mode>.json  the gamma fit of each score mode's training scores (the baseline's format)
    training_scores.json        every training clip's score per mode (for the percentile of a new score)
    clips.csv                   the training clips: path under the training folder, SHA-256, domain, seconds
    log.csv                     the training log, one row per epoch

The bundle is written in a temporary folder beside its final name and renamed when complete; loading checks the
format, the version and every file's checksum before anything is used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.features import FeatureParams
from engine.checkpoint import read_model_info
from engine.paths import RunPaths
from engine.saved_model import file_sha256, load_model, load_reference, save_reference, save_weights
from errors import ConfigError, DataError
from evaluation.thresholds import load_threshold
from networks import registry
from networks.base import Model
from safe_io import atomic_write_text, install_folder, remove_dead_process_folders, staging_folder

BUNDLE_FORMAT = "asd-monitor-bundle"
BUNDLE_VERSION = 2  # 1: weights in weights.npz, a store of its own
MANIFEST = "manifest.json"
WEIGHTS = "model.pth"
MODEL_INFO = "model.json"
REFERENCE = "reference.npz"
TRAINING_SCORES = "training_scores.json"
CLIPS = "clips.csv"
REQUIRED_KEYS = (
    "model",
    "options",
    "features",
    "sample_rate",
    "clip_seconds",
    "score",
    "score_modes",
    "decision_threshold",
    "files",
)


def bundle_paths(folder: Path) -> RunPaths:
    """Where the shared training loop writes into a bundle being fitted: log.csv and the gamma fits of the
    thresholds (``score_distr_bundle_<mode>.json``) in the bundle itself, the checkpoint in a folder removed
    when the bundle is finished."""
    return RunPaths(
        dataset="monitor",
        base_name="bundle",
        file_suffix="",
        checkpoint_dir=folder / ".checkpoint",
        logs_dir=folder,
        model_dir=folder,
        result_dir=folder / ".results",
    )


def save_model(staging: Path, model: Model, info: dict[str, Any]) -> None:
    """The model's weights, their description and its reference through the DCASE runs' store, with names
    relative to the bundle (it is moved and copied whole)."""
    save_weights(model, staging / WEIGHTS, staging / MODEL_INFO, info, recorded_as=WEIGHTS)
    reference = model.reference_state()
    if reference:
        save_reference(staging / REFERENCE, reference)


def write_json(path: Path, record: Any) -> None:
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def finish_bundle(staging: Path, out: Path, manifest: dict[str, Any]) -> None:
    """Add the checksums of every file in ``staging`` to ``manifest``, write it last, then rename the folder to
    ``out``: a bundle under its final name is always complete."""
    for folder in (path for path in staging.iterdir() if path.is_dir()):  # the training loop's working files
        shutil.rmtree(folder)
    files = sorted(path.name for path in staging.iterdir() if path.is_file() and path.name != MANIFEST)
    manifest = {**manifest, "files": {name: file_sha256(staging / name) for name in files}}
    write_json(staging / MANIFEST, manifest)
    if not install_folder(staging, out):
        raise DataError(f"{out} appeared while the bundle was being fitted; fit again with another --out")


@contextlib.contextmanager
def bundle_staging(out: Path) -> Iterator[Path]:
    """A fresh hidden folder beside ``out``, named after this process, removed unless it became the bundle;
    those a killed fit left are removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out.name}.partial-"
    remove_dead_process_folders(out.parent, prefix)
    with staging_folder(out.parent, f"{prefix}{os.getpid()}-") as staging:
        yield staging


@dataclass
class Bundle:
    """A loaded, checked bundle: the model ready to score and what decisions and percentiles need."""

    path: Path
    manifest: dict[str, Any]
    model: Model
    params: FeatureParams
    thresholds: dict[str, float]
    training_scores: dict[str, np.ndarray]  # per mode, sorted

    @property
    def sample_rate(self) -> int:
        return int(self.manifest["sample_rate"])

    @property
    def clip_seconds(self) -> float:
        return float(self.manifest["clip_seconds"])

    @property
    def default_mode(self) -> str:
        return str(self.manifest["score"])

    def percentile(self, mode: str, scores: np.ndarray) -> np.ndarray:
        """Share (in %) of the training clips whose ``mode`` score is at most each of ``scores``."""
        reference = self.training_scores[mode]
        return 100.0 * np.searchsorted(reference, np.asarray(scores), side="right") / len(reference)


def _refit(path: Path) -> str:
    """What to do about an unusable bundle: fit runs refuse an existing --out, so a new name or a deletion first."""
    return (
        f"fit a new bundle (python -m tools.monitor fit NORMAL_DIR --out NEW_FOLDER), or delete {path} and fit it "
        "again under its name"
    )


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of bundle ``path``, after checking its format and version."""
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise DataError(f"bundle {path} not found (a folder written by python -m tools.monitor fit)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise DataError(f"{path} is not a model bundle (no {MANIFEST}); {_refit(path)}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{manifest_path} is damaged ({error}); {_refit(path)}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise DataError(f"{manifest_path} is not the manifest of a model bundle (format is not {BUNDLE_FORMAT!r})")
    version = manifest.get("version")
    if version != BUNDLE_VERSION:
        raise DataError(
            f"{path} is a bundle of format version {version!r}; this program reads version "
            f"{BUNDLE_VERSION}: {_refit(path)} or use the program version that wrote it"
        )
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise DataError(f"{manifest_path} is damaged (no {', '.join(missing)}); {_refit(path)}")
    return manifest


def verify_files(path: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists exists and has its recorded SHA-256."""
    files = manifest.get("files")
    required = {WEIGHTS, MODEL_INFO, TRAINING_SCORES, CLIPS}
    if not isinstance(files, dict) or not required <= set(files):
        raise DataError(
            f"{path / MANIFEST} is damaged (its file list lacks {', '.join(sorted(required))}); {_refit(path)}"
        )
    for name, digest in files.items():
        file = path / name
        if Path(name).name != name or not file.is_file():
            raise DataError(f"{file} is missing from the bundle; copy the whole folder again or {_refit(path)}")
        if file_sha256(file) != digest:
            raise DataError(
                f"{file} does not match its checksum in {MANIFEST} (damaged or changed since the bundle "
                f"was written); copy the whole folder again or {_refit(path)}"
            )


def _build_model(path: Path, manifest: dict[str, Any], device: torch.device) -> Model:
    model_class = registry.get(manifest["model"])
    options = model_class.options_class(**manifest["options"])
    options.validate()
    info = read_model_info(path / MODEL_INFO)
    if info is None or "shape" not in info or "weights_sha256" not in info:
        raise DataError(f"{path / MODEL_INFO} is damaged (no shape or weights_sha256); {_refit(path)}")
    model = load_model(
        model_class, options, info, path / WEIGHTS, device, _refit(path), manifest["model"], str(path / MODEL_INFO)
    )
    if REFERENCE in manifest["files"]:
        model.load_reference_state(load_reference(path / REFERENCE, _refit(path)))
    return model


def load_bundle(path: Path, device: torch.device | None = None) -> Bundle:
    """The bundle at ``path``, every file checked; DataError naming the file and what to do otherwise."""
    path = Path(path)
    manifest = read_manifest(path)
    verify_files(path, manifest)
    try:
        model = _build_model(path, manifest, device or torch.device("cpu"))
        params = FeatureParams(**manifest["features"])
        quantile = float(manifest["decision_threshold"])
        thresholds = {
            mode: load_threshold(bundle_paths(path).score_distribution(mode), quantile)
            for mode in manifest["score_modes"]
        }
        stored = json.loads((path / TRAINING_SCORES).read_text(encoding="utf-8"))
        training_scores = {
            mode: np.sort(np.asarray(stored[mode]["scores"], dtype=np.float64)) for mode in manifest["score_modes"]
        }
    except ConfigError as error:  # a model this program does not have, options it does not accept
        raise DataError(f"{path} cannot be used here ({error}); {_refit(path)}") from error
    except DataError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, OSError) as error:
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise DataError(f"{path} is not a usable bundle ({type(error).__name__}: {reason}); {_refit(path)}") from error
    return Bundle(path, manifest, model, params, thresholds, training_scores)


def options_record(options: Any) -> dict[str, Any]:
    """A model's options dataclass as the manifest stores it."""
    return dataclasses.asdict(options)
