"""DCASE2020, 2021 and 2022 Task 2 end to end on generated legacy-shaped trees: one model per section (machine
id) trained and tested with both scores, result CSV shapes, 2021's split test folders, the evaluation labels
list turning eval test clips into a scored test_rename set, the legacy scripts and the summary."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from datasets import eval_labels
from datasets.registry import resolve_dataset
from datasets.synthetic.legacy import generate_legacy_dataset, label_list_path
from tests.conftest import REPO_ROOT, copy_repository, read_rows, run_script, run_train
from tests.datasets.test_eval_labels import StaticServer
from tools import summarize

FLAGS = ("--epochs", "1", "--batch_size", "64", "--num_workers", "1")
MACHINE = {2020: "ToyConveyor", 2021: "fan", 2022: "valve"}
SINGLE_DOMAIN_HEADER = ["section", "AUC", "pAUC", "precision", "recall", "F1 score"]
TWO_DOMAIN_HEADER = [
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
N_PER_GROUP = 3


def sections_of(year: int, split: str = "dev") -> tuple[str, ...]:
    return resolve_dataset(f"DCASE{year}T2{MACHINE[year]}", split).sections


def tag(section: str) -> str:
    return f"id({int(section)}_)"


@pytest.fixture(scope="module")
def legacy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("legacy_data")
    sizes = {
        "n_train_source": 8,
        "n_train_target": 2,
        "n_test_per_group": N_PER_GROUP,
        "duration": 2.0,
        "seed": 3,
        "workers": 1,
    }
    for year, machine in MACHINE.items():
        generate_legacy_dataset(root, year, "dev", [machine], **sizes)
    generate_legacy_dataset(root, 2021, "eval", ["fan"], **sizes)
    return root


def models_of(year: int) -> tuple[str, ...]:
    """Sections whose model the workflow trains: all of them, but only the first for 2022 (time)."""
    return sections_of(year)[:1] if year == 2022 else sections_of(year)


def run_stages_in_copy(work: Path, data_dir: Path, config: str, flags: list[str], n_machines: int) -> None:
    """Copy the repository into ``work`` (``config``: a yaml of its configs/), link ``data_dir`` as its data and
    run 01, 02a and 02b of DCASE2024 with ``flags``: each must succeed for all ``n_machines`` machine types."""
    copy_repository(work)
    assert (work / "configs" / config).is_file(), config
    for item in ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"):
        shutil.copy2(REPO_ROOT / item, work / item)
    (work / "data").symlink_to(data_dir)
    for script in ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"):
        result = run_script(script, "-d", *flags, cwd=work, env={"PYTHONPATH": str(work)})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert f"finished for all {n_machines} machine types" in result.stdout


def assert_summary_lists(work: Path, family: str, systems: list[str]) -> None:
    """03_summarize_results.sh, run in the repository copy ``work``, succeeds and names every one of ``systems``."""
    summary = run_script(
        "03_summarize_results.sh", family, "-d", "--systems", *systems, cwd=work, env={"PYTHONPATH": str(work)}
    )
    assert summary.returncode == 0, summary.stdout[-2000:] + summary.stderr[-2000:]
    for system in systems:
        assert system in summary.stdout, system


@pytest.fixture(scope="module")
def dev_runs(legacy_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository where, per year, one model per section is trained and tested (train.py
    in-process) with both scores, except 2020's MSE test, which tools/02a_test_legacy.sh runs."""
    work = tmp_path_factory.mktemp("legacy_runs")
    copy_repository(work)
    (work / "data").symlink_to(legacy_data)
    for year, machine in MACHINE.items():
        for section in models_of(year):
            common = (
                "--dataset",
                f"DCASE{year}T2{machine}",
                "-d",
                "--dataset_directory",
                str(legacy_data),
                "-tag",
                tag(section),
                "--use_ids",
                str(int(section)),
                *FLAGS,
            )
            run_train(work, *common, "--train_only")
            for score in ("MAHALA",) if year == 2020 else ("MSE", "MAHALA"):
                run_train(work, *common, "--test_only", "--score", score)
    result = run_script(
        "tools/02a_test_legacy.sh",
        "DCASE2020T2",
        "-d",
        "--machines",
        "ToyConveyor",
        *FLAGS,
        cwd=work,
        env={"PYTHONPATH": str(work)},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "finished for all 3 runs (one per section of 1 machine type(s)) of DCASE2020T2 (dev)" in result.stdout
    return work


# ---------------------------------------------------------------------------------------------------------
# Generated trees


def test_generated_trees_have_each_years_layout(legacy_data: Path) -> None:
    dev = {year: legacy_data / f"dcase{year}t2" / "dev_data" / "raw" / machine for year, machine in MACHINE.items()}
    assert sorted(path.name for path in dev[2020].iterdir() if not path.name.startswith(".")) == ["test", "train"]
    train_2020 = sorted(path.name for path in (dev[2020] / "train").iterdir())
    assert len(train_2020) == 3 * 8 and train_2020[0] == "normal_id_01_00000000.wav"
    assert {name[:13] for name in train_2020} == {"normal_id_01_", "normal_id_02_", "normal_id_03_"}
    assert sorted(path.name for path in (dev[2020] / "test").iterdir())[0] == "anomaly_id_01_00000000.wav"
    # 2021: split test folders (test/ appears once the data are used), no attributes in names
    assert {"source_test", "target_test", "train"} <= {path.name for path in dev[2021].iterdir()}
    assert (
        sorted(path.name for path in (dev[2021] / "target_test").iterdir())[0]
        == "section_00_target_test_anomaly_0000.wav"
    )
    assert len(list((dev[2021] / "train").glob("section_02_target_train_normal_*.wav"))) == 2
    names_2022 = sorted(path.name for path in (dev[2022] / "test").iterdir())
    assert len(names_2022) == 3 * 4 * N_PER_GROUP and names_2022[0].startswith("section_00_source_test_anomaly_0000_")
    evaluation = legacy_data / "dcase2021t2" / "eval_data" / "raw" / "fan"
    assert sorted(path.name for path in (evaluation / "source_test").iterdir())[:2] == [
        "section_03_source_test_0000.wav",
        "section_03_source_test_0001.wav",
    ]


def test_generated_label_list_is_in_the_published_format(legacy_data: Path) -> None:
    text = label_list_path(legacy_data, 2021).read_text()
    lines = text.splitlines()
    assert lines[0] == "fan" and lines[1] == f"section_03_source_test_0000.wav,{lines[1].split(',')[1]}"
    entries = eval_labels.parse_label_list(text)["fan"]
    assert len(entries) == 3 * 4 * N_PER_GROUP
    # the labelled name keeps the anonymous name's section, domain and number
    for entry in entries:
        _, section, domain, _, number = entry.anonymous.removesuffix(".wav").split("_")
        assert entry.labelled.startswith(f"section_{section}_{domain}_test_")
        assert entry.labelled.endswith(f"_{number}.wav")


# ---------------------------------------------------------------------------------------------------------
# Training and testing, dev mode


@pytest.mark.parametrize("score", ["MSE", "MAHALA"])
@pytest.mark.parametrize("year", sorted(MACHINE))
def test_every_section_model_scores_every_section(dev_runs: Path, year: int, score: str) -> None:
    folder = dev_runs / "results" / "dev_data" / f"baseline_{score}"
    dataset = f"DCASE{year}T2{MACHINE[year]}"
    for model_section in models_of(year):
        suffix = f"seed13711_{tag(model_section)}"
        header, *rows = read_rows(folder / f"result_{dataset}_test_{suffix}_roc.csv")
        assert header == (SINGLE_DOMAIN_HEADER if year == 2020 else TWO_DOMAIN_HEADER)
        assert rows[-1] == []  # the public baseline's trailing empty line
        rows = rows[:-1]
        assert [row[0] for row in rows] == [*sections_of(year), "arithmetic mean", "harmonic mean"]
        assert all(len(row) == len(header) for row in rows)
        for section in sections_of(year):
            assert (folder / f"anomaly_score_{dataset}_section_{section}_test_{suffix}.csv").is_file()
            assert (folder / f"decision_result_{dataset}_section_{section}_test_{suffix}.csv").is_file()
    models = dev_runs / "models" / "saved_model" / "baseline"
    assert sorted(path.name for path in models.glob(f"*_{dataset}_id(*_)_seed13711.pth")) == [
        f"DCASE2023T2-AE_{dataset}_{tag(section)}_seed13711.pth" for section in models_of(year)
    ]


def test_2020_scores_are_single_domain_and_match_an_independent_auc(dev_runs: Path, legacy_data: Path) -> None:
    folder = dev_runs / "results" / "dev_data" / "baseline_MSE"
    test_dir = legacy_data / "dcase2020t2" / "dev_data" / "raw" / "ToyConveyor" / "test"
    header, *rows = read_rows(folder / "result_DCASE2020T2ToyConveyor_test_seed13711_id(2_)_roc.csv")
    by_section = {row[0]: dict(zip(header[1:], map(float, row[1:]), strict=True)) for row in rows if row}
    for section in sections_of(2020):
        score_rows = read_rows(
            folder / f"anomaly_score_DCASE2020T2ToyConveyor_section_{section}_test_seed13711_id(2_).csv"
        )
        names = [name for name, _ in score_rows]
        normals = sorted(path.name for path in test_dir.glob(f"normal_id_{section}_*.wav"))
        anomalies = sorted(path.name for path in test_dir.glob(f"anomaly_id_{section}_*.wav"))
        assert names == normals + anomalies
        labels = [0] * len(normals) + [1] * len(anomalies)
        expected = roc_auc_score(labels, [float(value) for _, value in score_rows])
        assert by_section[section]["AUC"] == pytest.approx(expected)


def test_2021_split_test_folders_are_scored_together(dev_runs: Path, legacy_data: Path) -> None:
    machine_dir = legacy_data / "dcase2021t2" / "dev_data" / "raw" / "fan"
    split_names = sorted(
        path.name for folder in ("source_test", "target_test") for path in (machine_dir / folder).iterdir()
    )
    assert sorted(path.name for path in (machine_dir / "test").iterdir()) == split_names
    folder = dev_runs / "results" / "dev_data" / "baseline_MAHALA"
    for section in sections_of(2021):
        names = [
            row[0]
            for row in read_rows(folder / f"anomaly_score_DCASE2021T2fan_section_{section}_test_seed13711_id(0_).csv")
        ]
        in_section = [name for name in split_names if name.startswith(f"section_{section}_")]
        assert names == sorted(n for n in in_section if "_normal_" in n) + sorted(
            n for n in in_section if "_anomaly_" in n
        )
        assert sum("_target_" in name for name in names) == 2 * N_PER_GROUP


# ---------------------------------------------------------------------------------------------------------
# Summary: section n's figures come from the model trained on section n


@pytest.mark.parametrize("year", [2020, 2021])
def test_summary_takes_each_sections_own_model(dev_runs: Path, year: int) -> None:
    family, machine = f"DCASE{year}T2", MACHINE[year]
    results = dev_runs / "results"
    assert summarize.main([family, "-d", "--result_directory", str(results), "--machines", machine, "--no_plots"]) == 0
    summary_dir = results / "dev_data" / "baseline" / "summarize" / family
    compact = pd.read_csv(summary_dir / f"{family}_auc_pauc_extract.csv", index_col=[0, 1])
    columns = ["AUC", "pAUC"] if year == 2020 else ["AUC (source)", "AUC (target)", "pAUC"]
    for system in ("baseline_MSE", "baseline_MAHALA"):
        diagonal = {column: [] for column in columns}
        for section in sections_of(year):
            header, *rows = read_rows(
                results / "dev_data" / system / f"result_{family}{machine}_test_seed13711_{tag(section)}_roc.csv"
            )
            row = next(row for row in rows if row and row[0] == section)
            for column in columns:
                diagonal[column].append(float(row[header.index(column)]))
        metric_row = {"pAUC": "pAUC" if year == 2020 else "pAUC (source, target)"}
        for column in columns:
            assert compact.loc[(system, metric_row.get(column, column)), machine] == pytest.approx(
                np.mean(diagonal[column])
            )
        pooled = np.concatenate([diagonal[column] for column in columns])
        official = len(pooled) / np.sum(1 / np.maximum(pooled, np.finfo(float).eps))
        assert compact.loc[(system, "TOTAL score"), "h-mean"] == pytest.approx(official)


# ---------------------------------------------------------------------------------------------------------
# Evaluation set: labels list fetched, test_rename built, scored like dev data


def test_eval_set_is_labelled_from_the_fetched_list_and_scored(
    legacy_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine_dir = legacy_data / "dcase2021t2" / "eval_data" / "raw" / "fan"
    listing = label_list_path(legacy_data, 2021).read_bytes()
    with StaticServer({"/eval_data_list_2021.csv": listing}) as server:
        monkeypatch.setenv(eval_labels.LABELS_BASE_URL_ENV, server.url)
        assert eval_labels.main(["DCASE2021T2", "--dataset_directory", str(legacy_data)]) == 0
        assert server.requests == ["/eval_data_list_2021.csv"]
    entries = eval_labels.parse_label_list(listing.decode())["fan"]
    renamed = machine_dir / "test_rename"
    assert sorted(path.name for path in renamed.iterdir()) == sorted(entry.labelled for entry in entries)
    for entry in entries:
        domain = "target" if "_target_" in entry.anonymous else "source"
        assert (renamed / entry.labelled).read_bytes() == (
            machine_dir / f"{domain}_test" / entry.anonymous
        ).read_bytes()
    for section in sections_of(2021, "eval"):
        for group in ("source_test_normal", "source_test_anomaly", "target_test_normal", "target_test_anomaly"):
            assert len(list(renamed.glob(f"section_{section}_{group}_*.wav"))) == N_PER_GROUP

    common = (
        "--dataset",
        "DCASE2021T2fan",
        "-e",
        "--dataset_directory",
        str(legacy_data),
        "-tag",
        "id(3_)",
        "--use_ids",
        "3",
        *FLAGS,
    )
    run_train(tmp_path, *common, "--train_only")
    run_train(tmp_path, *common, "--test_only", "--score", "MSE")
    folder = tmp_path / "results" / "eval_data" / "baseline_MSE"
    header, *rows = read_rows(folder / "result_DCASE2021T2fan_test_seed13711_id(3_)_Eval_roc.csv")
    assert header == TWO_DOMAIN_HEADER and [row[0] for row in rows if row][:3] == ["03", "04", "05"]
    names = [
        row[0] for row in read_rows(folder / "anomaly_score_DCASE2021T2fan_section_04_test_seed13711_id(3_)_Eval.csv")
    ]
    assert names[0].startswith("section_04_") and "_normal_" in names[0] and "_anomaly_" in names[-1]


# ---------------------------------------------------------------------------------------------------------
# The scripts


def test_legacy_scripts_check_their_arguments() -> None:
    result = run_script("tools/01_train_legacy.sh", "DCASE2019T2", "-d")
    assert result.returncode == 1 and "dataset: invalid choice 'DCASE2019T2'" in result.stderr
    assert "'DCASE2020T2' | 'DCASE2021T2' | 'DCASE2022T2'" in result.stderr
    result = run_script("tools/02b_test_legacy.sh", "2021", "--develop")
    assert result.returncode == 1 and "invalid choice '--develop'" in result.stderr


def test_legacy_test_script_and_summary_script_for_2020(dev_runs: Path) -> None:
    logs = sorted(path.name for path in (dev_runs / "logs" / "stages" / "DCASE2020T2_dev" / "baseline").iterdir())
    assert logs == [f"test-first_DCASE2020T2ToyConveyor_id({n}_).log" for n in (1, 2, 3)]
    results = dev_runs / "results" / "dev_data" / "baseline_MSE"
    assert sorted(path.name for path in results.glob("result_DCASE2020T2*.csv")) == [
        f"result_DCASE2020T2ToyConveyor_test_seed13711_id({n}_)_roc.csv" for n in (1, 2, 3)
    ]

    result = run_script(
        "03_summarize_results.sh",
        "DCASE2020T2",
        "-d",
        "--machines",
        "ToyConveyor",
        "--no_plots",
        cwd=dev_runs,
        env={"PYTHONPATH": str(dev_runs)},
    )
    assert result.returncode == 0, result.stderr
    summary = dev_runs / "results/dev_data/baseline/summarize/DCASE2020T2/DCASE2020T2_auc_pauc_extract.csv"
    compact = pd.read_csv(summary, index_col=[0, 1])
    assert list(compact.loc["baseline_MSE"].index) == ["AUC", "pAUC", "TOTAL score"]
    assert (
        "official score (TOTAL score h-mean) of DCASE2020T2 dev data (PARTIAL: 1 of 6 machine types, ToyConveyor): "
        "baseline_MAHALA"
    ) in result.stdout
