"""The multi-resolution SCAC system's options. Its own flags are declared here (``option``); the fields without a
default are shared training flags of common.OPTIONS. ``configs/scac_multires.yaml`` sets the published schedule."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from errors import ConfigError
from networks.base import TrainingOptions, option

# the crop length ASDKit uses for each year (its clips are tiled up to it); 2026 is not in the public code:
# its clips are 12 s like 2024/2025's
YEAR_SECONDS = {"2020": 11.0, "2021": 10.0, "2022": 10.0, "2023": 18.0, "2024": 12.0, "2025": 12.0, "2026": 12.0}
MAX_CROP_SECONDS = 60.0
_STFT_PAIR = re.compile(r"^(\d+):(\d+)$")


def parse_stfts(text: str) -> tuple[tuple[int, int], ...]:
    """``"256:128,1024:512"`` -> ((256, 128), (1024, 512)); "" -> no STFT branch."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _STFT_PAIR.match(item)
        if match is None:
            raise ValueError(item)
        pairs.append((int(match[1]), int(match[2])))
    return tuple(pairs)


@dataclass(frozen=True)
class ScacOptions(TrainingOptions):
    shuffle: bool
    scac_width: int = option(
        128, "SCAC-MultiRes: output values of each branch (the embedding has this times the number of branches)"
    )
    scac_stfts: str = option(
        "256:128,1024:512,4096:2048", "SCAC-MultiRes: n_fft:hop of each STFT branch, comma-separated"
    )
    scac_fft_branch: bool = option(True, "SCAC-MultiRes: the branch on the FFT magnitude of the whole crop")
    scac_crop_seconds: float = option(
        0.0,
        "SCAC-MultiRes: length of the training and embedding windows (0: the year's, as ASDKit: 10-18 s; for "
        "recordings of no DCASE year, their longest clip)",
    )
    scac_subclusters: int = option(16, "SCAC-MultiRes: sub-clusters (centres) per class")
    scac_trainable_centres: bool = option(True, "SCAC-MultiRes: train the sub-cluster centres (False: fixed)")
    scac_mixup: float = option(0.5, "SCAC-MultiRes: share of clips mixed up with another (waveform and label)")
    scac_window_mean: bool = option(
        False,
        "SCAC-MultiRes: embed a clip longer than the window as the mean of "
        "windows covering it (False: its first window, as ASDKit)",
        fingerprint="reference",
    )
    scac_smote_ratio: float = option(
        0.2,
        "SCAC-MultiRes: SMOTE oversamples the target embeddings to this share of the source ones (0: no SMOTE)",
        fingerprint="reference",
    )
    scac_smote_neighbors: int = option(
        2, "SCAC-MultiRes: neighbours SMOTE interpolates between", fingerprint="reference"
    )

    def validate(self) -> None:
        require = self.require
        try:
            stfts = parse_stfts(self.scac_stfts)
        except ValueError as error:
            raise ConfigError(
                f"SCAC-MultiRes: --scac_stfts {self.scac_stfts!r}: {error} is not n_fft:hop (e.g. "
                "256:128,1024:512,4096:2048)"
            ) from error
        require(
            bool(stfts) or self.scac_fft_branch,
            "SCAC-MultiRes: no branch left: give --scac_stfts or --scac_fft_branch True",
        )
        for n_fft, hop in stfts:
            require(
                64 <= n_fft <= 16384 and 1 <= hop <= n_fft,
                f"SCAC-MultiRes: --scac_stfts {n_fft}:{hop}: n_fft must be 64-16384 and the hop 1..n_fft",
            )
        require(
            self.scac_width >= 8 and self.scac_width % 8 == 0,
            f"SCAC-MultiRes: --scac_width must be a positive multiple of 8, got {self.scac_width}",
        )
        require(
            self.scac_crop_seconds == 0
            or (0.1 <= self.scac_crop_seconds <= MAX_CROP_SECONDS and math.isfinite(self.scac_crop_seconds)),
            f"SCAC-MultiRes: --scac_crop_seconds must be 0 (the year's) or 0.1-60 s, got {self.scac_crop_seconds}",
        )
        require(
            self.scac_subclusters >= 1,
            f"SCAC-MultiRes: --scac_subclusters must be at least 1, got {self.scac_subclusters}",
        )
        require(0.0 <= self.scac_mixup <= 1.0, f"SCAC-MultiRes: --scac_mixup must be in [0, 1], got {self.scac_mixup}")
        require(
            0.0 <= self.scac_smote_ratio <= 1.0,
            f"SCAC-MultiRes: --scac_smote_ratio must be in [0, 1], got {self.scac_smote_ratio}",
        )
        require(
            self.scac_smote_neighbors >= 0,
            f"SCAC-MultiRes: --scac_smote_neighbors must be at least 0, got {self.scac_smote_neighbors}",
        )
        require(
            self.batch_size >= 2, f"SCAC-MultiRes: --batch_size must be at least 2 (BatchNorm), got {self.batch_size}"
        )

    @property
    def stfts(self) -> tuple[tuple[int, int], ...]:
        return parse_stfts(self.scac_stfts)

    def crop_seconds(self, year: str | None, longest_clip_seconds: float) -> float:
        """The window length: --scac_crop_seconds, or ASDKit's length of ``year`` (about the longest clip of
        that year's sets); for clips of no DCASE year (a monitored machine's), their longest clip, at most 60 s."""
        if self.scac_crop_seconds:
            return self.scac_crop_seconds
        if year in YEAR_SECONDS:
            return YEAR_SECONDS[str(year)]
        return min(round(longest_clip_seconds, 3), MAX_CROP_SECONDS)
