"""Gaussian-mixture back-end: negative log-likelihood of an embedding under a GMM of the training embeddings
(scikit-learn's GaussianMixture), per domain, selective (networks/backends/selective.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.mixture import GaussianMixture

from networks.backends.selective import selective_scores


def fit_gmm(
    references: np.ndarray, n_components: int, covariance_type: str = "diag", seed: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """A GMM of ``references`` (at most one component per two clips); returns query rows -> -log p."""
    components = max(1, min(n_components, len(references) // 2))
    model = GaussianMixture(components, covariance_type=covariance_type, reg_covar=1e-6, random_state=seed)
    model.fit(np.asarray(references, dtype=np.float64))
    return lambda queries: -model.score_samples(np.asarray(queries, dtype=np.float64))


def selective_gmm_scores(
    queries: np.ndarray,
    references: np.ndarray,
    reference_is_target: np.ndarray,
    n_components: int = 1,
    covariance_type: str = "diag",
    seed: int = 0,
) -> np.ndarray:
    """Per-domain GMM negative log-likelihoods, standardised on each domain's training clips; the smaller."""
    return selective_scores(
        lambda rows: fit_gmm(rows, n_components, covariance_type, seed), queries, references, reference_is_target
    )
