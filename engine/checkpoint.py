"""Checkpoints, saved weights and the fingerprint that ties them to their settings: written atomically,
loaded without pickle (``weights_only=True``)."""

from __future__ import annotations

import dataclasses
import io
import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import common
from errors import DataError
from networks.base import ModelOptions
from safe_io import atomic_write


def save_torch(path: Path, obj: Any) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves a half-written file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, lambda stream: stream.write(buffer.getbuffer()))


def load_torch(path: Path, what: str) -> Any:
    """``torch.load`` restricted to tensors and plain containers; a clear DataError when unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise DataError(
            f"{path}: the {what} cannot be read ({type(error).__name__}: {_first_reason(error)}). "
            "Delete it and train again"
        ) from error


def _first_reason(error: Exception) -> str:
    """The informative sentence of torch's long, multi-line loading error."""
    text = str(error)
    refused = "WeightsUnpickler error:" in text  # weights_only met something that is not tensors/containers
    if refused:
        text = text.split("WeightsUnpickler error:", 1)[1]
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    reason = first_line.split(". ", 1)[0].rstrip(".")
    return f"{reason}; only tensors and plain containers are loaded, nothing else is unpickled" if refused else reason


def run_fingerprint(
    config: Namespace, options: ModelOptions, with_reference: bool = False, **replace: Any
) -> dict[str, Any]:
    """The settings a model's weights (and, ``with_reference``, its fitted reference) depend on
    (``common.fingerprint_keys``), with ``replace`` applied (a family model's fingerprint names its family
    instead of one machine type's dataset)."""
    own = [item.name for item in dataclasses.fields(options)]
    values = {key: getattr(config, key) for key in common.fingerprint_keys(own, with_reference)}
    values.update(replace)
    return values


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable list of the settings that differ between two training fingerprints."""
    keys = sorted(set(saved) | set(current))

    def shown(values: dict[str, Any], key: str) -> str:
        return repr(values[key]) if key in values else "not set"  # an option only some runs record

    return [
        f"--{key} {shown(saved, key)} (this run: {shown(current, key)})"
        for key in keys
        if saved.get(key) != current.get(key)
    ]


def load_resume_checkpoint(
    checkpoint_path: str | None, own_checkpoint: Path, required_keys: tuple[str, ...], fingerprint: dict[str, Any]
) -> dict[str, Any] | None:
    """The checkpoint ``--restart`` resumes from (``checkpoint_path``, --checkpoint_path, or the run's own),
    checked to hold ``required_keys`` and to come from a run with the same ``fingerprint``; None when the run has
    none yet."""
    source = Path(checkpoint_path) if checkpoint_path else own_checkpoint
    try:
        checkpoint = load_torch(source, "checkpoint")
    except FileNotFoundError:
        if checkpoint_path:
            raise DataError(
                f"--checkpoint_path {source}: no such file; give the checkpoint.tar of an earlier "
                f"run (this run's own is {own_checkpoint})"
            ) from None
        tqdm.write(f"--restart: no checkpoint at {source}; training from epoch 1")
        return None
    missing = [key for key in required_keys if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise DataError(
            f"{source} is not a checkpoint of this model written by this program (no "
            f"{', '.join(missing)}); train from scratch without --restart"
        )
    differences = config_differences(json.loads(checkpoint["fingerprint"]), fingerprint)
    if differences:
        raise DataError(
            f"{source} was written by a run with other settings or data ({'; '.join(differences)}). "
            "Resume with the same settings, or train from scratch without --restart"
        )
    return checkpoint


def read_model_info(path: Path) -> dict[str, Any] | None:
    """The JSON that describes a saved model (``paths.model_info``); None if there is none."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise DataError(f"{path} is damaged ({error}); delete it and train again") from error
    if not isinstance(info, dict):
        raise DataError(f"{path} is damaged (not a JSON object); delete it and train again")
    return info
