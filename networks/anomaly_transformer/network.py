"""The Anomaly Transformer's network (Xu et al., ICLR 2022): an embedding of the series, encoder layers of
anomaly-attention, a linear reconstruction of the input.

One time step is one log-mel frame and the variables are the mel bands. Every anomaly-attention layer computes,
beside the usual softmax attention (the *series association*), a *prior association*: a Gaussian over the
distance |i - j| between time steps whose width sigma_i is learnt per step and head (a linear map of the step's
features), rescaled so that every row sums to one. The network returns both for every layer; the losses and
scores built on them are in ``scores.py``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class NetworkShape:
    n_bands: int  # variables of the series (mel bands), in and out
    window: int  # time steps per window
    d_model: int = 512
    heads: int = 8
    layers: int = 3
    d_ff: int = 512

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Associations:
    """Per layer, (batch, heads, window, window): the series association (softmax attention) and the prior
    association (row-normalised Gaussian); per layer, (batch, heads, window): the prior's widths sigma."""

    series: list[torch.Tensor]
    prior: list[torch.Tensor]
    sigma: list[torch.Tensor]


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """(length, d_model) positional encoding of "Attention is all you need": sin on even, cos on odd columns."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    encoding = torch.zeros(length, d_model)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return encoding


def prior_width(sigma_logits: torch.Tensor) -> torch.Tensor:
    """sigma = 3 ** (sigmoid(5 s) + 1e-5) - 1, the public code's map of the projection's output to a width in
    (0, 2]: it keeps the Gaussian of every step between nearly a spike and a few steps wide."""
    return torch.pow(3.0, torch.sigmoid(sigma_logits * 5.0) + 1e-5) - 1.0


def prior_association(sigma: torch.Tensor, window: int) -> torch.Tensor:
    """(..., window) widths -> (..., window, window): row i is the Gaussian density of |i - j| with width
    sigma_i, divided by its sum over j."""
    steps = torch.arange(window, device=sigma.device, dtype=sigma.dtype)
    distance = (steps[:, None] - steps[None, :]).abs()
    width = sigma[..., None]
    density = torch.exp(-(distance**2) / 2.0 / width**2) / (math.sqrt(2.0 * math.pi) * width)
    return density / density.sum(dim=-1, keepdim=True)


class AnomalyAttention(nn.Module):
    """Multi-head attention that also gives each head's prior association (no mask, no dropout: the public
    model's settings)."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        head_dim = d_model // heads
        self.query = nn.Linear(d_model, head_dim * heads)
        self.key = nn.Linear(d_model, head_dim * heads)
        self.value = nn.Linear(d_model, head_dim * heads)
        self.sigma = nn.Linear(d_model, heads)
        self.out = nn.Linear(head_dim * heads, d_model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, _ = x.shape
        queries, keys, values = (
            projection(x).view(batch, length, self.heads, -1) for projection in (self.query, self.key, self.value)
        )
        scale = 1.0 / math.sqrt(queries.shape[-1])
        series = torch.softmax(scale * torch.einsum("blhe,bshe->bhls", queries, keys), dim=-1)
        sigma_logits = self.sigma(x).transpose(1, 2)  # (batch, heads, length); the prior in float32 at least
        sigma = prior_width(sigma_logits.to(torch.promote_types(sigma_logits.dtype, torch.float32)))
        prior = prior_association(sigma, length)
        attended = torch.einsum("bhls,bshd->blhd", series.to(values.dtype), values).reshape(batch, length, -1)
        return self.out(attended), series, prior, sigma


class EncoderLayer(nn.Module):
    """Anomaly-attention, residual, LayerNorm; a position-wise feed-forward network (GELU), residual, LayerNorm."""

    def __init__(self, d_model: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.attention = AnomalyAttention(d_model, heads)
        self.feed_in = nn.Linear(d_model, d_ff)
        self.feed_out = nn.Linear(d_ff, d_model)
        self.norm_attention = nn.LayerNorm(d_model)
        self.norm_feed = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        attended, series, prior, sigma = self.attention(x)
        x = self.norm_attention(x + attended)
        return self.norm_feed(x + self.feed_out(F.gelu(self.feed_in(x)))), series, prior, sigma


class AnomalyTransformer(nn.Module):
    """(batch, window, n_bands) standardised frames -> their reconstruction and every layer's associations."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        self.shape = shape
        # the value embedding: a bias-free convolution over 3 neighbouring steps, wrapping around the window
        self.embedding = nn.Conv1d(
            shape.n_bands, shape.d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False
        )
        nn.init.kaiming_normal_(self.embedding.weight, mode="fan_in", nonlinearity="leaky_relu")
        self.register_buffer("positions", sinusoidal_positions(shape.window, shape.d_model), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(shape.d_model, shape.heads, shape.d_ff) for _ in range(shape.layers))
        self.norm = nn.LayerNorm(shape.d_model)
        self.reconstruction = nn.Linear(shape.d_model, shape.n_bands)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, Associations]:
        length = frames.shape[1]
        x = self.embedding(frames.transpose(1, 2)).transpose(1, 2) + self.positions[:length]
        associations = Associations([], [], [])
        for layer in self.layers:
            x, series, prior, sigma = layer(x)
            associations.series.append(series)
            associations.prior.append(prior)
            associations.sigma.append(sigma)
        return self.reconstruction(self.norm(x)), associations
