"""evaluation.result_names: the names the builders make are the names the readers parse back, and the names
every writer uses (the engine's RunPaths, the ground-truth evaluation) come from the builders."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest

from engine.paths import RunPaths
from evaluation import ground_truth, result_names
from evaluation.result_names import parse_result_file_name, parse_suffix

RUNS = [
    (seed, tag, is_eval)
    for seed in (0, 13711, -3)
    for tag in ("", "id(0_)", "my_tag", "id(1_2_)")
    for is_eval in (False, True)
]
DATASETS = ["DCASE2024T2fan", "DCASE2020T2ToyConveyor"]


@pytest.mark.parametrize(("seed", "tag", "is_eval"), RUNS)
def test_a_run_suffix_parses_back(seed: int, tag: str, is_eval: bool) -> None:
    text = result_names.run_suffix(seed, tag, is_eval)
    parsed = parse_suffix(text)
    assert parsed is not None
    assert (parsed.text, parsed.seed, parsed.tag, parsed.is_eval) == (text, seed, tag, is_eval)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize(("seed", "tag", "is_eval"), RUNS)
def test_every_result_file_name_parses_back(dataset: str, seed: int, tag: str, is_eval: bool) -> None:
    suffix = result_names.run_suffix(seed, tag, is_eval)
    built = {
        ("anomaly_score", "00"): result_names.anomaly_score_csv_name(dataset, "00", suffix),
        ("decision_result", "03"): result_names.decision_result_csv_name(dataset, "03", suffix),
        ("result", None): result_names.result_csv_name(dataset, suffix),
    }
    for (kind, section), name in built.items():
        parsed = parse_result_file_name(name, dataset)
        assert parsed is not None, name
        assert (parsed.name, parsed.kind, parsed.section) == (name, kind, section)
        assert (parsed.suffix.seed, parsed.suffix.tag, parsed.suffix.is_eval) == (seed, tag, is_eval)


def test_the_names_are_the_public_baselines() -> None:
    suffix = result_names.run_suffix(13711, "id(0_)", True)
    assert suffix == "seed13711_id(0_)_Eval"
    assert (
        result_names.anomaly_score_csv_name("DCASE2024T2fan", "00", suffix)
        == "anomaly_score_DCASE2024T2fan_section_00_test_seed13711_id(0_)_Eval.csv"
    )
    assert (
        result_names.decision_result_csv_name("DCASE2024T2fan", "00", "seed1")
        == "decision_result_DCASE2024T2fan_section_00_test_seed1.csv"
    )
    assert result_names.result_csv_name("DCASE2024T2fan", "seed1") == "result_DCASE2024T2fan_test_seed1_roc.csv"
    assert result_names.score_picture_name("x") == "x_anm_score.png"
    assert result_names.roc_picture_name("x") == "x_roc.png"
    with pytest.raises(ValueError, match="unknown score file kind"):
        result_names.score_csv_name("result", "DCASE2024T2fan", "00", "seed1")


@pytest.mark.parametrize(
    "name",
    [
        "result_DCASE2024T2fan_test_seed1_roc.png",  # not a CSV
        "result_DCASE2024T2valve_test_seed1_roc.csv",  # another dataset
        "result_DCASE2024T2fan_test_run1_roc.csv",  # not a run suffix
        "anomaly_score_DCASE2024T2fan_test_seed1.csv",  # no section
        "DCASE2024T2fan_auc_pauc.csv",
    ],
)
def test_other_names_are_not_result_files(name: str) -> None:
    assert parse_result_file_name(name, "DCASE2024T2fan") is None


def test_run_paths_and_the_ground_truth_evaluation_name_their_files_with_the_builders(tmp_path: Path) -> None:
    config = Namespace(
        model="DCASE2023T2-AE",
        dataset="DCASE2024T2fan",
        model_name_suffix="id(0_)",
        eval=True,
        seed=7,
        export_dir="baseline",
        result_directory=str(tmp_path),
        score="MSE",
    )
    paths = RunPaths.from_config(config)
    assert paths.file_suffix == "seed7_id(0_)_Eval"
    assert paths.base_name == "DCASE2023T2-AE_DCASE2024T2fan_id(0_)_Eval_seed7"
    assert paths.result_dir == tmp_path / "eval_data" / "baseline_MSE"
    for written in (paths.anomaly_score_csv("00"), paths.decision_result_csv("00"), paths.result_csv):
        parsed = parse_result_file_name(written.name, "DCASE2024T2fan")
        assert parsed is not None and parsed.suffix.text == paths.file_suffix
    assert paths.score_plot.name == "DCASE2023T2-AE_DCASE2024T2fan_id(0_)_Eval_anm_score.png"
    assert paths.roc_plot.name == "DCASE2023T2-AE_DCASE2024T2fan_id(0_)_Eval_roc.png"
    assert ground_truth.result_csv_path(paths.result_dir, "DCASE2024T2fan", paths.file_suffix) == paths.result_csv
    score_png, roc_png = ground_truth.picture_paths(paths.result_dir, "DCASE2024T2fan", paths.file_suffix)
    assert score_png.name == "DCASE2024T2fan_test_seed7_id(0_)_Eval_anm_score.png"
    assert roc_png.name == "DCASE2024T2fan_test_seed7_id(0_)_Eval_roc.png"  # one ROC picture suffix everywhere
