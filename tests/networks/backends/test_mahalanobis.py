"""Mahalanobis maths against written-out numpy versions of the public baseline's computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networks.backends.mahalanobis import (
    batch_error_scatter,
    block_mean_difference,
    covariance_from_scatter,
    inverse_covariance,
    selective_mahalanobis_score,
)

RNG = np.random.default_rng(3)


def blocks_by_blocks_mean(recon: np.ndarray, x: np.ndarray, precision: np.ndarray, block: int) -> float:
    """The baseline's form: D = (recon - x) as rows of blocks, score = mean of the matrix D P D^T."""
    difference = (recon - x).reshape(-1, block)
    return float(np.mean(difference @ precision @ difference.T))


def random_precision(size: int) -> np.ndarray:
    a = RNG.normal(size=(size, size))
    return np.linalg.inv(a @ a.T + size * np.eye(size))


def test_selective_score_equals_the_blocks_by_blocks_mean() -> None:
    block, frames = 8, 5
    for _ in range(5):
        x = RNG.normal(size=(30, block * frames))
        recon = x + RNG.normal(scale=0.3, size=x.shape)
        p_source, p_target = random_precision(block), random_precision(block)
        expected = min(blocks_by_blocks_mean(recon, x, p_source, block),
                       blocks_by_blocks_mean(recon, x, p_target, block))
        d = block_mean_difference(torch.from_numpy(recon), torch.from_numpy(x), block).mean(dim=0, keepdim=True)
        ours = selective_mahalanobis_score(d, torch.from_numpy(p_source), torch.from_numpy(p_target))
        np.testing.assert_allclose(ours.numpy(), [expected], rtol=1e-10)


def test_scatter_is_centred_per_batch_and_split_by_domain() -> None:
    block = 4
    error = RNG.normal(size=(10, 3 * block))
    is_target = np.array([0, 1, 0, 0, 1, 0, 0, 0, 1, 0], dtype=bool)
    source, target = batch_error_scatter(torch.from_numpy(error), torch.from_numpy(is_target), block)
    for rows, got in ((error[~is_target], source), (error[is_target], target)):
        blocks = rows.reshape(-1, block)
        centred = blocks - blocks.mean(axis=0)
        np.testing.assert_allclose(got.numpy(), centred.T @ centred, rtol=1e-12)


def test_batch_without_target_rows_adds_nothing_to_the_target_scatter() -> None:
    error = torch.from_numpy(RNG.normal(size=(6, 8)))
    _, target = batch_error_scatter(error, torch.zeros(6, dtype=torch.bool), 4)
    assert torch.count_nonzero(target) == 0


def test_covariance_divides_by_vectors_minus_one() -> None:
    scatter = torch.eye(3) * 12.0
    np.testing.assert_allclose(covariance_from_scatter(scatter, 5).numpy(), np.eye(3) * 3.0)


def test_inverse_falls_back_to_pseudo_inverse_for_singular_matrices() -> None:
    regular = torch.from_numpy(random_precision(5))
    np.testing.assert_allclose(inverse_covariance(regular).numpy(), np.linalg.inv(regular.numpy()), rtol=1e-10)
    singular = torch.zeros(3, 3, dtype=torch.float64)
    singular[0, 0] = 2.0
    with pytest.warns(RuntimeWarning, match="singular"):
        result = inverse_covariance(singular)
    np.testing.assert_allclose(result.numpy(), np.linalg.pinv(singular.numpy()))
