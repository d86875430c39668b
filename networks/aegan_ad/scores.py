"""AEGAN-AD's scores of a clip, from the patches of the clip.

Generator scores, named ``G_<space>_<distance>_<aggregate>``: the reconstruction error of every patch in input
space (``x``: the patch against its reconstruction) or latent space (``z``: the code of the patch against the
code of its reconstruction), as a sum of squares (``2``), a sum of absolute values (``1``) or, in latent space,
one minus the cosine similarity (``cos``); then the sum, minimum or maximum over the clip's patches.

Discriminator scores, named ``D_<detector>``: the critic's embedding averaged over the clip's patches, compared
with the training clips' embeddings: Mahalanobis distance to their mean (``maha``), cosine distance to the two
nearest (``knn``), local outlier factor with four cosine neighbours (``lof``), cosine distance to their mean
(``cos``). Pooled: one detector on all training clips (the public code); selective: one per domain, each
score put on its own domain's training scale, the smaller kept (the shared back-ends' rule).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from networks.backends.knn import cosine_distances, knn_distance, selective_knn_scores
from networks.backends.lof import fit_lof
from networks.backends.selective import selective_scores

GENERATOR_MODES = tuple(
    f"G_{space}_{distance}_{aggregate}"
    for space, distances in (("x", ("2", "1")), ("z", ("2", "1", "cos")))
    for distance in distances
    for aggregate in ("sum", "min", "max")
)
DISCRIMINATOR_MODES = ("D_maha", "D_knn", "D_lof", "D_cos")


def patch_errors(reconstructed: torch.Tensor, original: torch.Tensor, distance: str) -> torch.Tensor:
    """Error of every patch (or code), (n,): squared (``2``) or absolute (``1``) differences summed over all but
    the first axis, or ``cos``: one minus the cosine similarity along axis 1."""
    if distance == "2":
        errors = (reconstructed - original).pow(2)
    elif distance == "1":
        errors = (reconstructed - original).abs()
    elif distance == "cos":
        errors = 1 - F.cosine_similarity(reconstructed, original)
    else:
        raise ValueError(f"unknown distance {distance!r}")
    return errors.sum(dim=tuple(range(1, errors.ndim)))


AGGREGATES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"sum": torch.sum, "min": torch.min, "max": torch.max}
ERROR_KINDS = tuple(dict.fromkeys(mode.rsplit("_", 1)[0] for mode in GENERATOR_MODES))  # G_x_2, ..., G_z_cos


def patch_error_table(
    patches: torch.Tensor, recon: torch.Tensor, code: torch.Tensor, recon_code: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per-patch errors of every kind ``G_<space>_<distance>``, (n_patches,) each, from a batch of patches,
    their reconstructions and both latent codes."""
    pairs = {"x": (recon, patches), "z": (recon_code, code)}
    table = {}
    for kind in ERROR_KINDS:
        _, space, distance = kind.split("_")
        table[kind] = patch_errors(*pairs[space], distance)
    return table


def generator_scores(errors: dict[str, torch.Tensor]) -> dict[str, float]:
    """Every ``G_`` mode of one clip from the per-patch errors of all its patches (``patch_error_table``)."""
    scores = {}
    for mode in GENERATOR_MODES:
        kind, aggregate = mode.rsplit("_", 1)
        scores[mode] = AGGREGATES[aggregate](errors[kind]).item()
    return scores


def fit_mahalanobis(references: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Mahalanobis distance to the references' mean under their sample covariance (pseudo-inverse: the same as
    the inverse where that exists, and defined when there are fewer clips than dimensions)."""
    references = np.asarray(references, dtype=np.float64)
    mean = references.mean(axis=0)
    precision = np.linalg.pinv(np.atleast_2d(np.cov(references, rowvar=False)), hermitian=True)

    def distances(queries: np.ndarray) -> np.ndarray:
        centred = np.asarray(queries, dtype=np.float64) - mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", centred, precision, centred), 0.0))

    return distances


def fit_mean_cosine(references: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Cosine distance (1 - cos) to the references' mean."""
    mean = np.asarray(references, dtype=np.float64).mean(axis=0, keepdims=True)
    return lambda queries: cosine_distances(queries, mean)[:, 0]


def knn_sum(
    queries: np.ndarray, references: np.ndarray, k: int, query_is_reference: np.ndarray | None = None
) -> np.ndarray:
    """Sum of the cosine distances to the ``k`` nearest references (the public KNN score); a query's own row
    (``query_is_reference``) is left out."""
    distances = cosine_distances(queries, references)
    available = distances.shape[1]
    if query_is_reference is not None:
        distances[np.arange(len(distances)), query_is_reference] = np.inf
        available -= 1
    return knn_distance(distances, k) * min(k, available)


def embedding_scores(
    detector: str,
    queries: np.ndarray,
    references: np.ndarray,
    reference_is_target: np.ndarray,
    pooled: bool,
    knn_k: int,
    lof_k: int,
    queries_are_references: bool = False,
) -> np.ndarray:
    """``D_<detector>`` scores of the query embeddings against the training embeddings, pooled or
    selective (see the module text).
    ``queries_are_references``: the queries are the references themselves (their threshold samples): KNN then
    leaves each clip out of its own neighbours."""
    own_rows = np.arange(len(queries)) if queries_are_references else None
    if detector == "knn":
        if pooled:
            return knn_sum(queries, references, knn_k, own_rows)
        return selective_knn_scores(queries, references, reference_is_target, knn_k, query_is_reference=own_rows)
    fits = {"maha": fit_mahalanobis, "cos": fit_mean_cosine, "lof": lambda rows: fit_lof(rows, lof_k)}
    if detector not in fits:
        raise ValueError(f"unknown embedding detector {detector!r}")
    if pooled:
        return fits[detector](references)(queries)
    return selective_scores(fits[detector], queries, references, reference_is_target)
