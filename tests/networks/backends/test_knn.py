"""The KNN back-end against a brute-force numpy k-nearest-neighbour search: plain, domain-normalised and
leave-one-out scores, and the fallbacks when a domain has too few references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from networks.backends.knn import cosine_distances, domain_scales, knn_distance, selective_knn_scores


def brute_force_knn(query: np.ndarray, references: np.ndarray, k: int, skip: int | None = None) -> float:
    distances = []
    for index, reference in enumerate(references):
        if index == skip:
            continue
        cos = float(query @ reference) / (np.linalg.norm(query) * np.linalg.norm(reference))
        distances.append(1.0 - cos)
    if not distances:
        return math.inf
    return float(np.mean(sorted(distances)[:k]))


@pytest.mark.parametrize("k", [1, 3])
def test_knn_scores_match_a_brute_force_numpy_knn(k: int) -> None:
    rng = np.random.default_rng(1)
    references = rng.normal(size=(12, 5))
    is_target = np.zeros(12, dtype=bool)
    is_target[[2, 7, 9]] = True
    queries = rng.normal(size=(6, 5))
    source, target = references[~is_target], references[is_target]
    got = selective_knn_scores(queries, references, is_target, k, normalise=False)
    expected = [min(brute_force_knn(q, source, k), brute_force_knn(q, target, k)) for q in queries]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)

    # each domain's distances divided by its mean leave-one-out k-NN distance among its own references
    scales = [
        np.mean([brute_force_knn(r, members, k, skip=i) for i, r in enumerate(members)]) for members in (source, target)
    ]
    got = selective_knn_scores(queries, references, is_target, k)
    expected = [
        min(brute_force_knn(q, source, k) / scales[0], brute_force_knn(q, target, k) / scales[1]) for q in queries
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)

    # leave-one-out scores of the references themselves (the training clips' threshold samples)
    loo = selective_knn_scores(references, references, is_target, k, query_is_reference=np.arange(12))
    expected_loo = []
    for index, query in enumerate(references):
        per_domain = []
        for domain, scale in zip((False, True), scales, strict=True):
            members = np.flatnonzero(is_target == domain)
            skip = int(np.flatnonzero(members == index)[0]) if index in members else None
            per_domain.append(brute_force_knn(query, references[members], k, skip) / scale)
        expected_loo.append(min(per_domain))
    np.testing.assert_allclose(loo, expected_loo, rtol=1e-12, atol=1e-12)


def test_knn_without_target_references_uses_the_source_ones() -> None:
    rng = np.random.default_rng(2)
    references, queries = rng.normal(size=(4, 3)), rng.normal(size=(2, 3))
    got = selective_knn_scores(queries, references, np.zeros(4, dtype=bool), 2, normalise=False)
    np.testing.assert_allclose(got, [brute_force_knn(q, references, 2) for q in queries])
    one_target = np.array([False, False, False, True])  # too few target clips for a scale: the source one
    assert domain_scales(references, one_target, 1)[1] == domain_scales(references, one_target, 1)[0]
    assert np.isinf(knn_distance(np.zeros((2, 0)), 1)).all()
    np.testing.assert_allclose(cosine_distances(references, references).diagonal(), 0.0, atol=1e-12)
