"""Mahalanobis maths of the baseline's selective Mahalanobis score, as small pure torch functions.

The reconstruction error ``x - recon`` of a feature vector is seen as ``frames`` blocks of ``n_mels``
values. Source and target domains each get a covariance of these blocks; a clip is scored against
both and keeps the smaller score ("selective").
"""

from __future__ import annotations

import warnings

import torch


def error_blocks(error: torch.Tensor, block_size: int) -> torch.Tensor:
    """(vectors, frames * block_size) -> (vectors * frames, block_size): one row per block."""
    return error.reshape(-1, block_size)


def centred_scatter(blocks: torch.Tensor) -> torch.Tensor:
    """``C^T C`` with ``C`` the rows of ``blocks`` minus their own mean (zero for no rows)."""
    if blocks.shape[0] == 0:
        return blocks.new_zeros(blocks.shape[1], blocks.shape[1])
    centred = blocks - blocks.mean(dim=0, keepdim=True)
    return centred.T @ centred


def batch_error_scatter(error: torch.Tensor, is_target: torch.Tensor,
                        block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source and target scatter matrices of one batch of reconstruction errors ``x - recon``.

    quirk (kept on purpose): each batch's blocks are centred on that batch's own mean, not on
    the mean over all batches; the baseline's published scores depend on it.
    """
    source = centred_scatter(error_blocks(error[~is_target], block_size))
    target = centred_scatter(error_blocks(error[is_target], block_size))
    return source, target


def covariance_from_scatter(scatter_sum: torch.Tensor, n_vectors: int) -> torch.Tensor:
    """quirk (kept on purpose): the summed scatter of all blocks is divided by the number of
    *vectors* minus one, not by the number of blocks minus one."""
    return scatter_sum / (n_vectors - 1)


def inverse_covariance(covariance: torch.Tensor) -> torch.Tensor:
    """Inverse computed and returned in float64; the pseudo-inverse (with a warning) when singular."""
    matrix = covariance.double()
    try:
        inverse = torch.linalg.inv(matrix)
        if not torch.isfinite(inverse).all():
            raise RuntimeError("non-finite inverse")
    except RuntimeError:
        warnings.warn("covariance matrix is singular (too few training vectors?); using its "
                      "pseudo-inverse for the Mahalanobis score", RuntimeWarning, stacklevel=2)
        inverse = torch.linalg.pinv(matrix)
    return inverse


def block_mean_difference(recon: torch.Tensor, x: torch.Tensor, block_size: int) -> torch.Tensor:
    """Mean over each vector's blocks of ``recon - x``: (vectors, block_size)."""
    return (recon - x).reshape(recon.shape[0], -1, block_size).mean(dim=1)


def mahalanobis_quadratic(difference: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """``d^T P d`` for each row ``d`` of ``difference`` (rows, block_size) -> (rows,)."""
    return ((difference @ precision) * difference).sum(dim=1)


def selective_mahalanobis_score(mean_difference: torch.Tensor, precision_source: torch.Tensor,
                                precision_target: torch.Tensor) -> torch.Tensor:
    """The smaller of the source and target scores ``d^T P d`` of each row.

    quirk (kept on purpose): ``d`` is the mean of ``recon - x`` over all of a clip's blocks;
    the baseline writes this as the mean of the blocks-by-blocks matrix ``D P D^T``, which is equal.
    """
    source = mahalanobis_quadratic(mean_difference, precision_source)
    target = mahalanobis_quadratic(mean_difference, precision_target)
    return torch.minimum(source, target)
