"""The autoencoder's options: all of them are the baseline's own flags (common.CORE_OPTIONS declares them)."""

from __future__ import annotations

from dataclasses import dataclass

from networks.base import ModelOptions


@dataclass(frozen=True)
class AutoencoderOptions(ModelOptions):
    batch_size: int
    learning_rate: float
    shuffle: bool
    validation_split: float
    seed: int
    log_interval: int
    n_mels: int
    frames: int
