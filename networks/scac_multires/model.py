"""SCAC-MultiRes: ASDKit's ``dis_multispec_scac_trainable`` recipe. One multi-resolution network for every machine
type of a dataset family (``scope = "family"``), trained with sub-cluster AdaCos on machine type x section x
attributes x domain classes and mixup; scored per machine type by the nearest-neighbour distance of its embeddings
with the target domain oversampled by SMOTE (shared back-end).

It sees only arrays: the family's training clips (datasets.waveforms.FamilyTrainingSet) to train on, one machine
type's clips (datasets.waveforms.MachineClips) to fit its reference on and to score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from datasets.waveforms import FamilyTrainingSet, MachineClips
from errors import ConfigError, DataError
from networks.backends.knn_smote import KnnSmoteReference, knn_smote_scores, knn_smote_training_scores
from networks.base import EpochResult, Inputs, Scope
from networks.family_classifier import FamilyClassifierModel, epoch_batches, require_several_classes
from networks.precision import autocast_dtype
from networks.scac_multires.crops import covering_windows, first_window, random_window
from networks.scac_multires.labels import class_labels
from networks.scac_multires.loss import SubClusterAdaCos, draw_mixup, mixup
from networks.scac_multires.network import (
    MIN_SPECTROGRAM_SIZE,
    MultiResolutionNet,
    NetworkShape,
    fft_branch_length,
    spectrogram_size,
)
from networks.scac_multires.options import ScacOptions
from progress import progress_bar

ADAMW_WEIGHT_DECAY = 0.01  # torch's default, which the recipe keeps
EMBED_SAMPLES_PER_BATCH = 16 * 192_000  # about sixteen 12-second windows per forward pass
_YEAR = re.compile(r"dcase(\d{4})t2", re.IGNORECASE)


def family_class_labels(data: FamilyTrainingSet) -> tuple[list[str], np.ndarray]:
    return class_labels(
        data.clip_machine_names,
        [clip.section for clip in data.clips],
        [clip.name for clip in data.clips],
        data.is_target,
    )


def data_year(data: FamilyTrainingSet) -> str | None:
    """The dataset year of the clips' folder (``.../dcase2024t2/dev_data/...``), None when there is none."""
    for part in reversed(data.clips[0].path.parts):
        match = _YEAR.fullmatch(part)
        if match:
            return match[1]
    return None


def check_window(options: ScacOptions, samples: int, sample_rate: int) -> None:
    """ConfigError when a window of ``samples`` is too short for an STFT branch (or the FFT branch)."""
    for n_fft, hop in options.stfts:
        rows, frames = spectrogram_size(samples, n_fft, hop, sample_rate, 200.0, 8000.0)
        if min(rows, frames) < MIN_SPECTROGRAM_SIZE:
            raise ConfigError(
                f"SCAC-MultiRes: a {samples / sample_rate:g} s window gives the {n_fft}:{hop} STFT branch {rows} "
                f"bins x {frames} frames, it needs {MIN_SPECTROGRAM_SIZE} of each: raise --scac_crop_seconds to at "
                f"least {(MIN_SPECTROGRAM_SIZE - 1) * hop / sample_rate:.2f} s or drop the branch (--scac_stfts)"
            )
    if options.scac_fft_branch and fft_branch_length(samples) < 1:
        raise ConfigError(
            f"SCAC-MultiRes: a {samples / sample_rate:g} s window is too short for the FFT branch's "
            "strided convolutions: raise --scac_crop_seconds"
        )


class ScacMultiResModel(FamilyClassifierModel):
    """The multi-resolution network with its sub-cluster AdaCos head; kNN back-ends with and without SMOTE."""

    options_class: ClassVar[type[ScacOptions]] = ScacOptions
    scope: ClassVar[Scope] = Scope.FAMILY
    inputs: ClassVar[Inputs] = Inputs.WAVEFORMS
    # ASDKit trains one model on every section of every machine type and pools a machine type's sections in its
    # back-end, also in the multi-section years (DCASE2020-2022) that the legacy scripts run section by section
    sees_all_sections: ClassVar[bool] = True
    score_modes: ClassVar[tuple[str, ...]] = ("SMOTE", "KNN")
    log_columns: ClassVar[tuple[str, ...]] = ("loss", "accuracy", "learning_rate")
    # tests/engine/test_runner.py's one tiny epoch: two narrow STFT branches on 1 s windows
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        *("--config", "scac_multires_demo.yaml", "--epochs", "1", "--batch_size", "8", "--scac_width", "16"),
        *("--scac_stfts", "256:128,512:256", "--scac_crop_seconds", "1.0", "--scac_fft_branch", "False"),
        *("--scac_smote_neighbors", "1"),
    )

    def __init__(self, options: ScacOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.network_shape = NetworkShape.from_dict(shape["network"])
        self.class_names: list[str] = list(shape["classes"])
        encoder = MultiResolutionNet(self.network_shape)
        head = SubClusterAdaCos(
            self.network_shape.embedding_dim,
            len(self.class_names),
            options.scac_subclusters,
            options.scac_trainable_centres,
        )
        self.net = nn.ModuleDict({"encoder": encoder, "head": head}).to(device)
        trainable = [parameter for parameter in self.net.parameters() if parameter.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=options.learning_rate, weight_decay=ADAMW_WEIGHT_DECAY)
        self.precision = autocast_dtype(device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == torch.float16)
        self.references: dict[str, KnnSmoteReference] = {}

    @classmethod
    def shape_of(cls, options: ScacOptions, training_data: FamilyTrainingSet) -> dict[str, Any]:
        classes, _ = family_class_labels(training_data)
        require_several_classes("SCAC-MultiRes", classes, training_data)
        rate = training_data.sample_rate
        longest = float(training_data.clip_lengths().max()) / rate
        samples = round(options.crop_seconds(data_year(training_data), longest) * rate)
        check_window(options, samples, rate)
        network = NetworkShape(
            samples=samples,
            sample_rate=rate,
            width=options.scac_width,
            use_fft=options.scac_fft_branch,
            stfts=options.stfts,
        )
        return {
            "network": network.as_dict(),
            "classes": classes,
            "sample_rate": rate,
            "machines": training_data.machines,
            "n_clips": training_data.n_clips,
        }

    @staticmethod
    def clip_classes(data: FamilyTrainingSet) -> tuple[list[str], np.ndarray]:
        return family_class_labels(data)

    def training_windows(self, data: FamilyTrainingSet, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random window of each clip ``ids[j]``, tiled when the clip is shorter: (len(ids), samples)."""
        signals = (data.waveforms[data.clip_machine[i]].clip(int(data.clip_index[i])) for i in ids)
        return np.stack([random_window(signal, self.network_shape.samples, rng) for signal in signals])

    def train_epoch(self, training_data: FamilyTrainingSet, epoch: int) -> EpochResult:
        options, data = self.options, training_data
        labels_all = self._labels_of(data)
        rng = np.random.default_rng([options.seed, epoch])  # the same draws whether resumed or not
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        batches = epoch_batches(data.n_clips, options.batch_size, options.shuffle, rng)
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}", unit="batch", transient=True)
        loss_sum, correct, seen = 0.0, 0, 0
        for ids in batches:
            waves = torch.from_numpy(self.training_windows(data, ids, rng))
            labels = labels_all[ids]
            loss, right = self.train_step(waves, labels, draw_mixup(len(ids), options.scac_mixup, generator))
            loss_sum += loss * len(ids)
            correct += right
            seen += len(ids)
            bar.update()
        bar.close()
        return EpochResult(
            {
                "loss": loss_sum / max(seen, 1),
                "accuracy": correct / max(seen, 1),
                "learning_rate": options.learning_rate,
            }
        )

    def train_step(
        self, waves: torch.Tensor, labels: torch.Tensor, mix: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[float, int]:
        """One optimiser step on a batch, waveforms and one-hot labels mixed up by ``mix``; returns the loss and
        how many clips the head classified as their own (unmixed) class."""
        self.net.train()
        waves, labels = waves.to(self.device), labels.to(self.device)
        soft = F.one_hot(labels, len(self.class_names)).float()
        waves, soft = mixup(waves, *mix), mixup(soft, *mix)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            embeddings = self.net["encoder"](waves)
        loss = self.net["head"](embeddings.float(), soft)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with torch.no_grad():
            predicted = self.net["head"].log_probabilities(embeddings.detach().float()).argmax(dim=1)
        return float(loss.detach()), int((predicted == labels).sum())

    @torch.no_grad()
    def embed(self, waves: torch.Tensor) -> np.ndarray:
        """Embeddings of windows (batch, samples): (batch, embedding_dim) float64."""
        self.net.eval()
        with self._autocast():
            embeddings = self.net["encoder"](waves.to(self.device))
        return embeddings.float().cpu().double().numpy()

    def clip_windows(self, signal: np.ndarray) -> np.ndarray:
        samples = self.network_shape.samples
        if self.options.scac_window_mean:
            return covering_windows(signal, samples)
        return first_window(signal, samples)[None]

    def embed_clips(self, clips: MachineClips, description: str) -> np.ndarray:
        """The embedding of every clip of ``clips``, in its order (the mean of its windows' embeddings)."""
        embeddings = np.zeros((len(clips.clips), self.network_shape.embedding_dim))
        bar = progress_bar(total=len(clips.clips), desc=description, unit="clip", transient=True)
        for ids, signals in clips.equal_length_batches(EMBED_SAMPLES_PER_BATCH):
            windows = [self.clip_windows(signal) for signal in signals]
            embedded = self.embed(torch.from_numpy(np.ascontiguousarray(np.concatenate(windows))))
            bounds = np.cumsum([0] + [len(group) for group in windows])
            embeddings[ids] = np.add.reduceat(embedded, bounds[:-1]) / np.diff(bounds)[:, None]
            bar.update(len(ids))
        bar.close()
        return embeddings

    def fit_reference(self, reference_data: MachineClips) -> dict[str, np.ndarray]:
        """The machine type's training embeddings, with (SMOTE) and without (KNN) oversampled target ones; the
        threshold samples are the training clips' own leave-one-out scores."""
        embeddings = self.embed_clips(reference_data, f"{reference_data.machine} train embeddings")
        is_target, options = reference_data.is_target, self.options
        if not is_target.any():  # ASDKit's SMOTE would stop here; a monitored machine often has no target clips
            tqdm.write(
                f"warning: {reference_data.machine} has no target-domain training clips: SMOTE has nothing to "
                "oversample and both scores are the distance to the nearest source clip (monitor: --domains)"
            )
        try:
            self.references = {
                "SMOTE": KnnSmoteReference.fit(
                    embeddings, is_target, options.scac_smote_ratio, options.scac_smote_neighbors
                ),
                "KNN": KnnSmoteReference.fit(embeddings, is_target, 0.0, 0),
            }
        except DataError as error:
            raise DataError(f"{reference_data.machine}: {error}") from error
        return {
            mode: knn_smote_training_scores(embeddings, is_target, reference)
            for mode, reference in self.references.items()
        }

    def reference_state(self) -> dict[str, np.ndarray]:
        return {
            f"{mode}__{name}": array
            for mode, reference in self.references.items()
            for name, array in reference.arrays().items()
        }

    def load_reference_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.references = {
            mode: KnnSmoteReference.from_arrays(
                {name.split("__", 1)[1]: array for name, array in arrays.items() if name.startswith(f"{mode}__")}
            )
            for mode in self.score_modes
        }

    def score(self, test_data: MachineClips, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        embeddings = self.embed_clips(test_data, f"{test_data.machine} test embeddings")
        return {mode: knn_smote_scores(embeddings, self.references[mode]) for mode in modes or self.score_modes}
