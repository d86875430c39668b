"""Gaussian-mixture back-end: negative log-likelihood of an embedding under a GMM of the training embeddings
(scikit-learn's GaussianMixture); networks/backends/selective.py applies it per domain."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.mixture import GaussianMixture


def fit_gmm(
    references: np.ndarray, n_components: int, covariance_type: str = "diag", seed: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """A GMM of ``references`` (at most one component per two clips); returns query rows -> -log p."""
    components = max(1, min(n_components, len(references) // 2))
    model = GaussianMixture(components, covariance_type=covariance_type, reg_covar=1e-6, random_state=seed)
    model.fit(np.asarray(references, dtype=np.float64))
    return lambda queries: -model.score_samples(np.asarray(queries, dtype=np.float64))
