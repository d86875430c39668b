"""The level-statistics kNN: clip statistics against numpy, the Euclidean selective kNN against scikit-learn, the
domain spacing, and the model's reference and scores against the same computation done directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

import common
from datasets.features import FeatureParams
from datasets.vector_data import VectorSet
from engine.runner import run
from evaluation.run_results import read_result_csv
from networks.backends.knn import selective_knn_scores
from networks.level_stats.model import LevelStatsModel, clip_frames, clip_statistics
from networks.level_stats.options import LevelStatsOptions


def _reference_scores(queries: np.ndarray, references: np.ndarray, is_target: np.ndarray, k: int) -> np.ndarray:
    """The rule written out with scikit-learn: per domain, mean distance to the k nearest references over
    the mean leave-one-out k-NN distance of that domain's references; the minimum over the domains."""
    per_domain = []
    for domain in (False, True):
        members = references[is_target == domain]
        spacing = NearestNeighbors(n_neighbors=k + 1).fit(members).kneighbors(members)[0][:, 1:].mean()
        distances = NearestNeighbors(n_neighbors=k).fit(members).kneighbors(queries)[0]
        per_domain.append(distances.mean(axis=1) / spacing)
    return np.minimum(*per_domain)


def test_selective_knn_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    references = np.vstack([rng.normal(0.0, 1.0, (40, 6)), rng.normal(3.0, 0.3, (8, 6))])
    is_target = np.arange(48) >= 40
    queries = rng.normal(1.0, 2.0, (25, 6))
    for k in (1, 2, 3):
        np.testing.assert_allclose(
            selective_knn_scores(queries, references, is_target, k, metric="euclidean"),
            _reference_scores(queries, references, is_target, k),
            rtol=1e-9,
        )


def test_the_spacing_makes_the_sparse_domain_count_as_much() -> None:
    """A query as far from the spread-out target clips as they are from each other scores like a query
    equally typical of the dense source clips: about 1 in both cases."""
    rng = np.random.default_rng(1)
    source = rng.normal(0.0, 0.1, (200, 3))
    target = rng.normal(10.0, 2.0, (200, 3))
    references = np.vstack([source, target])
    is_target = np.arange(400) >= 200
    scores = selective_knn_scores(
        np.vstack([rng.normal(0.0, 0.1, (50, 3)), rng.normal(10.0, 2.0, (50, 3))]),
        references,
        is_target,
        2,
        metric="euclidean",
    )
    assert 0.6 < np.median(scores[:50]) < 1.6 and 0.6 < np.median(scores[50:]) < 1.6
    assert selective_knn_scores(np.array([[5.0, 5.0, 5.0]]), references, is_target, 2, metric="euclidean")[0] > 3.0


def test_leave_one_out_excludes_the_clip_itself() -> None:
    rng = np.random.default_rng(2)
    references = rng.normal(size=(30, 4))
    is_target = np.zeros(30, dtype=bool)
    loo = selective_knn_scores(
        references, references, is_target, 1, query_is_reference=np.arange(30), metric="euclidean"
    )
    assert np.all(loo > 0.0)
    assert np.allclose(selective_knn_scores(references, references, is_target, 1, metric="euclidean"), 0.0, atol=1e-6)


def vector_set(clips: list[np.ndarray], is_target: np.ndarray, frames: int) -> VectorSet:
    """A VectorSet over clips of log-mel frames, built as the engine builds it."""
    from datasets.clip_features import ClipFeatures

    offsets = np.concatenate([[0], np.cumsum([len(clip) for clip in clips])]).astype(np.int64)
    features = ClipFeatures(
        offsets=offsets,
        names=[f"c{i}" for i in range(len(clips))],
        sample_rate=16000,
        log_mel=np.vstack(clips).astype(np.float32),
    )
    params = FeatureParams(n_mels=clips[0].shape[1], frames=frames)
    return VectorSet.from_features(features, params, is_target, torch.device("cpu"))


def test_clip_statistics_and_model_scores_against_numpy_and_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    train = [rng.normal(0.0, 1.0, (int(rng.integers(5, 12)), 4)).astype(np.float32) for _ in range(30)]
    test = [rng.normal(0.5, 2.0, (7, 4)).astype(np.float32) for _ in range(6)]
    expected = np.array(
        [[*clip.astype(np.float64).mean(axis=0), *clip.astype(np.float64).std(axis=0)] for clip in train]
    )
    np.testing.assert_allclose(clip_statistics(train), expected, rtol=1e-12)
    is_target = np.arange(30) >= 24
    train_set, test_set = vector_set(train, is_target, 3), vector_set(test, np.zeros(6, bool), 3)
    assert [len(frames) for frames in clip_frames(train_set, 3)] == [len(clip) for clip in train]
    options = LevelStatsOptions(frames=3, level_stats_k=2)
    model = LevelStatsModel(options, LevelStatsModel.shape_of(options, train_set), torch.device("cpu"))
    calibration = model.fit_reference(train_set)
    scaler = StandardScaler().fit(expected)
    queries = scaler.transform(
        np.array([[*clip.astype(np.float64).mean(axis=0), *clip.astype(np.float64).std(axis=0)] for clip in test])
    )
    np.testing.assert_allclose(
        model.score(test_set)["KNN"], _reference_scores(queries, scaler.transform(expected), is_target, 2), rtol=1e-5
    )
    assert calibration["KNN"].shape == (30,) and np.all(calibration["KNN"] > 0.0)


def test_a_run_of_its_yaml_writes_the_result_files_the_summary_reads(
    tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results"
    monkeypatch.chdir(tmp_path)  # the runner writes models/ and logs/ under the working folder
    flags = ["--config", "level_stats_knn.yaml", "--dataset", "DCASE2024T2fan", "-d", "--num_workers", "1"]
    run(common.parse_config([*flags, "--dataset_directory", str(tiny_data_dir), "--result_directory", str(results)]))
    folder = results / "dev_data" / "levelstats_KNN"
    scores = folder / "anomaly_score_DCASE2024T2fan_section_00_test_seed13711.csv"
    assert scores.is_file() and (folder / "decision_result_DCASE2024T2fan_section_00_test_seed13711.csv").is_file()
    rows = dict(read_result_csv(folder / "result_DCASE2024T2fan_test_seed13711_roc.csv"))
    assert 0.0 <= rows["00"]["AUC (source)"] <= 1.0
