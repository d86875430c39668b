"""Local-outlier-factor back-end: scikit-learn's LocalOutlierFactor in novelty mode on cosine distances;
networks/backends/selective.py applies it per domain."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.neighbors import LocalOutlierFactor


def fit_lof(references: np.ndarray, n_neighbors: int, metric: str = "cosine") -> Callable[[np.ndarray], np.ndarray]:
    """LOF of ``references`` (``n_neighbors`` capped at the clips available) with distance ``metric``; query rows
    -> outlier factor."""
    neighbours = max(1, min(n_neighbors, len(references) - 1))
    model = LocalOutlierFactor(n_neighbors=neighbours, metric=metric, novelty=True)
    model.fit(np.asarray(references, dtype=np.float64))
    return lambda queries: -model.score_samples(np.asarray(queries, dtype=np.float64))
