"""One epoch of the two-stage outlier-exposure system through the legacy per-section scripts (tools/01_train_legacy.sh,
02a, 02b, then 03) on a tiny generated DCASE2022 tree (two machine types, three sections each), in a copy of the
repository: every run's section head classifies the three sections, and every run writes each section's CSVs."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from datasets.synthetic.legacy import generate_legacy_dataset
from tests.conftest import REPO_ROOT, read_rows, run_script
from tests.networks.two_stage_oe.test_end_to_end import TINY
from tests.test_legacy import TWO_DOMAIN_HEADER, assert_summary_lists, copy_repository

MACHINES = ("fan", "valve")  # each is the other's pseudo-anomalies
SECTIONS = ("00", "01", "02")
N_PER_GROUP = 2  # test clips per section, domain and normal/anomaly
MODEL_DIR = "models/saved_model/twostage_oe_demo"


def model_file(work: Path, machine: str, ids: str, suffix: str) -> Path:
    """A saved-model file of ``machine``'s run tagged ``id(<ids>_)``, e.g. ``.json`` or ``_reference.npz``."""
    return work / MODEL_DIR / f"two-stage-OE_DCASE2022T2{machine}_id({ids}_)_seed13711{suffix}"


@pytest.fixture(scope="module")
def legacy_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data_2022")
    generate_legacy_dataset(
        data,
        2022,
        "dev",
        list(MACHINES),
        n_train_source=6,
        n_train_target=2,
        n_test_per_group=N_PER_GROUP,
        duration=2.0,
        seed=5,
        workers=1,
    )
    work = tmp_path_factory.mktemp("two_stage_oe_2022")
    copy_repository(work)
    shutil.copy2(REPO_ROOT / "configs" / "two_stage_oe_demo.yaml", work / "two_stage_oe_demo.yaml")
    (work / "data").symlink_to(data)
    for script in ("tools/01_train_legacy.sh", "tools/02a_test_legacy.sh", "tools/02b_test_legacy.sh"):
        result = run_script(script, "DCASE2022T2", "-d", *TINY, cwd=work, env={"PYTHONPATH": str(work)})
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "finished for all 6 runs (one per section of 2 machine type(s))" in result.stdout
    return work


def test_every_section_run_classifies_the_machine_types_sections(legacy_runs: Path) -> None:
    for machine in MACHINES:
        for section in SECTIONS:
            info_path = model_file(legacy_runs, machine, str(int(section)), ".json")
            assert json.loads(info_path.read_text())["shape"]["classes"] == list(SECTIONS)


def test_the_feature_extractor_is_trained_once_per_machine_type_and_shared_by_its_section_runs(
    legacy_runs: Path,
) -> None:
    for machine in MACHINES:
        shared = model_file(legacy_runs, machine, "all", ".pth")
        infos = [
            json.loads(model_file(legacy_runs, machine, str(int(section)), ".json").read_text()) for section in SECTIONS
        ]
        assert {Path(info["weights"]).name for info in infos} == {shared.name}
        assert {info["weights_sha256"] for info in infos} == {hashlib.sha256(shared.read_bytes()).hexdigest()}
        logs = [
            (
                legacy_runs
                / "logs/stages/DCASE2022T2_dev/twostage_oe_demo"
                / f"train_DCASE2022T2{machine}_id({int(section)}_).log"
            ).read_text()
            for section in SECTIONS
        ]
        assert "reused for" not in logs[0] and all("is trained: reused for" in log for log in logs[1:])
        # stage 2 is fitted by the first section run and reused by the others: the same arrays in every run
        assert "is fitted: reused from" not in logs[0] and all("is fitted: reused from" in log for log in logs[1:])
        with np.load(model_file(legacy_runs, machine, "all", "_reference.npz")) as stored:
            assert {f"calibration__{mode}" for mode in ("GMM", "KNN", "LOF", "ENSEMBLE")} <= set(stored.files)
            for section in SECTIONS:
                with np.load(model_file(legacy_runs, machine, str(int(section)), "_reference.npz")) as reference:
                    for name in reference.files:
                        np.testing.assert_array_equal(reference[name], stored[name])
                    # stage 2 holds every section's training crops, a detector per section
                    assert sorted(set(reference["crop_section"].astype(str))) == list(SECTIONS)


def test_each_run_writes_every_sections_scores_and_their_aucs(legacy_runs: Path) -> None:
    for mode in ("GMM", "KNN"):
        result_dir = legacy_runs / "results/dev_data" / f"twostage_oe_demo_{mode}"
        for machine in MACHINES:
            test_dir = legacy_runs / "data/dcase2022t2/dev_data/raw" / machine / "test"
            for run in SECTIONS:
                tag = f"id({int(run)}_)"
                table = read_rows(result_dir / f"result_DCASE2022T2{machine}_test_seed13711_{tag}_roc.csv")
                assert table[0] == TWO_DOMAIN_HEADER and [row[0] for row in table[1:4]] == list(SECTIONS)
                for row, section in zip(table[1:4], SECTIONS, strict=True):
                    stem = f"DCASE2022T2{machine}_section_{section}_test_seed13711_{tag}"
                    scores = read_rows(result_dir / f"anomaly_score_{stem}.csv")
                    decisions = read_rows(result_dir / f"decision_result_{stem}.csv")
                    expected = sorted(p.name for p in test_dir.glob(f"section_{section}_*.wav"))
                    assert sorted(name for name, _ in scores) == expected and len(expected) == 4 * N_PER_GROUP
                    assert {value for _, value in decisions} <= {"0", "1"}
                    # AUC (source): the source normal clips against every anomaly clip of the section
                    used = [(name, float(value)) for name, value in scores if "_source_" in name or "_anomaly_" in name]
                    labels = ["_anomaly_" in name for name, _ in used]
                    assert float(row[1]) == pytest.approx(roc_auc_score(labels, [v for _, v in used]))


def test_summary_lists_both_detectors(legacy_runs: Path) -> None:
    assert_summary_lists(legacy_runs, "DCASE2022T2", ["twostage_oe_demo_GMM", "twostage_oe_demo_KNN"])
