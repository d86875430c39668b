"""A trained model on disk: weights (``.pth``), the JSON that describes them (written last: the commit mark),
the reference arrays of one machine type (``.npz``), and loading them back after every check.

The description holds the fingerprint (every setting the weights depend on), the network's shape, the sample
rate and the weights' SHA-256, so that a changed setting, a replaced weights file or a different model is
refused in one line instead of being scored silently.
"""

from __future__ import annotations

import hashlib
import io
import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import common
from datasets.registry import DatasetSpec, stage_script
from engine.checkpoint import config_differences, load_torch, save_torch
from errors import DataError
from networks.base import Model, ModelOptions
from safe_io import atomic_write, atomic_write_text


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_weights(
    model: Model, weights: Path, info_path: Path, info: dict[str, Any], recorded_as: str | None = None
) -> dict[str, Any]:
    """Write the weights, then their description (shape and SHA-256 added; the weights named ``recorded_as``,
    default their path); returns the description."""
    save_torch(weights, model.model_state())
    record = {
        **info,
        "shape": model.shape,
        "weights": recorded_as or str(weights),
        "weights_sha256": file_sha256(weights),
    }
    atomic_write_text(info_path, json.dumps(record, indent=2) + "\n")
    return record


def describe_shared_weights(info_path: Path, record: dict[str, Any], weights_info: dict[str, Any]) -> None:
    """A machine type's description of a model whose weights it shares (a family model's)."""
    shared = {key: weights_info[key] for key in ("shape", "weights", "weights_sha256")}
    atomic_write_text(info_path, json.dumps({**record, **shared}, indent=2) + "\n")


def how_to_train(config: Namespace, spec: DatasetSpec, when: str = "again") -> str:
    """The command that trains what a test run misses ("first") or cannot use ("again"), with the run's own
    yaml overlays."""
    split = common.split_flag(config)
    overlays = "".join(f" --config {Path(path).name}" for path in getattr(config, "config", []) or [])
    return (
        f"train it {when}: python train.py --dataset {config.dataset} {split} --train_only{overlays} (or bash "
        f"{stage_script(spec.family, '01_train')} {split}{overlays}), with the same --export_dir, -tag and --seed"
    )


def not_found(what: str, path: Path, config: Namespace, spec: DatasetSpec) -> str:
    """The message for a model that was never trained: what is missing and the command that trains it."""
    return f"{what} {path} not found. T{how_to_train(config, spec, 'first')[1:]}"


def save_reference(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(stream: io.BufferedWriter) -> None:
        np.savez(stream, **arrays)

    atomic_write(path, write)


def load_reference(path: Path, again: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except FileNotFoundError as error:
        raise DataError(f"the reference of this machine type ({path}) is missing; {again}") from error
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path} cannot be read ({error}); {again}") from error


def check_description(
    info: dict[str, Any] | None, info_path: Path, fingerprint: dict[str, Any], missing: str, again: str
) -> dict[str, Any]:
    """The description, after checking it exists, is whole and was written with ``fingerprint``."""
    if info is None:
        raise DataError(missing)
    try:
        saved, _, _ = info["fingerprint"], info["shape"], info["weights_sha256"]
    except (KeyError, TypeError) as error:
        raise DataError(f"{info_path} is damaged ({type(error).__name__}: {error}); {again}") from error
    differing = config_differences(saved, fingerprint)
    if differing:
        raise DataError(
            f"{info_path} describes a model trained with other settings ({'; '.join(differing)}); test "
            f"with the same settings or {again}"
        )
    return info


def load_model(
    model_class: type[Model],
    options: ModelOptions,
    info: dict[str, Any],
    weights: Path,
    device: torch.device,
    again: str,
    model_name: str,
    info_name: str = "its description",
) -> Model:
    """The model of ``info`` with the weights of ``weights``, refused when they hold NaN, are not the file
    described (``weights_sha256`` None: not checked), or do not fit the network."""
    if not weights.is_file():
        raise DataError(f"trained model {weights} not found; {again}")
    state = load_torch(weights, "trained model")
    if isinstance(state, dict) and any(
        isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()
        for value in state.values()
    ):
        raise DataError(f"{weights} holds NaN or infinite values (a diverged or damaged model); {again}")
    if info["weights_sha256"] is not None and file_sha256(weights) != info["weights_sha256"]:
        raise DataError(
            f"{weights} is another version of the model than the one {info_name} describes (trained "
            f"again, replaced or damaged since); {again}"
        )
    try:
        model = model_class(options, info["shape"], device)
        model.load_model_state(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise DataError(f"{weights} does not fit {model_name} with these settings ({reason}); {again}") from error
    return model
