"""Clips stored back to back in one array, and the on-disk cache format the feature and waveform caches share.

Clip i is rows ``offsets[i]:offsets[i + 1]`` of the array (log-mel frames, or samples). A cache is one
``.npy`` (memory-mapped on load) plus a JSON manifest holding the offsets, the sample rate and each input
file's name, size and modification time, so a changed dataset is never served from an old cache.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from errors import DataError


@dataclass
class StackedClips:
    """What every stacked array of clips has besides its rows."""

    offsets: np.ndarray  # (n_clips + 1,) int64
    names: list[str]
    sample_rate: int

    @property
    def n_clips(self) -> int:
        return len(self.names)

    def rows_per_clip(self) -> np.ndarray:
        return np.diff(self.offsets)


def file_fingerprint(paths: Sequence[Path]) -> list[list]:
    """``[name, size, modification time]`` of every file: a cache built from other files never matches."""
    listing = []
    for path in paths:
        try:
            stat = Path(path).stat()
        except OSError as error:
            raise DataError(f"{path}: cannot be opened ({error.strerror})") from error
        listing.append([Path(path).name, stat.st_size, stat.st_mtime_ns])
    return listing


def load_stacked_rows(
    npy_path: Path, manifest_path: Path, expected: dict[str, Any], row_shape: tuple[int, ...], dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(rows, offsets, sample_rate)`` of a cache whose manifest holds every ``expected`` entry and whose
    ``.npy`` has ``offsets[-1]`` rows of ``row_shape`` and ``dtype``; None if it is missing, stale,
    half-written or unreadable (then it is rebuilt)."""
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
        if any(manifest.get(key) != value for key, value in expected.items()):
            return None
        rows = np.load(npy_path, mmap_mode="r", allow_pickle=False)
        offsets = np.asarray(manifest["offsets"], dtype=np.int64)
        if rows.shape != (int(offsets[-1]), *row_shape) or rows.dtype != dtype:
            return None
        return rows, offsets, int(manifest["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
