"""Fixed-length windows of clips, as ASDKit's collator makes them: a clip shorter than the window is tiled
(repeated whole until it is at least as long), then a window is cut at a random start (training) or from 0
(embedding). Optionally (not the recipe) a clip is embedded as consecutive windows that cover all of it."""

from __future__ import annotations

import math

import numpy as np


def tile_to(signal: np.ndarray, length: int) -> np.ndarray:
    """``signal`` repeated ``ceil(length / len)`` times when shorter than ``length``, else itself."""
    if len(signal) == 0:
        raise ValueError("an empty clip cannot be tiled")
    return np.tile(signal, math.ceil(length / len(signal))) if len(signal) < length else signal


def random_window(signal: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    tiled = tile_to(signal, length)
    start = int(rng.integers(0, len(tiled) - length + 1))
    return tiled[start : start + length]


def first_window(signal: np.ndarray, length: int) -> np.ndarray:
    return tile_to(signal, length)[:length]


def covering_windows(signal: np.ndarray, length: int) -> np.ndarray:
    """Windows of ``length`` samples from 0 every ``length`` samples, the last ending at the clip's end (it
    overlaps the one before): (n_windows, length); one tiled window for a clip no longer than ``length``."""
    if len(signal) <= length:
        return first_window(signal, length)[None]
    starts = [*range(0, len(signal) - length, length), len(signal) - length]
    return np.stack([signal[start : start + length] for start in starts])
