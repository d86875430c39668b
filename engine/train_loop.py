"""The training loop: epochs, log.csv, checkpoints and ``--restart``, then the thresholds.

It only orchestrates: the maths is in the detector (networks/) and in evaluation/thresholds.py.
"""

from __future__ import annotations

import json
import math
import time
from argparse import Namespace
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from datasets.vector_data import (
    VectorSet,
    batch_slices,
    dataloader_pass_draw,
    epoch_order,
    split_train_validation,
)
from engine.checkpoint import load_resume_checkpoint, save_torch
from engine.paths import RunPaths
from errors import ASDError
from evaluation.thresholds import fit_gamma
from networks.base import Batch, Detector
from progress import progress_bar
from safe_io import atomic_write_text, remove_stale_temporaries

FINGERPRINT_KEYS = ("model", "dataset", "dev", "eval", "use_ids", "seed", "n_mels", "frames",
                    "frame_hop_length", "n_fft", "hop_length", "power", "fmin", "fmax", "win_length",
                    "batch_size", "learning_rate", "shuffle", "validation_split")


class TrainingDivergedError(ASDError):
    """The loss became NaN or infinite."""


def training_fingerprint(config: Namespace) -> dict[str, Any]:
    """The settings a checkpoint must share with the run that resumes it (``--epochs`` may change)."""
    return {key: getattr(config, key) for key in FINGERPRINT_KEYS}


def iterate_batches(data: VectorSet, vector_ids: torch.Tensor, order: torch.Tensor, batch_size: int,
                    is_target: torch.Tensor, progress: tqdm | None = None,
                    log_interval: int = 100) -> Iterator[Batch]:
    """Batches of ``vector_ids`` taken in ``order``; one gather per batch, nothing per item."""
    ordered = vector_ids[order.to(vector_ids.device)]
    for number, part in enumerate(batch_slices(len(ordered), batch_size), start=1):
        index = ordered[part]
        yield Batch(data.gather(index), is_target[index])
        if progress is not None and number % log_interval == 0:
            progress.update(log_interval)


def write_log_csv(path: Path, columns: Sequence[str], rows: list[list[float]]) -> None:
    """log.csv: a header of ``columns``, then one row of figures per completed epoch."""
    lines = [",".join(columns)] + [",".join(repr(float(value)) for value in row) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def save_score_distribution(path: Path, samples: np.ndarray) -> None:
    """Fit the gamma distribution of a score's training samples and save it as JSON (the decision threshold
    is its ``decision_threshold`` quantile). ValueError if it cannot be fitted."""
    gamma = fit_gamma(samples)
    record = {"distribution": "gamma", **gamma.as_dict(), "n_samples": len(samples)}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


CHECKPOINT_KEYS = ("epoch", "model_state_dict", "optimizer_state_dict", "rng_state", "fingerprint", "log_rows",
                   "calibration")


def _restore(detector: Detector, config: Namespace, paths: RunPaths) -> dict[str, Any] | None:
    """Load the checkpoint to resume from, after checking it belongs to this configuration."""
    checkpoint = load_resume_checkpoint(config, paths.checkpoint, CHECKPOINT_KEYS, training_fingerprint(config))
    if checkpoint is None:
        return None
    detector.load_model_state(checkpoint["model_state_dict"])
    detector.load_optimizer_state(checkpoint["optimizer_state_dict"])
    torch.set_rng_state(checkpoint["rng_state"])
    return checkpoint


def fit(detector: Detector, data: VectorSet, config: Namespace, paths: RunPaths,
        sample_rate: int | None = None) -> dict[str, Any]:
    """Train for ``config.epochs`` epochs (resuming with ``--restart``), then write the saved model and
    the score distributions. Returns a summary for the closing line."""
    device = data.frames.device
    train_ids, valid_ids = split_train_validation(data.n_vectors, config.validation_split, config.seed)
    train_ids_t = torch.from_numpy(train_ids).to(device)
    valid_ids_t = torch.from_numpy(valid_ids).to(device)
    is_target = torch.from_numpy(data.vector_is_target).to(device)
    n_train_batches = len(batch_slices(len(train_ids), config.batch_size))
    n_valid_batches = len(batch_slices(len(valid_ids), config.batch_size))

    for written_each_epoch in (paths.checkpoint, paths.log_csv):
        remove_stale_temporaries(written_each_epoch)  # left by a run killed while writing it
    log_rows: list[list[float]] = []
    last_calibration: dict[str, np.ndarray] = {}
    first_epoch = 1
    checkpoint = _restore(detector, config, paths) if config.restart else None
    if checkpoint is not None:
        first_epoch = int(checkpoint["epoch"]) + 1
        log_rows = [list(map(float, row)) for row in checkpoint["log_rows"]]
        last_calibration = {mode: values.numpy() for mode, values in checkpoint["calibration"].items()}
        tqdm.write(f"resuming {paths.base_name} after epoch {first_epoch - 1} of {config.epochs}")
    write_log_csv(paths.log_csv, detector.log_columns, log_rows)

    def train_pass() -> Iterator[Batch]:
        order = epoch_order(len(train_ids), config.shuffle)
        return iterate_batches(data, train_ids_t, order, config.batch_size, is_target)

    def valid_pass() -> Iterator[Batch]:
        dataloader_pass_draw()
        return iterate_batches(data, valid_ids_t, torch.arange(len(valid_ids)), config.batch_size, is_target)

    started = time.perf_counter()
    epochs = progress_bar(range(first_epoch, config.epochs + 1), desc=f"train {config.dataset}", unit="epoch",
                          initial=first_epoch - 1, total=config.epochs)
    for epoch in epochs:
        batches = progress_bar(total=n_train_batches, desc=f"epoch {epoch}", unit="batch", transient=True)
        order = epoch_order(len(train_ids), config.shuffle)
        result = detector.train_epoch(
            iterate_batches(data, train_ids_t, order, config.batch_size, is_target, batches, config.log_interval),
            n_train_batches, valid_pass(), n_valid_batches)
        batches.close()
        non_finite = [f"{name} {value}" for name, value in result.log.items() if not math.isfinite(value)]
        if non_finite:
            kept = f"the checkpoint of epoch {epoch - 1} is kept in {paths.checkpoint}" if epoch > 1 else \
                "no epoch completed, so no model was saved"
            raise TrainingDivergedError(f"training {config.dataset} diverged at epoch {epoch} "
                                        f"({', '.join(non_finite)}); lower the learning rate (-lr) or check the "
                                        f"data, then train again; {kept}")
        log_rows.append([result.log[column] for column in detector.log_columns])
        last_calibration = result.calibration
        write_log_csv(paths.log_csv, detector.log_columns, log_rows)
        save_torch(paths.checkpoint, {
            "epoch": epoch,
            "model_state_dict": detector.model_state(),
            "optimizer_state_dict": detector.optimizer_state(),
            "loss": result.log["loss"],
            "rng_state": torch.get_rng_state(),
            "fingerprint": json.dumps(training_fingerprint(config), sort_keys=True),
            "log_rows": log_rows,
            "calibration": {mode: torch.from_numpy(values) for mode, values in last_calibration.items()},
        })
        epochs.set_postfix(loss=f"{result.log['loss']:.3f}", val=f"{result.log['val_loss']:.3f}", refresh=False)
    epochs.close()
    train_seconds = time.perf_counter() - started

    calibration = dict(last_calibration)
    calibration.update(detector.finish_training(train_pass, valid_pass))
    for mode, samples in calibration.items():
        save_score_distribution(paths.score_distribution(mode), samples)
    save_torch(paths.model_weights, detector.model_state())
    info = {"fingerprint": training_fingerprint(config), "epochs": config.epochs, "sample_rate": sample_rate}
    atomic_write_text(paths.model_info, json.dumps(info, indent=2) + "\n")
    return {
        "epochs_run": config.epochs - first_epoch + 1,
        "seconds": train_seconds,
        "vectors_per_epoch": len(train_ids),
        "final_loss": log_rows[-1][0] if log_rows else float("nan"),
        "final_val_loss": log_rows[-1][1] if log_rows else float("nan"),
    }
