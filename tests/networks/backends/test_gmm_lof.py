"""The GMM and LOF back-ends against scikit-learn used directly, per domain, with numpy standardisation and the
selective minimum; and the selective rule's fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor

from networks.backends.gmm import fit_gmm
from networks.backends.lof import fit_lof
from networks.backends.selective import domain_masks, selective_scores, standardise


def two_domains(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source = rng.normal(0.0, 1.0, size=(40, 4))
    target = rng.normal(3.0, 2.0, size=(8, 4))
    queries = np.concatenate(
        [rng.normal(0.0, 1.0, size=(5, 4)), rng.normal(3.0, 2.0, size=(5, 4)), rng.normal(-6.0, 1.0, size=(3, 4))]
    )
    return np.concatenate([source, target]), np.r_[np.zeros(40, bool), np.ones(8, bool)], queries


def expected_selective(score_fn, references, is_target, queries) -> np.ndarray:
    per_domain = []
    for members in (references[~is_target], references[is_target]):
        query_scores, own = score_fn(members, queries), score_fn(members, members)
        per_domain.append((query_scores - own.mean()) / own.std())
    return np.minimum(*per_domain)


def test_gmm_scores_are_sklearn_negative_log_likelihoods_standardised_per_domain() -> None:
    references, is_target, queries = two_domains(np.random.default_rng(0))

    def nll(members: np.ndarray, rows: np.ndarray) -> np.ndarray:
        model = GaussianMixture(2, covariance_type="diag", reg_covar=1e-6, random_state=3).fit(members)
        return -model.score_samples(rows)

    got = selective_scores(lambda rows: fit_gmm(rows, 2, seed=3), queries, references, is_target)
    np.testing.assert_allclose(got, expected_selective(nll, references, is_target, queries), rtol=1e-10)
    assert got[-3:].min() > got[:10].max()  # the far-away queries are the anomalies


def test_lof_scores_are_sklearn_outlier_factors_standardised_per_domain() -> None:
    references, is_target, queries = two_domains(np.random.default_rng(1))

    def factor(members: np.ndarray, rows: np.ndarray) -> np.ndarray:
        model = LocalOutlierFactor(n_neighbors=4, metric="cosine", novelty=True).fit(members)
        return -model.score_samples(rows)

    got = selective_scores(lambda rows: fit_lof(rows, 4), queries, references, is_target)
    np.testing.assert_allclose(got, expected_selective(factor, references, is_target, queries), rtol=1e-10)


def test_a_domain_with_too_few_clips_joins_the_other() -> None:
    is_target = np.array([False] * 6 + [True])
    masks = domain_masks(is_target, min_clips=2)
    assert len(masks) == 1 and masks[0].all()
    with pytest.raises(ValueError, match="fewer than 2"):
        domain_masks(np.array([True]), min_clips=2)
    np.testing.assert_allclose(standardise(np.array([3.0]), np.array([1.0, 3.0])), [1.0])
