"""The public baseline's merged per-system ROC CSVs (its ``concat_divided_roc.py`` step of the summary).

One file per system and machine type, ``<summary folder>/<system>/<result CSV name without _id(...)>.csv``:
header ``id,<columns>``, one row per section, then ``arithmetic mean`` and ``harmonic mean`` rows. The columns
are those of AUC, pAUC, pAUC (source), pAUC (target), AUC (source), AUC (target) (in that order) present in
the machine type's result CSV(s). Values are written as Python writes a float (``repr``), comma-separated,
one line per row, as ``np.savetxt(fmt="%s")`` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.summary import SystemResults
from safe_io import atomic_write_text

MERGED_COLUMNS = ("AUC", "pAUC", "pAUC (source)", "pAUC (target)", "AUC (source)", "AUC (target)")
TAG_PATTERN = re.compile(r"_id\((.+)\)")


def merged_roc_name(result_csv: Path) -> str:
    """``result_DCASE2024T2fan_test_seed13711_id(0_)_roc.csv`` -> ``result_DCASE2024T2fan_test_seed13711_roc.csv``."""
    return TAG_PATTERN.sub("", Path(result_csv).stem) + ".csv"


def plain_harmonic_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``scipy.stats.hmean`` of non-negative values, to the last bit: one over the mean of the reciprocals.

    quirk (kept on purpose): no epsilon floor here (a zero gives a harmonic mean of zero), unlike the
    result CSVs' harmonic mean; the baseline's merge step calls hmean on the raw figures.
    """
    with np.errstate(divide="ignore"):
        return 1.0 / np.mean(1.0 / np.asarray(values, dtype=np.float64), axis=axis)


def merged_roc_rows(sections: Sequence[tuple[str, dict[str, float]]]) -> list[list[str]]:
    """The merged table of one machine type's sections, every cell as the text written."""
    columns = [column for column in MERGED_COLUMNS if all(column in figures for _, figures in sections)]
    values = np.array([[figures[column] for column in columns] for _, figures in sections], dtype=np.float64)
    rows = [["id", *columns]]
    rows += [[section, *map(repr, map(float, row))] for (section, _), row in zip(sections, values, strict=True)]
    rows.append(["arithmetic mean", *map(repr, map(float, values.mean(axis=0)))])
    rows.append(["harmonic mean", *map(repr, map(float, plain_harmonic_mean(values, axis=0)))])
    return rows


def write_merged_rocs(folder: Path, systems: Sequence[SystemResults]) -> list[Path]:
    """Write every system's merged ROC CSV of every machine type it has results of; returns their paths."""
    written = []
    for system in systems:
        for machine, sections in system.sections.items():
            if not sections:
                continue
            path = Path(folder) / system.name / merged_roc_name(system.files[machine][0])
            text = "".join(",".join(row) + "\n" for row in merged_roc_rows(sections))
            atomic_write_text(path, text)
            written.append(path)
    return written
