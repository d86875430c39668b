"""One epoch of the Anomaly Transformer through the numbered scripts (01 train, 02a MEAN, 02b MAX) on two machine
types of the tiny dataset, with anomaly_transformer.yaml and a tiny network: every result file is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, read_rows, run_script
from tests.test_legacy import copy_repository

MACHINES = ("fan", "valve")
TINY = ["--config", "anomaly_transformer.yaml", "--epochs", "1", "--batch_size", "8", "--n_mels", "32",
        "--at_window", "32", "--at_train_stride", "16", "--at_d_model", "16", "--at_heads", "2", "--at_layers", "2",
        "--at_d_ff", "16", "--num_workers", "1", "--machines", ",".join(MACHINES)]


@pytest.fixture(scope="module")
def scripted_run(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("anomaly_transformer_scripts")
    copy_repository(work)
    for item in ["anomaly_transformer.yaml", "01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"]:
        shutil.copy2(REPO_ROOT / item, work / item)
    (work / "data").symlink_to(tiny_data_dir)
    for script in ("01_train_2024t2.sh", "02a_test_2024t2.sh", "02b_test_2024t2.sh"):
        result = run_script(script, "-d", *TINY, cwd=work, env={"PYTHONPATH": str(work)})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert f"finished for all {len(MACHINES)} machine types" in result.stdout
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
