"""The two-stage outlier-exposure system (Kuroyanagi et al., DCASE2022 Task 2, 2nd place), one model per machine
type (``scope = "machine"``, ``inputs = "waveforms"``).

Stage 1 trains the network of network.py on balanced batches: half clips of this machine type, half clips of the
other machine types of the dataset (pseudo-anomalies); stage 2 fits GMM / KNN / LOF detectors on the embeddings
of this machine type's training crops, per section (detectors.py). It sees only arrays: the family's training
clips (datasets.waveforms.FamilyTrainingSet, with ``run_machine``) to train on, one machine type's clips
(datasets.waveforms.MachineClips) to fit stage 2 on and to score.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from datasets.waveforms import INT16_SCALE, FamilyTrainingSet, MachineClips
from errors import DataError
from networks.base import EpochResult, Inputs, Model, Scope
from networks.two_stage_oe.detectors import DETECTORS, aggregate, eval_crop_starts, section_scores
from networks.two_stage_oe.network import NetworkShape, OutlierExposureNet
from networks.two_stage_oe.options import TwoStageOEOptions
from networks.two_stage_oe.pretrained import load_backbone_weights
from networks.two_stage_oe.training import (
    balanced_batches,
    mixup,
    mixup_probability,
    outlier_exposure_losses,
    random_crop_starts,
    waveform_statistics,
)
from progress import progress_bar

STATISTICS_CHUNK = 1 << 22  # samples per chunk when the per-machine waveform statistics are summed
EMBED_CROPS_PER_BATCH = 64


def section_classes(sections: Sequence[str], domains: Sequence[str], attributes: Sequence[str]) -> list[str]:
    """The section head's class of every clip of the machine type: its section when the machine type has
    several (DCASE2020-2022, the recipe), else its domain and attributes (DCASE2023 on; the domain alone where
    the attributes are hidden)."""
    if len(set(sections)) > 1:
        return list(sections)
    return [
        f"{domain}/{attribute}" if attribute else domain for domain, attribute in zip(domains, attributes, strict=True)
    ]


def machine_statistics(data: FamilyTrainingSet) -> dict[str, list[float]]:
    """``{machine: [mean, std]}`` of every machine type's training samples."""
    statistics = {}
    for machine, waves in zip(data.machines, data.waveforms, strict=True):
        chunks = (
            waves.samples[start : start + STATISTICS_CHUNK].astype(np.float32) / INT16_SCALE
            for start in range(0, len(waves.samples), STATISTICS_CHUNK)
        )
        statistics[machine] = list(waveform_statistics(list(chunks)))
    return statistics


class TwoStageOEModel(Model):
    """Outlier-exposure feature extractor + per-section GMM / KNN / LOF on its embeddings."""

    options_class: ClassVar[type[TwoStageOEOptions]] = TwoStageOEOptions
    scope: ClassVar[Scope] = Scope.MACHINE
    sees_all_sections: ClassVar[bool] = True  # the section head classifies all sections (DCASE2020-2022)
    inputs: ClassVar[Inputs] = Inputs.WAVEFORMS
    score_modes: ClassVar[tuple[str, ...]] = ("GMM", "KNN", "LOF", "ENSEMBLE")
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        "--config",
        "two_stage_oe_demo.yaml",
        "--epochs",
        "1",
        "--batch_size",
        "8",
        "--n_fft",
        "512",
        "--hop_length",
        "256",
        "--n_mels",
        "32",
        "--oe_crop_seconds",
        "0.5",
        "--oe_test_crops",
        "2",
    )
    log_columns: ClassVar[tuple[str, ...]] = ("loss", "machine_loss", "section_loss", "learning_rate")

    def __init__(self, options: TwoStageOEOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.network_shape = NetworkShape(**shape["network"])
        self.classes: list[str] = list(shape["classes"])
        self.machine: str = shape["machine"]
        self.statistics: dict[str, list[float]] = dict(shape["statistics"])
        self.net = OutlierExposureNet(self.network_shape).to(device)
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=options.learning_rate, weight_decay=options.oe_weight_decay
        )
        # the recipe's schedule length: epochs x (source clips // clips of the machine type per batch + 1)
        self.total_steps = options.epochs * (int(shape["n_source"]) // (options.batch_size // 2) + 1)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=options.learning_rate, total_steps=max(self.total_steps, 2)
        )
        self.steps_done = 0
        self.precision = (
            (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if device.type == "cuda" else None
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == torch.float16)
        self.reference: dict[str, np.ndarray] = {}

    @classmethod
    def shape_of(cls, options: TwoStageOEOptions, training_data: FamilyTrainingSet) -> dict[str, Any]:
        data, machine = training_data, training_data.run_machine
        others = [name for name in data.machines if name != machine]
        if not others:
            raise DataError(
                f"the two-stage outlier-exposure system trains {machine} against the training clips of "
                f"the other machine types of the dataset (its pseudo-anomalies), but only {machine} was "
                "found; download at least one other machine type of the same dataset"
            )
        mine = np.flatnonzero(np.array(data.clip_machine_names) == machine)
        clips = [data.clips[i] for i in mine]
        classes = sorted(
            set(
                section_classes(
                    [c.section for c in clips], [c.domain for c in clips], [data.attributes[i] for i in mine]
                )
            )
        )
        network = NetworkShape(
            n_classes=len(classes),
            sample_rate=data.sample_rate,
            n_fft=options.n_fft,
            hop_length=options.hop_length,
            n_mels=options.n_mels,
            fmin=options.fmin,
            fmax=options.fmax or data.sample_rate / 2,
            power=options.power,
            embedding_dim=options.oe_embedding_dim,
        )
        return {
            "network": network.as_dict(),
            "classes": classes,
            "machine": machine,
            "outliers": others,
            "statistics": machine_statistics(data),
            "sample_rate": data.sample_rate,
            "n_source": int(sum(clip.domain == "source" for clip in clips)),
        }

    def describe(self) -> str:
        precision = "float32" if self.precision is None else str(self.precision).removeprefix("torch.")
        return f"{self.device} ({precision}), {self.machine} against {len(self.shape['outliers'])} machine types"

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.precision)

    def _normalised(self, signals: np.ndarray, machines: Sequence[str]) -> torch.Tensor:
        means = np.array([self.statistics[name][0] for name in machines], dtype=np.float32)[:, None]
        stds = np.array([self.statistics[name][1] for name in machines], dtype=np.float32)[:, None]
        return torch.from_numpy((signals - means) / stds).to(self.device)

    def _batch(
        self, data: FamilyTrainingSet, ids: np.ndarray, rng: np.random.Generator, labels: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised random crops, machine targets (batch, 1) and one-hot section targets of clips ``ids``."""
        crop = self.options.crop_samples(data.sample_rate)
        starts = random_crop_starts(data.clip_lengths()[ids], crop, rng)
        signals = np.zeros((len(ids), crop), dtype=np.float32)
        for number, waves in enumerate(data.waveforms):
            rows = np.flatnonzero(data.clip_machine[ids] == number)
            if len(rows):
                signals[rows] = waves.crops(data.clip_index[ids[rows]], starts[rows], crop)
        names = [data.machines[number] for number in data.clip_machine[ids]]
        is_machine = torch.tensor([[name == self.machine] for name in names], dtype=torch.float32)
        sections = F.one_hot(torch.from_numpy(np.maximum(labels[ids], 0)), len(self.classes)).float() * is_machine
        return self._normalised(signals, names), is_machine.to(self.device), sections.to(self.device)

    def _labels(self, data: FamilyTrainingSet) -> np.ndarray:
        """Each clip's class index (-1 for other machine types' clips)."""
        mine = np.array(data.clip_machine_names) == self.machine
        labels = np.full(data.n_clips, -1, dtype=np.int64)
        rows = np.flatnonzero(mine)
        names = section_classes(
            [data.clips[i].section for i in rows],
            [data.clips[i].domain for i in rows],
            [data.attributes[i] for i in rows],
        )
        unknown = sorted(set(names) - set(self.classes))
        if unknown:
            raise DataError(
                f"{self.machine}: training clips of classes {', '.join(unknown)} the model was not built "
                "for; train it again from scratch"
            )
        labels[rows] = [self.classes.index(name) for name in names]
        return labels

    def train_epoch(self, training_data: FamilyTrainingSet, epoch: int) -> EpochResult:
        options, data = self.options, training_data
        if epoch == 1 and options.oe_pretrained:
            tqdm.write(f"backbone weights from {load_backbone_weights(self.net.backbone, options.oe_pretrained)}")
        labels = self._labels(data)
        mine, target = labels >= 0, data.is_target
        rng = np.random.default_rng([options.seed, epoch])  # the same draws whether resumed or not
        batches = balanced_batches(
            np.flatnonzero(mine & ~target),
            np.flatnonzero(mine & target),
            np.flatnonzero(~mine),
            options.batch_size // 2,
            options.oe_target_per_batch,
            rng,
        )
        planned = options.epochs * len(batches)
        totals = {"loss": 0.0, "machine_loss": 0.0, "section_loss": 0.0}
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}", unit="batch", transient=True)
        for ids in batches:
            waveforms, is_machine, sections = self._batch(data, ids, rng, labels)
            section_rows = is_machine[:, 0] > 0
            if options.oe_mixup_alpha > 0 and rng.random() < mixup_probability(self.steps_done, planned):
                waveforms, is_machine, sections, section_rows = mixup(
                    waveforms, is_machine, sections, options.oe_mixup_alpha, rng
                )
            losses = self.train_step(waveforms, is_machine, sections, section_rows)
            for name, value in losses.items():
                totals[name if name == "loss" else f"{name}_loss"] += value / len(batches)
            bar.update()
        bar.close()
        return EpochResult({**totals, "learning_rate": self.optimizer.param_groups[0]["lr"]})

    def train_step(
        self, waveforms: torch.Tensor, is_machine: torch.Tensor, sections: torch.Tensor, section_rows: torch.Tensor
    ) -> dict[str, float]:
        """One optimiser and scheduler step; the batch's losses."""
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = self.net(waveforms)
        losses = outlier_exposure_losses(
            outputs["machine"], outputs["section"], is_machine, sections, section_rows, self.options.oe_section_weight
        )
        self.scaler.scale(losses["loss"]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.steps_done < self.scheduler.total_steps:
            self.scheduler.step()
        self.steps_done += 1
        return {name: float(value.detach()) for name, value in losses.items()}

    @torch.no_grad()
    def embed_crops(self, clips: MachineClips, description: str) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of ``oe_test_crops`` crops of every clip (float64) and the clip of every crop."""
        self.net.eval()
        crop, n_crops = self.options.crop_samples(clips.sample_rate), self.options.oe_test_crops
        embeddings = np.zeros((len(clips.clips) * n_crops, self.network_shape.embedding_dim))
        bar = progress_bar(total=len(clips.clips), desc=description, unit="clip", transient=True)
        clips_per_batch = max(1, EMBED_CROPS_PER_BATCH // n_crops)
        for ids, signals in clips.equal_length_batches(clips_per_batch * max(int(clips.lengths.max()), 1)):
            padded = np.pad(signals, ((0, 0), (0, max(crop - signals.shape[1], 0))))
            starts = eval_crop_starts(padded.shape[1], crop, n_crops)
            crops = np.stack([padded[:, start : start + crop] for start in starts], axis=1).reshape(-1, crop)
            with self._autocast():
                out = self.net(self._normalised(crops, [self.machine] * len(crops)))["embedding"]
            rows = (ids[:, None] * n_crops + np.arange(n_crops)[None, :]).reshape(-1)
            embeddings[rows] = out.float().cpu().double().numpy()
            bar.update(len(ids))
        bar.close()
        return embeddings, np.repeat(np.arange(len(clips.clips)), n_crops)

    def _clip_scores(
        self,
        test_embeddings: np.ndarray,
        test_clip: np.ndarray,
        test_sections: np.ndarray,
        n_clips: int,
        reference: bool,
    ) -> dict[str, np.ndarray]:
        """Per detector, every clip's anomaly score, section by section (``reference``: the reference crops
        scored in-sample instead of the test crops)."""
        settings = {
            "GMM": self.options.oe_gmm_components,
            "KNN": self.options.oe_knn_k,
            "LOF": self.options.oe_lof_neighbors,
        }
        crop_normality = {name: np.zeros(len(test_embeddings)) for name in DETECTORS}
        for section in sorted(set(test_sections.tolist())):
            in_reference = self.reference["crop_section"] == section
            if not in_reference.any():
                raise DataError(
                    f"{self.machine}: no training clip of section {section} to fit stage 2 on; train with "
                    "that section's clips (see --use_ids)"
                )
            rows = test_sections == section
            scores = section_scores(
                test_embeddings[rows],
                self.reference["embeddings"][in_reference],
                self.reference["crop_clip"][in_reference],
                settings,
                self.options.seed,
            )
            for name in DETECTORS:
                crop_normality[name][rows] = scores[name][1 if reference else 0]
        clip_scores = {
            name: -aggregate(values, test_clip, n_clips, self.options.oe_aggregation)
            for name, values in crop_normality.items()
        }
        clip_scores["ENSEMBLE"] = np.mean([clip_scores[name] for name in DETECTORS], axis=0)
        return clip_scores

    def fit_reference(self, reference_data: MachineClips) -> dict[str, np.ndarray]:
        """The training crops' embeddings are stage 2's data; every mode's threshold samples are the training
        clips' own (in-sample) scores."""
        embeddings, crop_clip = self.embed_crops(reference_data, f"{reference_data.machine} train embeddings")
        sections = np.array([reference_data.clips[clip].section for clip in crop_clip])
        self.reference = {"embeddings": embeddings, "crop_clip": crop_clip, "crop_section": sections}
        return self._clip_scores(embeddings, crop_clip, sections, len(reference_data.clips), reference=True)

    def reference_state(self) -> dict[str, np.ndarray]:
        return dict(self.reference)

    def load_reference_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.reference = {
            "embeddings": arrays["embeddings"],
            "crop_clip": arrays["crop_clip"],
            "crop_section": arrays["crop_section"].astype(str),
        }

    def score(self, test_data: MachineClips, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        embeddings, crop_clip = self.embed_crops(test_data, f"{test_data.machine} test embeddings")
        sections = np.array([test_data.clips[clip].section for clip in crop_clip])
        return self._clip_scores(embeddings, crop_clip, sections, len(test_data.clips), reference=False)

    def model_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)

    def optimizer_state(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "steps_done": self.steps_done,
        }

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        # resumed to more epochs (--restart --epochs): the remaining steps follow the longer one-cycle schedule
        self.scheduler.total_steps = max(self.scheduler.total_steps, self.total_steps)
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.steps_done = int(state.get("steps_done", 0))
