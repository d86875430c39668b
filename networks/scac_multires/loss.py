"""Sub-cluster AdaCos (Wilkinghoff, IJCNN 2021) as ASDKit's recipe trains it, and mixup on waveforms and labels.

Sub-cluster AdaCos: ``n_subclusters`` centres per class (trainable here, Xavier-initialised), cosine logits times
a fixed scale sqrt(2) ln(n_classes x n_subclusters - 1), no margin; a class's probability is the sum of the
softmax over its sub-clusters; the loss is the cross-entropy with soft (mixed-up) labels.
Centre column ``class x n_subclusters + k`` is sub-cluster k of a class (the public code's layout).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def fixed_scale(n_classes: int, n_subclusters: int) -> float:
    """AdaCos's scale for ``n_classes x n_subclusters`` centres: sqrt(2) ln(N - 1)."""
    count = n_classes * n_subclusters
    if count < 3:
        raise ValueError(f"sub-cluster AdaCos needs at least 3 centres, got {count}")
    return math.sqrt(2.0) * math.log(count - 1)


def class_log_probabilities(
    embeddings: torch.Tensor, centres: torch.Tensor, n_subclusters: int, scale: float
) -> torch.Tensor:
    """log of each class's summed sub-cluster softmax: (batch, n_classes)."""
    cosines = F.normalize(embeddings.float(), dim=1) @ F.normalize(centres.float(), dim=0)
    logits = scale * cosines
    per_class = logits.view(len(logits), -1, n_subclusters).logsumexp(dim=2)
    return per_class - logits.logsumexp(dim=1, keepdim=True)


class SubClusterAdaCos(nn.Module):
    """The classification head: ``centres`` (embedding_dim, n_classes x n_subclusters)."""

    def __init__(self, embedding_dim: int, n_classes: int, n_subclusters: int, trainable: bool) -> None:
        super().__init__()
        self.n_classes, self.n_subclusters = n_classes, n_subclusters
        self.scale = fixed_scale(n_classes, n_subclusters)
        centres = torch.empty(embedding_dim, n_classes * n_subclusters)
        nn.init.xavier_uniform_(centres)
        self.centres = nn.Parameter(centres, requires_grad=trainable)

    def log_probabilities(self, embeddings: torch.Tensor) -> torch.Tensor:
        return class_log_probabilities(embeddings, self.centres, self.n_subclusters, self.scale)

    def forward(self, embeddings: torch.Tensor, soft_labels: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of the cross-entropy with ``soft_labels`` (batch, n_classes)."""
        return -(soft_labels * self.log_probabilities(embeddings)).sum(dim=1).mean()


def draw_mixup(batch: int, probability: float, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``(lam, partner, apply)`` of a batch, drawn in the public code's order: lam ~ U(0, 1) per clip, a random
    permutation for the partners, and whether each clip is mixed (probability ``probability``)."""
    lam = torch.rand(batch, generator=generator)
    partner = torch.randperm(batch, generator=generator)
    apply = (torch.rand(batch, generator=generator) < probability).float()
    return lam, partner, apply


def mixup(data: torch.Tensor, lam: torch.Tensor, partner: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """``lam x data + (1 - lam) x data[partner]`` for the clips with ``apply`` 1, ``data`` for the others."""
    shape = [-1] + [1] * (data.dim() - 1)
    lam, apply = lam.to(data).view(shape), apply.to(data).view(shape)
    mixed = lam * data + (1 - lam) * data[partner.to(data.device)]
    return apply * mixed + (1 - apply) * data
