"""The baseline's fully connected autoencoder on 640-value feature vectors."""

from __future__ import annotations

import torch
from torch import nn


def _dense(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out, momentum=0.01, eps=1e-3), nn.ReLU()]


class AENet(nn.Module):
    """Encoder 640-128-128-128-128-8, decoder 8-128-128-128-128-640, BatchNorm and ReLU after every layer
    but the last. Also holds the source and target covariance buffers, saved with the weights under
    the baseline's names, so a baseline ``.pth`` file loads here and ours loads there."""

    def __init__(self, input_dim: int, block_size: int, hidden: int = 128, bottleneck: int = 8) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.register_buffer("cov_source", torch.zeros(block_size, block_size))
        self.register_buffer("cov_target", torch.zeros(block_size, block_size))
        # layers are created in the baseline's order so that the same seed gives the same initial weights
        self.encoder = nn.Sequential(
            *_dense(input_dim, hidden),
            *_dense(hidden, hidden),
            *_dense(hidden, hidden),
            *_dense(hidden, hidden),
            *_dense(hidden, bottleneck),
        )
        self.decoder = nn.Sequential(
            *_dense(bottleneck, hidden),
            *_dense(hidden, hidden),
            *_dense(hidden, hidden),
            *_dense(hidden, hidden),
            nn.Linear(hidden, input_dim),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x.view(-1, self.input_dim))
        return self.decoder(z), z
