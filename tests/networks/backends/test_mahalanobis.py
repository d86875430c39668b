"""Mahalanobis maths against written-out numpy versions of the public baseline's computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from networks.backends.mahalanobis import (
    batch_error_scatter,
    block_differences,
    covariance_from_scatter,
    inverse_covariance,
    mahalanobis_mean,
    selective_mahalanobis_score,
)

RNG = np.random.default_rng(3)


def blocks_by_blocks_mean(recon: np.ndarray, x: np.ndarray, precision: np.ndarray, block: int) -> np.float32:
    """The baseline's form in numpy float32: D = (recon - x) as rows of blocks, sum of the row means of
    D P D^T divided by the number of rows."""
    difference = (recon - x).reshape(-1, block)
    matrix = (difference @ precision) @ difference.T
    return np.sum(np.mean(matrix, axis=1)) / np.float32(difference.shape[0])


def random_precision(size: int) -> np.ndarray:
    a = RNG.normal(size=(size, size))
    return np.linalg.inv(a @ a.T + size * np.eye(size)).astype(np.float32)


def test_selective_score_is_the_float32_blocks_by_blocks_mean() -> None:
    block, frames = 8, 5
    for _ in range(5):
        x = RNG.normal(size=(30, block * frames)).astype(np.float32)
        recon = (x + RNG.normal(scale=0.3, size=x.shape)).astype(np.float32)
        p_source, p_target = random_precision(block), random_precision(block)
        expected = min(
            blocks_by_blocks_mean(recon, x, p_source, block), blocks_by_blocks_mean(recon, x, p_target, block)
        )
        assert expected.dtype == np.float32
        blocks = block_differences(torch.from_numpy(recon), torch.from_numpy(x), block)
        assert blocks.dtype == torch.float32 and blocks.shape == (30 * frames, block)
        ours = selective_mahalanobis_score(blocks, torch.from_numpy(p_source), torch.from_numpy(p_target))
        assert isinstance(ours, float) and np.float32(ours) == ours  # a float32 value
        assert ours == pytest.approx(float(expected), rel=2e-6)


def test_mahalanobis_mean_is_computed_on_the_full_matrix() -> None:
    """Same bits as the baseline's expression; the mean difference's d^T P d is close but not the same
    computation (only equal in exact arithmetic)."""
    blocks = torch.from_numpy(RNG.normal(size=(40, 6)).astype(np.float32))
    precision = torch.from_numpy(random_precision(6))
    baseline = torch.sum(torch.mean(torch.matmul(torch.matmul(blocks, precision), blocks.t()), dim=1)) / 40
    assert mahalanobis_mean(blocks, precision).item() == baseline.item()
    d = blocks.double().mean(dim=0)
    assert mahalanobis_mean(blocks, precision).item() == pytest.approx(float(d @ precision.double() @ d), rel=1e-5)


def test_scatter_is_centred_per_batch_and_split_by_domain() -> None:
    block = 4
    error = RNG.normal(size=(10, 3 * block))
    is_target = np.array([0, 1, 0, 0, 1, 0, 0, 0, 1, 0], dtype=bool)
    source, target = batch_error_scatter(torch.from_numpy(error), torch.from_numpy(is_target), block)
    for rows, got in ((error[~is_target], source), (error[is_target], target)):
        blocks = rows.reshape(-1, block)
        centred = blocks - blocks.mean(axis=0)
        np.testing.assert_allclose(got.numpy(), centred.T @ centred, rtol=1e-12)


def test_float32_scatter_matches_numpy_float32() -> None:
    error = RNG.normal(size=(12, 16)).astype(np.float32)
    source, _ = batch_error_scatter(torch.from_numpy(error), torch.zeros(12, dtype=torch.bool), 4)
    blocks = error.reshape(-1, 4)
    centred = blocks - blocks.mean(axis=0, dtype=np.float32)
    assert source.dtype == torch.float32
    np.testing.assert_allclose(source.numpy(), centred.T @ centred, rtol=1e-5, atol=1e-5)


def test_batch_without_target_rows_adds_nothing_to_the_target_scatter() -> None:
    error = torch.from_numpy(RNG.normal(size=(6, 8)))
    _, target = batch_error_scatter(error, torch.zeros(6, dtype=torch.bool), 4)
    assert torch.count_nonzero(target) == 0


def test_covariance_divides_by_vectors_minus_one() -> None:
    scatter = torch.eye(3) * 12.0
    np.testing.assert_allclose(covariance_from_scatter(scatter, 5).numpy(), np.eye(3) * 3.0)


def test_inverse_falls_back_to_pseudo_inverse_for_singular_matrices() -> None:
    regular = torch.from_numpy(random_precision(5))
    inverse = inverse_covariance(regular)
    assert inverse.dtype == torch.float32  # the baseline inverts in float32
    np.testing.assert_allclose(inverse.numpy(), np.linalg.inv(regular.numpy().astype(np.float64)), rtol=1e-4)
    singular = torch.zeros(3, 3, dtype=torch.float64)
    singular[0, 0] = 2.0
    with pytest.warns(RuntimeWarning, match="singular"):
        result = inverse_covariance(singular)
    np.testing.assert_allclose(result.numpy(), np.linalg.pinv(singular.numpy()), rtol=1e-6)
