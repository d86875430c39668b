"""The level-statistics kNN against scikit-learn's nearest neighbours and a loop-by-loop computation, and the
CLI's files against the summary tool's reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from evaluation.level_statistics import (
    clip_statistics,
    level_statistics_scores,
    selective_knn_scores,
)
from tools import level_stats_knn
from tools.run_results import read_result_csv


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
        np.testing.assert_allclose(selective_knn_scores(queries, references, is_target, k),
                                   _reference_scores(queries, references, is_target, k), rtol=1e-9)


def test_the_spacing_makes_the_sparse_domain_count_as_much() -> None:
    """A query as far from the spread-out target clips as they are from each other scores like a query
    equally typical of the dense source clips: about 1 in both cases."""
    rng = np.random.default_rng(1)
    source = rng.normal(0.0, 0.1, (200, 3))
    target = rng.normal(10.0, 2.0, (200, 3))
    references = np.vstack([source, target])
    is_target = np.arange(400) >= 200
    scores = selective_knn_scores(np.vstack([rng.normal(0.0, 0.1, (50, 3)), rng.normal(10.0, 2.0, (50, 3))]),
                                  references, is_target, 2)
    assert 0.6 < np.median(scores[:50]) < 1.6 and 0.6 < np.median(scores[50:]) < 1.6
    assert selective_knn_scores(np.array([[5.0, 5.0, 5.0]]), references, is_target, 2)[0] > 3.0


def test_leave_one_out_excludes_the_clip_itself() -> None:
    rng = np.random.default_rng(2)
    references = rng.normal(size=(30, 4))
    is_target = np.zeros(30, dtype=bool)
    loo = selective_knn_scores(references, references, is_target, 1, leave_one_out=True)
    assert np.all(loo > 0.0)
    assert np.all(selective_knn_scores(references, references, is_target, 1) == 0.0)


def test_clip_statistics_and_scores_against_numpy_and_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    train = [rng.normal(0.0, 1.0, (int(rng.integers(5, 12)), 4)) for _ in range(30)]
    test = [rng.normal(0.5, 2.0, (7, 4)) for _ in range(6)]
    expected = np.array([[*clip.mean(axis=0), *clip.std(axis=0)] for clip in train])
    np.testing.assert_allclose(clip_statistics(train), expected, rtol=1e-12)
    is_target = np.arange(30) >= 24
    scores, train_scores = level_statistics_scores(train, is_target, test, k=2)
    scaler = StandardScaler().fit(expected)
    queries = scaler.transform(np.array([[*clip.mean(axis=0), *clip.std(axis=0)] for clip in test]))
    np.testing.assert_allclose(scores, _reference_scores(queries, scaler.transform(expected), is_target, 2),
                               rtol=1e-9)
    assert train_scores.shape == (30,) and np.all(train_scores > 0.0)


def test_cli_writes_the_result_files_the_summary_reads(tmp_path: Path, tiny_data_dir: Path) -> None:
    results = tmp_path / "results"
    assert level_stats_knn.main(["DCASE2024T2", "-d", "--dataset_directory", str(tiny_data_dir),
                                 "--result_directory", str(results), "--machines", "fan",
                                 "--workers", "1"]) == 0
    folder = results / "dev_data" / "levelstats_KNN"
    scores = folder / "anomaly_score_DCASE2024T2fan_section_00_test_seed13711.csv"
    assert scores.is_file() and (folder / "decision_result_DCASE2024T2fan_section_00_test_seed13711.csv").is_file()
    rows = dict(read_result_csv(folder / "result_DCASE2024T2fan_test_seed13711_roc.csv"))
    assert 0.0 <= rows["00"]["AUC (source)"] <= 1.0
