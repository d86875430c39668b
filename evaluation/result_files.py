"""The per-section CSV files, laid out as the public baseline writes them: scores, decisions and the result table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluation.metrics import harmonic_mean


def score_rows(names: Sequence[str], values: Sequence[float]) -> list[list[object]]:
    """``file_name,value`` rows; floats are written in full precision as Python prints them."""
    return [
        [name, value if isinstance(value, int | np.integer) else float(value)]
        for name, value in zip(names, values, strict=True)
    ]


def result_table_rows(section_ids: Sequence[str], section_figures: Sequence[dict[str, float]]) -> list[list]:
    """The result CSV: a header, one row per section, arithmetic and harmonic means, an empty line."""
    columns = list(section_figures[0])
    values = np.array(
        [[figures.get(column, np.nan) for column in columns] for figures in section_figures], dtype=np.float64
    )
    rows: list[list] = [["section", *columns]]
    rows += [[section, *map(float, row)] for section, row in zip(section_ids, values, strict=True)]
    rows.append(["arithmetic mean", *map(float, values.mean(axis=0))])
    rows.append(["harmonic mean", *map(float, harmonic_mean(values, axis=0))])
    rows.append([])
    return rows
