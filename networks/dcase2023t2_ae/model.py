"""The DCASE2023-2026 Task 2 baseline: an autoencoder scored by MSE or selective Mahalanobis distance.

Its epochs are drawn as the public baseline's DataLoader draws them (datasets/vector_data.py), so that the
same seed visits the same vectors in the same order and log.csv and every score match the baseline's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from datasets.vector_data import VectorSet, batch_slices, dataloader_pass_draw, epoch_order, split_train_validation
from networks.backends.mahalanobis import (
    batch_error_scatter,
    block_differences,
    covariance_from_scatter,
    inverse_covariance,
    selective_mahalanobis_score,
)
from networks.base import EpochResult, Inputs, Model, Scope
from networks.dcase2023t2_ae.clip_graph import ClipScoreGraph
from networks.dcase2023t2_ae.network import AENet
from networks.dcase2023t2_ae.options import AutoencoderOptions
from progress import progress_bar

SCORING_CHUNK = 16384  # vectors per forward pass at test time


def per_vector_mse(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared reconstruction error of each vector: (batch,)."""
    return F.mse_loss(recon, x.view(recon.shape), reduction="none").mean(dim=1)


def joined(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def clip_mse(recon: torch.Tensor, x: torch.Tensor) -> float:
    """One clip's MSE score: the float32 mean over all its vectors' squared errors at once, as a Python float."""
    return F.mse_loss(recon, x.view(recon.shape), reduction="none").mean().item()


def domain_means(errors: torch.Tensor, is_target: torch.Tensor) -> torch.Tensor:
    """The batch's mean error of its source and of its target vectors (0 without target vectors), each a float32
    sum over that domain's vectors divided by their number, as the baseline reduces them (log.csv's bits)."""
    n_target = int(is_target.sum())
    source = torch.sum(errors[~is_target]) / (errors.shape[0] - n_target)
    target = torch.sum(errors[is_target]) / n_target if n_target > 0 else torch.zeros_like(source)
    return torch.stack([source, target])


def sequential_sum(values: torch.Tensor) -> float:
    """Left-to-right float64 sum, as the baseline adds up its per-batch losses (keeps log.csv identical)."""
    total = 0.0
    for value in values.double().tolist():
        total += value
    return total


class Batch:
    """A batch of feature vectors on the compute device and whether each comes from a target clip."""

    def __init__(self, x: torch.Tensor, is_target: torch.Tensor) -> None:
        self.x, self.is_target = x, is_target


class VectorSplit:
    """The baseline's random split of a machine type's training vectors into training and validation."""

    def __init__(self, data: VectorSet, options: AutoencoderOptions, device: torch.device) -> None:
        train_ids, valid_ids = split_train_validation(data.n_vectors, options.validation_split, options.seed)
        self.data, self.batch_size, self.shuffle = data, options.batch_size, options.shuffle
        self.train_ids = torch.from_numpy(train_ids).to(device)
        self.valid_ids = torch.from_numpy(valid_ids).to(device)
        self.is_target = torch.from_numpy(data.vector_is_target).to(device)
        self.n_train_batches = len(batch_slices(len(train_ids), options.batch_size))
        self.n_valid_batches = len(batch_slices(len(valid_ids), options.batch_size))

    def batches(
        self, vector_ids: torch.Tensor, order: torch.Tensor, progress: Any = None, log_interval: int = 100
    ) -> Iterator[Batch]:
        """Batches of ``vector_ids`` taken in ``order``; one gather per batch, nothing per item."""
        ordered = vector_ids[order.to(vector_ids.device)]
        for number, part in enumerate(batch_slices(len(ordered), self.batch_size), start=1):
            index = ordered[part]
            yield Batch(self.data.gather(index), self.is_target[index])
            if progress is not None and number % log_interval == 0:
                progress.update(log_interval)

    def train_pass(self, progress: Any = None, log_interval: int = 100) -> Iterator[Batch]:
        """One pass over the training vectors in a fresh shuffle, drawn as the baseline's DataLoader."""
        return self.batches(self.train_ids, epoch_order(len(self.train_ids), self.shuffle), progress, log_interval)

    def valid_pass(self) -> Iterator[Batch]:
        dataloader_pass_draw()  # the baseline's validation DataLoader draws its base seed too
        return self.batches(self.valid_ids, torch.arange(len(self.valid_ids)))


class AutoencoderModel(Model):
    options_class: ClassVar[type[AutoencoderOptions]] = AutoencoderOptions
    scope: ClassVar[Scope] = Scope.MACHINE
    inputs: ClassVar[Inputs] = Inputs.VECTORS
    score_modes: ClassVar[tuple[str, ...]] = ("MSE", "MAHALA")
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        "--epochs",
        "1",
        "--batch_size",
        "64",
        "--num_workers",
        "1",
    )
    log_columns: ClassVar[tuple[str, ...]] = (
        "loss",
        "val_loss",
        "recon_loss",
        "recon_loss_source",
        "recon_loss_target",
    )

    def __init__(self, options: AutoencoderOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.block_size = int(shape["block_size"])
        self.net = AENet(int(shape["input_dim"]), self.block_size).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=options.learning_rate)
        self._split: VectorSplit | None = None

    @classmethod
    def shape_of(cls, options: AutoencoderOptions, training_data: VectorSet) -> dict[str, Any]:
        return {"input_dim": training_data.params.vector_dim, "block_size": training_data.params.n_mels}

    @classmethod
    def default_shape(cls, options: AutoencoderOptions) -> dict[str, Any]:
        """The public baseline's ``.pth`` files load here: their shape follows from the feature settings."""
        return {"input_dim": options.n_mels * options.frames, "block_size": options.n_mels}

    def _split_of(self, data: VectorSet) -> VectorSplit:
        if self._split is None or self._split.data is not data:
            self._split = VectorSplit(data, self.options, self.device)
        return self._split

    def train_epoch(self, training_data: VectorSet, epoch: int) -> EpochResult:
        split = self._split_of(training_data)
        progress = progress_bar(total=split.n_train_batches, desc=f"epoch {epoch}", unit="batch", transient=True)
        result = self.train_batches(
            split.train_pass(progress, self.options.log_interval),
            split.n_train_batches,
            split.valid_pass(),
            split.n_valid_batches,
        )
        progress.close()
        return result

    def train_batches(
        self, train_batches: Iterable[Batch], n_train_batches: int, valid_batches: Iterable[Batch], n_valid_batches: int
    ) -> EpochResult:
        self.net.train()
        batch_losses, batch_domain_means = [], []
        for batch in train_batches:
            if batch.x.shape[0] <= 1:
                continue  # BatchNorm cannot train on one vector; the baseline skips such a batch too
            self.optimizer.zero_grad(set_to_none=True)
            recon, _ = self.net(batch.x)
            errors = per_vector_mse(recon, batch.x)
            loss = errors.sum() / errors.shape[0]
            loss.backward()
            self.optimizer.step()
            batch_losses.append(loss.detach())
            batch_domain_means.append(domain_means(errors.detach(), batch.is_target))
        valid_losses = self._validation_losses(valid_batches)
        # quirk (kept on purpose): means are over all batches, counting a skipped batch of one vector
        n_train = max(n_train_batches, 1)
        losses = torch.stack(batch_losses) if batch_losses else torch.zeros(0)
        means = torch.stack(batch_domain_means) if batch_domain_means else torch.zeros(0, 2)
        train_loss = sequential_sum(losses) / n_train
        log = {
            "loss": train_loss,
            "val_loss": sequential_sum(valid_losses) / max(n_valid_batches, 1),
            "recon_loss": train_loss,
            "recon_loss_source": sequential_sum(means[:, 0]) / n_train,
            "recon_loss_target": sequential_sum(means[:, 1]) / n_train,
        }
        # quirk (kept on purpose): the MSE threshold is fitted on per-batch mean losses
        calibration = np.concatenate([losses.cpu().numpy(), valid_losses.cpu().numpy()]).astype(np.float64)
        return EpochResult(log, {"MSE": calibration})

    @torch.no_grad()
    def _validation_losses(self, valid_batches: Iterable[Batch]) -> torch.Tensor:
        self.net.eval()
        losses = [F.mse_loss(self.net(batch.x)[0], batch.x, reduction="none").mean() for batch in valid_batches]
        return torch.stack(losses) if losses else torch.zeros(0, device=self.device)

    def fit_reference(self, reference_data: VectorSet) -> dict[str, np.ndarray]:
        """Covariances of the reconstruction error (buffers saved with the weights), then batch-level MAHALA
        scores for its threshold, both over the training split's batches."""
        split = self._split_of(reference_data)
        return self.fit_covariances(split.train_pass, split.valid_pass)

    @torch.no_grad()
    def fit_covariances(
        self, train_pass: Callable[[], Iterable[Batch]], valid_pass: Callable[[], Iterable[Batch]]
    ) -> dict[str, np.ndarray]:
        """The covariance pass over ``train_pass()``, then the MAHALA threshold samples over a new training
        pass and a validation pass (each call of a pass is a fresh draw, as the baseline's loaders)."""
        self.net.eval()
        size = self.block_size
        # quirk (kept on purpose): the scatter is summed in float32, as the baseline sums it
        scatter_source = torch.zeros(size, size, dtype=torch.float32, device=self.device)
        scatter_target = torch.zeros_like(scatter_source)
        n_source = n_target = 0
        for batch in train_pass():
            if batch.x.shape[0] <= 1:
                continue
            recon, _ = self.net(batch.x)
            source, target = batch_error_scatter(batch.x - recon, batch.is_target, size)
            scatter_source += source
            scatter_target += target
            n_batch_target = int(batch.is_target.sum())
            n_target += n_batch_target
            n_source += batch.x.shape[0] - n_batch_target
        cov_source = covariance_from_scatter(scatter_source, n_source)
        cov_target = covariance_from_scatter(scatter_target, n_target) if n_target > 0 else cov_source.clone()
        self.net.cov_source.copy_(cov_source)
        self.net.cov_target.copy_(cov_target)

        precision_source, precision_target = self._precisions()
        scores = []
        for batches in (train_pass(), valid_pass()):
            for batch in batches:
                recon, _ = self.net(batch.x)
                # quirk (kept on purpose): the MAHALA threshold is fitted on per-batch scores
                scores.append(
                    selective_mahalanobis_score(
                        block_differences(recon, batch.x, size), precision_source, precision_target
                    )
                )
        return {"MAHALA": np.array(scores, dtype=np.float64)}

    def _precisions(self) -> tuple[torch.Tensor, torch.Tensor]:
        return inverse_covariance(self.net.cov_source), inverse_covariance(self.net.cov_target)

    def score(self, test_data: VectorSet, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """MSE: mean squared error over all of a clip's vectors; MAHALA: selective Mahalanobis distance of
        the clip's mean block difference."""
        device = test_data.frames.device
        chunks = (
            test_data.gather(torch.arange(part.start, part.stop, device=device))
            for part in batch_slices(test_data.n_vectors, SCORING_CHUNK)
        )
        return self.score_vectors(chunks, test_data.clip_bounds(), modes)

    @torch.no_grad()
    def score_vectors(
        self, vector_chunks: Iterable[torch.Tensor], clip_bounds: np.ndarray, modes: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Scores of clips whose vectors ``vector_chunks`` yields in order; clip c owns vectors
        ``clip_bounds[c]:clip_bounds[c + 1]``. Several clips go through the network at once (a vector's
        reconstruction does not depend on the others in the pass), but each clip's reductions are computed on
        that clip alone, in float32, as the baseline's one-clip batch computes them."""
        self.net.eval()
        with_mahala = modes is None or "MAHALA" in modes  # its float32 per-clip matrices cost 6x the MSE
        precisions = self._precisions() if with_mahala else None
        mse, mahala = [], []
        pending: list[tuple[torch.Tensor, torch.Tensor]] = []  # (x, recon) of clips not complete yet
        clip, n_clips = 0, len(clip_bounds) - 1
        for x in vector_chunks:
            pending.append((x, self.net(x)[0]))
            x_all, recon_all = (joined(parts) for parts in zip(*pending, strict=True))
            offset = int(clip_bounds[clip])
            while clip < n_clips and clip_bounds[clip + 1] - offset <= len(x_all):
                part = slice(int(clip_bounds[clip]) - offset, int(clip_bounds[clip + 1]) - offset)
                mse.append(clip_mse(recon_all[part], x_all[part]))
                if precisions is not None:
                    mahala.append(
                        selective_mahalanobis_score(
                            block_differences(recon_all[part], x_all[part], self.block_size), *precisions
                        )
                    )
                clip += 1
            consumed = int(clip_bounds[clip]) - offset
            pending = [(x_all[consumed:], recon_all[consumed:])]
        scores = {"MSE": np.array(mse, dtype=np.float64)}
        if precisions is not None:
            scores["MAHALA"] = np.array(mahala, dtype=np.float64)
        return scores

    def scoring_graph(self, frame_hop: int) -> torch.nn.Module:
        """The network and both scores of one clip as one module (networks/dcase2023t2_ae/clip_graph.py)."""
        self.net.eval()
        return ClipScoreGraph(self.net, self.options.frames, frame_hop, *self._precisions()).eval()

    def model_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)

    def optimizer_state(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)
