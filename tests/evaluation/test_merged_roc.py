"""The merged per-system ROC CSVs of the summary, against an independent rendering with numpy's savetxt and
scipy's hmean (as the public baseline writes them)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from scipy import stats

from evaluation.merged_roc import merged_roc_name, plain_harmonic_mean
from tests.tools.test_summarize import make_two_machine_run
from tools import summarize

ORDER = ("AUC", "pAUC", "pAUC (source)", "pAUC (target)", "AUC (source)", "AUC (target)")


def expected_text(result_csv: Path) -> str:
    """Read a per-run result CSV as the baseline's merge step reads it, and write what it writes."""
    with open(result_csv) as stream:
        rows = [row for row in csv.DictReader(stream) if row["section"] not in ("arithmetic mean", "harmonic mean")]
    columns = [column for column in ORDER if column in rows[0]]
    table = [[float(row[column]) for row in rows] for column in columns]  # one list per column
    lines = [["id", *columns]] + [[row["section"], *(values[i] for values in table)] for i, row in enumerate(rows)]
    lines.append(["arithmetic mean", *np.mean(table, axis=1).tolist()])
    lines.append(["harmonic mean", *stats.hmean(table, axis=1).tolist()])
    out = io.BytesIO()
    np.savetxt(out, lines, fmt="%s", delimiter=",")
    return out.getvalue().decode()


def test_summary_writes_each_systems_merged_roc_csvs(tmp_path: Path) -> None:
    results = tmp_path / "results"
    files = make_two_machine_run(results)
    assert (
        summarize.main(
            ["DCASE2024T2", "-d", "--result_directory", str(results), "--machines", "fan", "valve", "--no_plots"]
        )
        == 0
    )
    folder = results / "dev_data" / "baseline" / "summarize" / "DCASE2024T2"
    for system, machine_files in files.items():
        for machine, result_csv in machine_files.items():
            merged = folder / system / f"result_DCASE2024T2{machine}_test_seed13711_roc.csv"
            assert merged.read_text() == expected_text(result_csv)
            assert merged.read_text().splitlines()[0] == "id,pAUC,pAUC (source),pAUC (target),AUC (source),AUC (target)"


def test_merged_name_drops_the_section_tag() -> None:
    assert (
        merged_roc_name(Path("x/result_DCASE2024T2fan_test_seed13711_id(0_)_roc.csv"))
        == "result_DCASE2024T2fan_test_seed13711_roc.csv"
    )
    assert (
        merged_roc_name(Path("result_DCASE2024T2fan_test_seed1_Eval_roc.csv"))
        == "result_DCASE2024T2fan_test_seed1_Eval_roc.csv"
    )


def test_plain_harmonic_mean_is_scipys_without_a_floor() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        values = rng.uniform(0.2, 1.0, size=(3, 7))
        assert np.array_equal(plain_harmonic_mean(values, axis=1), stats.hmean(values, axis=1))
    assert plain_harmonic_mean(np.array([[0.0, 0.5]]), axis=1)[0] == 0.0 == stats.hmean([0.0, 0.5])
