"""A family model (STgram-MFN) behind the per-machine train.py runs, through the same runner, on generated
2-second clips: trained once for all machine types and reused, per-machine reference and thresholds, result
files as the autoencoder's, scores against an independent numpy kNN and softmax, --restart, stale weights, eval
mode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import common
from datasets.file_list import list_test_clips
from datasets.registry import machine_types, resolve_dataset
from datasets.waveforms import machine_clips_from_files, read_waveforms
from engine import train_loop
from engine.checkpoint import save_torch
from engine.paths import RunPaths
from engine.shared_model import load_shared_model, shared_run
from networks import registry
from tests.conftest import read_rows, run_train

TINY = [*registry.get("STgram-MFN").tiny_test_flags]
SUFFIX = "seed13711_id(0_)"
FAMILY = "STgram-MFN_DCASE2024T2_id(0_)_seed13711"
EVAL_ROOT = "dcase2024t2/eval_data/raw"


def train_args(data_dir: Path, machine: str, *extra: str, split: str = "-d") -> list[str]:
    return [
        "--dataset",
        f"DCASE2024T2{machine}",
        split,
        "--dataset_directory",
        str(data_dir),
        "-tag",
        "id(0_)",
        "--use_ids",
        "0",
        *TINY,
        *extra,
    ]


@pytest.fixture(scope="module")
def family_run(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """fan trained (trains the family model), valve trained (reuses it); both tested with KNN and NLL."""
    work = tmp_path_factory.mktemp("family_run")
    outputs = {}
    outputs["fan"] = run_train(work, *train_args(tiny_data_dir, "fan", "--train_only")).stdout
    weights = work / "models/saved_model/stgram" / f"{FAMILY}.pth"
    before = weights.read_bytes()
    outputs["valve"] = run_train(work, *train_args(tiny_data_dir, "valve", "--train_only")).stdout
    outputs["unchanged"] = weights.read_bytes() == before
    for machine in ("fan", "valve"):
        for score in ("first", "second"):
            run_train(work, *train_args(tiny_data_dir, machine, "--test_only", "--score", score))
    return {"work": work, "logs": outputs}


def test_the_family_model_is_trained_once_and_reused(family_run: dict) -> None:
    work = family_run["work"]
    model_dir = work / "models/saved_model/stgram"
    info = json.loads((model_dir / f"{FAMILY}.json").read_text())
    shape = info["shape"]
    assert shape["machines"] == ["bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve"]
    assert shape["n_clips"] == 7 * 12 and info["epochs"] == 1 and info["device"].startswith("cpu (float32)")
    assert all(name.count("/") >= 2 for name in shape["classes"])  # machine/section/domain[/attributes]
    assert "gearbox/00/source" in shape["classes"] and "gearbox/00/target" in shape["classes"]  # hidden attributes
    assert "reused" in family_run["logs"]["valve"] and family_run["logs"]["unchanged"]
    log = (work / "logs/stgram" / FAMILY / "log.csv").read_text().splitlines()
    assert log[0] == "loss,accuracy,learning_rate" and len(log) == 2
    assert (work / "logs/stgram" / FAMILY / "log.png").is_file()
    checkpoint = torch.load(work / "models/checkpoint/stgram" / FAMILY / "checkpoint.tar", weights_only=True)
    assert checkpoint["epoch"] == 1


@pytest.mark.parametrize("machine", ["fan", "valve"])
def test_machine_step_writes_the_reference_and_both_thresholds(family_run: dict, machine: str) -> None:
    model_dir = family_run["work"] / "models/saved_model/stgram"
    name = f"STgram-MFN_DCASE2024T2{machine}_id(0_)_seed13711"
    with np.load(model_dir / f"{name}_reference.npz") as stored:
        assert stored["embeddings"].shape == (12, 16) and int(stored["is_target"].sum()) == 2
    for mode in ("knn", "nll"):
        fit = json.loads((model_dir / f"score_distr_{name}_{mode}.json").read_text())
        assert fit["distribution"] == "gamma" and fit["scale"] > 0 and fit["n_samples"] == 12
    assert json.loads((family_run["work"] / "models/checkpoint/stgram" / name / "args.json").read_text())["knn_k"] == 2


@pytest.mark.parametrize("score", ["KNN", "NLL"])
def test_results_follow_the_autoencoders_contract(family_run: dict, tiny_data_dir: Path, score: str) -> None:
    result_dir = family_run["work"] / "results/dev_data" / f"stgram_{score}"
    dataset = "DCASE2024T2fan"
    scores = read_rows(result_dir / f"anomaly_score_{dataset}_section_00_test_{SUFFIX}.csv")
    decisions = read_rows(result_dir / f"decision_result_{dataset}_section_00_test_{SUFFIX}.csv")
    test_dir = tiny_data_dir / "dcase2024t2/dev_data/raw/fan/test"
    expected = sorted(p.name for p in test_dir.glob("*_normal_*.wav")) + sorted(
        p.name for p in test_dir.glob("*_anomaly_*.wav")
    )
    assert [row[0] for row in scores] == expected == [row[0] for row in decisions]
    assert {row[1] for row in decisions} <= {"0", "1"}
    rows = read_rows(result_dir / f"result_{dataset}_test_{SUFFIX}_roc.csv")
    assert rows[0][:3] == ["section", "AUC (source)", "AUC (target)"]
    assert [row[0] for row in rows[1:4]] == ["00", "arithmetic mean", "harmonic mean"]
    assert (result_dir / f"STgram-MFN_{dataset}_id(0_)_anm_score.png").is_file()


def test_scores_match_an_independent_numpy_knn_and_softmax(
    family_run: dict, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = family_run["work"]
    monkeypatch.chdir(work)
    config = common.parse_config(train_args(tiny_data_dir, "valve", "--test_only"))
    spec = resolve_dataset(config.dataset, "dev")
    model_class = registry.get(config.model)
    model, _ = load_shared_model(
        model_class,
        model_class.options_class.from_config(config),
        config,
        spec,
        shared_run(model_class, config, spec),
        torch.device("cpu"),
    )
    clips, _ = list_test_clips(spec, tiny_data_dir, "00")
    embeddings, logits = model.embed_clips(machine_clips_from_files("valve", clips), "test")
    with np.load(RunPaths.from_config(config).reference) as stored:
        reference, reference_is_target = stored["embeddings"], stored["is_target"]

    def knn(query: np.ndarray, rows: np.ndarray, k: int = 2) -> float:
        distances = sorted(1 - float(query @ row) / np.linalg.norm(query) / np.linalg.norm(row) for row in rows)
        return float(np.mean(distances[:k]))

    domains = [reference[~reference_is_target], reference[reference_is_target]]  # 10 and 2 clips
    scales = [np.mean([knn(row, np.delete(rows, i, axis=0)) for i, row in enumerate(rows)]) for rows in domains]
    expected_knn = [min(knn(e, domains[0]) / scales[0], knn(e, domains[1]) / scales[1]) for e in embeddings]
    own = np.array([name.startswith("valve/00/") for name in model.class_names])
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    expected_nll = -np.log(probabilities[:, own].sum(axis=1))
    for score, expected in (("KNN", expected_knn), ("NLL", expected_nll)):
        rows = read_rows(
            work
            / "results/dev_data"
            / f"stgram_{score}"
            / f"anomaly_score_DCASE2024T2valve_section_00_test_{SUFFIX}.csv"
        )
        assert [row[0] for row in rows] == [clip.name for clip in clips]
        np.testing.assert_allclose([float(row[1]) for row in rows], expected, rtol=1e-6, atol=1e-9)
    signals, rate = read_waveforms([clips[0].path])
    assert rate == model.sample_rate and len(signals[0]) == 2 * rate


def test_restart_resumes_to_the_same_model_as_a_straight_run(
    tiny_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    for work in (straight, resumed):
        work.mkdir()
    args = train_args(tiny_data_dir, "fan", "--train_only", "--epochs", "2")
    run_train(straight, *args)

    saves = []

    def interrupted_at_the_second_checkpoint(path: Path, obj: object) -> None:
        if path.name == "checkpoint.tar":
            saves.append(path)
            if len(saves) == 2:
                raise KeyboardInterrupt  # Ctrl-C during epoch 2: epoch 1's checkpoint is on disk
        save_torch(path, obj)

    monkeypatch.setattr(train_loop, "save_torch", interrupted_at_the_second_checkpoint)
    assert run_train(resumed, *args, check=False).returncode == 130
    assert not (resumed / "models/saved_model/stgram" / f"{FAMILY}.json").exists()
    monkeypatch.setattr(train_loop, "save_torch", save_torch)
    assert "resuming" in run_train(resumed, *args, "--restart").stdout
    weights = [
        torch.load(work / "models/saved_model/stgram" / f"{FAMILY}.pth", weights_only=True)
        for work in (straight, resumed)
    ]
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=1e-5, atol=1e-6)
    logs = [(work / "logs/stgram" / FAMILY / "log.csv").read_text().splitlines() for work in (straight, resumed)]
    assert len(logs[0]) == len(logs[1]) == 3
    np.testing.assert_allclose(
        np.array([line.split(",") for line in logs[0][1:]], dtype=float),
        np.array([line.split(",") for line in logs[1][1:]], dtype=float),
        rtol=1e-5,
    )


def test_a_reference_fitted_with_an_older_family_model_is_refused(tiny_data_dir: Path, tmp_path: Path) -> None:
    missing = run_train(tmp_path, *train_args(tiny_data_dir, "fan", "--test_only"), check=False)
    assert missing.returncode == 2 and "not found. Train it first" in missing.stderr
    run_train(tmp_path, *train_args(tiny_data_dir, "fan", "--train_only"))
    run_train(tmp_path, *train_args(tiny_data_dir, "valve", "--train_only", "--epochs", "2"))  # retrains the family
    stale = run_train(tmp_path, *train_args(tiny_data_dir, "fan", "--test_only", "--epochs", "2"), check=False)
    assert stale.returncode == 2 and "is another version of the model than the one" in stale.stderr
    other_k = run_train(tmp_path, *train_args(tiny_data_dir, "valve", "--test_only", "--knn_k", "1"), check=False)
    assert other_k.returncode == 2 and "knn_k" in other_k.stderr


def test_eval_mode_writes_sorted_scores_without_a_result_table(tiny_data_dir: Path, tmp_path: Path) -> None:
    result = run_train(tmp_path, *train_args(tiny_data_dir, "AirCompressor", split="-e"))
    assert "no training folder of 3DPrinter" in result.stdout  # the tiny eval set has two machine types
    result_dir = tmp_path / "results/eval_data/stgram_KNN"
    rows = read_rows(result_dir / f"anomaly_score_DCASE2024T2AirCompressor_section_00_test_{SUFFIX}_Eval.csv")
    test_dir = tiny_data_dir / "dcase2024t2/eval_data/raw/AirCompressor/test"
    assert [row[0] for row in rows] == sorted(p.name for p in test_dir.glob("*.wav"))
    assert not list(result_dir.glob("result_*"))
    assert (tmp_path / "models/saved_model/stgram" / "STgram-MFN_DCASE2024T2_id(0_)_Eval_seed13711.pth").is_file()


EVAL_PLUS_DEV = "STgram-MFN_DCASE2024T2+dev_id(0_)_Eval_seed13711"


def test_eval_adds_dev_trains_the_evaluation_model_on_the_development_types_too(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    run_train(tmp_path, *train_args(tiny_data_dir, "ToyCircuit", "--eval_adds_dev", "True", split="-e"))
    info = json.loads((tmp_path / "models/saved_model/stgram" / f"{EVAL_PLUS_DEV}.json").read_text())
    present = [m for m in machine_types("DCASE2024T2", "eval") if (tiny_data_dir / EVAL_ROOT / m).is_dir()]
    assert info["shape"]["machines"] == [*present, *machine_types("DCASE2024T2", "dev")]
    assert info["shape"]["n_clips"] == 9 * 12 and "gearbox/00/target" in info["shape"]["classes"]
    assert info["fingerprint"]["dataset"] == "DCASE2024T2+dev" and info["fingerprint"]["eval_adds_dev"] is True
    scores = (
        tmp_path
        / "results/eval_data/stgram_KNN"
        / f"anomaly_score_DCASE2024T2ToyCircuit_section_00_test_{SUFFIX}_Eval.csv"
    )
    assert len(read_rows(scores)) == 12
    again = run_train(
        tmp_path, *train_args(tiny_data_dir, "ToyCircuit", "--eval_adds_dev", "True", "--test_only", split="-e")
    )
    assert again.returncode == 0
    own_split = run_train(tmp_path, *train_args(tiny_data_dir, "ToyCircuit", "--test_only", split="-e"), check=False)
    assert own_split.returncode == 2 and "--eval_adds_dev True (this run: not set)" in own_split.stderr


def test_eval_adds_dev_without_the_development_set_is_one_line_and_writes_nothing(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir / EVAL_ROOT / "ToyCircuit", data / EVAL_ROOT / "ToyCircuit")
    work = tmp_path / "work"
    work.mkdir()
    result = run_train(work, *train_args(data, "ToyCircuit", "--eval_adds_dev", "True", split="-e"), check=False)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: --eval_adds_dev True needs the development training clips: dataset folder")
    assert "dcase2024t2/dev_data/raw/bearing/train not found" in message and "data_download_2024dev.sh" in message
    assert not list(work.rglob("*.pth")) and not list(work.rglob("*.json"))


def test_eval_adds_dev_leaves_development_runs_and_their_weights_as_they_were(
    family_run: dict, tiny_data_dir: Path
) -> None:
    work = family_run["work"]
    result = run_train(work, *train_args(tiny_data_dir, "fan", "--eval_adds_dev", "True", "--test_only"))
    assert result.returncode == 0
    info = json.loads((work / "models/saved_model/stgram" / f"{FAMILY}.json").read_text())
    assert "eval_adds_dev" not in info["fingerprint"]


def test_eval_adds_dev_is_refused_for_a_model_of_one_machine_type(tiny_data_dir: Path, tmp_path: Path) -> None:
    tiny = registry.get("DCASE2023T2-AE").tiny_test_flags
    args = ["--dataset", "DCASE2024T2ToyCircuit", "-e", "--dataset_directory", str(tiny_data_dir), *tiny]
    result = run_train(tmp_path, *args, "--eval_adds_dev", "True", check=False)
    assert result.returncode == 2
    assert "--eval_adds_dev True: DCASE2023T2-AE trains one model per machine type" in result.stderr
