"""SCAC-MultiRes through train.py on tiny synthetic data (the shared runner test trains, resumes and refuses changed
settings for every model; here: what is this system's own), and its one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from datasets.file_list import Clip
from datasets.waveforms import FamilyTrainingSet
from errors import DataError
from networks.scac_multires.model import ScacMultiResModel, data_year
from networks.scac_multires.options import ScacOptions
from tests.conftest import REPO_ROOT, run_train

TINY = [
    "--model",
    "SCAC-MultiRes",
    "--config",
    str(REPO_ROOT / "configs/scac_multires_demo.yaml"),
    "-d",
    "--export_dir",
    "tiny",
    "--batch_size",
    "8",
    "--scac_width",
    "16",
    "--scac_stfts",
    "256:128,512:256",
    "--scac_crop_seconds",
    "1.0",
    "--scac_fft_branch",
    "False",
]


def one_machine_set(names: list[str], domain: str = "source") -> FamilyTrainingSet:
    clips = [Clip(Path(f"/data/dcase2023t2/dev_data/raw/fan/train/{name}"), "00", domain, 0) for name in names]
    return FamilyTrainingSet(
        ["fan"], [], np.zeros(len(clips), int), np.arange(len(clips)), clips, [""] * len(clips), 16000, "digest"
    )


def test_a_training_set_of_one_class_is_refused() -> None:
    options = ScacOptions(epochs=1, batch_size=8, learning_rate=1e-3, seed=0, n_mels=128, shuffle=True)
    data = one_machine_set([f"section_00_source_train_normal_{n:04d}_noAttribute.wav" for n in range(3)])
    with pytest.raises(DataError, match="make one class"):
        ScacMultiResModel.shape_of(options, data)
    assert data_year(data) == "2023" and options.crop_seconds("2023", 7.5) == 18.0
    # recordings of no DCASE year (a monitored machine's) are cut to their longest clip, at most a minute
    assert options.crop_seconds(None, 7.5) == 7.5 and options.crop_seconds(None, 300.0) == 60.0


def test_trains_tests_and_smote_needs_enough_target_clips(tiny_data_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir / "dcase2024t2/dev_data/raw/fan", data / "dcase2024t2/dev_data/raw/fan")
    shutil.copytree(tiny_data_dir / "dcase2024t2/dev_data/raw/valve", data / "dcase2024t2/dev_data/raw/valve")
    args = [*TINY, "--dataset", "DCASE2024T2fan", "--dataset_directory", str(data), "--epochs", "2"]
    # 2 target clips per machine type: SMOTE with 2 neighbours needs 3
    refused = run_train(tmp_path, *args, "--scac_smote_ratio", "0.5", check=False)
    assert refused.returncode != 0
    assert "fan: SMOTE with 2 neighbours needs at least 3 target-domain training clips" in refused.stderr
    done = run_train(tmp_path, *args, "--scac_smote_neighbors", "1", "--scac_smote_ratio", "0.5")
    log = next((tmp_path / "logs/tiny").glob("*/log.csv")).read_text().splitlines()
    assert log[0] == "loss,accuracy,learning_rate" and len(log) == 3
    losses = [float(line.split(",")[0]) for line in log[1:]]
    assert all(np.isfinite(losses)) and "tested DCASE2024T2fan (SMOTE)" in done.stdout


def test_a_window_too_short_for_the_largest_branch_is_one_line(tiny_data_dir: Path, tmp_path: Path) -> None:
    args = [
        *TINY,
        "--dataset",
        "DCASE2024T2fan",
        "--dataset_directory",
        str(tiny_data_dir),
        "--scac_stfts",
        "256:128,4096:2048",
        "--train_only",
        "--epochs",
        "1",
    ]
    result = run_train(tmp_path, *args, check=False)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert "4096:2048 STFT branch 1997 bins x 8 frames" in message and "--scac_crop_seconds" in message


def test_an_evaluation_set_with_anonymous_test_names_trains_and_scores(tiny_data_dir: Path, tmp_path: Path) -> None:
    args = [
        *TINY,
        "--dataset",
        "DCASE2024T2ToyCircuit",
        "-e",
        "--dataset_directory",
        str(tiny_data_dir),
        "--epochs",
        "1",
        "--scac_smote_neighbors",
        "1",
    ]
    run_train(tmp_path, *[arg for arg in args if arg != "-d"])
    scores = next((tmp_path / "results").rglob("anomaly_score_DCASE2024T2ToyCircuit_section_00_test*.csv"))
    rows = scores.read_text().splitlines()
    assert len(rows) == 12 and all(
        row.startswith("section_00_") and np.isfinite(float(row.split(",")[1])) for row in rows
    )
