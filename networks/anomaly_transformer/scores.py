"""The Anomaly Transformer's losses and scores on the associations of ``network.py`` (torch, differentiable),
and the windowing and aggregation of frame scores into clip scores (numpy).

- association discrepancy of a time step: the symmetrised KL divergence between its prior and its series
  association rows, averaged over heads; summed over layers in the score, averaged over layers in the losses
  (as the public code does).
- minimax: the *maximise* phase, ``rec - lambda * discrepancy`` with the prior detached, pulls the series
  association away from the prior; the *minimise* phase, ``rec + lambda * discrepancy`` with the series
  detached, pulls the prior towards the series. One optimiser step applies the sum of both phases' gradients
  (the public code calls ``backward`` on each, then ``step``).
- frame score: ``softmax over the window's steps of (-temperature x discrepancy) x reconstruction error``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from networks.anomaly_transformer.network import Associations

KL_EPSILON = 1e-4  # added to both distributions inside the logarithms, as in the public code


def full_precision(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor in float32, or float64 if it is (the losses of an autocast forward pass are not taken in half
    precision)."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def row_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) of every row of (batch, heads, window, window) distributions, averaged over heads:
    (batch, window)."""
    return torch.sum(p * (torch.log(p + KL_EPSILON) - torch.log(q + KL_EPSILON)), dim=-1).mean(dim=1)


def symmetric_kl(series: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """KL(series || prior) + KL(prior || series) per time step: (batch, window)."""
    return row_kl(series, prior) + row_kl(prior, series)


def step_discrepancy(associations: Associations) -> torch.Tensor:
    """The association discrepancy of every time step, summed over layers: (batch, window)."""
    return sum(
        symmetric_kl(full_precision(series), full_precision(prior))
        for series, prior in zip(associations.series, associations.prior, strict=True)
    )


def reconstruction_error(frames: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the bands of every time step: (batch, window)."""
    return torch.mean((full_precision(frames) - full_precision(reconstruction)) ** 2, dim=-1)


@dataclass
class MinimaxLosses:
    maximise: torch.Tensor  # rec - lambda * discrepancy, prior detached (the public code's loss1)
    minimise: torch.Tensor  # rec + lambda * discrepancy, series detached (loss2)
    reconstruction: torch.Tensor
    discrepancy: torch.Tensor  # mean over layers of the batch-mean discrepancy (no gradient)


def minimax_losses(
    frames: torch.Tensor, reconstruction: torch.Tensor, associations: Associations, weight: float
) -> MinimaxLosses:
    """Both phases' losses of a batch; ``weight`` is lambda (0: plain reconstruction)."""
    series_term, prior_term = [], []
    for series, prior in zip(associations.series, associations.prior, strict=True):
        series, prior = full_precision(series), full_precision(prior)
        series_term.append(symmetric_kl(series, prior.detach()).mean())
        prior_term.append(symmetric_kl(series.detach(), prior).mean())
    series_mean = torch.stack(series_term).mean()
    prior_mean = torch.stack(prior_term).mean()
    rec = reconstruction_error(frames, reconstruction).mean()
    return MinimaxLosses(rec - weight * series_mean, rec + weight * prior_mean, rec, series_mean.detach())


def frame_scores(
    frames: torch.Tensor, reconstruction: torch.Tensor, associations: Associations, temperature: float
) -> torch.Tensor:
    """The anomaly score of every time step of every window: (batch, window)."""
    weights = torch.softmax(-temperature * step_discrepancy(associations), dim=-1)
    return weights * reconstruction_error(frames, reconstruction)


def window_starts(n_frames: int, window: int, stride: int) -> np.ndarray:
    """Starts of windows every ``stride`` frames, plus one ending at the last frame when they miss the tail."""
    if n_frames < window:
        raise ValueError(f"{n_frames} frames are fewer than a window of {window}")
    starts = np.arange(0, n_frames - window + 1, stride, dtype=np.int64)
    if starts[-1] + window < n_frames:
        starts = np.append(starts, n_frames - window)
    return starts


def stitch_windows(window_scores: np.ndarray, starts: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_windows, window) scores of windows starting at ``starts`` (ascending, covering every frame) ->
    (n_frames,): each frame keeps the score of the first window that covers it."""
    window = window_scores.shape[1]
    frames = np.full(n_frames, np.nan)
    for scores, start, previous_end in zip(window_scores, starts, itertools.chain([0], starts + window), strict=False):
        first = max(int(start), int(previous_end))
        frames[first : start + window] = scores[first - start :]
    if np.isnan(frames).any():
        raise ValueError("the windows do not cover every frame")
    return frames


def aggregate(frame_values: np.ndarray, mode: str) -> float:
    """A clip's score from its frames' scores: their ``mean`` or their ``max``."""
    if mode == "mean":
        return float(np.mean(frame_values))
    if mode == "max":
        return float(np.max(frame_values))
    raise ValueError(f"unknown aggregation {mode!r}")
