"""AEGAN-AD's input and scores against independent computations: decibels against librosa, patches against a
direct loop, reconstruction errors against numpy, the embedding detectors against scipy / scikit-learn."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from scipy.spatial import distance
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from networks.aegan_ad.patches import clip_decibels, clip_patches, patch_starts, scale_to_unit
from networks.aegan_ad.scores import (
    DISCRIMINATOR_MODES,
    GENERATOR_MODES,
    embedding_scores,
    generator_scores,
    patch_error_table,
)


def test_decibels_match_librosa_power_to_db() -> None:
    rng = np.random.default_rng(0)
    mel = (10.0 ** rng.uniform(-14, 2, size=(40, 16))).astype(np.float32)  # values below 1e-10 and beyond 80 dB
    ours = clip_decibels(torch.from_numpy((10.0 * np.log10(np.maximum(mel, np.finfo(float).eps))).astype(np.float32)))
    np.testing.assert_allclose(ours.numpy(), librosa.power_to_db(mel, ref=1.0), atol=2e-5)


def test_scaling_maps_the_training_range_onto_minus_one_one() -> None:
    values = torch.tensor([-80.0, -35.5, 9.25])
    scaled = scale_to_unit(values, -80.0, 9.25)
    np.testing.assert_allclose(scaled.numpy(), (values.numpy() - (-35.375)) / 44.625, rtol=1e-6)
    assert scaled[0] == -1 and scaled[-1] == 1


@pytest.mark.parametrize(("n_frames", "size", "hop"), [(20, 8, 1), (20, 8, 3), (8, 8, 2), (7, 8, 1)])
def test_patches_match_a_direct_loop(n_frames: int, size: int, hop: int) -> None:
    frames = torch.arange(n_frames * size, dtype=torch.float32).reshape(n_frames, size)
    starts = patch_starts(n_frames, size, hop)
    np.testing.assert_array_equal(starts, [s for s in range(0, n_frames - size + 1, hop)])
    if len(starts) == 0:
        return
    patches = clip_patches(frames, size, hop)
    expected = np.stack([frames.numpy()[s : s + size].T for s in starts])[:, None]  # mel bands as rows
    np.testing.assert_array_equal(patches.numpy(), expected)


def test_generator_scores_match_numpy() -> None:
    rng = np.random.default_rng(1)
    x, recon = rng.normal(size=(5, 1, 8, 8)), rng.normal(size=(5, 1, 8, 8))
    code, recon_code = rng.normal(size=(5, 6, 1, 1)), rng.normal(size=(5, 6, 1, 1))
    table = patch_error_table(*(torch.from_numpy(a) for a in (x, recon, code, recon_code)))
    scores = generator_scores(table)
    cosine = np.array([distance.cosine(a.ravel(), b.ravel()) for a, b in zip(recon_code, code, strict=True)])
    per_patch = {
        "G_x_2": ((recon - x) ** 2).reshape(5, -1).sum(1),
        "G_x_1": np.abs(recon - x).reshape(5, -1).sum(1),
        "G_z_2": ((recon_code - code) ** 2).reshape(5, -1).sum(1),
        "G_z_1": np.abs(recon_code - code).reshape(5, -1).sum(1),
        "G_z_cos": cosine,
    }
    assert set(scores) == set(GENERATOR_MODES) and len(GENERATOR_MODES) == 15
    for mode, value in scores.items():
        kind, aggregate = mode.rsplit("_", 1)
        assert value == pytest.approx(getattr(np, aggregate)(per_patch[kind]), rel=1e-9), mode


@pytest.fixture
def embeddings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    references = np.vstack([rng.normal(1.0, 1.0, (40, 5)), rng.normal(-1.0, 0.5, (12, 5))])
    return references, np.arange(52) >= 40, rng.normal(0.0, 1.5, (9, 5))


def pooled(detector: str, queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """The public code's detectors written with scipy / scikit-learn."""
    if detector == "maha":
        inverse = np.linalg.inv(np.cov(references, rowvar=False))
        return np.array([distance.mahalanobis(q, references.mean(0), inverse) for q in queries])
    if detector == "knn":
        return NearestNeighbors(n_neighbors=2, metric="cosine").fit(references).kneighbors(queries)[0].sum(1)
    if detector == "lof":
        lof = LocalOutlierFactor(n_neighbors=4, contamination=1e-6, metric="cosine", novelty=True).fit(references)
        return -lof.score_samples(queries)
    return np.array([distance.cosine(q, references.mean(0)) for q in queries])


@pytest.mark.parametrize("mode", DISCRIMINATOR_MODES)
def test_pooled_detectors_match_scipy_and_scikit_learn(mode: str, embeddings: tuple) -> None:
    references, is_target, queries = embeddings
    detector = mode.removeprefix("D_")
    ours = embedding_scores(detector, queries, references, is_target, pooled=True, knn_k=2, lof_k=4)
    np.testing.assert_allclose(ours, pooled(detector, queries, references), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("detector", ["maha", "lof", "cos"])
def test_selective_detectors_standardise_per_domain_and_keep_the_smaller(detector: str, embeddings: tuple) -> None:
    references, is_target, queries = embeddings
    per_domain = []
    for domain in (False, True):
        members = references[is_target == domain]
        scores, own = pooled(detector, queries, members), pooled(detector, members, members)
        per_domain.append((scores - own.mean()) / own.std())
    ours = embedding_scores(detector, queries, references, is_target, pooled=False, knn_k=2, lof_k=4)
    np.testing.assert_allclose(ours, np.minimum(*per_domain), rtol=1e-6, atol=1e-9)


def test_knn_threshold_samples_leave_each_training_clip_out(embeddings: tuple) -> None:
    references, is_target, _ = embeddings
    ours = embedding_scores(
        "knn", references, references, is_target, pooled=True, knn_k=2, lof_k=4, queries_are_references=True
    )
    expected = NearestNeighbors(n_neighbors=3, metric="cosine").fit(references).kneighbors(references)[0][:, 1:]
    np.testing.assert_allclose(ours, expected.sum(1), rtol=1e-7, atol=1e-12)
