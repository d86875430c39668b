"""One machine type's training set and per-section test sets as cached log-mel features."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from datasets.clip_features import ClipFeatures, load_or_extract
from datasets.features import FeatureParams
from datasets.file_list import Clip, find_test_folder, list_test_clips, list_train_clips
from datasets.registry import DatasetSpec
from datasets.supplemental import supplemental_summary


@dataclass
class ClipSet:
    """Clips in the baseline's order and their log-mel frames."""

    clips: list[Clip]
    features: ClipFeatures
    labelled: bool

    @property
    def is_target(self) -> np.ndarray:
        return np.array([clip.domain == "target" for clip in self.clips], dtype=bool)

    @property
    def labels(self) -> np.ndarray:
        return np.array([-1 if clip.label is None else clip.label for clip in self.clips], dtype=int)

    @property
    def names(self) -> list[str]:
        return [clip.name for clip in self.clips]


def _load(
    clips: list[Clip], params: FeatureParams, cache_dir: Path, cache_name: str, workers: int, description: str
) -> ClipFeatures:
    started = time.perf_counter()
    features, cached = load_or_extract(
        [clip.path for clip in clips], params, cache_dir, cache_name, workers, description
    )
    how = "loaded from cache" if cached else "extracted"
    tqdm.write(
        f"{description}: {len(clips)} clips, {len(features.log_mel)} frames {how} in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return features


def load_train_set(
    spec: DatasetSpec, dataset_directory: Path, params: FeatureParams, use_ids: list[int], workers: int = 0
) -> ClipSet:
    """Training clips (normal only) of the selected sections with their features."""
    clips = list_train_clips(spec, dataset_directory, use_ids)
    sections = sorted({clip.section for clip in clips})
    cache_dir = spec.processed_dir(dataset_directory) / "train"
    cache_name = f"{spec.section_keyword}_{'_'.join(sections)}"
    features = _load(clips, params, cache_dir, cache_name, workers, f"{spec.name} train")
    supplemental = supplemental_summary(spec, dataset_directory)
    if supplemental:
        tqdm.write(supplemental)
    return ClipSet(clips, features, labelled=True)


def load_test_set(
    spec: DatasetSpec, dataset_directory: Path, params: FeatureParams, section: str, workers: int = 0
) -> ClipSet:
    """Test clips of one section in the baseline's order with their features."""
    clips, labelled = list_test_clips(spec, dataset_directory, section)
    folder, _ = find_test_folder(spec, dataset_directory)
    cache_dir = spec.processed_dir(dataset_directory) / folder.name
    features = _load(
        clips, params, cache_dir, f"{spec.section_keyword}_{section}", workers, f"{spec.name} test section {section}"
    )
    return ClipSet(clips, features, labelled)
