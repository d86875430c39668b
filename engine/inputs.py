"""What a model reads, by the kind it declares (``Model.inputs``): stacked log-mel vectors or waveforms.

Training data (one machine type's clips, or every machine type's for a family model), the reference data of
one machine type (what ``fit_reference`` sees) and each test section, in the baseline's clip order.
"""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.audio import ChannelRule
from datasets.dcase_data import load_test_set, load_train_set
from datasets.features import FeatureParams
from datasets.file_list import Clip, list_test_clips, list_train_clips
from datasets.registry import DatasetSpec, machine_types
from datasets.vector_data import VectorSet
from datasets.waveforms import (
    cached_machine_clips,
    list_family_training_clips,
    load_family_training_set,
    machine_clips_from_files,
)
from errors import DataError
from networks.base import Model, Scope


@dataclass
class TestSection:
    """A section's test clips in the baseline's order and the model's input for them."""

    clips: list[Clip]
    labelled: bool
    model_input: Any
    sample_rate: int

    @property
    def names(self) -> list[str]:
        return [clip.name for clip in self.clips]

    @property
    def labels(self) -> np.ndarray:
        return np.array([-1 if clip.label is None else clip.label for clip in self.clips], dtype=int)

    @property
    def is_target(self) -> np.ndarray:
        return np.array([clip.domain == "target" for clip in self.clips], dtype=bool)


@dataclass(frozen=True)
class DataSettings:
    """What the data of a run is read with: the datasets' parent folder, the sections trained on (--use_ids),
    the feature extraction processes and the log-mel parameters (with the channel rule)."""

    root: Path
    use_ids: list[int]
    num_workers: int
    features: FeatureParams
    eval_adds_dev: bool = False  # -e with --eval_adds_dev: a family model also trains on the dev machine types

    @classmethod
    def from_config(cls, config: Namespace) -> DataSettings:
        return cls(
            Path(config.dataset_directory),
            list(config.use_ids),
            int(config.num_workers),
            FeatureParams.from_config(config),
            bool(config.eval and config.eval_adds_dev),
        )

    @property
    def channel_rule(self) -> ChannelRule:
        """Which channel of a clip a waveform model reads: the log-mel features' rule (--mono, --channel)."""
        return self.features.channel_rule


def _machine_vectors(spec: DatasetSpec, settings: DataSettings, device: torch.device) -> tuple[VectorSet, int]:
    params = settings.features
    train_set = load_train_set(spec, settings.root, params, settings.use_ids, settings.num_workers)
    data = VectorSet.from_features(train_set.features, params, train_set.is_target, device)
    return data, train_set.features.sample_rate


def _sections_read(model_class: type[Model], settings: DataSettings) -> list[int]:
    """The section ids whose training clips the model reads: --use_ids, or all (empty) for a model that sees
    every section of its machine type in any run (its section head classifies them)."""
    return [] if model_class.sees_all_sections else settings.use_ids


def reads_family(model_class: type[Model]) -> bool:
    """Whether the model trains on every machine type's clips (waveform models: a family model, or one trained
    with the other machine types as outliers), so that all of them must be there to train it."""
    return model_class.inputs == "waveforms"


def adds_dev_clips(model_class: type[Model], settings: DataSettings) -> bool:
    """Whether this run's family model also trains on the development split's machine types (-e with
    --eval_adds_dev); only a family model does, a model of one machine type keeps its own split."""
    return settings.eval_adds_dev and model_class.scope == Scope.FAMILY


def family_training_listing(
    model_class: type[Model], spec: DatasetSpec, settings: DataSettings
) -> list[tuple[DatasetSpec, list[Clip]]]:
    """The training clips of every machine type of the family that the model trains on, by machine type: the
    run's split (its sections), then, with ``adds_dev_clips``, every section of the development split's types."""
    listing = list_family_training_clips(
        spec.family, spec.split, settings.root, _sections_read(model_class, settings), required=spec.machine
    )
    if not adds_dev_clips(model_class, settings):
        return listing
    first_dev_type = machine_types(spec.family, "dev")[0]
    try:  # the first development type is required, so that a missing dev split is an error, not a warning
        return listing + list_family_training_clips(spec.family, "dev", settings.root, [], required=first_dev_type)
    except DataError as error:
        raise DataError(f"--eval_adds_dev True needs the development training clips: {error}") from error


def training_data(
    model_class: type[Model], spec: DatasetSpec, settings: DataSettings, device: torch.device
) -> tuple[Any, int]:
    """``(data, sample rate)`` a model trains on: its machine type's vectors, or the waveforms of every machine
    type of the family (a family model's data; a waveform model of one machine type, e.g. one trained with
    outlier exposure, finds its own machine type as ``run_machine``)."""
    if not reads_family(model_class):
        return _machine_vectors(spec, settings, device)
    listing = family_training_listing(model_class, spec, settings)
    data = load_family_training_set(listing, settings.root, settings.channel_rule)
    data.run_machine = spec.machine  # a waveform model of one machine type tells its own clips from the others'
    if data.n_clips < 2:
        raise DataError(
            f"{spec.family} ({spec.split}) has {data.n_clips} training clip(s); the model needs at least two"
        )
    return data, data.sample_rate


def reference_data(
    model_class: type[Model], spec: DatasetSpec, settings: DataSettings, device: torch.device, trained_on: Any = None
) -> Any:
    """One machine type's training clips for ``fit_reference``: the training vectors themselves when the model
    was just trained on them (so that a model's random draws continue where training left them, as the public
    baseline's do), else read anew."""
    if model_class.inputs == "vectors" and trained_on is not None:
        return trained_on
    if model_class.inputs == "vectors":
        return _machine_vectors(spec, settings, device)[0]
    clips = list_train_clips(spec, settings.root, _sections_read(model_class, settings))
    return cached_machine_clips(spec, clips, settings.root, settings.channel_rule)


def test_section(
    model_class: type[Model], spec: DatasetSpec, settings: DataSettings, section: str, device: torch.device
) -> TestSection:
    """Section ``section``'s test clips and the model's input for them."""
    if model_class.inputs == "vectors":
        params = settings.features
        clip_set = load_test_set(spec, settings.root, params, section, settings.num_workers)
        data = VectorSet.from_features(clip_set.features, params, clip_set.is_target, device)
        return TestSection(clip_set.clips, clip_set.labelled, data, clip_set.features.sample_rate)
    clips, labelled = list_test_clips(spec, settings.root, section)
    data = machine_clips_from_files(spec.machine, clips, settings.channel_rule)
    return TestSection(clips, labelled, data, data.sample_rate)
