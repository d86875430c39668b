"""AEGAN-AD's losses: the WGAN-GP critic loss and the generator's reconstruction + feature-matching loss.

critic:    mean D(G(x)) - mean D(x) + lambda * mean over the batch of (||grad_u D(u)||_2 - 1)^2,
           u = alpha x + (1 - alpha) G(x), one alpha ~ U(0, 1) per patch (Gulrajani et al., 2017)
generator: mean (G(x) - x)^2 + mu_eff * feature_matching(f(G(x)), f(x)), f the critic's embedding, where
           feature_matching = mu_weight * mean_j (mean f_j(G(x)) - mean f_j(x))^2
                            + sigma_weight * mean_j (std f_j(G(x)) - std f_j(x))^2   (population std over the batch)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Critic = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Mean of ``(||d critic / d u||_2 - 1)^2`` at ``u = alpha real + (1 - alpha) fake``, kept in the graph so
    that its gradient reaches the critic's weights. ``alpha``: (batch, 1, 1, 1)."""
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    values = critic(mixed)[0].reshape(-1, 1)
    (gradients,) = torch.autograd.grad(values, mixed, grad_outputs=torch.ones_like(values), create_graph=True)
    return ((gradients.reshape(gradients.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def critic_loss(
    real_values: torch.Tensor, fake_values: torch.Tensor, penalty: torch.Tensor, penalty_weight: float
) -> torch.Tensor:
    """WGAN-GP critic loss: ``-mean D(x) + mean D(G(x)) + penalty_weight * penalty``."""
    return -real_values.mean() + fake_values.mean() + penalty_weight * penalty


def embedding_spread(embeddings: torch.Tensor) -> torch.Tensor:
    """Population standard deviation of every embedding dimension over the batch: (dim,)."""
    return (embeddings - embeddings.mean(dim=0, keepdim=True)).pow(2).mean(dim=0).sqrt()


def feature_matching(
    fake_embeddings: torch.Tensor, real_embeddings: torch.Tensor, mean_weight: float, std_weight: float
) -> torch.Tensor:
    """Squared distance (mean over dimensions) between the batch means, and between the batch standard
    deviations, of the embeddings of reconstructions and of inputs, weighted; a weight of 0 leaves a term out."""
    loss = fake_embeddings.new_zeros(())
    if mean_weight:
        loss = loss + mean_weight * F.mse_loss(fake_embeddings.mean(dim=0), real_embeddings.mean(dim=0))
    if std_weight:
        loss = loss + std_weight * F.mse_loss(embedding_spread(fake_embeddings), embedding_spread(real_embeddings))
    return loss


def generator_loss(
    recon: torch.Tensor, x: torch.Tensor, matching: torch.Tensor, matching_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(total, reconstruction)``: the reconstruction MSE plus ``matching_weight`` times the feature matching."""
    reconstruction = F.mse_loss(recon, x)
    return reconstruction + matching_weight * matching, reconstruction
