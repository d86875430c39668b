"""The public baseline's two summary tables of several systems' test results, and the files they are written to.

A system is a result folder ``<result_directory>/<dev|eval>_data/<export_dir>_<score>`` (e.g.
``baseline_MAHALA``); the command line is ``python -m tools.summarize`` (``03_summarize_results.sh``). Written
under ``<result_directory>/<dev|eval>_data/<first export_dir>/summarize/<DATASET>/``:

- ``<DATASET>_auc_pauc.csv``: one row per system, every figure of every section of every machine type in
  the public baseline's column naming (``<machine>_<dev|eval>_<section>_<figure>_ave``, ``..._std``,
  ``..._hmean``, ``<machine>_<dev|eval>_arithmetic mean_<figure>``, ``..._harmonic mean_<figure>``,
  ``ALL_<figure>_ave|std|hmean``, ``ALL_AUC_*``, ``TOTAL_score_ave|std|hmean``);
- ``<DATASET>_auc_pauc_extract.csv``: the compact table, rows (System, metric) = AUC (source),
  AUC (target), pAUC (source, target), TOTAL score; columns h-mean, a-mean and the machine types, as the
  public ``extract_results.py`` and the official evaluator's paper table write it. The TOTAL score h-mean
  is the official score. It is also drawn as ``<DATASET>_auc_pauc_extract.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from errors import DataError
from evaluation.metrics import harmonic_mean
from evaluation.official_score import (
    ARITHMETIC_MEAN,
    HARMONIC_MEAN,
    TOTAL_SCORE,
    all_auc_values,
    column_values,
    machine_means,
    official_score,
    summary_table,
    total_arithmetic_mean,
    total_standard_deviation,
)
from evaluation.result_names import parse_suffix, tag_section_ids
from evaluation.run_results import ANY_RUN, MachineDataset, RunFilter, choose_run, find_result_csvs, read_result_csv
from safe_io import atomic_write_text

SUMMARY_DIR_NAME = "summarize"
COMPACT_LEADING_COLUMNS = (HARMONIC_MEAN, ARITHMETIC_MEAN)  # the public extract's column order
METRIC_ORDER = (
    "AUC (source)",
    "AUC (target)",
    "pAUC (source, target)",
    "pAUC (source)",
    "pAUC (target)",
    "AUC",
    "pAUC",
    TOTAL_SCORE,
)


@dataclass
class SystemResults:
    """One system's per-section figures, machine type by machine type (registry order)."""

    name: str
    folder: Path
    sections: dict[str, list[tuple[str, dict[str, float]]]] = field(default_factory=dict)
    files: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # the result CSV(s) of each machine type
    missing: list[str] = field(default_factory=list)

    def figures(self, machine: str) -> list[dict[str, float]]:
        return [figures for _, figures in self.sections[machine]]

    def every_section(self) -> list[dict[str, float]]:
        return [figures for machine in self.sections for figures in self.figures(machine)]

    @property
    def complete(self) -> bool:
        return not self.missing


def per_section_runs(runs: dict[str, Path], sections: Sequence[str]) -> dict[str, Path] | None:
    """Section -> result CSV of the run trained on that section alone, when ``runs`` is such a set.

    The legacy scripts train one model per section (tags ``id(0_)``, ``id(1_)``, ...) and each model scores
    every section; like the public ``concat_divided_roc.py``, the summary takes section n's figures from the
    model trained on section n. None when ``runs`` is not one single-section run per section.
    """
    by_id: dict[int, Path] = {}
    for text, path in runs.items():
        suffix = parse_suffix(text)
        ids = tag_section_ids(suffix.tag) if suffix else None
        if ids is None or len(ids) != 1 or ids[0] in by_id:
            return None
        by_id[ids[0]] = path
    if sorted(by_id) != sorted(int(section) for section in sections):
        return None
    return {section: by_id[int(section)] for section in sections}


def _section_row(path: Path, section: str) -> tuple[str, dict[str, float]]:
    rows = dict(read_result_csv(path))
    if section not in rows:
        raise DataError(f"{path} has no row for section {section}; re-run the test stage")
    return section, rows[section]


def collect_system(
    folder: Path, machines: Sequence[MachineDataset], is_eval: bool, run_filter: RunFilter = ANY_RUN
) -> SystemResults:
    """Read the result CSV(s) of every machine type in ``folder``; those without one are listed as missing."""
    system = SystemResults(Path(folder).name, Path(folder))
    for spec in machines:
        machine = spec.machine
        runs = find_result_csvs(Path(folder), spec.name, is_eval, run_filter)
        if not runs:
            system.missing.append(machine)
            continue
        by_section = per_section_runs(runs, spec.sections) if len(runs) > 1 else None
        if by_section is None:  # one run (or an ambiguous set: choose_run names them)
            _, path = choose_run(runs, Path(folder), spec.name, run_filter)
            system.files[machine] = (path,)
            system.sections[machine] = read_result_csv(path)
            continue
        system.files[machine] = tuple(by_section.values())
        system.sections[machine] = [_section_row(path, section) for section, path in by_section.items()]
    return system


def total_label(system: SystemResults, n_machines: int) -> str:
    """ "TOTAL score", or a label that says the score is not official because machine types are missing."""
    if system.complete:
        return TOTAL_SCORE
    return f"{TOTAL_SCORE} (partial: {len(system.sections)} of {n_machines} machine types)"


# ----------------------------------------------------------------------------------------------------------
# the compact table
def compact_table(systems: Sequence[SystemResults], machines: Sequence[str]) -> pd.DataFrame:
    """Rows (System, metric), columns h-mean, a-mean and the machine types; systems sorted by name."""
    records = []
    for system in sorted(systems, key=lambda s: s.name):
        table = summary_table(
            {machine: system.figures(machine) for machine in system.sections}, total_label(system, len(machines))
        )
        rows = sorted(table.items(), key=lambda item: _metric_rank(item[0]))
        for metric, row in rows:
            records.append(
                {
                    "System": system.name,
                    "metric": metric,
                    **{column: row.get(column, np.nan) for column in (*COMPACT_LEADING_COLUMNS, *machines)},
                }
            )
    frame = pd.DataFrame.from_records(records, columns=["System", "metric", *COMPACT_LEADING_COLUMNS, *machines])
    return frame.set_index(["System", "metric"]).astype(np.float64)


def _metric_rank(metric: str) -> int:
    base = TOTAL_SCORE if metric.startswith(TOTAL_SCORE) else metric
    return METRIC_ORDER.index(base) if base in METRIC_ORDER else len(METRIC_ORDER)


def format_compact_table(table: pd.DataFrame) -> str:
    """The compact table for a terminal: four decimals, empty cells blank."""
    return table.to_string(float_format=lambda value: f"{value:.4f}", na_rep="")


# ----------------------------------------------------------------------------------------------------------
# the wide table
def _run_statistics(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, sample standard deviation and floored harmonic mean over runs (the public ``_ave/_std/_hmean``)."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else float("nan")
    return float(array.mean()), std, float(harmonic_mean(array, axis=None))


def wide_row(system: SystemResults, machines: Sequence[str], split: str) -> dict[str, float]:
    """Every figure of one system, in the public baseline's ``<DATASET>_auc_pauc.csv`` column naming."""
    row: dict[str, float] = {}
    columns: list[str] = []
    machine_arithmetic: dict[str, dict[str, float]] = {}
    for machine in machines:
        if machine not in system.sections:
            continue
        sections = system.sections[machine]
        machine_columns = list(dict.fromkeys(column for _, figures in sections for column in figures))
        columns += [column for column in machine_columns if column not in columns]
        arithmetic, harmonic = machine_means([figures for _, figures in sections])
        machine_arithmetic[machine] = arithmetic
        prefix = f"{machine}_{split}"
        for column in machine_columns:
            for section, figures in sections:
                ave, std, hmean = _run_statistics([figures[column]])
                row[f"{prefix}_{section}_{column}_ave"] = ave
                row[f"{prefix}_{section}_{column}_std"] = std
                row[f"{prefix}_{section}_{column}_hmean"] = hmean
            row[f"{prefix}_arithmetic mean_{column}"] = arithmetic[column]
            row[f"{prefix}_harmonic mean_{column}"] = harmonic[column]
    every_section = system.every_section()
    for column in columns:
        pooled = column_values(every_section, column)
        means = np.array([means[column] for means in machine_arithmetic.values() if column in means])
        row[f"ALL_{column}_ave"] = float(pooled.mean())
        row[f"ALL_{column}_std"] = float(means.std(ddof=1)) if means.size > 1 else float("nan")
        row[f"ALL_{column}_hmean"] = float(harmonic_mean(pooled, axis=None))
    aucs = all_auc_values(every_section)
    row["ALL_AUC_ave"] = float(aucs.mean())
    row["ALL_AUC_std"] = float(aucs.std())
    row["ALL_AUC_hmean"] = float(harmonic_mean(aucs, axis=None))
    row["TOTAL_score_ave"] = total_arithmetic_mean(every_section)
    row["TOTAL_score_std"] = total_standard_deviation(every_section)
    row["TOTAL_score_hmean"] = official_score(every_section)
    return row


def wide_table(systems: Sequence[SystemResults], machines: Sequence[str], split: str) -> pd.DataFrame:
    """One row per system (sorted by name), columns in first-seen order."""
    ordered = sorted(systems, key=lambda s: s.name)
    frame = pd.DataFrame(
        [wide_row(system, machines, split) for system in ordered], index=[system.name for system in ordered]
    )
    return frame.astype(np.float64)


# ----------------------------------------------------------------------------------------------------------
# the summary files
@dataclass(frozen=True)
class SummaryPaths:
    folder: Path
    dataset: str

    @property
    def wide_csv(self) -> Path:
        return self.folder / f"{self.dataset}_auc_pauc.csv"

    @property
    def compact_csv(self) -> Path:
        return self.folder / f"{self.dataset}_auc_pauc_extract.csv"

    @property
    def compact_png(self) -> Path:
        return self.folder / f"{self.dataset}_auc_pauc_extract.png"

    @property
    def seeds_csv(self) -> Path:
        """The seed sweep's table (``seed_statistics``)."""
        return self.folder / f"{self.dataset}_auc_pauc_seeds.csv"


def summary_folder(result_directory: Path, split: str, export_dir: str, family: str) -> Path:
    return Path(result_directory) / f"{split}_data" / export_dir / SUMMARY_DIR_NAME / family


def write_summaries(
    paths: SummaryPaths, systems: Sequence[SystemResults], machines: Sequence[str], split: str, plots: bool = True
) -> pd.DataFrame:
    """Write the wide and the compact summary CSVs (and the compact table's picture); returns the compact table."""
    atomic_write_text(paths.wide_csv, wide_table(systems, machines, split).to_csv())
    compact = compact_table(systems, machines)
    atomic_write_text(paths.compact_csv, compact.to_csv())
    if plots:
        from evaluation.plots import plot_summary_table

        labels = [f"{system} | {metric}" for system, metric in compact.index]
        plot_summary_table(
            paths.compact_png,
            labels,
            list(compact.columns),
            compact.to_numpy(),
            f"{paths.dataset} {split} data summary\n(TOTAL score h-mean = official score)",
        )
    return compact


# ----------------------------------------------------------------------------------------------------------
# seed sweeps (the stage scripts' --seeds): seed S of export folder X is the export folder X_seedS
def seed_export_dir(export_dir: str, seed: int) -> str:
    """The export folder of one seed of a sweep: ``baseline`` -> ``baseline_seed13711``."""
    return f"{export_dir}_seed{seed}"


def seed_system(system: str, seed: int) -> str:
    """A system's result folder for one seed: ``baseline_MSE`` -> ``baseline_seed13711_MSE``."""
    export_dir, _, score = system.rpartition("_")
    return f"{seed_export_dir(export_dir, seed)}_{score}" if export_dir else seed_export_dir(system, seed)


def seed_statistics(compact_by_seed: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Rows (System, metric); columns: each seed's h-mean (of the compact table), their mean and sample standard
    deviation. The TOTAL score's row holds the official score of every seed."""
    columns = [table[HARMONIC_MEAN].rename(f"seed{seed}") for seed, table in compact_by_seed.items()]
    frame = pd.concat(columns, axis=1)
    per_seed = frame.to_numpy(dtype=np.float64)
    frame["mean"] = per_seed.mean(axis=1)
    frame["std"] = per_seed.std(axis=1, ddof=1) if per_seed.shape[1] > 1 else np.nan
    return frame


def official_scores(systems: Sequence[SystemResults]) -> str:
    """``<system> <official score>`` of each system (sorted by name), PARTIAL marking incomplete ones."""
    return ", ".join(
        f"{system.name} {official_score(system.every_section()):.4f}" + ("" if system.complete else " (PARTIAL)")
        for system in sorted(systems, key=lambda s: s.name)
    )
