"""One epoch of the two-stage outlier-exposure system through the numbered scripts (01, 02a, 02b, 03) on the tiny
synthetic set (two machine types trained, all seven as data), with two_stage_oe_demo.yaml made smaller still by
flags, in a copy of the repository."""

from __future__ import annotations

from pathlib import Path

from networks import registry
from tests.conftest import read_rows
from tests.test_legacy import assert_summary_lists, run_stages_in_copy

MACHINES = ("fan", "valve")  # two of the seven: the other five still give the outlier exposure

TINY = [*registry.get("two-stage-OE").tiny_test_flags, "--num_workers", "1", "--machines", ",".join(MACHINES)]


def test_one_epoch_through_the_scripts_writes_both_score_modes_results(tiny_data_dir: Path, tmp_path: Path) -> None:
    run_stages_in_copy(tmp_path, tiny_data_dir, "two_stage_oe_demo.yaml", TINY, len(MACHINES))
    for mode in ("GMM", "KNN"):
        result_dir = tmp_path / "results/dev_data" / f"twostage_oe_demo_{mode}"
        for machine in MACHINES:
            stem = f"DCASE2024T2{machine}_section_00_test_seed13711_id(0_)"
            scores = read_rows(result_dir / f"anomaly_score_{stem}.csv")
            assert len(scores) == 12 and all(len(row) == 2 and float(row[1]) == float(row[1]) for row in scores)
            assert (result_dir / f"result_DCASE2024T2{machine}_test_seed13711_id(0_)_roc.csv").is_file()
    assert_summary_lists(tmp_path, "DCASE2024T2", ["twostage_oe_demo_GMM", "twostage_oe_demo_KNN"])
