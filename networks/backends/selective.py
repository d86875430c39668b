"""The selective rule shared by the embedding back-ends: score a clip against each domain's training clips
separately, put each domain's score on its own training scale, keep the smaller one.

A clip close to either domain's normal clips is normal. The per-domain scale matters because the few target
clips (10 against 990 in DCASE2023-2025) give a detector fitted on them a much wider spread of scores.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# fit(reference rows) -> score(query rows) -> (n_queries,) scores, higher = more anomalous
DomainDetector = Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]]


def standardise(scores: np.ndarray, training_scores: np.ndarray) -> np.ndarray:
    """``(scores - mean) / std`` of the training scores (std floored at 1e-12)."""
    training_scores = np.asarray(training_scores, dtype=np.float64)
    return (np.asarray(scores, dtype=np.float64) - training_scores.mean()) / max(float(training_scores.std()), 1e-12)


def domain_masks(reference_is_target: np.ndarray, min_clips: int) -> list[np.ndarray]:
    """Masks of the source and target references; a domain with fewer than ``min_clips`` is left out (its
    clips then count as the other domain's), so a machine type without target clips scores on the source."""
    reference_is_target = np.asarray(reference_is_target, dtype=bool)
    masks = [~reference_is_target, reference_is_target]
    kept = [mask for mask in masks if mask.sum() >= min_clips]
    if not kept:
        raise ValueError(f"every domain has fewer than {min_clips} reference clips; the detector needs more")
    if len(kept) == 1:
        return [np.ones_like(reference_is_target)]
    return kept


def selective_scores(
    fit: DomainDetector,
    queries: np.ndarray,
    references: np.ndarray,
    reference_is_target: np.ndarray,
    min_clips: int = 2,
) -> np.ndarray:
    """Per domain: fit on its references, score the queries and the references themselves, standardise the
    queries' scores by the references' own; the minimum over domains."""
    per_domain = []
    for mask in domain_masks(reference_is_target, min_clips):
        score = fit(np.asarray(references)[mask])
        per_domain.append(standardise(score(queries), score(np.asarray(references)[mask])))
    return np.min(per_domain, axis=0)
