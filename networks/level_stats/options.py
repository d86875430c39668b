"""The level-statistics kNN's one option (``level_stats_knn.yaml`` sets the rest: one epoch, nothing to train)."""

from __future__ import annotations

from dataclasses import dataclass

from networks.base import ModelOptions, option


@dataclass(frozen=True)
class LevelStatsOptions(ModelOptions):
    frames: int
    level_stats_k: int = option(2, "level-statistics kNN: neighbours averaged per domain", fingerprint="reference")

    def validate(self) -> None:
        self.require(self.level_stats_k >= 1, f"--level_stats_k must be at least 1, got {self.level_stats_k}")
