"""End to end: train.py on generated 2-second clips, both score modes, dev and eval mode, --restart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import read_rows, run_train

FAST = ["--epochs", "2", "--batch_size", "64", "--num_workers", "1"]
SUFFIX = "seed13711_id(0_)"


@pytest.fixture(scope="module")
def dev_run(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fan and valve trained for two epochs and tested with MSE and MAHALA."""
    work = tmp_path_factory.mktemp("dev_run")
    for machine in ("fan", "valve"):
        common = [
            "--dataset",
            f"DCASE2024T2{machine}",
            "-d",
            "--dataset_directory",
            str(tiny_data_dir),
            "-tag",
            "id(0_)",
            "--use_ids",
            "0",
            *FAST,
        ]
        run_train(work, *common)  # train, then test with MSE
        run_train(work, *common, "--test_only", "--score", "MAHALA")
    return work


@pytest.mark.parametrize("machine", ["fan", "valve"])
@pytest.mark.parametrize("score", ["MSE", "MAHALA"])
def test_dev_outputs_follow_the_contract(dev_run: Path, tiny_data_dir: Path, machine: str, score: str) -> None:
    result_dir = dev_run / "results/dev_data" / f"baseline_{score}"
    dataset = f"DCASE2024T2{machine}"
    scores = read_rows(result_dir / f"anomaly_score_{dataset}_section_00_test_{SUFFIX}.csv")
    decisions = read_rows(result_dir / f"decision_result_{dataset}_section_00_test_{SUFFIX}.csv")
    test_dir = tiny_data_dir / "dcase2024t2/dev_data/raw" / machine / "test"
    normals = sorted(p.name for p in test_dir.glob("*_normal_*.wav"))
    anomalies = sorted(p.name for p in test_dir.glob("*_anomaly_*.wav"))
    assert [row[0] for row in scores] == normals + anomalies
    assert [row[0] for row in decisions] == normals + anomalies
    assert all(np.isfinite(float(row[1])) for row in scores)
    assert {row[1] for row in decisions} <= {"0", "1"}

    result_path = result_dir / f"result_{dataset}_test_{SUFFIX}_roc.csv"
    text = result_path.read_text()
    assert text.endswith("\n\n")  # the empty line after the harmonic mean
    rows = read_rows(result_path)
    assert rows[0] == [
        "section",
        "AUC (source)",
        "AUC (target)",
        "pAUC",
        "pAUC (source)",
        "pAUC (target)",
        "precision (source)",
        "precision (target)",
        "recall (source)",
        "recall (target)",
        "F1 score (source)",
        "F1 score (target)",
    ]
    assert [row[0] for row in rows[1:4]] == ["00", "arithmetic mean", "harmonic mean"] and rows[4] == []
    assert all(0.0 <= float(value) <= 1.0 for value in rows[1][1:])
    assert (result_dir / f"DCASE2023T2-AE_{dataset}_id(0_)_anm_score.png").is_file()


def test_dev_run_saves_the_spec_files(dev_run: Path) -> None:
    name = "DCASE2023T2-AE_DCASE2024T2fan_id(0_)_seed13711"
    checkpoint_dir = dev_run / "models/checkpoint/baseline" / name
    args = json.loads((checkpoint_dir / "args.json").read_text())
    assert args["epochs"] == 2 and args["dataset"] == "DCASE2024T2fan" and args["n_mels"] == 128
    log = (dev_run / "logs/baseline" / name / "log.csv").read_text().splitlines()
    assert log[0] == "loss,val_loss,recon_loss,recon_loss_source,recon_loss_target" and len(log) == 3
    weights = torch.load(dev_run / "models/saved_model/baseline" / f"{name}.pth", weights_only=True)
    assert weights["cov_source"].shape == (128, 128) and torch.count_nonzero(weights["cov_target"]) > 0
    for mode in ("mse", "mahala"):
        fit = json.loads((dev_run / "models/saved_model/baseline" / f"score_distr_{name}_{mode}.json").read_text())
        assert fit["distribution"] == "gamma" and fit["scale"] > 0


def test_eval_mode_writes_sorted_scores_with_the_eval_suffix_and_no_result_table(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    run_train(
        tmp_path,
        "--dataset",
        "DCASE2024T2AirCompressor",
        "-e",
        "--dataset_directory",
        str(tiny_data_dir),
        "-tag",
        "id(0_)",
        "--use_ids",
        "0",
        *FAST,
    )
    result_dir = tmp_path / "results/eval_data/baseline_MSE"
    rows = read_rows(result_dir / f"anomaly_score_DCASE2024T2AirCompressor_section_00_test_{SUFFIX}_Eval.csv")
    test_dir = tiny_data_dir / "dcase2024t2/eval_data/raw/AirCompressor/test"
    assert [row[0] for row in rows] == sorted(p.name for p in test_dir.glob("*.wav"))
    assert not list(result_dir.glob("result_*"))
    assert (
        tmp_path / "models/saved_model/baseline/DCASE2023T2-AE_DCASE2024T2AirCompressor_id(0_)_Eval_seed13711.pth"
    ).is_file()


def test_restart_continues_to_the_same_weights_as_an_uninterrupted_run(tiny_data_dir: Path, tmp_path: Path) -> None:
    common = [
        "--dataset",
        "DCASE2024T2valve",
        "-d",
        "--dataset_directory",
        str(tiny_data_dir),
        "--train_only",
        "--batch_size",
        "64",
        "--num_workers",
        "1",
    ]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir()
    resumed.mkdir()
    run_train(straight, *common, "--epochs", "3")
    run_train(resumed, *common, "--epochs", "1")
    output = run_train(resumed, *common, "--epochs", "3", "--restart")
    assert "resuming" in output.stderr + output.stdout
    name = "DCASE2023T2-AE_DCASE2024T2valve_seed13711"
    log_straight = (straight / "logs/baseline" / name / "log.csv").read_text()
    assert (resumed / "logs/baseline" / name / "log.csv").read_text() == log_straight
    assert len(log_straight.splitlines()) == 4
    weights = [
        torch.load(d / "models/saved_model/baseline" / f"{name}.pth", weights_only=True) for d in (straight, resumed)
    ]
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_restart_with_other_settings_is_refused(tiny_data_dir: Path, tmp_path: Path) -> None:
    common = [
        "--dataset",
        "DCASE2024T2fan",
        "-d",
        "--dataset_directory",
        str(tiny_data_dir),
        "--train_only",
        "--epochs",
        "1",
        "--num_workers",
        "1",
    ]
    run_train(tmp_path, *common)
    result = run_train(tmp_path, *common, "--restart", "-lr", "0.01", check=False)
    assert result.returncode != 0
    assert "--learning_rate 0.001 (this run: 0.01)" in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_restart_with_fewer_epochs_than_the_checkpoint_is_refused_and_changes_nothing(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    common = ["--dataset", "DCASE2024T2fan", "-d", "--dataset_directory", str(tiny_data_dir), "--train_only"]
    run_train(tmp_path, *common, "--epochs", "2", "--batch_size", "64", "--num_workers", "1")
    name = "DCASE2023T2-AE_DCASE2024T2fan_seed13711"
    written = [
        tmp_path / "models/checkpoint/baseline" / name / "args.json",
        tmp_path / "models/saved_model/baseline" / f"{name}.json",
        tmp_path / "models/saved_model/baseline" / f"{name}.pth",
        tmp_path / "logs/baseline" / name / "log.csv",
    ]
    before = [path.read_bytes() for path in written]
    result = run_train(
        tmp_path, *common, "--epochs", "1", "--batch_size", "64", "--num_workers", "1", "--restart", check=False
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "holds 2 epochs, more than --epochs 1; give --epochs 2 or more to resume it" in result.stderr
    assert [path.read_bytes() for path in written] == before


def test_test_only_without_a_model_says_which_file_and_command(tiny_data_dir: Path, tmp_path: Path) -> None:
    result = run_train(
        tmp_path,
        "--dataset",
        "DCASE2024T2fan",
        "-d",
        "--dataset_directory",
        str(tiny_data_dir),
        "--test_only",
        check=False,
    )
    assert result.returncode != 0
    assert "DCASE2023T2-AE_DCASE2024T2fan_seed13711.pth not found" in result.stderr
    assert "--train_only" in result.stderr and "Traceback" not in result.stderr


def test_test_with_other_feature_settings_is_refused(tiny_data_dir: Path, tmp_path: Path) -> None:
    common = ["--dataset", "DCASE2024T2fan", "-d", "--dataset_directory", str(tiny_data_dir), "--num_workers", "1"]
    run_train(tmp_path, *common, "--epochs", "1", "--train_only")
    result = run_train(tmp_path, *common, "--test_only", "--hop_length", "256", check=False)
    assert result.returncode != 0 and "--hop_length 512 (this run: 256)" in result.stderr


def test_unknown_score_mode_lists_the_model_modes(tiny_data_dir: Path, tmp_path: Path) -> None:
    result = run_train(
        tmp_path,
        "--dataset",
        "DCASE2024T2fan",
        "-d",
        "--dataset_directory",
        str(tiny_data_dir),
        "--score",
        "MAHA",
        check=False,
    )
    assert result.returncode == 2
    assert "--score MAHA is not a score mode of DCASE2023T2-AE; choose from MSE, MAHALA" in result.stderr


def test_unknown_flag_fails_before_any_work(tmp_path: Path) -> None:
    result = run_train(tmp_path, "--dataset", "DCASE2024T2fan", "-d", "--epoch", "3", check=False)
    assert result.returncode == 2 and "did you mean --epochs?" in result.stderr
    assert not any(tmp_path.iterdir())


def test_test_clips_at_another_sample_rate_than_training_are_refused(tiny_data_dir: Path, tmp_path: Path) -> None:
    import shutil

    import soundfile

    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir / "dcase2024t2/dev_data/raw/fan", data / "dcase2024t2/dev_data/raw/fan")
    common = ["--dataset", "DCASE2024T2fan", "-d", "--dataset_directory", str(data), "--num_workers", "1"]
    run_train(tmp_path, *common, "--epochs", "1", "--train_only")
    for path in (data / "dcase2024t2/dev_data/raw/fan/test").glob("*.wav"):
        samples, _ = soundfile.read(path)
        soundfile.write(path, samples, 22050, subtype="PCM_16")  # relabelled rate: the model never heard it
    result = run_train(tmp_path, *common, "--test_only", check=False)
    assert result.returncode == 2
    assert "sampled at 22050 Hz but the model was trained on 16000 Hz clips" in result.stderr


def test_seeding_requests_deterministic_algorithms_for_real() -> None:
    import random

    from engine import runner

    previous = torch.are_deterministic_algorithms_enabled()
    try:
        runner.seed_everything(7)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        first = (random.random(), np.random.rand(), torch.rand(1).item())
        runner.seed_everything(7)
        assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    finally:
        torch.use_deterministic_algorithms(previous)
