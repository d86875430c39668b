"""evaluation.summary: which result CSVs make up a system's figures (the tables are tested through the command
line in tests/tools/test_summarize.py)."""

from __future__ import annotations

from pathlib import Path

from evaluation import summary
from evaluation.result_names import tag_section_ids


def test_tags_and_per_section_run_sets() -> None:
    assert tag_section_ids("id(0_)") == [0] and tag_section_ids("id(1_2_)") == [1, 2]
    assert tag_section_ids("id()") is None and tag_section_ids("mine") is None
    runs = {f"seed13711_id({n}_)": Path(f"r{n}.csv") for n in (0, 1, 2)}
    assert summary.per_section_runs(runs, ("00", "01", "02")) == \
        {"00": Path("r0.csv"), "01": Path("r1.csv"), "02": Path("r2.csv")}
    assert summary.per_section_runs(dict(list(runs.items())[:2]), ("00", "01", "02")) is None
    assert summary.per_section_runs({**runs, "seed1_id(0_)": Path("x.csv")}, ("00", "01", "02")) is None
    assert summary.per_section_runs({"seed13711_id(0_1_)": Path("a"), "seed13711": Path("b")}, ("00", "01")) \
        is None
