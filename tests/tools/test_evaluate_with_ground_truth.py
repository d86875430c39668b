"""python -m tools.evaluate_with_ground_truth on the hand-made score, decision and ground-truth CSVs of
tests/evaluation/test_ground_truth.py, whose figures are worked out by hand there."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation import ground_truth as gt
from tests.evaluation.test_ground_truth import (
    CLIPS,
    DATASET,
    EXPECTED,
    MACHINE,
    SUFFIX,
    labelled_name,
    read_result,
    write_ground_truth,
    write_scores,
)
from tools import evaluate_with_ground_truth as cli


def run_tool(tmp_path: Path, *extra: str) -> int:
    return cli.main(
        [
            "DCASE2024T2",
            "--machines",
            MACHINE,
            "--ground_truth_dir",
            str(tmp_path / "gt"),
            "--result_directory",
            str(tmp_path / "results"),
            "--scores",
            "MSE",
            *extra,
        ]
    )


def test_hand_made_section_gives_the_hand_computed_figures(tmp_path: Path) -> None:
    write_ground_truth(tmp_path / "gt")
    folder = tmp_path / "results" / "eval_data" / "baseline_MSE"
    write_scores(folder)
    assert run_tool(tmp_path, "--no_plots") == 0
    figures = read_result(folder / f"result_{DATASET}_test_{SUFFIX}_roc.csv")
    assert list(figures) == list(EXPECTED)
    for column, value in EXPECTED.items():
        assert figures[column] == pytest.approx(value, abs=1e-12), column


def test_scores_named_by_their_labelled_names_are_mapped_through_the_attributes(tmp_path: Path) -> None:
    write_ground_truth(tmp_path / "gt")
    folder = tmp_path / "results" / "eval_data" / "baseline_MSE"
    write_scores(folder, name=labelled_name)
    assert run_tool(tmp_path) == 0
    figures = read_result(folder / f"result_{DATASET}_test_{SUFFIX}_roc.csv")
    assert figures["pAUC"] == pytest.approx(14 / 19, abs=1e-12)
    distribution_png, roc_png = gt.picture_paths(folder, DATASET, SUFFIX)
    assert distribution_png.stat().st_size > 1000 and roc_png.stat().st_size > 1000


def test_a_missing_clip_is_an_error_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_ground_truth(tmp_path / "gt")
    folder = tmp_path / "results" / "eval_data" / "baseline_MSE"
    write_scores(folder, indices=list(range(len(CLIPS) - 1)))
    assert run_tool(tmp_path, "--no_plots") == 2
    message = capsys.readouterr().err
    assert "lacks 1 of the 12 clips" in message and f"anomaly_score_{DATASET}" in message
    assert not list(folder.glob("result_*"))


def test_no_scores_at_all_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_ground_truth(tmp_path / "gt")
    (tmp_path / "results" / "eval_data" / "baseline_MSE").mkdir(parents=True)
    assert run_tool(tmp_path) == 1
    assert f"no anomaly scores of {MACHINE}" in capsys.readouterr().out
