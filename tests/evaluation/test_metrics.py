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
        assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
        for max_fpr in (0.1, 0.05, 0.5):
            assert partial_roc_auc(y, score, max_fpr) == pytest.approx(roc_auc_score(y, score, max_fpr=max_fpr),
                                                                       abs=1e-12)


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
    values = RNG.uniform(0.3, 1.0, size=(6, 4))
    np.testing.assert_allclose(harmonic_mean(values, axis=0), scipy.stats.hmean(values, axis=0))
    with_zero = np.array([0.0, 0.5])
    assert harmonic_mean(with_zero, axis=None) == pytest.approx(scipy.stats.hmean(np.maximum(with_zero, 2.22e-16)))


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
    expected = precision_recall_fscore_support(labels[is_target], decisions[is_target], average="binary",
                                               zero_division=0)
    assert (figures["precision (target)"], figures["recall (target)"], figures["F1 score (target)"]) == \
        pytest.approx(expected[:3])


def test_section_without_target_clips_gets_single_domain_columns() -> None:
    labels = np.array([0, 0, 1, 1])
    figures = section_metrics(labels, np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 0, 1]), np.zeros(4, bool), 0.1)
    assert list(figures) == ["AUC", "pAUC", "precision", "recall", "F1 score"]
    assert figures["AUC"] == pytest.approx(0.75)
