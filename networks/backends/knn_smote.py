"""Nearest-neighbour scores with the target domain oversampled by SMOTE (ASDKit's back-end of its
discriminative recipes), for any model that embeds clips.

Embeddings are L2-normalised; a test clip's score is half the smaller of its Euclidean distances to the
nearest source training embedding and to the nearest target training embedding, the target ones first
oversampled by SMOTE (imbalanced-learn: new points on the segments between a target embedding and one of its
``k`` nearest target neighbours, until there are ``ratio`` times as many target as source points) and
normalised again. Half the distance between unit vectors lies in [0, 1] and is monotone in the cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.neighbors import NearestNeighbors

from errors import DataError
from networks.backends.knn import unit_rows

SMOTE_RATIO, SMOTE_NEIGHBORS = 0.2, 2  # ASDKit's back-end settings (its recipes' smote_ratio, smote_neighbors)


def oversampled_targets(
    embeddings: np.ndarray, is_target: np.ndarray, ratio: float, k: int, seed: int = 0
) -> np.ndarray:
    """The target rows of ``embeddings`` (unit rows) and the SMOTE points added to them, normalised again.

    No SMOTE when ``ratio`` is 0 or the target rows already number ``ratio`` x the source rows or more (the
    public code stops with an error there; nothing needs adding)."""
    embeddings, is_target = unit_rows(embeddings), np.asarray(is_target, dtype=bool)
    n_target, n_source = int(is_target.sum()), int((~is_target).sum())
    if ratio == 0 or n_target == 0 or n_target >= ratio * n_source:
        return embeddings[is_target]
    if n_target <= k:
        raise DataError(
            f"SMOTE with {k} neighbours needs at least {k + 1} target-domain training clips, the "
            f"machine type has {n_target}: add target clips, or lower --scac_smote_neighbors "
            "(0 turns SMOTE off)"
        )
    smote = SMOTE(sampling_strategy=ratio, k_neighbors=k, random_state=seed)
    resampled, labels = smote.fit_resample(embeddings, is_target.astype(int))
    return unit_rows(resampled[np.asarray(labels) == 1])


@dataclass
class KnnSmoteReference:
    """What the back-end keeps of one machine type's training embeddings."""

    source: np.ndarray  # unit rows
    target: np.ndarray  # unit rows, SMOTE points included; (0, dim) without target clips

    @classmethod
    def fit(
        cls, embeddings: np.ndarray, is_target: np.ndarray, ratio: float = SMOTE_RATIO, k: int = SMOTE_NEIGHBORS
    ) -> KnnSmoteReference:
        is_target = np.asarray(is_target, dtype=bool)
        if not (~is_target).any():
            raise DataError("the kNN back-end needs source-domain training clips; the machine type has none")
        target = (
            oversampled_targets(embeddings, is_target, ratio, k) if ratio and k else unit_rows(embeddings)[is_target]
        )
        return cls(unit_rows(embeddings)[~is_target], target)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"knn_source": self.source, "knn_target": self.target}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> KnnSmoteReference:
        return cls(np.asarray(arrays["knn_source"]), np.asarray(arrays["knn_target"]))


def nearest_distance(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Euclidean distance from every query row to its nearest reference row (scikit-learn's NearestNeighbors)."""
    if len(references) == 0:
        return np.full(len(queries), np.inf)
    return NearestNeighbors(n_neighbors=1, metric="euclidean").fit(references).kneighbors(queries)[0][:, 0]


def knn_smote_scores(queries: np.ndarray, reference: KnnSmoteReference) -> np.ndarray:
    """min(distance to the nearest source point, to the nearest target point) / 2 of the unit query rows."""
    queries = unit_rows(queries)
    return np.minimum(nearest_distance(queries, reference.source), nearest_distance(queries, reference.target)) / 2


def _nearest_other(queries: np.ndarray, references: np.ndarray, own_row: np.ndarray) -> np.ndarray:
    """Distance to the nearest reference row other than ``own_row[j]`` (-1: none of them is the query's own)."""
    if len(references) == 0:
        return np.full(len(queries), np.inf)
    n_neighbors = min(2, len(references))
    distances, rows = NearestNeighbors(n_neighbors=n_neighbors, metric="euclidean").fit(references).kneighbors(queries)
    first_is_own = rows[:, 0] == own_row
    if n_neighbors == 1:
        return np.where(first_is_own, np.inf, distances[:, 0])
    return np.where(first_is_own, distances[:, 1], distances[:, 0])


def knn_smote_training_scores(
    embeddings: np.ndarray, is_target: np.ndarray, reference: KnnSmoteReference
) -> np.ndarray:
    """The training clips' own scores, each without itself among the references (threshold samples). The
    first target references are the target clips themselves (imbalanced-learn puts the originals first); the
    SMOTE points made from a clip stay, so the target clips' scores are somewhat low."""
    queries, is_target = unit_rows(embeddings), np.asarray(is_target, dtype=bool)
    own_source = np.where(~is_target, np.cumsum(~is_target) - 1, -1)
    own_target = np.where(is_target, np.cumsum(is_target) - 1, -1)
    scores = (
        np.minimum(
            _nearest_other(queries, reference.source, own_source), _nearest_other(queries, reference.target, own_target)
        )
        / 2
    )
    if not np.isfinite(scores).all():
        raise DataError("the kNN back-end needs at least two training clips of a machine type")
    return scores
