"""The one training loop of every model: epochs, log.csv, a checkpoint per epoch, ``--restart``, the
divergence guard. It only orchestrates: drawing an epoch and the maths are the model's (networks/)."""

from __future__ import annotations

import json
import math
import time
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import common
from engine.checkpoint import load_resume_checkpoint, save_torch
from engine.paths import RunPaths
from engine.saved_model import save_weights
from errors import ASDError, DataError
from networks.base import Model, ModelOptions
from progress import progress_bar
from safe_io import atomic_write_text, remove_stale_temporaries

CHECKPOINT_KEYS = (
    "epoch",
    "model_state_dict",
    "optimizer_state_dict",
    "rng_state",
    "fingerprint",
    "log_rows",
    "calibration",
)


class TrainingDivergedError(ASDError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainingSettings:
    """What the loop needs of a run's settings: the schedule, where to resume from, and the merged configuration
    it saves as args.json."""

    epochs: int
    restart: bool
    checkpoint_path: str | None
    record: dict[str, Any]

    @classmethod
    def from_config(cls, config: Namespace) -> TrainingSettings:
        return cls(int(config.epochs), bool(config.restart), config.checkpoint_path, common.config_record(config))


@dataclass
class TrainingRun:
    """What the loop leaves for the rest of the run: the log rows, the last epoch's threshold samples."""

    log_rows: list[list[float]] = field(default_factory=list)
    calibration: dict[str, np.ndarray] = field(default_factory=dict)
    epochs_run: int = 0
    seconds: float = 0.0


def write_log_csv(path: Path, columns: Sequence[str], rows: list[list[float]]) -> None:
    """log.csv: a header of ``columns``, then one row of figures per completed epoch."""
    lines = [",".join(columns)] + [",".join(repr(float(value)) for value in row) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _restore(
    model: Model, settings: TrainingSettings, paths: RunPaths, fingerprint: dict[str, Any]
) -> TrainingRun | None:
    """The run so far from the checkpoint ``--restart`` resumes, after checking it belongs to these settings."""
    checkpoint = load_resume_checkpoint(settings.checkpoint_path, paths.checkpoint, CHECKPOINT_KEYS, fingerprint)
    if checkpoint is None:
        return None
    model.load_model_state(checkpoint["model_state_dict"])
    model.load_optimizer_state(checkpoint["optimizer_state_dict"])
    torch.set_rng_state(checkpoint["rng_state"])
    return TrainingRun(
        [list(map(float, row)) for row in checkpoint["log_rows"]],
        {mode: values.numpy() for mode, values in checkpoint["calibration"].items()},
        epochs_run=int(checkpoint["epoch"]),
    )


def _check_finite(log: dict[str, float], epoch: int, paths: RunPaths) -> None:
    non_finite = [f"{name} {value}" for name, value in log.items() if not math.isfinite(value)]
    if non_finite:
        kept = (
            f"the checkpoint of epoch {epoch - 1} is kept in {paths.checkpoint}"
            if epoch > 1
            else "no epoch completed, so no model was saved"
        )
        raise TrainingDivergedError(
            f"training {paths.dataset} diverged at epoch {epoch} ({', '.join(non_finite)}); "
            f"lower the learning rate (-lr) or check the data, then train again; {kept}"
        )


def train(
    model: Model, training_data: Any, settings: TrainingSettings, paths: RunPaths, fingerprint: dict[str, Any]
) -> TrainingRun:
    """Train ``model`` for ``settings.epochs`` epochs (resuming with ``--restart``), writing the run's args.json, then
    log.csv and a checkpoint after every epoch."""
    for written_each_epoch in (paths.checkpoint, paths.log_csv):
        remove_stale_temporaries(written_each_epoch)  # left by a run killed while writing it
    run = (_restore(model, settings, paths, fingerprint) if settings.restart else None) or TrainingRun()
    if run.epochs_run > settings.epochs:  # refused before anything of this run is written
        source = settings.checkpoint_path or paths.checkpoint
        raise DataError(
            f"--restart: {source} holds {run.epochs_run} epochs, more than --epochs {settings.epochs}; give --epochs "
            f"{run.epochs_run} or more to resume it, or train from scratch without --restart"
        )
    common.save_config(paths.args_json, settings.record)
    first_epoch = run.epochs_run + 1
    if first_epoch > 1:
        tqdm.write(f"resuming {paths.base_name} after epoch {first_epoch - 1} of {settings.epochs}")
    write_log_csv(paths.log_csv, model.log_columns, run.log_rows)
    started = time.perf_counter()
    epochs = progress_bar(
        range(first_epoch, settings.epochs + 1),
        desc=f"train {paths.dataset}",
        unit="epoch",
        initial=first_epoch - 1,
        total=settings.epochs,
    )
    for epoch in epochs:
        result = model.train_epoch(training_data, epoch)
        _check_finite(result.log, epoch, paths)
        run.log_rows.append([result.log[column] for column in model.log_columns])
        run.calibration = result.calibration
        write_log_csv(paths.log_csv, model.log_columns, run.log_rows)
        save_torch(
            paths.checkpoint,
            {
                "epoch": epoch,
                "model_state_dict": model.model_state(),
                "optimizer_state_dict": model.optimizer_state(),
                "loss": result.log[model.log_columns[0]],  # the public baseline's checkpoint has this key too
                "rng_state": torch.get_rng_state(),
                "fingerprint": json.dumps(fingerprint, sort_keys=True),
                "log_rows": run.log_rows,
                "calibration": {mode: torch.from_numpy(values) for mode, values in run.calibration.items()},
            },
        )
        epochs.set_postfix({column: f"{value:.3f}" for column, value in list(result.log.items())[:2]}, refresh=False)
    epochs.close()
    run.seconds = time.perf_counter() - started
    run.epochs_run = settings.epochs - first_epoch + 1
    return run


def build_and_train(
    model_class: type[Model],
    options: ModelOptions,
    data: Any,
    settings: TrainingSettings,
    paths: RunPaths,
    fingerprint: dict[str, Any],
    device: torch.device,
) -> tuple[Model, TrainingRun]:
    """The one training sequence of a DCASE run, a family's shared weights and a monitor bundle: the network shaped
    by its training data, then trained (resumed with --restart). The caller seeded the run (engine.runner.start)."""
    model = model_class(options, model_class.shape_of(options, data), device)
    return model, train(model, data, settings, paths, fingerprint)


def save_trained(model: Model, run: TrainingRun, paths: RunPaths, info: dict[str, Any]) -> dict[str, Any]:
    """The weights and their description, the loss picture and the closing line of a training."""
    from evaluation.plots import plot_loss_curve

    record = save_weights(
        model,
        paths.model_weights,
        paths.model_info,
        {**info, "train_seconds": round(run.seconds, 2), "device": model.describe()},
    )
    plot_loss_curve(paths.loss_plot, model.log_columns, run.log_rows, paths.base_name)
    last = dict(zip(model.log_columns, run.log_rows[-1], strict=True)) if run.log_rows else {}
    figures = ", ".join(f"{name} {value:.4f}" for name, value in list(last.items())[:2])
    plural = "" if run.epochs_run == 1 else "s"
    tqdm.write(
        f"trained {paths.base_name}: {run.epochs_run} epoch{plural} in {run.seconds:.1f} s on {model.describe()}"
        f"{', ' + figures if figures else ''} -> {paths.model_weights}"
    )
    return record
