"""Metrics against scikit-learn and scipy, and the domain rules of DCASE Task 2."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from evaluation.metrics import (
    TWO_DOMAIN_COLUMNS,
    harmonic_mean,
    partial_roc_auc,
    precision_recall_f1,
    roc_auc,
    section_metrics,
)

RNG = np.random.default_rng(7)


def random_case(n: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.integers(0, 2, n)
    y[:2] = [0, 1]
    score = RNG.normal(size=n) + y * RNG.uniform(0, 2)
    return y, (np.round(score, 1) if ties else score)


@pytest.mark.parametrize("ties", [False, True])
def test_auc_and_pauc_equal_scikit_learn(ties: bool) -> None:
    for _ in range(200):
        y, score = random_case(int(RNG.integers(4, 80)), ties)
        assert roc_auc(y, score) == roc_auc_score(y, score)  # the same bits: the result CSV's text
        for max_fpr in (0.1, 0.05, 0.5):
            assert partial_roc_auc(y, score, max_fpr) == roc_auc_score(y, score, max_fpr=max_fpr)


def test_auc_of_a_curve_with_collinear_points_has_scikit_learns_bits() -> None:
    """50 + 50 clips where a plain trapezoid sum over every threshold gives 0.5561999999999999 and
    scikit-learn's curve (collinear points dropped) gives 0.5562."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        y = np.r_[np.zeros(50, int), np.ones(50, int)]
        score = rng.normal(size=100) + 0.2 * y
        assert repr(roc_auc(y, score)) == repr(roc_auc_score(y, score))
        assert repr(partial_roc_auc(y, score, 0.1)) == repr(roc_auc_score(y, score, max_fpr=0.1))


def test_precision_recall_f1_equal_scikit_learn() -> None:
    for _ in range(100):
        y = RNG.integers(0, 2, 30)
        y[:2] = [0, 1]
        decided = RNG.integers(0, 2, 30)
        decided[0] = 1
        expected = precision_recall_fscore_support(y, decided, average="binary", zero_division=0)[:3]
        assert precision_recall_f1(y, decided) == pytest.approx(expected, abs=1e-12)


def test_f1_is_zero_not_nan_when_nothing_is_detected() -> None:
    assert precision_recall_f1(np.array([0, 1, 1]), np.array([0, 0, 0])) == (0.0, 0.0, 0.0)


def test_harmonic_mean_equals_scipy_with_the_epsilon_floor() -> None:
    for _ in range(50):
        values = RNG.uniform(0.3, 1.0, size=(6, 4))
        assert np.array_equal(harmonic_mean(values, axis=0), scipy.stats.hmean(values, axis=0))  # to the bit
        assert harmonic_mean(values, axis=None) == scipy.stats.hmean(values, axis=None)
    with_zero = np.array([0.0, 0.5])
    assert harmonic_mean(with_zero, axis=None) == scipy.stats.hmean(np.maximum(with_zero, np.finfo(float).eps))


def test_section_metrics_use_all_anomalies_for_each_domain_auc() -> None:
    labels = np.array([0] * 6 + [1] * 6)
    is_target = np.array([False] * 3 + [True] * 3 + [False] * 3 + [True] * 3)
    scores = RNG.normal(size=12) + labels
    decisions = (scores > 0.5).astype(int)
    figures = section_metrics(labels, scores, decisions, is_target, 0.1)
    assert list(figures) == list(TWO_DOMAIN_COLUMNS)
    source_rows = ~is_target | (labels == 1)
    target_rows = is_target | (labels == 1)
    assert figures["AUC (source)"] == pytest.approx(roc_auc_score(labels[source_rows], scores[source_rows]))
    assert figures["AUC (target)"] == pytest.approx(roc_auc_score(labels[target_rows], scores[target_rows]))
    assert figures["pAUC"] == pytest.approx(roc_auc_score(labels, scores, max_fpr=0.1))
    assert figures["pAUC (source)"] == pytest.approx(roc_auc_score(labels[~is_target], scores[~is_target], max_fpr=0.1))
    assert figures["pAUC (target)"] == pytest.approx(roc_auc_score(labels[is_target], scores[is_target], max_fpr=0.1))
    expected = precision_recall_fscore_support(
        labels[is_target], decisions[is_target], average="binary", zero_division=0
    )
    assert (figures["precision (target)"], figures["recall (target)"], figures["F1 score (target)"]) == pytest.approx(
        expected[:3]
    )


def test_section_without_target_clips_gets_single_domain_columns() -> None:
    labels = np.array([0, 0, 1, 1])
    figures = section_metrics(labels, np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 0, 1]), np.zeros(4, bool), 0.1)
    assert list(figures) == ["AUC", "pAUC", "precision", "recall", "F1 score"]
    assert figures["AUC"] == pytest.approx(0.75)
