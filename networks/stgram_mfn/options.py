"""STgram-MFN's options. Its own flags are declared here (``option``); the fields without a default are the
shared training and feature flags of common.CORE_OPTIONS. ``stgram_mfn.yaml`` sets this model's schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

from networks.base import SpectrogramOptions, option


@dataclass(frozen=True)
class StgramOptions(SpectrogramOptions):
    shuffle: bool
    win_length: int | None
    crop_seconds: float = option(2.0, "STgram-MFN: length of the random training crops")
    network_width: float = option(1.0, "STgram-MFN: channel multiplier of the backbone")
    embedding_dim: int = option(128, "STgram-MFN: size of the embedding")
    arcface_margin: float = option(0.5, "STgram-MFN: ArcFace angular margin (radians)")
    arcface_scale: float = option(30.0, "STgram-MFN: ArcFace logit scale")
    knn_k: int = option(1, "STgram-MFN: neighbours averaged by the KNN score", fingerprint="reference")
    target_weight: float = option(
        1.0,
        "STgram-MFN: how many times as often a target-domain training clip is "
        "drawn as a source one (1: every clip once per epoch)",
    )

    def validate(self) -> None:
        require = self.require
        require(
            0.1 <= self.crop_seconds <= 60 and math.isfinite(self.crop_seconds),
            f"STgram-MFN: --crop_seconds must be between 0.1 and 60 s, got {self.crop_seconds}",
        )
        require(
            0.05 <= self.network_width <= 4,
            f"STgram-MFN: --network_width must be between 0.05 and 4, got {self.network_width}",
        )
        require(self.embedding_dim >= 2, f"STgram-MFN: --embedding_dim must be at least 2, got {self.embedding_dim}")
        require(
            0.0 <= self.arcface_margin < math.pi / 2,
            f"STgram-MFN: --arcface_margin must be in [0, pi/2) radians, got {self.arcface_margin}",
        )
        require(
            self.arcface_scale > 0 and math.isfinite(self.arcface_scale),
            f"STgram-MFN: --arcface_scale must be positive, got {self.arcface_scale}",
        )
        require(
            1.0 <= self.target_weight <= 1000.0,
            f"STgram-MFN: --target_weight must be between 1 and 1000, got {self.target_weight}",
        )
        require(self.knn_k >= 1, f"STgram-MFN: --knn_k must be at least 1, got {self.knn_k}")
        require(
            self.n_mels >= 16,
            f"STgram-MFN: --n_mels must be at least 16 for the backbone's four halvings, got {self.n_mels}",
        )

    def crop_samples(self, sample_rate: int) -> int:
        return max(self.n_fft, round(self.crop_seconds * sample_rate))
