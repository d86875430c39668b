"""The numbered shell scripts: argument checking, then train / test MSE / test MAHALA / summary over every
DCASE2024 development machine type of the tiny dataset; the DCASE2026 scripts on stereo clips; demo.sh --year."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datasets.registry import machine_types, script_flags
from datasets.synthetic import generate_dataset
from tests.conftest import REPO_ROOT, STAGE_SCRIPTS, copy_repository, run_script

YEARS = ("2026", "2025", "2024", "2023")
SCRIPTS = STAGE_SCRIPTS


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
    """01, 02a and 02b of 2024 on a copy of the repository (the code and every year's stage scripts), so the
    outputs land in a temporary folder."""
    work = tmp_path_factory.mktemp("workflow")
    copy_repository(work)
    for script in STAGE_SCRIPTS:
        shutil.copy2(REPO_ROOT / script, work / script)
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
    logs = sorted(p.name for p in (workflow_run / "logs/stages/DCASE2024T2_dev/baseline").glob("*.log"))
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


@pytest.mark.parametrize("arguments", [["--help"], ["-d", "--help"], ["-e", "--epochs", "3", "-h"]])
def test_help_prints_one_complete_usage_and_runs_nothing(tmp_path: Path, arguments: list[str]) -> None:
    copy_repository(tmp_path)
    shutil.copy2(REPO_ROOT / "01_train_2024t2.sh", tmp_path)
    result = run_script("01_train_2024t2.sh", *arguments, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("usage") == 1
    assert all(flag in result.stdout for flag in ("--machines", "--launcher", "--seeds", "train.py --help"))
    assert not (tmp_path / "logs").exists() and not (tmp_path / "models").exists()


@pytest.mark.parametrize("arguments", [["--help"], ["-h"], ["DCASE2022T2", "--help"]])
def test_legacy_help_prints_its_usage_and_runs_nothing(tmp_path: Path, arguments: list[str]) -> None:
    result = run_script("tools/01_train_legacy.sh", *arguments, cwd=REPO_ROOT)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("usage") == 1 and "DCASE2022T2" in result.stdout and "invalid" not in result.stdout


def test_a_misspelt_script_flag_is_one_error_suggesting_the_script_s_own(tmp_path: Path) -> None:
    copy_repository(tmp_path)
    shutil.copy2(REPO_ROOT / "01_train_2024t2.sh", tmp_path)
    result = run_script("01_train_2024t2.sh", "-d", "--machine", "fan", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "01_train_2024t2.sh: error: unknown argument '--machine' (did you mean --machines?) "
        "(see bash 01_train_2024t2.sh --help)\n"
    )
    # a bad train.py value is also reported once, before any machine type runs
    result = run_script("01_train_2024t2.sh", "-d", "--epochs", "0", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("--epochs must be at least 1") == 1
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("form", [["fan,valvee"], ["fan", "valvee"], ["--machines=fan,valvee"]])
def test_machines_take_the_comma_and_the_space_form(tmp_path: Path, form: list[str]) -> None:
    copy_repository(tmp_path)
    shutil.copy2(REPO_ROOT / "02a_test_2024t2.sh", tmp_path)
    machines = form if form[0].startswith("--") else ["--machines", *form]
    result = run_script("02a_test_2024t2.sh", "-d", *machines, "--epochs", "2", cwd=tmp_path)
    assert result.returncode == 1
    assert "valvee not a DCASE2024T2 dev machine type" in result.stderr and "--epochs" not in result.stderr


def test_without_the_packages_the_scripts_say_in_one_line_how_to_get_them(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    for script in ("01_train_2024t2.sh", "03_summarize_results.sh"):
        arguments = ["DCASE2024T2", "-d"] if script.startswith("03") else ["-d"]
        result = run_script(script, *arguments, env={"PYTHON": str(bare / "bin/python")})
        assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1
        assert "lacks torch, numpy" in result.stderr and "bash demo.sh" in result.stderr
        assert "pip install -r" in result.stderr and "requirements.txt" in result.stderr


def test_each_experiment_keeps_its_own_stage_logs(workflow_run: Path) -> None:
    log_dir = workflow_run / "logs/stages/DCASE2024T2_dev"
    result = run_script(
        "02a_test_2024t2.sh",
        "-d",
        "--machines",
        "fan",
        "--export_dir",
        "other",
        cwd=workflow_run,
        env={"PYTHONPATH": str(workflow_run)},
    )
    assert result.returncode == 1 and "logs in logs/stages/DCASE2024T2_dev/other/" in result.stdout
    assert "trained model models/saved_model/other/" in (log_dir / "other/test-first_DCASE2024T2fan.log").read_text()
    assert "AUC" in (log_dir / "baseline/test-first_DCASE2024T2fan.log").read_text()


def test_ctrl_c_stops_the_whole_stage_and_says_how_to_resume(workflow_run: Path) -> None:
    command = ["bash", "01_train_2024t2.sh", "-d", "--machines", "fan,valve", "--epochs", "100000"]
    command += ["--batch_size", "64", "--num_workers", "1", "--export_dir", "interrupted"]
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(workflow_run)}
    log_dir = workflow_run / "logs/stages/DCASE2024T2_dev/interrupted"
    stage = subprocess.Popen(
        command,
        cwd=workflow_run,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the Ctrl-C below reaches bash, train.py and tee
        # a terminal's Ctrl-C handling, whatever the test worker's own: a process that starts with SIGINT
        # ignored (a pytest-xdist worker may be one) passes that on, and Python then never raises KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        log = log_dir / "train_DCASE2024T2fan.log"
        while not (log.is_file() and "loss=" in log.read_text()):
            assert stage.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        os.killpg(stage.pid, signal.SIGINT)
        output, _ = stage.communicate(timeout=120)
    finally:
        if stage.poll() is None:
            stage.kill()
    assert stage.returncode == 130
    resume = (
        "01_train_2024t2.sh: interrupted during train DCASE2024T2fan (0 run(s) finished before); resume with: bash "
        f"01_train_2024t2.sh -d {' '.join(command[3:])} --restart"
    )
    for text in (output, log.read_text()):
        assert "interrupted; completed epochs are kept (resume with --restart)" in text and resume in text
    assert not (log_dir / "train_DCASE2024T2valve.log").exists()


def test_ci_checks_format_and_lint_before_the_readme_s_test_command_and_lists_the_slowest_tests() -> None:
    lines = [line for line in (REPO_ROOT / ".ci/run").read_text().splitlines() if not line.startswith("#")]
    commands = [line.strip() for line in lines if "ruff" in line or "run_tests.sh" in line]
    assert commands == [
        '"$PYTHON" -m ruff format --check .',
        '"$PYTHON" -m ruff check .',
        "bash run_tests.sh -q --durations=25",
    ]
