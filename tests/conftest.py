"""Shared fixtures: a tiny synthetic dataset in the real DCASE folder layout, and a train.py runner."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train
from datasets.synthetic import generate_dataset
from tests.monitor_data import ae_bundle, knn_bundle, other_machine, recordings  # noqa: F401 (fixtures of the monitoring tests)

REPO_ROOT = Path(__file__).resolve().parents[1]

# The tests train tiny models: one thread each is faster than two fighting over the cores, in this
# process and in the processes the tests start.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)
DEV_MACHINES = ("bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve")
EVAL_MACHINES = ("AirCompressor", "ToyCircuit")


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<dir>/dcase2024t2/dev_data/raw/<7 dev types>`` and ``eval_data/raw/{AirCompressor,ToyCircuit}``:
    2-second clips, 10 source + 2 target training clips, 3 clips per (domain, label) in test.
    Shared by the whole session: copy it before changing anything in it."""
    root = tmp_path_factory.mktemp("tiny_data")
    generate_dataset(
        root, DEV_MACHINES, split="dev", n_train_source=10, n_train_target=2, n_test_per_group=3, duration=2.0, seed=1
    )
    generate_dataset(
        root, EVAL_MACHINES, split="eval", n_train_source=10, n_train_target=2, n_test_per_group=3, duration=2.0, seed=1
    )
    return root


def read_rows(path: Path) -> list[list[str]]:
    """Every row of a CSV file, as written (blank lines kept as empty rows)."""
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def run_train(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``train.py ARGS`` with ``cwd`` as working folder (where models/, logs/ and results/ go).

    In this process, calling ``train.main`` as ``python train.py`` would: it saves starting a Python with
    torch for every run. Tests about processes (kill -9, locks) start real ones themselves."""
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            returncode = train.main(list(args))
    finally:
        os.chdir(previous)
    result = subprocess.CompletedProcess(["train.py", *args], returncode, stdout.getvalue(), stderr.getvalue())
    if check and returncode != 0:
        raise AssertionError(f"train.py {' '.join(args)} failed ({returncode}):\n{result.stderr[-3000:]}")
    return result


def run_script(
    script: str, *args: str, cwd: Path = REPO_ROOT, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``bash <cwd>/<script> ARGS`` in ``cwd`` (the repository or a copy of it) with this Python."""
    full_env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(
        ["bash", str(cwd / script), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


STAGE_SCRIPTS = [
    f"{stage}_{year}t2.sh"
    for year in ("2026", "2025", "2024", "2023")
    for stage in ("01_train", "02a_test", "02b_test")
]


def copy_repository(work: Path) -> None:
    """The code, configs and summary script the stage scripts need, copied into ``work``."""
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
        "03_summarize_results.sh",
        "requirements.txt",  # the scripts check the interpreter against it (tools/check_environment.py)
    ]:
        source = REPO_ROOT / item
        if source.is_dir():
            shutil.copytree(source, work / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, work / item)
