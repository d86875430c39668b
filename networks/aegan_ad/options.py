"""AEGAN-AD's options. Its own flags are declared here (``option``); the fields without a default are the shared
training and feature flags of common.OPTIONS. ``aegan_ad.yaml`` holds the public configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from networks.aegan_ad.network import NORMALISATIONS
from networks.base import TrainingOptions, option


@dataclass(frozen=True)
class AeganOptions(TrainingOptions):
    shuffle: bool
    frames: int
    aegan_patch_hop: int = option(1, "AEGAN-AD: frames between the starts of two patches of a clip")
    aegan_latent_dim: int = option(256, "AEGAN-AD: size of the generator's code")
    aegan_encoder_width: int = option(32, "AEGAN-AD: channels of the first encoder and critic convolution")
    aegan_decoder_width: int = option(32, "AEGAN-AD: channels of the decoder's last hidden convolution")
    aegan_encoder_first_norm: bool = option(
        True,
        "AEGAN-AD: normalise after the encoder's first convolution (the public code does not for bearing, fan, ToyCar)",
    )
    aegan_generator_norm: str = option(
        "layer",
        "AEGAN-AD: the generator's normalisation after each hidden convolution: layer (LayerNorm), batch "
        "(BatchNorm) or instance (InstanceNorm)",
        choices=NORMALISATIONS,
    )
    aegan_beta1: float = option(0.5, "AEGAN-AD: Adam's beta1 of both optimisers (beta2 is 0.999)")
    aegan_matching_weight: float = option(0.1, "AEGAN-AD: weight of the feature matching in the generator loss")
    aegan_match_mean: float = option(1.0, "AEGAN-AD: feature matching weight of the embedding means")
    aegan_match_std: float = option(0.0, "AEGAN-AD: feature matching weight of the embedding standard deviations")
    aegan_penalty_weight: float = option(10.0, "AEGAN-AD: weight of the critic's gradient penalty")
    aegan_critic_steps: int = option(1, "AEGAN-AD: critic steps per generator step")
    aegan_critic_limit: float = option(
        1e4, "AEGAN-AD: an epoch whose mean critic loss exceeds this in size stops training as diverged"
    )
    aegan_pooled_detectors: bool = option(
        False,
        "AEGAN-AD: fit the embedding detectors on all training clips together (the public code) instead of per domain",
        fingerprint="reference",
    )
    aegan_knn_k: int = option(2, "AEGAN-AD: neighbours of the D_knn score", fingerprint="reference")
    aegan_lof_k: int = option(4, "AEGAN-AD: neighbours of the D_lof score", fingerprint="reference")

    def validate(self) -> None:
        require = self.require
        require(
            self.n_mels >= 8 and self.n_mels & (self.n_mels - 1) == 0,
            f"AEGAN-AD's square patches need --n_mels a power of two of at least 8 (e.g. 32, 64, 128), got "
            f"{self.n_mels}",
        )
        require(self.aegan_patch_hop >= 1, f"--aegan_patch_hop must be at least 1, got {self.aegan_patch_hop}")
        for name in (
            "aegan_latent_dim",
            "aegan_encoder_width",
            "aegan_critic_steps",
            "aegan_knn_k",
            "aegan_lof_k",
        ):
            require(getattr(self, name) >= 1, f"--{name} must be at least 1, got {getattr(self, name)}")
        require(
            self.aegan_decoder_width >= 2, f"--aegan_decoder_width must be at least 2, got {self.aegan_decoder_width}"
        )
        for name in ("aegan_matching_weight", "aegan_match_mean", "aegan_match_std", "aegan_penalty_weight"):
            value = getattr(self, name)
            require(value >= 0 and math.isfinite(value), f"--{name} must be a finite number >= 0, got {value}")
        require(0 <= self.aegan_beta1 < 1, f"--aegan_beta1 must be in [0, 1), got {self.aegan_beta1}")
        require(self.aegan_critic_limit > 0, f"--aegan_critic_limit must be positive, got {self.aegan_critic_limit}")
