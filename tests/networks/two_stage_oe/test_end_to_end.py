"""One epoch of the two-stage outlier-exposure system through the numbered scripts (01, 02a, 02b, 03) on the tiny
synthetic set, with two_stage_oe_demo.yaml made smaller still by flags, in a copy of the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

from datasets.registry import machine_types
from tests.conftest import REPO_ROOT, read_rows, run_script

ITEMS = [
    "train.py",
    "common.py",
    "errors.py",
    "safe_io.py",
    "progress.py",
    "baseline.yaml",
    "two_stage_oe_demo.yaml",
    "datasets",
    "networks",
    "engine",
    "evaluation",
    "tools",
    "01_train_2024t2.sh",
    "02a_test_2024t2.sh",
    "02b_test_2024t2.sh",
    "03_summarize_results.sh",
]
TINY = [
    "--config",
    "two_stage_oe_demo.yaml",
    "--epochs",
    "1",
    "--batch_size",
    "8",
    "--n_fft",
    "512",
    "--hop_length",
    "256",
    "--n_mels",
    "32",
    "--oe_test_crops",
    "2",
    "--oe_crop_seconds",
    "0.5",
    "--num_workers",
    "1",
]


def test_one_epoch_through_the_scripts_writes_both_score_modes_results(tiny_data_dir: Path, tmp_path: Path) -> None:
    for item in ITEMS:
        source = REPO_ROOT / item
        if source.is_dir():
            shutil.copytree(source, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / item)
    (tmp_path / "data").symlink_to(tiny_data_dir)
    for script in ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"):
        result = run_script(script, "-d", *TINY, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "finished for all 7 machine types" in result.stdout
    for mode in ("GMM", "KNN"):
        result_dir = tmp_path / "results/dev_data" / f"twostage_oe_demo_{mode}"
        for machine in machine_types("DCASE2024T2", "dev"):
            stem = f"DCASE2024T2{machine}_section_00_test_seed13711_id(0_)"
            scores = read_rows(result_dir / f"anomaly_score_{stem}.csv")
            assert len(scores) == 12 and all(len(row) == 2 and float(row[1]) == float(row[1]) for row in scores)
            assert (result_dir / f"result_DCASE2024T2{machine}_test_seed13711_id(0_)_roc.csv").is_file()
    summary = run_script(
        "03_summarize_results.sh",
        "DCASE2024T2",
        "-d",
        "--systems",
        "twostage_oe_demo_GMM",
        "twostage_oe_demo_KNN",
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert summary.returncode == 0, summary.stdout[-2000:] + summary.stderr[-2000:]
    assert "twostage_oe_demo_GMM" in summary.stdout and "twostage_oe_demo_KNN" in summary.stdout
