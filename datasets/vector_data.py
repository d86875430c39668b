"""Feature vectors as torch tensors, formed on the fly from the stacked log-mel frames.

Vector ``v`` is the ``frames * n_mels`` values that start at frame ``starts[v]``: because the frames are
stored back to back, that is one contiguous run of the flat frame array, so every vector is a row of a
strided view and a batch is one gather. No per-item Python work, no float64 copies.

The random draws replicate the public baseline's exactly (scikit-learn's ``train_test_split`` on the
NumPy global generator for the validation split, torch's ``RandomSampler`` for the epoch order), so a
run with the same seed visits the same vectors in the same order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from datasets.clip_features import ClipFeatures
from datasets.features import FeatureParams


def vector_starts(features: ClipFeatures, params: FeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """First-frame index of every vector and the clip it belongs to, clip after clip."""
    starts, clips = [], []
    for index, (first, end) in enumerate(zip(features.offsets[:-1], features.offsets[1:], strict=True)):
        clip_starts = np.arange(first, end - params.frames + 1, params.frame_hop_length, dtype=np.int64)
        starts.append(clip_starts)
        clips.append(np.full(len(clip_starts), index, dtype=np.int64))
    return np.concatenate(starts), np.concatenate(clips)


@dataclass
class VectorSet:
    """All feature vectors of a set of clips, with the clip and domain of each vector."""

    frames: torch.Tensor  # (total frames, n_mels) float32 on the compute device
    starts: torch.Tensor  # (n_vectors,) int64 on the compute device
    vector_clip: np.ndarray  # (n_vectors,) clip index of each vector
    clip_is_target: np.ndarray  # (n_clips,) bool
    names: list[str]
    params: FeatureParams

    @classmethod
    def from_features(
        cls, features: ClipFeatures, params: FeatureParams, clip_is_target: np.ndarray, device: torch.device
    ) -> VectorSet:
        starts, vector_clip = vector_starts(features, params)
        log_mel = np.ascontiguousarray(features.log_mel, dtype=np.float32)
        if not log_mel.flags.writeable:  # a read-only memory map of the cache: torch needs its own copy
            log_mel = log_mel.copy()
        frames = torch.from_numpy(log_mel).to(device)
        return cls(
            frames,
            torch.from_numpy(starts).to(device),
            vector_clip,
            np.asarray(clip_is_target, dtype=bool),
            list(features.names),
            params,
        )

    @property
    def n_vectors(self) -> int:
        return len(self.vector_clip)

    @property
    def n_clips(self) -> int:
        return len(self.names)

    @property
    def vector_is_target(self) -> np.ndarray:
        return self.clip_is_target[self.vector_clip]

    def _windows(self) -> torch.Tensor:
        n_mels = self.params.n_mels
        n_windows = self.frames.shape[0] - self.params.frames + 1
        return self.frames.as_strided((n_windows, self.params.vector_dim), (n_mels, 1))

    def gather(self, vector_index: torch.Tensor) -> torch.Tensor:
        """Vectors ``vector_index`` (on the compute device) as a (batch, frames * n_mels) float32 tensor."""
        return self._windows()[self.starts[vector_index]]

    def clip_frame_bounds(self) -> np.ndarray:
        """(n_clips, 2): the first and one past the last frame (rows of ``frames``) that each clip's vectors cover."""
        starts, bounds = self.starts.cpu().numpy(), self.clip_bounds()
        return np.stack([starts[bounds[:-1]], starts[bounds[1:] - 1] + self.params.frames], axis=1)

    def clip_bounds(self) -> np.ndarray:
        """Index of each clip's first vector, plus the total: clip c's vectors are [b[c], b[c + 1])."""
        counts = np.bincount(self.vector_clip, minlength=self.n_clips)
        return np.concatenate([[0], np.cumsum(counts)])


def split_train_validation(n_vectors: int, validation_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random split of vector indices into (train, validation), as the baseline's ``train_test_split``
    does after ``np.random.seed(seed)``: validation takes the first ceil(split * n) of a permutation."""
    n_validation = math.ceil(validation_split * n_vectors)
    if n_validation < 1 or n_validation >= n_vectors:
        raise ValueError(
            f"a validation split of {validation_split} leaves no vectors on one side of {n_vectors} vectors"
        )
    permutation = np.random.RandomState(seed).permutation(n_vectors)
    return permutation[n_validation:], permutation[:n_validation]


def dataloader_pass_draw() -> None:
    """Draw the one number torch's DataLoader draws from the global generator each time it is iterated
    (its workers' base seed). Kept so that the shuffles match the public baseline's, epoch after epoch."""
    torch.empty((), dtype=torch.int64).random_()


def epoch_order(n_items: int, shuffle: bool) -> torch.Tensor:
    """Order of the training items for one pass, drawn as a DataLoader with torch's ``RandomSampler``
    draws it: the loader's base seed, then a seed for a fresh generator, then ``randperm`` with it."""
    dataloader_pass_draw()
    if not shuffle:
        return torch.arange(n_items)
    seed = int(torch.empty((), dtype=torch.int64).random_().item())
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.randperm(n_items, generator=generator)


def batch_slices(n_items: int, batch_size: int) -> list[slice]:
    """Consecutive batches of ``batch_size`` items; the last one may be smaller."""
    return [slice(start, min(start + batch_size, n_items)) for start in range(0, n_items, batch_size)]
