"""The Anomaly Transformer's options. Its own flags are declared here (``option``); the fields without a default
are the shared training and feature flags of common.OPTIONS. The defaults are the paper's (window 100, 3 layers,
8 heads, d_model 512, lambda 3); ``anomaly_transformer.yaml`` sets its schedule, ``anomaly_transformer_demo.yaml``
a smaller network for a CPU."""

from __future__ import annotations

import math
from dataclasses import dataclass

from networks.base import TrainingOptions, option


@dataclass(frozen=True)
class AnomalyTransformerOptions(TrainingOptions):
    shuffle: bool
    at_window: int = option(100, "Anomaly Transformer: log-mel frames in one window (the series length)")
    at_train_stride: int = option(100, "Anomaly Transformer: frames between the starts of training windows")
    at_d_model: int = option(512, "Anomaly Transformer: width of the encoder")
    at_heads: int = option(8, "Anomaly Transformer: attention heads per layer")
    at_layers: int = option(3, "Anomaly Transformer: anomaly-attention layers")
    at_d_ff: int = option(512, "Anomaly Transformer: width of the feed-forward network")
    at_lambda: float = option(
        3.0,
        "Anomaly Transformer: weight of the association discrepancy in the minimax losses (0: plain reconstruction)",
    )
    at_temperature: float = option(
        50.0,
        "Anomaly Transformer: temperature of the softmax over a window's discrepancies in the score",
        fingerprint="reference",
    )

    def validate(self) -> None:
        require = self.require
        require(
            self.at_window >= 2, f"Anomaly Transformer: --at_window must be at least 2 frames, got {self.at_window}"
        )
        require(
            1 <= self.at_train_stride <= self.at_window,
            "Anomaly Transformer: --at_train_stride must be "
            f"between 1 and --at_window ({self.at_window}), got {self.at_train_stride}",
        )
        require(
            1 <= self.at_heads <= self.at_d_model,
            "Anomaly Transformer: --at_heads must be between 1 and "
            f"--at_d_model ({self.at_d_model}), got {self.at_heads}",
        )
        require(self.at_layers >= 1, f"Anomaly Transformer: --at_layers must be at least 1, got {self.at_layers}")
        require(self.at_d_ff >= 1, f"Anomaly Transformer: --at_d_ff must be at least 1, got {self.at_d_ff}")
        require(
            self.at_lambda >= 0 and math.isfinite(self.at_lambda),
            f"Anomaly Transformer: --at_lambda must be 0 or positive, got {self.at_lambda}",
        )
        require(
            self.at_temperature > 0 and math.isfinite(self.at_temperature),
            f"Anomaly Transformer: --at_temperature must be positive, got {self.at_temperature}",
        )
