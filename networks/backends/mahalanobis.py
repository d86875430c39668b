"""Mahalanobis maths of the baseline's selective Mahalanobis score, as small pure torch functions.

The reconstruction error ``x - recon`` of a feature vector is seen as ``frames`` blocks of ``n_mels``
values. Source and target domains each get a covariance of these blocks; a clip is scored against
both and keeps the smaller score ("selective").

Everything is computed in float32 with the baseline's own expressions and reduction order, so that a score is
the same float32 value as the baseline's (its CSVs hold the ``repr`` of that value).
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
    # quirk (kept on purpose): the mean is taken along dim 1 of the transposed blocks, as the baseline does (same bits)
    centred = blocks - torch.mean(blocks.t(), 1)
    return centred.T @ centred


def batch_error_scatter(
    error: torch.Tensor, is_target: torch.Tensor, block_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
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
    """Float32 inverse, as the baseline computes it; the pseudo-inverse (with a warning) when singular."""
    matrix = covariance.float()
    try:
        inverse = torch.linalg.inv(matrix)
        if not torch.isfinite(inverse).all():
            raise RuntimeError("non-finite inverse")
    except RuntimeError:
        warnings.warn(
            "covariance matrix is singular (too few training vectors?); using its "
            "pseudo-inverse for the Mahalanobis score",
            RuntimeWarning,
            stacklevel=2,
        )
        inverse = torch.linalg.pinv(matrix)
    return inverse


def block_differences(recon: torch.Tensor, x: torch.Tensor, block_size: int) -> torch.Tensor:
    """``recon - x`` of one clip (or batch) as rows of ``block_size``: (vectors * frames, block_size)."""
    return recon.reshape(-1, block_size) - x.reshape(-1, block_size)


def mahalanobis_mean(blocks: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """``sum(mean(D P D^T, dim=1)) / rows`` of the block differences ``D``, a float32 scalar tensor.

    quirk (kept on purpose): the full rows-by-rows matrix is formed, as the baseline forms it; the cheaper
    ``d_mean^T P d_mean`` is the same number in exact arithmetic but not the same float32 bits.
    """
    matrix = (blocks @ precision) @ blocks.t()
    return torch.sum(torch.mean(matrix, dim=1)) / blocks.shape[0]


def selective_mahalanobis_score(
    blocks: torch.Tensor, precision_source: torch.Tensor, precision_target: torch.Tensor
) -> float:
    """The smaller of the source and the target score of one clip's (or batch's) block differences, as a
    Python float holding the float32 value."""
    return min(mahalanobis_mean(blocks, precision_target).item(), mahalanobis_mean(blocks, precision_source).item())
