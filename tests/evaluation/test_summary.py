"""evaluation.summary: which result CSVs make up a system's figures (the tables are tested through the command
line in tests/tools/test_summarize.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasets.registry import resolve_dataset
from evaluation import summary
from evaluation.metrics import TWO_DOMAIN_COLUMNS
from evaluation.result_files import result_table_rows
from evaluation.result_names import tag_section_ids
from safe_io import write_csv


def test_tags_and_per_section_run_sets() -> None:
    assert tag_section_ids("id(0_)") == [0] and tag_section_ids("id(1_2_)") == [1, 2]
    assert tag_section_ids("id()") is None and tag_section_ids("mine") is None
    runs = {f"seed13711_id({n}_)": Path(f"r{n}.csv") for n in (0, 1, 2)}
    assert summary.per_section_runs(runs, ("00", "01", "02")) == {
        "00": Path("r0.csv"),
        "01": Path("r1.csv"),
        "02": Path("r2.csv"),
    }
    assert summary.per_section_runs(dict(list(runs.items())[:2]), ("00", "01", "02")) is None
    assert summary.per_section_runs({**runs, "seed1_id(0_)": Path("x.csv")}, ("00", "01", "02")) is None
    assert summary.per_section_runs({"seed13711_id(0_1_)": Path("a"), "seed13711": Path("b")}, ("00", "01")) is None


def test_collect_system_reads_the_result_csvs_by_the_machine_types_given(tmp_path: Path) -> None:
    folder = tmp_path / "baseline_MSE"
    sections = {"00": section_figures(1.0), "01": section_figures(2.0)}
    write_csv(
        folder / "result_DCASE2024T2valve_test_seed1_roc.csv",
        result_table_rows(list(sections), list(sections.values())),
    )
    write_csv(
        folder / "result_DCASE2024T2valve_test_seed1_Eval_roc.csv",  # an eval run: not read in dev mode
        result_table_rows(["00"], [section_figures(9.0)]),
    )
    machines = [resolve_dataset(f"DCASE2024T2{machine}", "dev") for machine in ("fan", "valve")]
    system = summary.collect_system(folder, machines, is_eval=False)
    assert (system.name, system.missing, list(system.sections)) == ("baseline_MSE", ["fan"], ["valve"])
    assert system.files["valve"] == (folder / "result_DCASE2024T2valve_test_seed1_roc.csv",)
    assert system.sections["valve"] == [("00", sections["00"]), ("01", sections["01"])]
    assert not system.complete

    paths = summary.SummaryPaths(tmp_path / "summary", "DCASE2024T2")
    compact = summary.write_summaries(paths, [system], ["fan", "valve"], "dev", plots=False)
    assert paths.wide_csv.is_file() and paths.compact_csv.is_file() and not paths.compact_png.exists()
    assert paths.compact_csv.read_text() == compact.to_csv()
    assert compact.loc[("baseline_MSE", "AUC (source)"), "valve"] == pytest.approx((0.6 + 0.7) / 2)  # section mean
    assert summary.official_scores([system]).endswith("(PARTIAL)")


def section_figures(scale: float) -> dict[str, float]:
    """A two-domain result row whose every figure is 0.5 + scale / 10."""
    return {column: 0.5 + scale / 10 for column in TWO_DOMAIN_COLUMNS}
