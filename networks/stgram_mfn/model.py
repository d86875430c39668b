"""STgram-MFN: one ArcFace classifier for every machine type of a dataset family (``scope = "family"``), scored
per machine type by the KNN distance of its embeddings (shared back-end) or the classifier's NLL.

It sees only arrays: the family's training clips (datasets.waveforms.FamilyTrainingSet) to train on, one
machine type's clips (datasets.waveforms.MachineClips) to fit its reference on and to score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from datasets.features import mel_filterbank
from datasets.waveforms import FamilyTrainingSet, MachineClips
from errors import DataError
from networks.backends.knn import selective_knn_scores
from networks.backends.knn_smote import (
    SMOTE_NEIGHBORS,
    SMOTE_RATIO,
    KnnSmoteReference,
    knn_smote_scores,
    knn_smote_training_scores,
)
from networks.base import EpochResult, Inputs, Scope
from networks.family_classifier import FamilyClassifierModel, epoch_batches, require_several_classes
from networks.precision import autocast_dtype
from networks.stgram_mfn.labels import belongs_to_section, class_labels
from networks.stgram_mfn.network import NetworkShape, STgramMFN
from networks.stgram_mfn.options import StgramOptions
from networks.stgram_mfn.scores import section_nll
from progress import progress_bar

WEIGHT_DECAY = 1e-4
WARMUP_SHARE = 0.05  # of all optimiser steps, at least one epoch's worth is not needed: short schedules exist
FINAL_LR_SHARE = 0.01
EMBED_SAMPLES_PER_BATCH = 16 * 160_000  # about sixteen 10-second clips at 16 kHz per forward pass


def learning_rate_at(step: int, total_steps: int, base: float) -> float:
    """Linear warm-up over the first 5 % of the steps, then a cosine decay to 1 % of ``base``."""
    warmup = max(1, round(WARMUP_SHARE * total_steps))
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return base * (FINAL_LR_SHARE + (1.0 - FINAL_LR_SHARE) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def family_class_labels(data: FamilyTrainingSet) -> tuple[list[str], np.ndarray]:
    return class_labels(
        data.clip_machine_names,
        [clip.section for clip in data.clips],
        [clip.domain for clip in data.clips],
        data.attributes,
    )


def smote_reference(embeddings: np.ndarray, is_target: np.ndarray) -> KnnSmoteReference:
    """The SMOTE mode's reference: ASDKit's back-end settings (ratio 0.2, 2 neighbours), with fewer neighbours
    when the machine type has 2 target clips and no oversampling below that (SMOTE needs k + 1 clips). It is
    worked out again from the stored embeddings (SMOTE is seeded), so the reference file holds only those."""
    n_target = int(np.sum(is_target))
    return KnnSmoteReference.fit(embeddings, is_target, SMOTE_RATIO, max(0, min(SMOTE_NEIGHBORS, n_target - 1)))


class STgramMFNModel(FamilyClassifierModel):
    """STgram-MFN trained with ArcFace on machine type x section x attribute classes."""

    options_class: ClassVar[type[StgramOptions]] = StgramOptions
    scope: ClassVar[Scope] = Scope.FAMILY  # one model per dataset family and split, shared by its machine types
    inputs: ClassVar[Inputs] = Inputs.WAVEFORMS
    # SMOTE: the shared kNN back-end with the target domain oversampled (ASDKit's), on the same embeddings
    score_modes: ClassVar[tuple[str, ...]] = ("KNN", "NLL", "SMOTE")
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        "--config",
        "stgram_mfn.yaml",
        "--epochs",
        "1",
        "--batch_size",
        "16",
        "--crop_seconds",
        "0.5",
        "--network_width",
        "0.125",
        "--embedding_dim",
        "16",
        "--n_mels",
        "32",
        "--knn_k",
        "2",
    )
    log_columns: ClassVar[tuple[str, ...]] = ("loss", "accuracy", "learning_rate")

    def __init__(self, options: StgramOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.network_shape = NetworkShape(**shape["network"])
        self.class_names: list[str] = list(shape["classes"])
        self.sample_rate = int(shape["sample_rate"])
        filters = mel_filterbank(self.sample_rate, options.n_fft, options.n_mels, options.fmin, options.fmax)
        self.net = STgramMFN(
            self.network_shape,
            torch.tensor(np.asarray(filters, dtype=np.float32)),
            margin=options.arcface_margin,
            scale=options.arcface_scale,
        ).to(device)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=options.learning_rate, weight_decay=WEIGHT_DECAY)
        self.precision = autocast_dtype(device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == torch.float16)
        self.reference: dict[str, np.ndarray] = {}
        self.smote: KnnSmoteReference | None = None

    @classmethod
    def shape_of(cls, options: StgramOptions, training_data: FamilyTrainingSet) -> dict[str, Any]:
        class_names, _ = family_class_labels(training_data)
        require_several_classes("STgram-MFN", class_names, training_data)
        network = NetworkShape(
            n_classes=len(class_names),
            n_mels=options.n_mels,
            n_fft=options.n_fft,
            hop_length=options.hop_length,
            win_length=options.win_length,
            power=options.power,
            width=options.network_width,
            embedding_dim=options.embedding_dim,
        )
        return {
            "network": network.as_dict(),
            "classes": class_names,
            "sample_rate": training_data.sample_rate,
            "machines": training_data.machines,
            "n_clips": training_data.n_clips,
        }

    @staticmethod
    def clip_classes(data: FamilyTrainingSet) -> tuple[list[str], np.ndarray]:
        return family_class_labels(data)

    def train_epoch(self, training_data: FamilyTrainingSet, epoch: int) -> EpochResult:
        options, data = self.options, training_data
        labels_all = self._labels_of(data)
        crop = options.crop_samples(data.sample_rate)
        steps_per_epoch = len(epoch_batches(data.n_clips, options.batch_size, False, np.random.default_rng(0)))
        total_steps = steps_per_epoch * options.epochs
        # the few target-domain clips (10 of 1000 per machine type in DCASE2023/2024) may be drawn more often
        draw_weights = np.where(data.is_target, options.target_weight, 1.0)
        rng = np.random.default_rng([options.seed, epoch])  # the same draws whether resumed or not
        batches = epoch_batches(data.n_clips, options.batch_size, options.shuffle, rng, draw_weights)
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}", unit="batch", transient=True)
        loss_sum, correct, seen, rate = 0.0, 0, 0, options.learning_rate
        for number, ids in enumerate(batches):
            waveforms = torch.from_numpy(data.random_crops(ids, crop, rng)).to(self.device, non_blocking=True)
            labels = labels_all[ids].to(self.device, non_blocking=True)
            rate = learning_rate_at((epoch - 1) * steps_per_epoch + number, total_steps, options.learning_rate)
            loss, right = self.train_step(waveforms, labels, rate)
            loss_sum += loss * len(ids)
            correct += right
            seen += len(ids)
            bar.update()
        bar.close()
        return EpochResult({"loss": loss_sum / max(seen, 1), "accuracy": correct / max(seen, 1), "learning_rate": rate})

    def train_step(self, waveforms: torch.Tensor, labels: torch.Tensor, learning_rate: float) -> tuple[float, int]:
        """One optimiser step on a batch; returns the batch's loss and how many clips it classified right."""
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            embeddings = self.net(waveforms)
        logits = self.net.head.margin_logits(embeddings.float(), labels)
        loss = F.cross_entropy(logits, labels)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        with torch.no_grad():
            correct = int((self.net.head.cosines(embeddings.detach()).argmax(dim=1) == labels).sum())
        return float(loss.detach()), correct

    @torch.no_grad()
    def embed(self, waveforms: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (batch, embedding_dim) and class logits without margin (batch, n_classes), float64."""
        self.net.eval()
        with self._autocast():
            embeddings = self.net(waveforms)
        logits = self.net.head.logits(embeddings.float())
        return embeddings.float().cpu().double().numpy(), logits.cpu().double().numpy()

    def embed_clips(self, clips: MachineClips, description: str) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and logits of every clip of ``clips``, in its order."""
        embeddings = np.zeros((len(clips.clips), self.network_shape.embedding_dim))
        logits = np.zeros((len(clips.clips), self.network_shape.n_classes))
        bar = progress_bar(total=len(clips.clips), desc=description, unit="clip", transient=True)
        for ids, signals in clips.equal_length_batches(EMBED_SAMPLES_PER_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(signals)).to(self.device)
            embeddings[ids], logits[ids] = self.embed(batch)
            bar.update(len(ids))
        bar.close()
        return embeddings, logits

    def _section_nll(self, logits: np.ndarray, machine: str, sections: list[str]) -> np.ndarray:
        nll = np.zeros(len(logits))
        for section in sorted(set(sections)):
            rows = np.array([clip_section == section for clip_section in sections])
            mask = np.array([belongs_to_section(name, machine, section) for name in self.class_names], dtype=bool)
            if not mask.any():
                raise DataError(
                    f"the family model has no class of {machine} section {section}: it was trained "
                    "without that section's clips (see --use_ids); train it again with them"
                )
            nll[rows] = section_nll(logits[rows], mask)
        return nll

    def fit_reference(self, reference_data: MachineClips) -> dict[str, np.ndarray]:
        """The machine type's training embeddings are the KNN memory bank; both modes' threshold samples are
        the training clips' own scores (leave-one-out for KNN)."""
        embeddings, logits = self.embed_clips(reference_data, f"{reference_data.machine} train embeddings")
        is_target = reference_data.is_target
        self.reference = {"embeddings": embeddings, "is_target": is_target}
        knn = selective_knn_scores(
            embeddings, embeddings, is_target, self.options.knn_k, query_is_reference=np.arange(len(embeddings))
        )
        nll = self._section_nll(logits, reference_data.machine, [clip.section for clip in reference_data.clips])
        self.smote = smote_reference(embeddings, is_target)
        return {"KNN": knn, "NLL": nll, "SMOTE": knn_smote_training_scores(embeddings, is_target, self.smote)}

    def reference_state(self) -> dict[str, np.ndarray]:
        return dict(self.reference)

    def load_reference_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.reference = {"embeddings": arrays["embeddings"], "is_target": arrays["is_target"].astype(bool)}
        self.smote = smote_reference(self.reference["embeddings"], self.reference["is_target"])

    def score(self, test_data: MachineClips, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        embeddings, logits = self.embed_clips(test_data, f"{test_data.machine} test embeddings")
        knn = selective_knn_scores(
            embeddings, self.reference["embeddings"], self.reference["is_target"], self.options.knn_k
        )
        nll = self._section_nll(logits, test_data.machine, [clip.section for clip in test_data.clips])
        return {"KNN": knn, "NLL": nll, "SMOTE": knn_smote_scores(embeddings, self.smote)}
