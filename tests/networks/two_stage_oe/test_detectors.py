"""Stage 2 against scikit-learn and numpy: each detector's scores, the per-section z-score, the crop aggregation
and the test crops' positions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from networks.two_stage_oe.detectors import aggregate, eval_crop_starts, section_scores, upper_mean


@pytest.fixture(scope="module")
def embeddings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(60, 5))
    test = rng.normal(size=(20, 5)) * 1.5
    return reference, test, np.repeat(np.arange(20), 3)


def zscore(values: np.ndarray, base: np.ndarray) -> np.ndarray:
    return (values - base.mean()) / base.std()


def test_each_detector_equals_scikit_learn_z_scored_on_the_training_crops(embeddings) -> None:
    reference, test, clip = embeddings
    scores = section_scores(test, reference, clip, {"GMM": 2, "KNN": 3, "LOF": 5}, seed=7)
    gmm = GaussianMixture(2, random_state=7).fit(reference)
    assert np.allclose(scores["GMM"][0], zscore(gmm.score_samples(test), gmm.score_samples(reference)))
    lof = LocalOutlierFactor(n_neighbors=5, novelty=True).fit(reference)
    assert np.allclose(scores["LOF"][0], zscore(lof.score_samples(test), lof.score_samples(reference)))
    knn = NearestNeighbors(n_neighbors=3).fit(reference)
    test_normality = -knn.kneighbors(test)[0].mean(1)
    # a training crop's own neighbours leave out the crops of its clip
    distances = np.linalg.norm(reference[:, None] - reference[None], axis=2)
    distances[clip[:, None] == clip[None, :]] = np.inf
    training_normality = -np.sort(distances, axis=1)[:, :3].mean(1)
    assert np.allclose(scores["KNN"][0], zscore(test_normality, training_normality))
    assert np.allclose(scores["KNN"][1], zscore(training_normality, training_normality))


def test_crop_aggregation_equals_numpy() -> None:
    rng = np.random.default_rng(1)
    values, clip = rng.normal(size=40), np.repeat(np.arange(4), 10)
    rows = values.reshape(4, 10)
    assert np.allclose(aggregate(values, clip, 4, "max"), rows.max(1))
    assert np.allclose(aggregate(values, clip, 4, "mean"), rows.mean(1))
    assert np.allclose(aggregate(values, clip, 4, "median"), np.median(rows, 1))
    assert np.allclose(aggregate(values, clip, 4, "upper_mean"), np.sort(rows, 1)[:, 5:].mean(1))
    assert upper_mean(np.array([3.0, 1.0, 2.0])) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("length", "n_crops", "expected"),
    [(100, 4, [0, 20, 40, 60]), (100, 1, [60]), (30, 3, [0, 0, 0]), (43, 3, [0, 1, 3])],
)
def test_test_crops_are_spread_and_the_last_ends_at_the_clip_end(length: int, n_crops: int, expected) -> None:
    assert eval_crop_starts(length, 40, n_crops).tolist() == expected
