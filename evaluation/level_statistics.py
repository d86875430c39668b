"""Level statistics of a clip and a selective kNN on them: a learning-free reference detector.

Each clip is summarised by the mean and the standard deviation over time of every log-mel band (its
spectral envelope and how much each band fluctuates). The features are standardised with the training
clips' per-dimension mean and spread, and a test clip's score is its Euclidean distance to the ``k``
nearest training clips of each domain, divided by that domain's typical spacing (the mean leave-one-out
kNN distance among its own training clips), the smaller of the two kept: the selective rule of
``networks.stgram_mfn.scoring.selective_knn_scores``, on Euclidean instead of cosine distances.

What this detector finds, a spectrogram model finds too; when it scores as well as a trained system,
the anomalies of the data differ from normal clips mainly in level and spectral envelope.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from networks.stgram_mfn.scoring import knn_distance


def clip_statistics(log_mel_frames: Sequence[np.ndarray]) -> np.ndarray:
    """(n_clips, 2 * n_mels): per-band mean then per-band standard deviation over each clip's frames."""
    rows = [np.concatenate([np.mean(frames, axis=0), np.std(frames, axis=0)])
            for frames in (np.asarray(clip, dtype=np.float64) for clip in log_mel_frames)]
    return np.vstack(rows)


def standardiser(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of every feature over the training rows; a constant feature gets scale 1."""
    train = np.asarray(train, dtype=np.float64)
    scale = train.std(axis=0)
    return train.mean(axis=0), np.where(scale > 1e-12, scale, 1.0)


def euclidean_distances(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(n_queries, n_references) Euclidean distances."""
    queries, references = np.asarray(queries, np.float64), np.asarray(references, np.float64)
    squared = (np.sum(queries**2, axis=1)[:, None] + np.sum(references**2, axis=1)[None, :]
               - 2.0 * queries @ references.T)
    return np.sqrt(np.maximum(squared, 0.0))


def domain_spacing(references: np.ndarray, k: int) -> float:
    """Mean leave-one-out kNN distance among ``references`` (nan for fewer than two)."""
    if len(references) < 2:
        return float("nan")
    distances = euclidean_distances(references, references)
    np.fill_diagonal(distances, np.inf)
    return max(float(knn_distance(distances, k).mean()), 1e-12)


def selective_knn_scores(queries: np.ndarray, references: np.ndarray, reference_is_target: np.ndarray,
                         k: int, leave_one_out: bool = False) -> np.ndarray:
    """Min over the domains present among the references of (kNN distance / that domain's spacing).

    A domain with one reference only takes the other domain's spacing. ``leave_one_out``: the queries are
    the references themselves, and each is left out of its own neighbours.
    """
    reference_is_target = np.asarray(reference_is_target, dtype=bool)
    domains = [domain for domain in (False, True) if np.any(reference_is_target == domain)]
    if not domains:
        raise ValueError("no reference clips to compare with")
    spacings = {domain: domain_spacing(references[reference_is_target == domain], k) for domain in domains}
    known = [value for value in spacings.values() if np.isfinite(value)]
    fallback = known[0] if known else 1.0
    distances = euclidean_distances(queries, references)
    if leave_one_out:
        np.fill_diagonal(distances, np.inf)
    per_domain = [knn_distance(distances[:, reference_is_target == domain], k)
                  / (spacings[domain] if np.isfinite(spacings[domain]) else fallback) for domain in domains]
    return np.min(np.vstack(per_domain), axis=0)


def level_statistics_scores(train_frames: Sequence[np.ndarray], train_is_target: np.ndarray,
                            test_frames: Sequence[np.ndarray], k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(test scores, leave-one-out training scores) from the log-mel frames of the clips."""
    train = clip_statistics(train_frames)
    mean, scale = standardiser(train)
    references = (train - mean) / scale
    test = (clip_statistics(test_frames) - mean) / scale
    return (selective_knn_scores(test, references, train_is_target, k),
            selective_knn_scores(references, references, train_is_target, k, leave_one_out=True))
