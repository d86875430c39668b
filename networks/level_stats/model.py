"""Level statistics of a clip and a selective kNN on them: a learning-free reference detector.

Each clip is summarised by the mean and the standard deviation over time of every log-mel band (its spectral
envelope and how much each band fluctuates). The features are standardised with the training clips' per-dimension
mean and spread, and a clip's score is its Euclidean distance to the ``k`` nearest training clips of each domain,
divided by that domain's typical spacing, the smaller of the two kept (the shared selective KNN back-end).

What this detector finds, a spectrogram model finds too; when it scores as well as a trained system, the
anomalies of the data differ from normal clips mainly in level and spectral envelope. It runs through the same
scripts as every model (``--config level_stats_knn.yaml``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from datasets.vector_data import VectorSet
from networks.backends.knn import selective_knn_scores
from networks.base import EpochResult, Inputs, Model, Scope
from networks.level_stats.options import LevelStatsOptions


def clip_statistics(log_mel_frames: Sequence[np.ndarray]) -> np.ndarray:
    """(n_clips, 2 * n_mels): per-band mean then per-band standard deviation over each clip's frames."""
    rows = [
        np.concatenate([np.mean(frames, axis=0), np.std(frames, axis=0)])
        for frames in (np.asarray(clip, dtype=np.float64) for clip in log_mel_frames)
    ]
    return np.vstack(rows)


def standardiser(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of every feature over the training rows; a constant feature gets scale 1."""
    train = np.asarray(train, dtype=np.float64)
    scale = train.std(axis=0)
    return train.mean(axis=0), np.where(scale > 1e-12, scale, 1.0)


def clip_frames(data: VectorSet, frames_per_vector: int) -> list[np.ndarray]:
    """The log-mel frames each clip's vectors cover, clip by clip."""
    frames, starts, bounds = data.frames.cpu().numpy(), data.starts.cpu().numpy(), data.clip_bounds()
    return [frames[starts[first] : starts[end - 1] + frames_per_vector] for first, end in itertools.pairwise(bounds)]


class LevelStatsModel(Model):
    options_class: ClassVar[type[LevelStatsOptions]] = LevelStatsOptions
    scope: ClassVar[Scope] = Scope.MACHINE
    inputs: ClassVar[Inputs] = Inputs.VECTORS
    score_modes: ClassVar[tuple[str, ...]] = ("KNN",)
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        "--config",
        "level_stats_knn.yaml",
        "--num_workers",
        "1",
    )
    log_columns: ClassVar[tuple[str, ...]] = ("loss",)

    def __init__(self, options: LevelStatsOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.reference: dict[str, np.ndarray] = {}

    @classmethod
    def shape_of(cls, options: LevelStatsOptions, training_data: VectorSet) -> dict[str, Any]:
        return {"n_mels": training_data.params.n_mels}

    def train_epoch(self, training_data: VectorSet, epoch: int) -> EpochResult:
        return EpochResult({"loss": 0.0})  # nothing to learn: the reference is the training clips themselves

    def _standardised(self, data: VectorSet) -> np.ndarray:
        return (clip_statistics(clip_frames(data, self.options.frames)) - self.reference["mean"]) / self.reference[
            "scale"
        ]

    def fit_reference(self, reference_data: VectorSet) -> dict[str, np.ndarray]:
        mean, scale = standardiser(clip_statistics(clip_frames(reference_data, self.options.frames)))
        self.reference = {"mean": mean, "scale": scale, "is_target": reference_data.clip_is_target}
        self.reference["bank"] = self._standardised(reference_data)
        bank = self.reference["bank"]
        return {
            "KNN": selective_knn_scores(
                bank,
                bank,
                reference_data.clip_is_target,
                self.options.level_stats_k,
                query_is_reference=np.arange(len(bank)),
                metric="euclidean",
            )
        }

    def reference_state(self) -> dict[str, np.ndarray]:
        return dict(self.reference)

    def load_reference_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.reference = {**arrays, "is_target": arrays["is_target"].astype(bool)}

    def score(self, test_data: VectorSet, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        return {
            "KNN": selective_knn_scores(
                self._standardised(test_data),
                self.reference["bank"],
                self.reference["is_target"],
                self.options.level_stats_k,
                metric="euclidean",
            )
        }

    def model_state(self) -> dict[str, torch.Tensor]:
        return {}  # no weights

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        pass

    def optimizer_state(self) -> dict[str, Any]:
        return {}

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        pass
