"""Checkpoints and saved weights: written atomically, loaded without pickle (``weights_only=True``)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from errors import DataError
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
        raise DataError(f"{path}: the {what} cannot be read ({type(error).__name__}: {_first_reason(error)}). "
                        "Delete it and train again") from error


def _first_reason(error: Exception) -> str:
    """The informative sentence of torch's long, multi-line loading error."""
    text = str(error)
    refused = "WeightsUnpickler error:" in text  # weights_only met something that is not tensors/containers
    if refused:
        text = text.split("WeightsUnpickler error:", 1)[1]
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    reason = first_line.split(". ", 1)[0].rstrip(".")
    return f"{reason}; only tensors and plain containers are loaded, nothing else is unpickled" if refused else reason


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable list of the settings that differ between two training fingerprints."""
    keys = sorted(set(saved) | set(current))
    return [f"{key}: {saved.get(key)!r} then, {current.get(key)!r} now" for key in keys
            if saved.get(key) != current.get(key)]


def fingerprint_text(fingerprint: dict[str, Any]) -> str:
    return json.dumps(fingerprint, sort_keys=True)
