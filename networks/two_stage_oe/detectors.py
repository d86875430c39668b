"""Stage 2 of the two-stage outlier-exposure system: detectors on the crop embeddings, per section.

As the recipe (asd_tools/bin/infer.py with ``feature=_embed`` and its "all" set): every clip is cut into
``n_crops`` 2-s crops (``eval_crop_starts``); per section, a GMM (``score_samples``), a LOF in novelty mode
(euclidean) and a KNN (mean euclidean distance to the k nearest) are fitted on the embeddings of all of that
section's training crops, source and target together; each crop's score is z-scored per section and a clip's
crops are aggregated (max, mean, median or upper mean, on the recipe's "normality" orientation).

Ours differs in two places, both so that nothing depends on the test clips: the z-score uses the mean and
standard deviation of the section's training crops' own scores (the recipe's uses the test crops' scores:
the AUC of a section is the same either way), and the scores are returned as anomaly scores (higher: more
anomalous), i.e. the negated normality.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from networks.backends.gmm import fit_gmm
from networks.backends.knn import euclidean_distances, knn_distance
from networks.backends.lof import fit_lof
from networks.backends.selective import standardise

DETECTORS = ("GMM", "KNN", "LOF")
AGGREGATIONS = ("max", "mean", "median", "upper_mean")


def eval_crop_starts(length: int, crop: int, n_crops: int) -> np.ndarray:
    """Starts of a clip's ``n_crops`` crops (the recipe's WaveEvalCollator): evenly spaced by
    ``max((length - crop) // (n_crops - 1), 1)``, the last one ending at the clip's end."""
    if n_crops == 1 or length <= crop:
        return np.zeros(n_crops, dtype=np.int64) if length <= crop else np.array([length - crop])
    hop = max((length - crop) // (n_crops - 1), 1)
    return np.array([hop * number for number in range(n_crops - 1)] + [length - crop], dtype=np.int64)


def upper_mean(values: np.ndarray) -> float:
    """Mean of the upper half of the sorted values (from the median up, as the recipe's ``upper_mean``)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(ordered[len(ordered) // 2 :].mean())


def aggregate(normality: np.ndarray, clip_of_crop: np.ndarray, n_clips: int, how: str) -> np.ndarray:
    """One value per clip out of its crops' values: ``how`` in AGGREGATIONS."""
    functions: dict[str, Callable[[np.ndarray], float]] = {
        "max": np.max,
        "mean": np.mean,
        "median": np.median,
        "upper_mean": upper_mean,
    }
    reduce = functions[how]
    return np.array([reduce(normality[clip_of_crop == clip]) for clip in range(n_clips)], dtype=np.float64)


def fit_knn(references: np.ndarray, k: int) -> Callable[[np.ndarray], np.ndarray]:
    """Query rows -> mean euclidean distance to their ``k`` nearest references (anomaly orientation)."""
    references = np.asarray(references, dtype=np.float64)
    return lambda queries: knn_distance(euclidean_distances(queries, references), k)


def _training_anomaly(
    name: str, detector: Callable[[np.ndarray], np.ndarray], references: np.ndarray, reference_clip: np.ndarray, k: int
) -> np.ndarray:
    """The reference crops' own anomaly scores, for the z-score: KNN leaves out the crops of the same clip
    (else every crop finds itself at distance 0); GMM and LOF score them as they are (LOF in novelty mode
    excludes a point from its own neighbours only for the training points, which ``score_samples`` treats
    as new points: this is the recipe's convention)."""
    if name != "KNN":
        return detector(references)
    distances = euclidean_distances(references, references)
    distances[reference_clip[:, None] == reference_clip[None, :]] = np.inf
    return knn_distance(distances, k)


def section_scores(
    test_embeddings: np.ndarray,
    reference_embeddings: np.ndarray,
    reference_clip: np.ndarray,
    settings: dict[str, int],
    seed: int,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per detector: ``(test crops' z-scored normality, reference crops' z-scored normality)`` of one section.

    ``settings``: ``{"GMM": components, "KNN": k, "LOF": neighbours}``."""
    fits = {
        "GMM": lambda rows: fit_gmm(rows, settings["GMM"], covariance_type="full", seed=seed),
        "KNN": lambda rows: fit_knn(rows, settings["KNN"]),
        "LOF": lambda rows: fit_lof(rows, settings["LOF"], metric="euclidean"),
    }
    scores = {}
    for name in DETECTORS:
        detector = fits[name](reference_embeddings)
        reference = -_training_anomaly(name, detector, reference_embeddings, reference_clip, settings["KNN"])
        scores[name] = (standardise(-detector(test_embeddings), reference), standardise(reference, reference))
    return scores
