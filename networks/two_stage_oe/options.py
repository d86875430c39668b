"""Options of the two-stage outlier-exposure system. Its own flags are declared here (``option``); the fields
without a default are the shared flags of common.OPTIONS (``--batch_size`` is the whole batch: half the
machine type's clips, half outliers). ``two_stage_oe.yaml`` sets the recipe's values."""

from __future__ import annotations

import math
from dataclasses import dataclass

from networks.base import SpectrogramOptions, option
from networks.two_stage_oe.detectors import AGGREGATIONS


@dataclass(frozen=True)
class TwoStageOEOptions(SpectrogramOptions):
    oe_pretrained: str = option(
        "",
        "two-stage OE: ImageNet weights of the EfficientNet-B0 backbone: a timm model "
        "name (downloaded by timm) or a weights file; empty: random initialisation",
    )
    oe_crop_seconds: float = option(2.0, "two-stage OE: length of the training and test crops")
    oe_embedding_dim: int = option(128, "two-stage OE: size of the embedding")
    oe_target_per_batch: int = option(
        0, "two-stage OE: target-domain clips among the machine type's half of a batch (the recipe's n_target)"
    )
    oe_section_weight: float = option(10.0, "two-stage OE: weight of the section loss")
    oe_mixup_alpha: float = option(0.2, "two-stage OE: Beta(alpha, alpha) of the waveform mixup (0: none)")
    oe_weight_decay: float = option(0.0, "two-stage OE: AdamW weight decay")
    oe_test_crops: int = option(
        10, "two-stage OE: crops per clip for the embeddings of stage 2", fingerprint="reference"
    )
    oe_aggregation: str = option(
        "mean",
        "two-stage OE: how a clip's crop scores are combined: max, mean, median or upper_mean",
        fingerprint="reference",
        choices=AGGREGATIONS,
    )
    oe_gmm_components: int = option(1, "two-stage OE: components of the GMM", fingerprint="reference")
    oe_knn_k: int = option(4, "two-stage OE: neighbours averaged by the KNN score", fingerprint="reference")
    oe_lof_neighbors: int = option(4, "two-stage OE: neighbours of the LOF", fingerprint="reference")

    def validate(self) -> None:
        require = self.require
        require(
            self.batch_size >= 2,
            f"two-stage OE: --batch_size must be at least 2 (half the machine type's clips, half outliers), got "
            f"{self.batch_size}",
        )
        require(
            0 <= self.oe_target_per_batch < self.batch_size // 2,
            f"two-stage OE: --oe_target_per_batch must be between 0 and batch_size / 2 - 1, got "
            f"{self.oe_target_per_batch}",
        )
        require(
            0.1 <= self.oe_crop_seconds <= 60 and math.isfinite(self.oe_crop_seconds),
            f"two-stage OE: --oe_crop_seconds must be between 0.1 and 60 s, got {self.oe_crop_seconds}",
        )
        require(
            self.oe_embedding_dim >= 2,
            f"two-stage OE: --oe_embedding_dim must be at least 2, got {self.oe_embedding_dim}",
        )
        require(
            self.oe_mixup_alpha >= 0 and math.isfinite(self.oe_mixup_alpha),
            f"two-stage OE: --oe_mixup_alpha must be 0 or positive, got {self.oe_mixup_alpha}",
        )
        require(
            self.oe_section_weight >= 0,
            f"two-stage OE: --oe_section_weight must be 0 or positive, got {self.oe_section_weight}",
        )
        require(self.oe_test_crops >= 1, f"two-stage OE: --oe_test_crops must be at least 1, got {self.oe_test_crops}")
        require(
            self.oe_aggregation in AGGREGATIONS,
            f"two-stage OE: --oe_aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.oe_aggregation!r}",
        )
        for name in ("oe_gmm_components", "oe_knn_k", "oe_lof_neighbors"):
            require(getattr(self, name) >= 1, f"two-stage OE: --{name} must be at least 1, got {getattr(self, name)}")
        require(self.n_mels >= 8, f"two-stage OE: --n_mels must be at least 8, got {self.n_mels}")
        require(
            self.fmax is None or self.fmax > self.fmin,
            f"two-stage OE: --fmax ({self.fmax}) must be above --fmin ({self.fmin})",
        )

    def crop_samples(self, sample_rate: int) -> int:
        return max(self.n_fft, round(self.oe_crop_seconds * sample_rate))
