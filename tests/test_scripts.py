"""The numbered shell scripts: argument checking, then train / test MSE / test MAHALA / summary over every
DCASE2024 development machine type of the tiny dataset; the DCASE2026 scripts on stereo clips; demo.sh --year."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datasets.registry import machine_types, script_flags
from datasets.synthetic import generate_dataset
from tests.conftest import REPO_ROOT, run_script

YEARS = ("2026", "2025", "2024", "2023")
SCRIPTS = [f"{stage}_{year}t2.sh" for year in YEARS for stage in ("01_train", "02a_test", "02b_test")]


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("argument", ["", "-x", "--develop", "dev"])
def test_anything_but_dev_or_eval_prints_usage_and_exits_1(script: str, argument: str) -> None:
    result = run_script(script, *([argument] if argument else []))
    assert result.returncode == 1
    assert "usage" in result.stderr and f"invalid choice '{argument}'" in result.stderr


def test_scripts_differ_only_in_their_dataset(tmp_path: Path) -> None:
    stages = (
        "01_train_{}t2.sh",
        "02a_test_{}t2.sh",
        "02b_test_{}t2.sh",
        "data_download_{}dev.sh",
        "data_download_{}add.sh",
        "data_download_{}eval.sh",
    )
    for stage in stages:
        text_2024 = (REPO_ROOT / stage.format("2024")).read_text()
        for year in YEARS:
            assert (REPO_ROOT / stage.format(year)).read_text() == text_2024.replace("2024", year), year
    # what differs between the years lives in datasets/machine_types.yaml: 2026 passes --mono False
    assert script_flags("DCASE2026T2") == ["--mono", "False"]
    assert script_flags("DCASE2025T2") == script_flags("DCASE2024T2") == []


@pytest.fixture(scope="module")
def workflow_run(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """01, 02a, 02b and 03 on a copy of the repository's scripts, so outputs land in a temporary folder."""
    work = tmp_path_factory.mktemp("workflow")
    for item in [
        "train.py",
        "common.py",
        "errors.py",
        "safe_io.py",
        "progress.py",
        "baseline.yaml",
        "configs",
        "datasets",
        "networks",
        "engine",
        "evaluation",
        "tools",
        *SCRIPTS,
        "03_summarize_results.sh",
    ]:
        source = REPO_ROOT / item
        if source.is_dir():
            shutil.copytree(source, work / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / item)
    (work / "data").symlink_to(tiny_data_dir)
    flags = ["--epochs", "1", "--batch_size", "64", "--num_workers", "1"]
    for script in ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"):
        result = run_script(script, "-d", *flags, cwd=work, env={"PYTHONPATH": str(work)})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "finished for all 7 machine types" in result.stdout
    return work


@pytest.mark.parametrize("score", ["MSE", "MAHALA"])
def test_workflow_writes_every_machine_types_results(workflow_run: Path, score: str) -> None:
    result_dir = workflow_run / "results/dev_data" / f"baseline_{score}"
    for machine in machine_types("DCASE2024T2", "dev"):
        stem = f"DCASE2024T2{machine}_section_00_test_seed13711_id(0_).csv"
        assert (result_dir / f"anomaly_score_{stem}").is_file()
        assert (result_dir / f"decision_result_{stem}").is_file()
        assert (result_dir / f"result_DCASE2024T2{machine}_test_seed13711_id(0_)_roc.csv").is_file()
    logs = sorted(p.name for p in (workflow_run / "logs/stages/DCASE2024T2_dev").glob("*.log"))
    assert len(logs) == 21 and "train_DCASE2024T2fan.log" in logs


def test_a_failing_machine_type_makes_the_script_fail_and_say_which(workflow_run: Path, tmp_path: Path) -> None:
    result = run_script(
        "02a_test_2024t2.sh",
        "-d",
        "--export_dir",
        "never_trained",
        cwd=workflow_run,
        env={"PYTHONPATH": str(workflow_run)},
    )
    assert result.returncode == 1
    assert "FAILED: DCASE2024T2bearing DCASE2024T2fan" in result.stderr
    assert "trained model models/saved_model/never_trained/" in result.stdout


def test_summary_script_prints_the_compact_table(workflow_run: Path) -> None:
    result = run_script(
        "03_summarize_results.sh", "DCASE2024T2", "-d", cwd=workflow_run, env={"PYTHONPATH": str(workflow_run)}
    )
    assert result.returncode == 0, result.stderr
    assert "TOTAL score" in result.stdout and "official score" in result.stdout
    summary_dir = workflow_run / "results/dev_data/baseline/summarize/DCASE2024T2"
    assert (summary_dir / "DCASE2024T2_auc_pauc.csv").is_file()
    assert (summary_dir / "DCASE2024T2_auc_pauc_extract.csv").is_file()


def test_2026_scripts_read_stereo_clips_and_a_mono_flag_fails_clearly(workflow_run: Path, tmp_path: Path) -> None:
    generate_dataset(
        tmp_path,
        ["fan"],
        dataset="DCASE2026T2",
        n_train_source=6,
        n_train_target=2,
        n_test_per_group=2,
        duration=1.0,
        seed=3,
        workers=1,
    )
    flags = [
        "--machines",
        "fan",
        "--epochs",
        "1",
        "--batch_size",
        "64",
        "--num_workers",
        "1",
        "--dataset_directory",
        str(tmp_path),
    ]
    env = {"PYTHONPATH": str(workflow_run)}
    for script in ("01_train_2026t2.sh", "02a_test_2026t2.sh"):
        result = run_script(script, "-d", *flags, cwd=workflow_run, env=env)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    roc = workflow_run / "results/dev_data/baseline_MSE/result_DCASE2026T2fan_test_seed13711_id(0_)_roc.csv"
    assert roc.is_file()
    result = run_script(
        "01_train_2026t2.sh", "-d", *flags, "--mono", "True", "--export_dir", "mono", cwd=workflow_run, env=env
    )
    assert result.returncode == 1
    assert "has 2 channels; DCASE2026 clips are stereo: use --mono False [--channel 0|1|mean]" in result.stdout


@pytest.mark.parametrize("year", ["2022", "20x", ""])
def test_demo_refuses_a_year_it_does_not_know(year: str) -> None:
    result = run_script("demo.sh", "--year", *([year] if year else []))
    assert result.returncode == 1
    assert f"--year '{year}' is not a year the demo knows; choose 2023, 2024, 2025 or 2026" in result.stderr
