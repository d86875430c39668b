"""k-nearest-neighbour scores of embeddings (numpy, float64), for any model that embeds clips.

KNN: mean cosine distance from a clip's embedding to its k nearest training embeddings, taken separately
against the source and the target training clips, each divided by that domain's typical spacing (the mean
leave-one-out k-NN distance among its own training clips); the smaller of the two (a clip close to either
domain's normal clips is normal: the embedding models' version of the autoencoder's selective score).
Without the division, the few target clips (10 against 990 in DCASE2024) lie much further apart than the
source clips, so that every target clip, normal or not, would score above the source anomalies.
"""

from __future__ import annotations

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cosine_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """``1 - cos`` between every query and every reference row: (n_queries, n_references)."""
    return np.clip(1.0 - unit_rows(queries) @ unit_rows(references).T, 0.0, 2.0)


def euclidean_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Euclidean distance between every query and every reference row: (n_queries, n_references)."""
    queries, references = np.asarray(queries, np.float64), np.asarray(references, np.float64)
    squared = (
        np.sum(queries**2, axis=1)[:, None] + np.sum(references**2, axis=1)[None, :] - 2.0 * queries @ references.T
    )
    return np.sqrt(np.maximum(squared, 0.0))


DISTANCES = {"cosine": cosine_distances, "euclidean": euclidean_distances}


def knn_distance(distances: np.ndarray, k: int) -> np.ndarray:
    """Mean of the ``k`` smallest finite values of each row (fewer when a row has fewer); inf if none."""
    distances = np.asarray(distances, dtype=np.float64)
    n_queries, n_references = distances.shape
    if n_references == 0:
        return np.full(n_queries, np.inf)
    k_used = min(k, n_references)
    nearest = np.sort(distances, axis=1)[:, :k_used]  # inf (an excluded reference) sorts last
    finite = np.isfinite(nearest)
    counts = finite.sum(axis=1)
    sums = np.where(finite, nearest, 0.0).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)


def domain_scales(
    references: np.ndarray, reference_is_target: np.ndarray, k: int, metric: str = "cosine"
) -> tuple[float, float]:
    """Typical k-NN distance among the source and among the target references: the mean over a domain's
    references of their leave-one-out k-NN distance. A domain of fewer than two references takes the
    other's scale (1.0 if neither has two)."""
    reference_is_target = np.asarray(reference_is_target, dtype=bool)
    scales = []
    for domain in (False, True):
        members = np.asarray(references)[reference_is_target == domain]
        if len(members) < 2:
            scales.append(np.nan)
            continue
        distances = DISTANCES[metric](members, members)
        np.fill_diagonal(distances, np.inf)
        scales.append(max(float(knn_distance(distances, k).mean()), 1e-12))
    source, target = scales
    if np.isnan(source):
        source = target if not np.isnan(target) else 1.0
    if np.isnan(target):
        target = source
    return source, target


def selective_knn_scores(
    queries: np.ndarray,
    references: np.ndarray,
    reference_is_target: np.ndarray,
    k: int,
    query_is_reference: np.ndarray | None = None,
    normalise: bool = True,
    metric: str = "cosine",
) -> np.ndarray:
    """KNN score of every query: min over the source and the target references of the k-NN distance divided
    by the domain's scale (``domain_scales``; ``normalise=False``: the plain distances). ``metric``: "cosine"
    (1 - cos, for embeddings) or "euclidean".

    ``query_is_reference[j]`` (optional) is the row of ``references`` that query j is itself, or -1: that
    row is left out of query j's neighbours (leave-one-out scores of the training clips). A domain without
    references (no target clips) is ignored; a query with no reference at all is an error.
    """
    reference_is_target = np.asarray(reference_is_target, dtype=bool)
    distances = DISTANCES[metric](queries, references)
    if query_is_reference is not None:
        rows = np.flatnonzero(np.asarray(query_is_reference) >= 0)
        distances[rows, np.asarray(query_is_reference)[rows]] = np.inf
    scales = domain_scales(references, reference_is_target, k, metric) if normalise else (1.0, 1.0)
    per_domain = [
        knn_distance(distances[:, reference_is_target == domain], k) / scale
        for domain, scale in zip((False, True), scales, strict=True)
    ]
    scores = np.minimum(*per_domain)
    if not np.isfinite(scores).all():
        raise ValueError("a query has no reference embedding to compare with (too few training clips)")
    return scores
