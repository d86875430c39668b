"""The STgram-MFN settings among a run's configuration, checked once, with the fingerprint of a trained model.

The options are declared with every other option in ``common.OPTIONS`` (type-checked there, recorded in
args.json); ``stgram_mfn.yaml`` sets this model's schedule. The same values serve every machine type.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from errors import ConfigError

# what a trained family model depends on; a model trained with other values is trained again
MODEL_KEYS = ("crop_seconds", "network_width", "embedding_dim", "arcface_margin", "arcface_scale", "batch_size",
              "learning_rate", "shuffle", "target_weight", "seed", "n_mels", "n_fft", "hop_length", "win_length",
              "power", "fmin", "fmax")


@dataclass(frozen=True)
class StgramSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    shuffle: bool
    seed: int
    crop_seconds: float
    network_width: float
    embedding_dim: int
    arcface_margin: float
    arcface_scale: float
    knn_k: int
    target_weight: float
    n_mels: int
    n_fft: int
    hop_length: int
    win_length: int | None
    power: float
    fmin: float
    fmax: float | None

    @classmethod
    def from_config(cls, config: Any) -> StgramSettings:
        """Pick the settings out of a run's Namespace; a value that cannot work is a ConfigError."""
        settings = cls(**{name: getattr(config, name) for name in cls.__dataclass_fields__})
        settings.validate()
        return settings

    def validate(self) -> None:
        def require(condition: bool, message: str) -> None:
            if not condition:
                raise ConfigError(f"STgram-MFN: {message}")

        require(0.1 <= self.crop_seconds <= 60 and math.isfinite(self.crop_seconds),
                f"--crop_seconds must be between 0.1 and 60 s, got {self.crop_seconds}")
        require(0.05 <= self.network_width <= 4, f"--network_width must be between 0.05 and 4, got "
                f"{self.network_width}")
        require(self.embedding_dim >= 2, f"--embedding_dim must be at least 2, got {self.embedding_dim}")
        require(0.0 <= self.arcface_margin < math.pi / 2,
                f"--arcface_margin must be in [0, pi/2) radians, got {self.arcface_margin}")
        require(self.arcface_scale > 0 and math.isfinite(self.arcface_scale),
                f"--arcface_scale must be positive, got {self.arcface_scale}")
        require(1.0 <= self.target_weight <= 1000.0,
                f"--target_weight must be between 1 and 1000, got {self.target_weight}")
        require(self.knn_k >= 1, f"--knn_k must be at least 1, got {self.knn_k}")
        require(self.n_mels >= 16, f"--n_mels must be at least 16 for the backbone's four halvings, got "
                f"{self.n_mels}")

    def model_fingerprint(self) -> dict[str, Any]:
        """What the weights depend on, ``--epochs`` aside (a checkpoint may be resumed to more epochs)."""
        values = asdict(self)
        return {key: values[key] for key in MODEL_KEYS}

    def crop_samples(self, sample_rate: int) -> int:
        return max(self.n_fft, round(self.crop_seconds * sample_rate))
