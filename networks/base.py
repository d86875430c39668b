"""What every registered detector provides to the training and test loops.

A detector sees only tensors: batches of feature vectors with their domain flags. It knows nothing of
files; the engine reads data, writes checkpoints and results, and calls these methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch


@dataclass
class Batch:
    """A batch of feature vectors on the compute device and whether each comes from a target clip."""

    x: torch.Tensor  # (batch, input_dim) float32
    is_target: torch.Tensor  # (batch,) bool


@dataclass
class EpochResult:
    """One training epoch's log.csv values and, per score mode, samples to fit the decision threshold."""

    log: dict[str, float]
    calibration: dict[str, np.ndarray] = field(default_factory=dict)


BatchSource = Callable[[], Iterable[Batch]]  # each call is a new pass over the data (new shuffle)


class Detector(ABC):
    """Base class of the models in ``networks.registry``."""

    score_modes: ClassVar[tuple[str, ...]]
    log_columns: ClassVar[tuple[str, ...]]

    def __init__(self, input_dim: int, block_size: int, config: Any, device: torch.device) -> None:
        self.input_dim = input_dim
        self.block_size = block_size
        self.device = device

    @abstractmethod
    def train_epoch(self, train_batches: Iterable[Batch], n_train_batches: int,
                    valid_batches: Iterable[Batch], n_valid_batches: int) -> EpochResult:
        """Train one epoch, then evaluate on the validation batches."""

    @abstractmethod
    def finish_training(self, train_pass: BatchSource, valid_pass: BatchSource) -> dict[str, np.ndarray]:
        """Work after the last epoch; returns threshold-calibration samples for score modes it fits."""

    @abstractmethod
    def score_clips(self, vector_chunks: Iterable[torch.Tensor], clip_bounds: np.ndarray) -> dict[str, np.ndarray]:
        """Anomaly score of every clip in every score mode. ``vector_chunks`` yields all vectors of all
        clips in order; clip c owns vectors ``clip_bounds[c]:clip_bounds[c + 1]``."""

    @abstractmethod
    def model_state(self) -> dict[str, torch.Tensor]:
        """Weights and buffers needed to score (the saved ``.pth``)."""

    @abstractmethod
    def load_model_state(self, state: dict[str, torch.Tensor]) -> None: ...

    @abstractmethod
    def optimizer_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_optimizer_state(self, state: dict[str, Any]) -> None: ...
