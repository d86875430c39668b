"""docs/adding_a_system.md as it stands: its files (one folder, one registry line, one yaml) written into a copy
of the repository, nothing else edited, and its commands run there: 01_train, 02a_test, 03_summarize_results and
tools.monitor fit / score. The monitor's scores of the same clips are the DCASE run's (same training clips)."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "adding_a_system.md"
FILE_BLOCK = re.compile(r"^\*\*`(?P<path>[^`]+)`\*\*[^\n]*\n\n```\w+\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)
REGISTRY = "networks/registry.py"
MACHINE_FLAGS = {"01_train": ["--machines", "fan", "--num_workers", "1"], "02a_test": ["--machines", "fan"]}


def page_files() -> dict[str, str]:
    return {match["path"]: match["text"] for match in FILE_BLOCK.finditer(PAGE.read_text(encoding="utf-8"))}


def page_commands() -> list[list[str]]:
    text = PAGE.read_text(encoding="utf-8").split("## Running it", 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL)
    assert block, "the page's Running it section has no bash block"
    return [shlex.split(line) for line in block[1].splitlines() if line.strip()]


def copy_repository(work: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = REPO_ROOT / name, work / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)


def add_the_system(work: Path) -> set[str]:
    """Write the page's files into ``work``; the paths written or changed."""
    files = page_files()
    line = files.pop(REGISTRY)
    registry = (work / REGISTRY).read_text(encoding="utf-8")
    opening = "MODELS: dict[str, str] = {\n"
    assert opening in registry
    (work / REGISTRY).write_text(registry.replace(opening, opening + line), encoding="utf-8")
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text, encoding="utf-8")
    return {REGISTRY, *files}


def run(work: Path, argv: list[str]) -> subprocess.CompletedProcess:
    if argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(work)}
    return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)


def scores_of(path: Path, name_column: int = 0, score_column: int = 1, header: bool = False) -> dict[str, float]:
    with open(path, newline="") as stream:
        rows = list(csv.reader(stream))[int(header) :]
    return {Path(row[name_column]).name: float(row[score_column]) for row in rows}


@pytest.fixture(scope="module")
def work(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("new_system")
    copy_repository(work)
    written = add_the_system(work)
    assert written == {REGISTRY, "configs/mean_knn.yaml", *(p for p in page_files() if p.startswith("networks/mean"))}
    (work / "data").symlink_to(tiny_data_dir)
    return work


def test_the_pages_system_runs_through_every_stage_and_the_monitor(work: Path) -> None:
    for argv in page_commands():
        stage = next((name for name in MACHINE_FLAGS if argv[0] == "bash" and argv[1].startswith(name)), None)
        if argv[0] == "bash" and argv[1].startswith("03_"):
            argv = [*argv, "--machines", "fan", "--no_plots"]
        elif stage:
            argv = [*argv, *MACHINE_FLAGS[stage]]
        elif argv[3] == "fit":
            argv = [*argv, "--num_workers", "1"]
        result = run(work, argv)
        assert result.returncode == 0, f"{shlex.join(argv)}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    summary = work / "results/dev_data/mean_knn/summarize/DCASE2024T2/DCASE2024T2_auc_pauc_extract.csv"
    assert summary.read_text().count("mean_knn_KNN") >= 1  # the summarizer found the system's score folder
    dcase = scores_of(
        work / "results/dev_data/mean_knn_KNN/anomaly_score_DCASE2024T2fan_section_00_test_seed13711_id(0_).csv"
    )
    monitor = scores_of(work / "fan_mean_knn.csv", header=True, score_column=_column(work / "fan_mean_knn.csv"))
    assert sorted(monitor) == sorted(dcase) and len(dcase) == 12
    assert monitor == pytest.approx(dcase, rel=1e-5)  # fitted on the same clips through the other path


def _column(path: Path) -> int:
    with open(path, newline="") as stream:
        return next(csv.reader(stream)).index("score")


def test_its_help_shows_its_own_option_and_02b_is_one_clear_line(work: Path) -> None:
    shown = run(work, ["python", "train.py", "--config", "mean_knn.yaml", "--help"])
    assert shown.returncode == 0 and "options of mean-kNN:" in shown.stdout and "--mean_knn_k" in shown.stdout
    assert "--crop_seconds" not in shown.stdout
    refused = run(work, ["bash", "02b_test_2024t2.sh", "-d", "--config", "mean_knn.yaml", "--machines", "fan"])
    assert refused.returncode != 0
    assert "mean-kNN has one score mode, KNN" in refused.stdout + refused.stderr
