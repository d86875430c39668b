"""tools.summarize and 03_summarize_results.sh on per-section CSVs made in the test (no training), plus one
end-to-end run: train.py for one epoch on a tiny generated dataset, then the summary script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.metrics import section_metrics
from evaluation.result_files import result_table_rows
from networks import registry
from safe_io import write_csv
from tests.evaluation import test_ground_truth as hand_made
from tools import summarize

REPO_ROOT = Path(__file__).resolve().parents[2]
EPS = sys.float_info.epsilon
SUFFIX = "seed13711_id(0_)"
MACHINES_2024_DEV = ["bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve"]
METRICS = ["AUC (source)", "AUC (target)", "pAUC (source, target)", "TOTAL score"]


def random_section(rng: np.random.Generator, separation: float) -> dict[str, float]:
    labels = np.repeat([0, 1, 0, 1], 12)
    is_target = np.repeat([False, False, True, True], 12)
    scores = rng.normal(size=labels.size) + separation * labels
    decisions = (scores > 0.5).astype(int)
    return section_metrics(labels, scores, decisions, is_target, 0.1)


def write_result(folder: Path, dataset: str, sections: dict[str, dict[str, float]], suffix: str = SUFFIX) -> Path:
    path = folder / f"result_{dataset}_test_{suffix}_roc.csv"
    write_csv(path, result_table_rows(list(sections), list(sections.values())))
    return path


def make_two_machine_run(results: Path, seed: int = 0) -> dict[str, dict[str, Path]]:
    """baseline_MSE and baseline_MAHALA, each with fan (one section) and valve (two sections)."""
    rng = np.random.default_rng(seed)
    files: dict[str, dict[str, Path]] = {}
    for system, separation in (("baseline_MSE", 0.8), ("baseline_MAHALA", 1.5)):
        folder = results / "dev_data" / system
        files[system] = {
            "fan": write_result(folder, "DCASE2024T2fan", {"00": random_section(rng, separation)}),
            "valve": write_result(
                folder,
                "DCASE2024T2valve",
                {"00": random_section(rng, separation), "01": random_section(rng, separation)},
            ),
        }
    files["baseline_MSE"]["fan"].with_name("decision_result_unrelated.csv").write_text("x,1\n")
    return files


def read_sections(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"section": str}).dropna(how="all")
    return frame[~frame["section"].isin(["arithmetic mean", "harmonic mean"])].set_index("section")


def floored_hmean(values) -> float:
    return float(stats.hmean(np.maximum(np.asarray(values, dtype=float).ravel(), EPS)))


def summary_paths(results: Path, split: str = "dev") -> tuple[Path, Path]:
    folder = results / f"{split}_data" / "baseline" / "summarize" / "DCASE2024T2"
    return folder / "DCASE2024T2_auc_pauc.csv", folder / "DCASE2024T2_auc_pauc_extract.csv"


def test_two_machine_summary_has_the_expected_rows_columns_and_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    results = tmp_path / "results"
    files = make_two_machine_run(results)
    code = summarize.main(["DCASE2024T2", "-d", "--result_directory", str(results), "--machines", "fan", "valve"])
    assert code == 0
    wide_csv, compact_csv = summary_paths(results)

    compact = pd.read_csv(compact_csv, index_col=[0, 1])
    assert list(compact.index.names) == ["System", "metric"]
    assert list(compact.index) == [
        (system, metric) for system in ("baseline_MAHALA", "baseline_MSE") for metric in METRICS
    ]
    assert list(compact.columns) == ["h-mean", "a-mean", "fan", "valve"]

    wide = pd.read_csv(wide_csv, index_col=0)
    assert list(wide.index) == ["baseline_MAHALA", "baseline_MSE"]
    n_figures = 11
    assert wide.shape[1] == n_figures * 5 + n_figures * 8 + n_figures * 3 + 6

    for system, machine_files in files.items():
        frames = {machine: read_sections(path) for machine, path in machine_files.items()}
        pooled = pd.concat(frames.values())
        for metric, column in zip(METRICS[:3], ["AUC (source)", "AUC (target)", "pAUC"], strict=True):
            row = compact.loc[(system, metric)]
            for machine, frame in frames.items():
                assert row[machine] == pytest.approx(frame[column].mean(), rel=1e-12)
            assert row["a-mean"] == pytest.approx(pooled[column].mean(), rel=1e-12)
            assert row["h-mean"] == pytest.approx(floored_hmean(pooled[column]), rel=1e-12)
        scored = pooled[["AUC (source)", "AUC (target)", "pAUC"]].to_numpy()
        total = compact.loc[(system, "TOTAL score")]
        assert total["h-mean"] == pytest.approx(floored_hmean(scored), rel=1e-12)
        assert total["a-mean"] == pytest.approx(scored.mean(), rel=1e-12)
        assert np.isnan(total["fan"]) and np.isnan(total["valve"])

        figures = wide.loc[system]
        assert figures["TOTAL_score_hmean"] == pytest.approx(total["h-mean"], rel=1e-12)
        assert figures["TOTAL_score_std"] == pytest.approx(scored.std(), rel=1e-12)
        aucs = pooled[["AUC (source)", "AUC (target)"]].to_numpy()
        assert figures["ALL_AUC_ave"] == pytest.approx(aucs.mean(), rel=1e-12)
        assert figures["ALL_AUC_hmean"] == pytest.approx(floored_hmean(aucs), rel=1e-12)
        assert figures["fan_dev_00_AUC (source)_ave"] == pytest.approx(frames["fan"].loc["00", "AUC (source)"])
        assert np.isnan(figures["fan_dev_00_AUC (source)_std"])
        assert figures["valve_dev_01_F1 score (target)_ave"] == pytest.approx(
            frames["valve"].loc["01", "F1 score (target)"]
        )
        assert figures["valve_dev_arithmetic mean_pAUC (source)"] == pytest.approx(
            frames["valve"]["pAUC (source)"].mean(), rel=1e-12
        )
        assert figures["valve_dev_harmonic mean_precision (source)"] == pytest.approx(
            floored_hmean(frames["valve"]["precision (source)"]), rel=1e-12
        )
        machine_means = [frames[m]["recall (target)"].mean() for m in ("fan", "valve")]
        assert figures["ALL_recall (target)_ave"] == pytest.approx(pooled["recall (target)"].mean(), rel=1e-12)
        assert figures["ALL_recall (target)_std"] == pytest.approx(np.std(machine_means, ddof=1), rel=1e-12)

    printed = capsys.readouterr().out
    assert "pAUC (source, target)" in printed and "TOTAL score" in printed
    official = floored_hmean(
        pd.concat(read_sections(p) for p in files["baseline_MSE"].values())[
            ["AUC (source)", "AUC (target)", "pAUC"]
        ].to_numpy()
    )
    assert f"baseline_MSE {official:.4f}" in printed
    assert (compact_csv.parent / "DCASE2024T2_auc_pauc_extract.png").stat().st_size > 1000


def test_missing_machine_types_are_named_and_the_total_is_marked_partial(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    results = tmp_path / "results"
    make_two_machine_run(results)
    assert summarize.main(["DCASE2024T2", "-d", "--result_directory", str(results), "--no_plots"]) == 0
    warnings = capsys.readouterr().err
    assert "no result CSV of bearing, gearbox, slider, ToyCar, ToyTrain" in warnings and "PARTIAL" in warnings
    compact = pd.read_csv(summary_paths(results)[1], index_col=[0, 1])
    assert list(compact.columns) == ["h-mean", "a-mean", *MACHINES_2024_DEV]
    metrics = list(compact.loc["baseline_MSE"].index)
    assert metrics[:3] == METRICS[:3]
    assert metrics[3] == "TOTAL score (partial: 2 of 7 machine types)"
    assert compact.loc[("baseline_MSE", "AUC (source)"), ["bearing", "ToyTrain"]].isna().all()
    assert not (summary_paths(results)[1].parent / "DCASE2024T2_auc_pauc_extract.png").exists()


def test_missing_result_folders_are_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results"
    assert summarize.main(["DCASE2024T2", "-d", "--result_directory", str(results)]) == 2
    error = capsys.readouterr().err
    assert "baseline_MAHALA" in error and "baseline_MSE" in error and "02a_test_2024t2.sh" in error

    rng = np.random.default_rng(3)
    write_result(results / "dev_data" / "baseline_MSE", "DCASE2024T2fan", {"00": random_section(rng, 1.0)})
    assert (
        summarize.main(["DCASE2024T2", "-d", "--result_directory", str(results), "--machines", "fan", "--no_plots"])
        == 0
    )
    assert "baseline_MAHALA" in capsys.readouterr().err
    assert list(pd.read_csv(summary_paths(results)[1], index_col=[0, 1]).index.get_level_values(0).unique()) == [
        "baseline_MSE"
    ]


@pytest.mark.parametrize("model", registry.names())
def test_an_export_dir_alone_finds_its_systems_score_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture, model: str
) -> None:
    results, modes = tmp_path / "results", registry.get(model).score_modes[:2]  # what 02a and 02b write
    rng = np.random.default_rng(4)
    for mode in modes:
        write_result(results / "dev_data" / f"mine_{mode}", "DCASE2024T2fan", {"00": random_section(rng, 1.0)})
    arguments = ["DCASE2024T2", "-d", "--result_directory", str(results), "--export_dir", "mine", "--no_plots"]
    assert summarize.main([*arguments, "--machines", "fan"]) == 0, capsys.readouterr().err
    assert "not found" not in capsys.readouterr().err
    compact = results / "dev_data/mine/summarize/DCASE2024T2/DCASE2024T2_auc_pauc_extract.csv"
    assert set(pd.read_csv(compact, index_col=[0, 1]).index.get_level_values(0)) == {f"mine_{m}" for m in modes}


def test_systems_names_the_folders_to_compare(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results"
    make_two_machine_run(results)
    rng = np.random.default_rng(5)
    write_result(results / "dev_data" / "stgram_KNN", "DCASE2024T2fan", {"00": random_section(rng, 2.0)})
    assert (
        summarize.main(
            [
                "DCASE2024T2",
                "-d",
                "--result_directory",
                str(results),
                "--machines",
                "fan",
                "--systems",
                "baseline_MSE",
                "stgram_KNN",
                "--no_plots",
            ]
        )
        == 0
    )
    assert "not found" not in capsys.readouterr().err
    compact = pd.read_csv(summary_paths(results)[1], index_col=[0, 1])
    assert list(compact.index.get_level_values(0).unique()) == ["baseline_MSE", "stgram_KNN"]
    knn = read_sections(results / "dev_data/stgram_KNN" / f"result_DCASE2024T2fan_test_{SUFFIX}_roc.csv")
    expected = floored_hmean(knn.loc["00", ["AUC (source)", "AUC (target)", "pAUC"]])
    assert compact.loc[("stgram_KNN", "TOTAL score"), "h-mean"] == pytest.approx(expected, rel=1e-12)


def test_a_folder_with_several_runs_asks_which_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results"
    folder = results / "dev_data" / "baseline_MSE"
    rng = np.random.default_rng(4)
    write_result(folder, "DCASE2024T2fan", {"00": random_section(rng, 1.0)})
    other = write_result(folder, "DCASE2024T2fan", {"00": random_section(rng, 3.0)}, suffix="seed7_id(0_)")
    arguments = ["DCASE2024T2", "-d", "--result_directory", str(results), "--machines", "fan", "--no_plots"]
    assert summarize.main(arguments) == 2
    assert "several runs" in capsys.readouterr().err
    assert summarize.main([*arguments, "--seed", "7"]) == 0
    compact = pd.read_csv(summary_paths(results)[1], index_col=[0, 1])
    assert compact.loc[("baseline_MSE", "AUC (source)"), "fan"] == pytest.approx(
        read_sections(other).loc["00", "AUC (source)"]
    )


def test_eval_mode_scores_the_demo_ground_truth_first(tmp_path: Path) -> None:
    """Eval scores + ground truth in the demo data's place -> result CSVs and the summary, no flag needed."""
    machines = ["ToyCircuit", "HairDryer"]
    ground_truth = tmp_path / "data" / "dcase2024t2" / "eval_data" / "ground_truth"
    results = tmp_path / "results"
    for machine in sorted(machines, key=lambda name: name == hand_made.MACHINE):  # the hand-made one last
        folder = results / "eval_data" / "baseline_MSE"
        hand_made.write_ground_truth(ground_truth)
        for kind in ("data", "domain", "attributes"):
            source = hand_made.gt.ground_truth_path(ground_truth, kind, hand_made.MACHINE, "00")
            target = hand_made.gt.ground_truth_path(ground_truth, kind, machine, "00")
            if source != target:
                target.write_bytes(source.read_bytes())
        hand_made.write_scores(folder)
        if machine != hand_made.MACHINE:
            for path in folder.glob(f"*{hand_made.DATASET}_*"):
                path.rename(path.with_name(path.name.replace(hand_made.DATASET, f"DCASE2024T2{machine}")))
    code = summarize.main(
        [
            "DCASE2024T2",
            "-e",
            "--result_directory",
            str(results),
            "--dataset_directory",
            str(tmp_path / "data"),
            "--machines",
            *machines,
            "--no_plots",
        ]
    )
    assert code == 0
    compact = pd.read_csv(summary_paths(results, "eval")[1], index_col=[0, 1])
    assert list(compact.columns) == ["h-mean", "a-mean", *machines]
    assert compact.loc[("baseline_MSE", "AUC (source)"), "HairDryer"] == pytest.approx(0.9)
    assert compact.loc[("baseline_MSE", "pAUC (source, target)"), "ToyCircuit"] == pytest.approx(14 / 19)
    assert compact.loc[("baseline_MSE", "TOTAL score"), "h-mean"] == pytest.approx(
        stats.hmean([0.9, 1.0, 14 / 19] * 2), rel=1e-12
    )
    wide = pd.read_csv(summary_paths(results, "eval")[0], index_col=0)
    assert "HairDryer_eval_00_pAUC_ave" in wide.columns


def test_eval_scores_without_ground_truth_are_skipped_unless_the_ground_truth_was_named(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ground_truth = tmp_path / "data" / "dcase2024t2" / "eval_data" / "ground_truth"
    results = tmp_path / "results"
    folder = results / "eval_data" / "baseline_MSE"
    hand_made.write_ground_truth(ground_truth)
    hand_made.write_scores(folder)
    for path in list(folder.glob("*.csv")):  # the same scores for Scanner, which has no ground truth
        path.with_name(path.name.replace(hand_made.MACHINE, "Scanner")).write_bytes(path.read_bytes())
    arguments = [
        "DCASE2024T2",
        "-e",
        "--result_directory",
        str(results),
        "--machines",
        "ToyCircuit",
        "Scanner",
        "--no_plots",
    ]
    assert summarize.main([*arguments, "--dataset_directory", str(tmp_path / "data")]) == 0
    warnings = capsys.readouterr().err
    assert "no ground truth of Scanner" in warnings and "no result CSV of Scanner" in warnings
    compact = pd.read_csv(summary_paths(results, "eval")[1], index_col=[0, 1])
    assert ("baseline_MSE", "TOTAL score (partial: 1 of 2 machine types)") in compact.index
    assert summarize.main([*arguments, "--ground_truth_dir", str(ground_truth)]) == 2
    assert "ground_truth_Scanner_section_00_test.csv not found" in capsys.readouterr().err


def run_script(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(REPO_ROOT / "03_summarize_results.sh"), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


@pytest.mark.parametrize("arguments", [[], ["DCASE2019T2", "-d"], ["DCASE2024T2"], ["DCASE2024T2", "--dev", "-x"]])
def test_the_script_answers_bad_arguments_with_usage_and_exit_code_1(arguments: list[str]) -> None:
    completed = run_script(*arguments)
    assert completed.returncode == 1
    assert "usage: 03_summarize_results.sh" in completed.stderr
    assert "argument error" in completed.stderr


# ---------------------------------------------------------------------------------------------------------
# end to end: train.py (one epoch) on two tiny machine types, MSE and MAHALA tests, then the script
def write_tiny_dataset(root: Path, machines: dict[str, float]) -> None:
    import soundfile

    rate, rng = 16000, np.random.default_rng(0)
    time = np.arange(rate) / rate  # one-second clips

    def clip(pitch: float, anomalous: bool) -> np.ndarray:
        wave = 0.2 * np.sin(2 * np.pi * pitch * rng.uniform(0.98, 1.02) * time)
        wave += 0.02 * rng.standard_normal(time.size) + (
            0.08 * np.sin(2 * np.pi * 2.7 * pitch * time) if anomalous else 0.0
        )
        return wave.astype(np.float32)

    for machine, pitch in machines.items():
        folder = root / "dcase2024t2" / "dev_data" / "raw" / machine
        (folder / "train").mkdir(parents=True)
        (folder / "test").mkdir()
        for number in range(24):
            domain = "target" if number >= 21 else "source"
            soundfile.write(
                folder / "train" / f"section_00_{domain}_train_normal_{number:04d}_a_1.wav",
                clip(pitch * (1.1 if domain == "target" else 1.0), False),
                rate,
            )
        number = 0
        for domain in ("source", "target"):
            for label in ("normal", "anomaly"):
                for _ in range(5):
                    soundfile.write(
                        folder / "test" / f"section_00_{domain}_test_{label}_{number:04d}_a_1.wav",
                        clip(pitch * (1.1 if domain == "target" else 1.0), label == "anomaly"),
                        rate,
                    )
                    number += 1


@pytest.fixture
def restore_torch_settings():
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn


def test_end_to_end_train_test_and_summarise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_torch_settings
) -> None:
    import matplotlib.image

    import train

    machines = {"fan": 300.0, "valve": 520.0}
    write_tiny_dataset(tmp_path / "data", machines)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # train.py sets it; undone after the test
    common = [
        "-d",
        "-tag",
        "id(0_)",
        "--use_ids",
        "0",
        "--epochs",
        "1",
        "--dataset_directory",
        "data",
        "--num_workers",
        "1",
        "--use_cuda",
        "False",
    ]
    for machine in machines:
        assert train.main(["--dataset", f"DCASE2024T2{machine}", *common]) == 0
        assert train.main(["--dataset", f"DCASE2024T2{machine}", *common, "--test_only", "--score", "MAHALA"]) == 0
    loss_png = tmp_path / "logs" / "baseline" / "DCASE2023T2-AE_DCASE2024T2fan_id(0_)_seed13711" / "log.png"
    assert matplotlib.image.imread(loss_png).ndim == 3

    completed = run_script("DCASE2024T2", "-d", "--result_directory", str(tmp_path / "results"))
    assert completed.returncode == 0, completed.stderr
    assert "PARTIAL (2 of 7 machine types)" in completed.stderr
    compact = pd.read_csv(summary_paths(tmp_path / "results")[1], index_col=[0, 1])
    assert list(compact.index.get_level_values(0).unique()) == ["baseline_MAHALA", "baseline_MSE"]
    for system in ("baseline_MAHALA", "baseline_MSE"):
        sections = pd.concat(
            read_sections(path) for path in (tmp_path / "results" / "dev_data" / system).glob("result_*_roc.csv")
        )
        assert len(sections) == 2
        expected = floored_hmean(sections[["AUC (source)", "AUC (target)", "pAUC"]].to_numpy())
        total = compact.loc[system]
        assert total.loc["TOTAL score (partial: 2 of 7 machine types)", "h-mean"] == pytest.approx(expected)
    assert "TOTAL score (partial: 2 of 7 machine types)" in completed.stdout


def test_a_seed_sweep_reports_each_system_s_mean_and_std_over_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    results, seeds = tmp_path / "results", (13711, 1, 2)
    official: dict[str, list[float]] = {"baseline_MSE": [], "baseline_MAHALA": []}
    target_auc_hmeans = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for system, separation in (("baseline_MSE", 0.8), ("baseline_MAHALA", 1.5)):
            folder = results / "dev_data" / system.replace("_", f"_seed{seed}_")
            paths = [
                write_result(
                    folder,
                    f"DCASE2024T2{machine}",
                    {"00": random_section(rng, separation)},
                    suffix=f"seed{seed}_id(0_)",
                )
                for machine in ("fan", "valve")
            ]
            sections = pd.concat(read_sections(path) for path in paths)
            official[system].append(floored_hmean(sections[["AUC (source)", "AUC (target)", "pAUC"]].to_numpy()))
            if system == "baseline_MSE":
                target_auc_hmeans.append(floored_hmean(sections["AUC (target)"]))
    arguments = [
        "DCASE2024T2",
        "-d",
        "--result_directory",
        str(results),
        "--machines",
        "fan",
        "valve",
        "--no_plots",
        "--seeds",
        *map(str, seeds),
    ]
    assert summarize.main(arguments) == 0

    summary = results / "dev_data/baseline/summarize/DCASE2024T2"
    table = pd.read_csv(summary / "DCASE2024T2_auc_pauc_seeds.csv").set_index(["System", "metric"])
    assert list(table.columns) == ["seed13711", "seed1", "seed2", "mean", "std"]
    for system, scores in official.items():
        row = table.loc[(system, "TOTAL score")]
        np.testing.assert_allclose(row[["seed13711", "seed1", "seed2"]], scores, rtol=1e-12)
        assert row["mean"] == pytest.approx(np.mean(scores), rel=1e-12)
        assert row["std"] == pytest.approx(np.std(scores, ddof=1), rel=1e-12)
    target_row = table.loc[("baseline_MSE", "AUC (target)")]
    np.testing.assert_allclose(target_row[["seed13711", "seed1", "seed2"]], target_auc_hmeans, rtol=1e-12)
    assert target_row["std"] == pytest.approx(np.std(target_auc_hmeans, ddof=1), rel=1e-12)
    for seed in seeds:  # each seed also has the public baseline's two summaries of its own folders
        assert (results / f"dev_data/baseline_seed{seed}/summarize/DCASE2024T2/DCASE2024T2_auc_pauc.csv").is_file()
    mse = official["baseline_MSE"]
    assert f"baseline_MSE {np.mean(mse):.4f} ± {np.std(mse, ddof=1):.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("machines", [["fan,valve"], ["fan", "valve"], ["valve,", "fan"]])
def test_machines_in_either_form_and_a_partial_summary_says_so_in_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, machines: list[str]
) -> None:
    results = tmp_path / "results"
    make_two_machine_run(results)
    arguments = ["DCASE2024T2", "-d", "--result_directory", str(results), "--no_plots", "--machines", *machines]
    assert summarize.main(arguments) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("official score"))
    assert "of DCASE2024T2 dev data (PARTIAL: 2 of 7 machine types, " in line


def test_a_misspelt_option_gets_the_closest_one(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        summarize.main(["DCASE2024T2", "-d", "--export_dirr", "other"])
    assert stopped.value.code == 1
    assert "unknown argument '--export_dirr' (did you mean --export_dir?)" in capsys.readouterr().err
