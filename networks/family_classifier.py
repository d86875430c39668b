"""What the classifiers of a dataset family's classes share (STgram-MFN, SCAC-MultiRes): the log line, mixed
precision where the device has it, and each training clip's class, worked out once per training set."""

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
