"""One epoch of the Anomaly Transformer through the numbered scripts (01 train, 02a MEAN, 02b MAX) on two machine
types of the tiny dataset, with anomaly_transformer.yaml and a tiny network: every result file is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from networks import registry
from tests.conftest import read_rows
from tests.test_legacy import run_stages_in_copy

MACHINES = ("fan", "valve")
TINY = [*registry.get("Anomaly-Transformer").tiny_test_flags, "--machines", ",".join(MACHINES)]


@pytest.fixture(scope="module")
def scripted_run(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("anomaly_transformer_scripts")
    run_stages_in_copy(work, tiny_data_dir, "anomaly_transformer.yaml", TINY, len(MACHINES))
    return work


@pytest.mark.parametrize("mode", ["MEAN", "MAX"])
def test_scripts_train_one_epoch_and_test_in_both_modes(scripted_run: Path, mode: str) -> None:
    result_dir = scripted_run / "results/dev_data" / f"anomaly_transformer_{mode}"
    for machine in MACHINES:
        stem = f"DCASE2024T2{machine}_section_00_test_seed13711_id(0_).csv"
        scores = read_rows(result_dir / f"anomaly_score_{stem}")
        assert len(scores) == 12 and all(float(value) >= 0.0 for _, value in scores)  # 3 clips x 4 groups
        assert (result_dir / f"decision_result_{stem}").is_file()
        table = read_rows(result_dir / f"result_DCASE2024T2{machine}_test_seed13711_id(0_)_roc.csv")
        assert table[0][:3] == ["section", "AUC (source)", "AUC (target)"]
    logs = list((scripted_run / "logs/anomaly_transformer").glob("*/log.csv"))
    assert len(logs) == 2
    assert logs[0].read_text().splitlines()[0] == "loss,reconstruction,discrepancy,learning_rate"
