"""SCAC-MultiRes in a multi-section year (a tiny generated DCASE2022 tree, two machine types, three sections each),
run section by section as the legacy scripts run it: ASDKit trains one model on every section of every machine
type and pools a machine type's sections in its back-end, so every section run must use the same weights and its
machine type's reference of all sections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.synthetic.legacy import generate_legacy_dataset
from tests.conftest import read_rows, run_train
from tests.networks.scac_multires.test_model import TINY

MACHINES = ("fan", "valve")
SECTIONS = ("00", "01", "02")
N_SOURCE, N_TARGET = 4, 2  # training clips per section
MODEL_DIR = "models/saved_model/tiny"


@pytest.fixture(scope="module")
def section_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = tmp_path_factory.mktemp("data_2022")
    generate_legacy_dataset(
        data, 2022, "dev", list(MACHINES), n_train_source=N_SOURCE, n_train_target=N_TARGET,
        n_test_per_group=2, duration=2.0, seed=3, workers=1,
    )  # fmt: skip
    work = tmp_path_factory.mktemp("scac_2022")
    logs = {}
    for machine in MACHINES:
        for section in SECTIONS:
            ids = str(int(section))
            args = ["--dataset", f"DCASE2022T2{machine}", "--dataset_directory", str(data), "--epochs", "1"]
            logs[machine, section] = run_train(work, *TINY, *args, "--use_ids", ids, "-tag", f"id({ids}_)").stdout
    return {"work": work, "data": data, "logs": logs}


def test_one_family_model_of_every_section_is_trained_once(section_runs: dict) -> None:
    model_dir = section_runs["work"] / MODEL_DIR
    assert [path.name for path in model_dir.glob("SCAC-MultiRes_DCASE2022T2_*.pth")] == [
        "SCAC-MultiRes_DCASE2022T2_id(all_)_seed13711.pth"
    ]
    info = json.loads((model_dir / "SCAC-MultiRes_DCASE2022T2_id(all_)_seed13711.json").read_text())
    assert info["shape"]["n_clips"] == len(MACHINES) * len(SECTIONS) * (N_SOURCE + N_TARGET)
    classes = info["shape"]["classes"]
    assert {(name.split("---")[0], name.split("---")[1]) for name in classes} == {
        (machine, str(int(section))) for machine in MACHINES for section in SECTIONS
    }
    reused = [key for key, log in section_runs["logs"].items() if "is trained: reused" in log]
    assert len(reused) == len(MACHINES) * len(SECTIONS) - 1


@pytest.mark.parametrize("machine", MACHINES)
def test_every_section_run_scores_with_its_machine_types_pooled_reference(section_runs: dict, machine: str) -> None:
    model_dir = section_runs["work"] / MODEL_DIR
    references = []
    for section in SECTIONS:
        name = f"SCAC-MultiRes_DCASE2022T2{machine}_id({int(section)}_)_seed13711_reference.npz"
        with np.load(model_dir / name) as stored:
            references.append({key: stored[key] for key in stored.files})
    pooled = references[0]
    assert pooled["KNN__knn_source"].shape[0] == len(SECTIONS) * N_SOURCE
    assert pooled["KNN__knn_target"].shape[0] == len(SECTIONS) * N_TARGET
    np.testing.assert_allclose(np.linalg.norm(pooled["KNN__knn_source"], axis=1), 1.0, rtol=1e-5)
    for other in references[1:]:
        assert other.keys() == pooled.keys()
        for key in pooled:
            np.testing.assert_array_equal(other[key], pooled[key])
    for section in SECTIONS:
        result = section_runs["work"] / "results/dev_data/tiny_SMOTE"
        rows = read_rows(
            result / f"anomaly_score_DCASE2022T2{machine}_section_{section}_test_seed13711_id({int(section)}_).csv"
        )
        test_dir = section_runs["data"] / "dcase2022t2/dev_data/raw" / machine / "test"
        assert sorted(row[0] for row in rows) == sorted(p.name for p in test_dir.glob(f"section_{section}_*.wav"))
