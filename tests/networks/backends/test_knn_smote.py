"""The kNN + SMOTE back-end against a brute-force numpy computation, imbalanced-learn's SMOTE and the geometry of
what SMOTE must produce."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE

from errors import DataError
from networks.backends.knn_smote import (
    KnnSmoteReference,
    knn_smote_scores,
    knn_smote_training_scores,
    oversampled_targets,
)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def brute_min_distance(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    return np.sqrt(((queries[:, None, :] - references[None, :, :]) ** 2).sum(-1)).min(axis=1)


@pytest.fixture
def embeddings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    train = np.concatenate([rng.normal(size=(40, 6)) + 2, rng.normal(size=(5, 6)) - 2])
    is_target = np.r_[np.zeros(40, bool), np.ones(5, bool)]
    return train, is_target, rng.normal(size=(12, 6))


def test_scores_are_half_the_smaller_nearest_distance_after_smote(embeddings) -> None:
    train, is_target, queries = embeddings
    reference = KnnSmoteReference.fit(train, is_target, 0.2, 2)
    resampled, labels = SMOTE(sampling_strategy=0.2, k_neighbors=2, random_state=0).fit_resample(
        unit(train), is_target.astype(int)
    )
    target = unit(resampled[labels == 1])
    expected = (
        np.minimum(
            brute_min_distance(unit(queries), unit(train[~is_target])), brute_min_distance(unit(queries), target)
        )
        / 2
    )
    np.testing.assert_allclose(knn_smote_scores(queries, reference), expected, rtol=1e-12, atol=1e-12)
    assert np.all((expected >= 0) & (expected <= 1))


def test_smote_adds_points_between_two_target_embeddings(embeddings) -> None:
    train, is_target, _ = embeddings
    points = oversampled_targets(train, is_target, 0.2, 2)
    originals = unit(train[is_target])
    assert len(points) == 8  # 0.2 x 40 source clips
    np.testing.assert_allclose(points[:5], originals)  # the originals first, unchanged
    for point in points[5:]:  # each new one, before re-normalising, on a segment between two originals
        fits = []
        for i in range(5):
            for j in range(5):
                direction = originals[j] - originals[i]
                if i == j:
                    continue
                # the unnormalised point is a + t (b - a) for some t in [0, 1]; its normalised form is parallel
                t = np.linalg.lstsq(np.c_[direction, -point], -originals[i], rcond=None)[0]
                residual = originals[i] + t[0] * direction - t[1] * point
                fits.append(np.linalg.norm(residual) < 1e-9 and -1e-9 <= t[0] <= 1 + 1e-9)
        assert any(fits)


def test_without_smote_the_target_points_are_the_target_clips(embeddings) -> None:
    train, is_target, queries = embeddings
    reference = KnnSmoteReference.fit(train, is_target, 0.0, 0)
    np.testing.assert_allclose(reference.target, unit(train[is_target]))
    expected = (
        np.minimum(
            brute_min_distance(unit(queries), unit(train[~is_target])),
            brute_min_distance(unit(queries), unit(train[is_target])),
        )
        / 2
    )
    np.testing.assert_allclose(knn_smote_scores(queries, reference), expected, atol=1e-12)


def test_no_target_clips_scores_against_the_source_alone(embeddings) -> None:
    train, is_target, queries = embeddings
    reference = KnnSmoteReference.fit(train[~is_target], is_target[~is_target])
    expected = brute_min_distance(unit(queries), unit(train[~is_target])) / 2
    np.testing.assert_allclose(knn_smote_scores(queries, reference), expected, atol=1e-12)


def test_too_few_target_clips_for_smote_is_one_clear_error(embeddings) -> None:
    train, is_target, _ = embeddings
    keep = np.r_[np.arange(40), 40, 41]
    with pytest.raises(DataError, match="at least 3 target-domain training clips, the machine type has 2"):
        KnnSmoteReference.fit(train[keep], is_target[keep], 0.2, 2)


def test_training_scores_leave_each_clip_out(embeddings) -> None:
    train, is_target, _ = embeddings
    reference = KnnSmoteReference.fit(train, is_target, 0.2, 2)
    scores = knn_smote_training_scores(train, is_target, reference)
    queries, source = unit(train), unit(train[~is_target])
    for row in range(len(train)):
        own_source = np.flatnonzero(~is_target) != row
        own_target = np.ones(len(reference.target), bool)
        if is_target[row]:
            own_target[int(is_target[:row].sum())] = False
        expected = (
            min(
                brute_min_distance(queries[row : row + 1], source[own_source])[0],
                brute_min_distance(queries[row : row + 1], reference.target[own_target])[0],
            )
            / 2
        )
        assert scores[row] == pytest.approx(expected, abs=1e-12)
