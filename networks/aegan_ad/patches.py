"""AEGAN-AD's input: decibel log-mel spectrograms scaled to [-1, 1], cut into square patches.

The public code computes ``librosa.power_to_db(mel, ref=1)``: ``10 log10(max(mel, 1e-10))``, then every value
below the clip's maximum minus 80 dB is raised to it. The shared features hold ``10 log10(max(mel, eps))`` (power
2), the same numbers down to -100 dB, so ``clip_decibels`` only applies the two floors. The training clips'
minimum and maximum then map every clip linearly onto [-1, 1] (training clips exactly, test clips roughly).
A patch is ``n_mels`` consecutive frames, transposed so that mel bands are rows: (n_mels, n_mels).
"""

from __future__ import annotations

import numpy as np
import torch

AMPLITUDE_FLOOR_DB = -100.0  # 10 log10(1e-10), librosa's amin
DYNAMIC_RANGE_DB = 80.0  # librosa's top_db


def clip_decibels(log_mel: torch.Tensor) -> torch.Tensor:
    """One clip's (frames, n_mels) ``10 log10`` mel power with librosa's two floors applied."""
    floored = torch.clamp(log_mel, min=AMPLITUDE_FLOOR_DB)
    return torch.maximum(floored, floored.max() - DYNAMIC_RANGE_DB)


def scaling(minimum: float, maximum: float) -> tuple[np.float32, np.float32]:
    """``(centre, half range)`` in float32, as the public code derives them from the training extremes."""
    low, high = np.float32(minimum), np.float32(maximum)
    return (high + low) / np.float32(2), (high - low) / np.float32(2)


def scale_to_unit(decibels: torch.Tensor, minimum: float, maximum: float) -> torch.Tensor:
    """``(decibels - centre) / half range``: the training values onto [-1, 1]."""
    centre, half_range = scaling(minimum, maximum)
    return (decibels - float(centre)) / float(half_range)


def patch_starts(n_frames: int, patch_frames: int, hop: int) -> np.ndarray:
    """First frame of every patch of a clip of ``n_frames`` frames (empty when it is too short)."""
    return np.arange(0, max(n_frames - patch_frames + 1, 0), hop, dtype=np.int64)


def clip_patches(frames: torch.Tensor, patch_frames: int, hop: int) -> torch.Tensor:
    """(n_patches, 1, n_mels, patch_frames) of one clip's (frames, n_mels): patch p holds frames
    ``p * hop .. p * hop + patch_frames - 1`` as columns."""
    return frames.unfold(0, patch_frames, hop).unsqueeze(1)
