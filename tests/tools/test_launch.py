"""The stage scripts with --launcher slurm on a real single-node Slurm cluster (tests/tools/conftest.py): the
training and both test stages of two machine types as job arrays write byte for byte the local launcher's result
files; the test stages wait for the training array, the summary for the test arrays; a failed task is reported
failed, and a cancelled one leaves no half-written file; a family model trains in one task the others wait for."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from datasets.synthetic import generate_dataset
from safe_io import PAUSE_AT_VARIABLE, PAUSE_FLAG_VARIABLE
from tests.conftest import REPO_ROOT, run_script
from tests.test_legacy import copy_repository
from tests.tools.conftest import SlurmCluster

STAGES = ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh")
FLAGS = ("--machines", "bearing,fan", "--epochs", "1", "--batch_size", "64", "--num_workers", "1")
SLURM = ("--launcher", "slurm")
LOG_DIR = Path("logs/stages/DCASE2024T2_dev/baseline")
PARTIAL_LOG_DIR = LOG_DIR.parent / "partial"  # the logs of export folder partial


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--launcher", "pbs"), "01_train_2024t2.sh: --launcher 'pbs' is not a launcher; choose local or slurm"),
        (
            ("--seeds", "--epochs", "1"),
            "01_train_2024t2.sh: --seeds needs one or more integer seeds, e.g. --seeds 13711 1 2",
        ),
    ],
)
def test_a_bad_launcher_or_seed_list_is_one_line_and_exit_1(arguments: tuple[str, ...], message: str) -> None:
    result = run_script("01_train_2024t2.sh", "-d", *arguments)
    assert result.returncode == 1 and result.stderr.strip() == message


@dataclass(frozen=True)
class Runs:
    local: Path
    slurm: Path
    submitted: list[subprocess.CompletedProcess]  # 01, 02a, 02b with --slurm_wait False
    summary: subprocess.CompletedProcess  # 03 --wait


def checkout(folder: Path, data: Path) -> Path:
    """A copy of the repository's code and scripts with its own copy of the data (own feature caches)."""
    folder.mkdir()
    copy_repository(folder)
    for script in STAGES:
        shutil.copy2(REPO_ROOT / script, folder / script)
    shutil.copytree(data, folder / "data")
    return folder


def job_ids(submission: subprocess.CompletedProcess) -> list[str]:
    found = re.search(r"as Slurm job array\(s\) ([\d, ]+);", submission.stdout)
    assert found, submission.stdout + submission.stderr
    return found.group(1).split(", ")


@pytest.fixture(scope="module")
def runs(slurm_cluster: SlurmCluster, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("launchers")
    generate_dataset(
        root / "data",
        ["bearing", "fan"],
        split="dev",
        n_train_source=10,
        n_train_target=2,
        n_test_per_group=3,
        duration=2.0,
        seed=1,
        workers=1,
    )
    local, slurm = checkout(root / "local", root / "data"), checkout(root / "slurm", root / "data")
    env = {**slurm_cluster.env, "PYTHONPATH": str(slurm)}
    # submitted one after the other without waiting: the test arrays wait for the training array (afterok). The
    # training array is held until all three are submitted, so that it cannot finish first on a fast machine.
    submitted = []
    for script in STAGES:
        hold = ["--slurm_options=--hold"] if script == STAGES[0] else []
        submission = run_script(script, "-d", *FLAGS, *SLURM, *hold, "--slurm_wait", "False", cwd=slurm, env=env)
        assert submission.returncode == 0, submission.stdout + submission.stderr
        submitted.append(submission)
    subprocess.run(["scontrol", "release", *job_ids(submitted[0])], env={**os.environ, **env}, check=True)
    for script in STAGES:  # meanwhile, the same stages here
        result = run_script(script, "-d", *FLAGS, cwd=local, env={"PYTHONPATH": str(local)})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = run_script(
        "03_summarize_results.sh",
        "DCASE2024T2",
        "-d",
        "--machines",
        "bearing",
        "fan",
        "--wait",
        "--no_plots",
        cwd=slurm,
        env=env,
    )
    return Runs(local, slurm, submitted, summary)


def test_slurm_arrays_write_byte_for_byte_the_local_launchers_results(runs: Runs) -> None:
    for system in ("baseline_MSE", "baseline_MAHALA"):
        local = {path.name: path for path in (runs.local / "results/dev_data" / system).glob("*.csv")}
        slurm = {path.name: path for path in (runs.slurm / "results/dev_data" / system).glob("*.csv")}
        assert len(local) == 6 and sorted(slurm) == sorted(local)  # 2 machine types x (scores, decisions, result)
        for name, path in local.items():
            assert slurm[name].read_bytes() == path.read_bytes(), name
    local_logs = sorted(path.name for path in (runs.local / LOG_DIR).glob("*.log"))
    assert len(local_logs) == 6 and sorted(path.name for path in (runs.slurm / LOG_DIR).glob("*.log")) == local_logs
    exits = sorted((runs.slurm / LOG_DIR / "slurm").glob("*.exit"))
    assert len(exits) == 6 and {path.read_text() for path in exits} == {"0\n"}


def test_test_arrays_wait_for_the_training_array_and_the_summary_for_them(runs: Runs) -> None:
    train, first_test, second_test = runs.submitted
    sbatch_lines = [line for line in first_test.stdout.splitlines() if line.startswith("$ sbatch")]
    assert len(sbatch_lines) == 1 and "--array=0-1" in sbatch_lines[0]
    assert f"--dependency=afterok:{job_ids(train)[0]} --kill-on-invalid-dep=yes" in sbatch_lines[0]
    assert runs.summary.returncode == 0, runs.summary.stderr
    for submission, stage in ((first_test, "test-first"), (second_test, "test-second")):
        assert f"{stage} submitted, not waited for (--slurm_wait False)" in submission.stdout
        assert f"{stage} finished for all 2 machine types of DCASE2024T2 (dev)" in runs.summary.stdout
    assert "official score (TOTAL score h-mean)" in runs.summary.stdout


def test_a_failed_task_is_reported_failed_and_a_cancelled_one_leaves_no_half_written_file(
    runs: Runs, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    """In export folder ``partial`` only fan has a trained model: bearing's task fails; fan's is cancelled
    (scancel) while its result table is written in full but not yet renamed."""
    trained, partial = runs.slurm / "models/saved_model/baseline", runs.slurm / "models/saved_model/partial"
    partial.mkdir()
    for path in trained.glob("*DCASE2024T2fan*"):
        shutil.copy2(path, partial / path.name)
    flag, output = tmp_path / "paused", tmp_path / "stage.out"
    env = {
        **os.environ,
        **slurm_cluster.env,
        "PYTHON": sys.executable,
        "PYTHONPATH": str(runs.slurm),
        PAUSE_AT_VARIABLE: "rename:result_DCASE2024T2fan_*",
        PAUSE_FLAG_VARIABLE: str(flag),
    }
    with open(output, "w") as stream:
        stage = subprocess.Popen(
            ["bash", "02a_test_2024t2.sh", "-d", *FLAGS, *SLURM, "--export_dir", "partial"],
            cwd=runs.slurm,
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert stage.poll() is None and time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        task = re.search(r"DCASE2024T2fan \(log: \S+, Slurm task (\d+_\d+)\)", output.read_text())
        assert task, output.read_text()
        subprocess.run(["scancel", task.group(1)], env=env, check=True)
        assert stage.wait(timeout=120) == 1
    finally:
        if stage.poll() is None:
            stage.kill()
    assert (
        "02a_test_2024t2.sh: test-first finished for 0 of 2 machine types; FAILED: DCASE2024T2bearing "
        f"DCASE2024T2fan (CANCELLED without an exit status) (see {PARTIAL_LOG_DIR}/)"
    ) in output.read_text()
    assert (runs.slurm / PARTIAL_LOG_DIR / "slurm/test-first_DCASE2024T2bearing.exit").read_text() == "2\n"
    assert (
        "trained model models/saved_model/partial/"
        in (runs.slurm / PARTIAL_LOG_DIR / "test-first_DCASE2024T2bearing.log").read_text()
    )
    written = runs.slurm / "results/dev_data/partial_MSE"
    local = runs.local / "results/dev_data/baseline_MSE"
    visible = sorted(path.name for path in written.glob("*.csv"))
    assert visible == [
        f"{kind}_DCASE2024T2fan_section_00_test_seed13711_id(0_).csv" for kind in ("anomaly_score", "decision_result")
    ]
    for name in visible:  # complete: the local launcher's bytes
        assert (written / name).read_bytes() == (local / name).read_bytes(), name
    leftovers = [path.name for path in written.iterdir() if path.name.startswith(".")]
    assert all(name.startswith(".result_DCASE2024T2fan_") and name.endswith(".tmp") for name in leftovers)


def test_a_family_model_trains_in_one_task_the_others_wait_for(runs: Runs, slurm_cluster: SlurmCluster) -> None:
    env = {**slurm_cluster.env, "PYTHONPATH": str(runs.slurm)}
    shutil.copy2(REPO_ROOT / "configs" / "stgram_mfn.yaml", runs.slurm / "stgram_mfn.yaml")
    result = run_script(
        "01_train_2024t2.sh",
        "-d",
        *FLAGS,
        *SLURM,
        "--config",
        "stgram_mfn.yaml",
        "--slurm_wait",
        "False",
        "--slurm_options=--hold",
        cwd=runs.slurm,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    family_job, machines_job = job_ids(result)
    subprocess.run(["scancel", family_job, machines_job], env={**os.environ, **env}, check=True)
    sbatch_lines = [line for line in result.stdout.splitlines() if line.startswith("$ sbatch")]
    assert "--array=0 " in sbatch_lines[0] and "--dependency" not in sbatch_lines[0]
    assert "--array=1 " in sbatch_lines[1] and f"--dependency=afterok:{family_job} " in sbatch_lines[1]
    assert (
        f"DCASE2024T2bearing (log: {LOG_DIR.parent}/stgram/train_DCASE2024T2bearing.log, Slurm task {family_job}_0)"
        in result.stdout
    )
