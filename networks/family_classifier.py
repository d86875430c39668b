"""What the classifiers of a dataset family's classes share (the family models of networks/): the log line, mixed
precision where the device has it, each training clip's class, worked out once per training set, and the batches
of an epoch."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import Any

import numpy as np
import torch

from datasets.waveforms import FamilyTrainingSet
from errors import DataError
from networks.base import SingleNetworkModel
from networks.precision import autocast, precision_name


class OneClassError(DataError):
    """The training clips make a single class: a classifier has nothing to tell apart (its loss is 0 from the
    first step)."""


def require_several_classes(system: str, classes: list[str], data: FamilyTrainingSet) -> None:
    """OneClassError naming the machine types when the training clips' ``classes`` are fewer than two."""
    if len(classes) < 2:
        raise OneClassError(
            f"{system} classifies its training clips by machine type, section, attributes and domain, and the "
            f"clips of {', '.join(data.machines)} make one class ({classes[0] if classes else 'none'}): train it "
            "on several machine types, sections, attribute values or both domains"
        )


def epoch_batches(
    n_clips: int, batch_size: int, shuffle: bool, rng: np.random.Generator, draw_weights: np.ndarray | None = None
) -> list[np.ndarray]:
    """Clip ids of every batch of an epoch; a last batch of one clip is dropped (BatchNorm needs two).

    Without ``draw_weights`` (or with equal ones) every clip comes once; with them, ``n_clips`` clips are
    drawn with replacement, each with a probability proportional to its weight."""
    if draw_weights is not None and np.ptp(draw_weights) > 0:
        order = rng.choice(n_clips, n_clips, replace=True, p=draw_weights / draw_weights.sum())
    else:
        order = rng.permutation(n_clips) if shuffle else np.arange(n_clips)
    batches = [order[start : start + batch_size] for start in range(0, n_clips, batch_size)]
    return [batch for batch in batches if len(batch) > 1]


class FamilyClassifierModel(SingleNetworkModel):
    """A ``SingleNetworkModel`` that classifies the training clips of every machine type of a family; a subclass
    sets ``class_names`` (from its shape) and ``precision`` (``networks.precision.autocast_dtype``)."""

    class_names: list[str]
    precision: Any
    _labels: tuple[FamilyTrainingSet, torch.Tensor] | None = None

    @staticmethod
    @abstractmethod
    def clip_classes(data: FamilyTrainingSet) -> tuple[list[str], np.ndarray]:
        """Every class name, sorted, and the class index of each training clip."""

    def describe(self) -> str:
        return f"{self.device} ({precision_name(self.precision)}), {len(self.class_names)} classes"

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.precision)

    def _labels_of(self, data: FamilyTrainingSet) -> torch.Tensor:
        if self._labels is None or self._labels[0] is not data:
            class_names, labels = self.clip_classes(data)
            if class_names != self.class_names:
                raise DataError("the training clips' classes differ from the model's; train it again from scratch")
            self._labels = (data, torch.from_numpy(labels))
        return self._labels[1]
