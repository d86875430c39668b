"""The DCASE Task 2 official score and the compact summary table of the public baseline, as pure functions.

The official evaluator (``dcase2024_task2_evaluator.py``) ranks a system by the harmonic mean of every
AUC (source), AUC (target) and pAUC of every section of every machine type, each value floored at machine
epsilon first. Its paper table ("TOTAL score") has one row per metric: the per-machine columns are the
arithmetic means over that machine type's sections, ``a-mean`` is the arithmetic mean and ``h-mean`` the
floored harmonic mean over every section of every machine type.

A section's figures are a mapping column -> value, as ``evaluation.metrics.section_metrics`` returns them
and as the rows of a result CSV hold them. Sections without target clips carry single-domain columns
(``AUC``, ``pAUC``); their official figures are AUC and pAUC, as the public baseline's summary treats them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from evaluation.metrics import harmonic_mean

SectionFigures = Mapping[str, float]

SCORED_COLUMNS_TWO_DOMAIN = ("AUC (source)", "AUC (target)", "pAUC")
SCORED_COLUMNS_ONE_DOMAIN = ("AUC", "pAUC")
AUC_COLUMNS = ("AUC (source)", "AUC (target)", "AUC")

ARITHMETIC_MEAN = "a-mean"
HARMONIC_MEAN = "h-mean"
TOTAL_SCORE = "TOTAL score"
PAUC_TWO_DOMAIN_LABEL = "pAUC (source, target)"  # the evaluator's and the public summary's row name


def is_two_domain(section: SectionFigures) -> bool:
    return "AUC (source)" in section


def scored_values(section: SectionFigures) -> list[float]:
    """The figures of one section that enter the official score."""
    columns = SCORED_COLUMNS_TWO_DOMAIN if is_two_domain(section) else SCORED_COLUMNS_ONE_DOMAIN
    return [float(section[column]) for column in columns]


def _pooled(sections: Iterable[SectionFigures], pick) -> np.ndarray:
    return np.array([value for section in sections for value in pick(section)], dtype=np.float64)


def official_score(sections: Iterable[SectionFigures]) -> float:
    """Harmonic mean of every section's AUC (source), AUC (target) and pAUC, each floored at epsilon."""
    values = _pooled(sections, scored_values)
    if values.size == 0:
        raise ValueError("no section figures to score")
    return float(harmonic_mean(values, axis=None))


def total_arithmetic_mean(sections: Iterable[SectionFigures]) -> float:
    """Arithmetic mean of the same values (the ``a-mean`` of the TOTAL score row)."""
    values = _pooled(sections, scored_values)
    if values.size == 0:
        raise ValueError("no section figures to score")
    return float(values.mean())


def total_standard_deviation(sections: Iterable[SectionFigures]) -> float:
    """Population standard deviation of the same values (the public summary's ``TOTAL_score_std``)."""
    return float(np.std(_pooled(sections, scored_values)))


def column_values(sections: Iterable[SectionFigures], column: str) -> np.ndarray:
    """One column's values over the sections that have it."""
    return np.array([section[column] for section in sections if column in section], dtype=np.float64)


def all_auc_values(sections: Iterable[SectionFigures]) -> np.ndarray:
    """Every AUC (source), AUC (target) (or single-domain AUC) of the sections: the public ``ALL_AUC``."""
    return _pooled(sections, lambda section: [section[column] for column in AUC_COLUMNS if column in section])


def table_metrics(sections: Iterable[SectionFigures]) -> list[tuple[str, str]]:
    """(row name, column) pairs of the summary table for these sections, TOTAL score excluded.

    Two-domain sections give AUC (source), AUC (target) and "pAUC (source, target)"; single-domain ones
    give AUC and pAUC, as the public baseline's ``extract_results.py`` names them.
    """
    sections = list(sections)
    present = {column for section in sections for column in section}
    two_domain = any(is_two_domain(section) for section in sections)
    rows = [(column, column) for column in AUC_COLUMNS if column in present]
    if "pAUC" in present:
        rows.append((PAUC_TWO_DOMAIN_LABEL if two_domain else "pAUC", "pAUC"))
    return rows


def summary_table(
    machine_sections: Mapping[str, Sequence[SectionFigures]], total_label: str = TOTAL_SCORE
) -> dict[str, dict[str, float]]:
    """The compact table of one system: row name -> {machine type..., "a-mean", "h-mean"} -> value.

    Machine columns hold the arithmetic mean over that machine type's sections (NaN where it lacks the
    column); ``a-mean``/``h-mean`` pool every section of every machine type. The TOTAL score row has only
    ``a-mean`` and ``h-mean``; its ``h-mean`` is the official score. ``total_label`` renames that row (used
    to mark a partial summary).
    """
    machines = list(machine_sections)
    every_section = [section for machine in machines for section in machine_sections[machine]]
    if not every_section:
        raise ValueError("no section figures to summarise")
    table: dict[str, dict[str, float]] = {}
    for row_name, column in table_metrics(every_section):
        row = {}
        for machine in machines:
            values = column_values(machine_sections[machine], column)
            row[machine] = float(values.mean()) if values.size else float("nan")
        pooled = column_values(every_section, column)
        row[ARITHMETIC_MEAN] = float(pooled.mean())
        row[HARMONIC_MEAN] = float(harmonic_mean(pooled, axis=None))
        table[row_name] = row
    total = dict.fromkeys(machines, float("nan"))
    total[ARITHMETIC_MEAN] = total_arithmetic_mean(every_section)
    total[HARMONIC_MEAN] = official_score(every_section)
    table[total_label] = total
    return table


def machine_means(sections: Sequence[SectionFigures]) -> tuple[dict[str, float], dict[str, float]]:
    """Arithmetic and floored harmonic means of every column over one machine type's sections."""
    columns = list(dict.fromkeys(column for section in sections for column in section))
    arithmetic, harmonic = {}, {}
    for column in columns:
        values = column_values(sections, column)
        arithmetic[column] = float(values.mean())
        harmonic[column] = float(harmonic_mean(values, axis=None))
    return arithmetic, harmonic
