"""The DCASE2023/2024 Task 2 baseline: an autoencoder scored by MSE or selective Mahalanobis distance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from networks.base import Batch, BatchSource, Detector, EpochResult
from networks.criterion.mahala import (
    batch_error_scatter,
    block_mean_difference,
    covariance_from_scatter,
    inverse_covariance,
    selective_mahalanobis_score,
)
from networks.dcase2023t2_ae.network import AENet
from networks.registry import register


def per_vector_mse(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared reconstruction error of each vector: (batch,)."""
    return F.mse_loss(recon, x.view(recon.shape), reduction="none").mean(dim=1)


def per_batch_domain_means(errors: list[torch.Tensor], is_target: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Mean of each batch's source and of its target errors (0 for a batch without such vectors), computed
    once per epoch instead of a handful of small operations per batch."""
    n_batches = len(errors)
    if n_batches == 0:
        return torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    values, targets = torch.cat(errors), torch.cat(is_target)
    sizes = torch.tensor([len(part) for part in errors], device=values.device)
    batch_of = torch.repeat_interleave(torch.arange(n_batches, device=values.device), sizes)
    means = []
    for mask in (~targets, targets):
        sums = torch.zeros(n_batches, dtype=values.dtype, device=values.device).index_add_(
            0, batch_of[mask], values[mask])
        counts = torch.bincount(batch_of[mask], minlength=n_batches).clamp_min(1)
        means.append((sums / counts).double().cpu())
    return tuple(means)


def sequential_sum(values: torch.Tensor) -> float:
    """Left-to-right float64 sum, as the baseline adds up its per-batch losses (keeps log.csv identical)."""
    total = 0.0
    for value in values.double().tolist():
        total += value
    return total


@register("DCASE2023T2-AE")
class AutoencoderDetector(Detector):
    score_modes = ("MSE", "MAHALA")
    log_columns = ("loss", "val_loss", "recon_loss", "recon_loss_source", "recon_loss_target")

    def __init__(self, input_dim: int, block_size: int, config: Any, device: torch.device) -> None:
        super().__init__(input_dim, block_size, config, device)
        self.net = AENet(input_dim, block_size).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate)

    def train_epoch(self, train_batches: Iterable[Batch], n_train_batches: int,
                    valid_batches: Iterable[Batch], n_valid_batches: int) -> EpochResult:
        self.net.train()
        batch_losses, batch_errors, batch_is_target = [], [], []
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
            batch_errors.append(errors.detach())
            batch_is_target.append(batch.is_target)
        valid_losses = self._validation_losses(valid_batches)
        # quirk (kept on purpose): means are over all batches, counting a skipped batch of one vector
        n_train = max(n_train_batches, 1)
        losses = torch.stack(batch_losses) if batch_losses else torch.zeros(0)
        source_means, target_means = per_batch_domain_means(batch_errors, batch_is_target)
        train_loss = sequential_sum(losses) / n_train
        log = {
            "loss": train_loss,
            "val_loss": float(valid_losses.sum()) / max(n_valid_batches, 1),
            "recon_loss": train_loss,
            "recon_loss_source": sequential_sum(source_means) / n_train,
            "recon_loss_target": sequential_sum(target_means) / n_train,
        }
        # quirk (kept on purpose, SPEC §4): the MSE threshold is fitted on per-batch mean losses
        calibration = np.concatenate([losses.cpu().numpy(), valid_losses.cpu().numpy()]).astype(np.float64)
        return EpochResult(log, {"MSE": calibration})

    @torch.no_grad()
    def _validation_losses(self, valid_batches: Iterable[Batch]) -> torch.Tensor:
        self.net.eval()
        losses = [F.mse_loss(self.net(batch.x)[0], batch.x, reduction="none").mean() for batch in valid_batches]
        return torch.stack(losses) if losses else torch.zeros(0, device=self.device)

    @torch.no_grad()
    def finish_training(self, train_pass: BatchSource, valid_pass: BatchSource) -> dict[str, np.ndarray]:
        """Covariances of the reconstruction error, then batch-level MAHALA scores for its threshold."""
        self.net.eval()
        size = self.block_size
        scatter_source = torch.zeros(size, size, dtype=torch.float64, device=self.device)
        scatter_target = torch.zeros_like(scatter_source)
        n_source = n_target = 0
        for batch in train_pass():
            if batch.x.shape[0] <= 1:
                continue
            recon, _ = self.net(batch.x)
            source, target = batch_error_scatter(batch.x - recon, batch.is_target, size)
            scatter_source += source.double()
            scatter_target += target.double()
            n_batch_target = int(batch.is_target.sum())
            n_target += n_batch_target
            n_source += batch.x.shape[0] - n_batch_target
        cov_source = covariance_from_scatter(scatter_source, n_source)
        cov_target = covariance_from_scatter(scatter_target, n_target) if n_target > 0 else cov_source.clone()
        self.net.cov_source.copy_(cov_source.float())
        self.net.cov_target.copy_(cov_target.float())

        precision_source, precision_target = (p.float() for p in self._precisions())
        scores = []
        for batches in (train_pass(), valid_pass()):
            for batch in batches:
                recon, _ = self.net(batch.x)
                batch_mean = block_mean_difference(recon, batch.x, size).mean(dim=0, keepdim=True)
                # quirk (kept on purpose, SPEC §4): the MAHALA threshold is fitted on per-batch scores
                scores.append(selective_mahalanobis_score(batch_mean, precision_source, precision_target))
        calibration = torch.cat(scores).cpu().numpy().astype(np.float64) if scores else np.zeros(0)
        return {"MAHALA": calibration}

    def _precisions(self) -> tuple[torch.Tensor, torch.Tensor]:
        return inverse_covariance(self.net.cov_source), inverse_covariance(self.net.cov_target)

    @torch.no_grad()
    def score_clips(self, vector_chunks: Iterable[torch.Tensor], clip_bounds: np.ndarray) -> dict[str, np.ndarray]:
        self.net.eval()
        squared_errors, mean_differences = [], []
        for x in vector_chunks:
            recon, _ = self.net(x)
            squared_errors.append(per_vector_mse(recon, x).cpu().double())
            mean_differences.append(block_mean_difference(recon, x, self.block_size).cpu().double())
        starts, counts = clip_bounds[:-1], np.diff(clip_bounds)
        vector_mse = torch.cat(squared_errors).numpy()
        clip_mse = np.add.reduceat(vector_mse, starts) / counts
        clip_difference = np.add.reduceat(torch.cat(mean_differences).numpy(), starts, axis=0) / counts[:, None]
        precision_source, precision_target = (p.cpu() for p in self._precisions())
        mahala = selective_mahalanobis_score(torch.from_numpy(clip_difference), precision_source, precision_target)
        return {"MSE": clip_mse, "MAHALA": mahala.numpy()}

    def model_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)

    def optimizer_state(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)
