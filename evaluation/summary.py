"""Summarise test results of several systems into the public baseline's two summary CSVs (SPEC §7).

    python -m tools.summarize DCASE2024T2 -d|-e [--result_directory results] [--export_dir baseline ...]

A system is a result folder ``<result_directory>/<dev|eval>_data/<export_dir>_<score>`` (by default
``baseline_MAHALA`` and ``baseline_MSE``). Written under
``<result_directory>/<dev|eval>_data/<first export_dir>/summarize/<DATASET>/``:

- ``<DATASET>_auc_pauc.csv``: one row per system, every figure of every section of every machine type in
  the public baseline's column naming (``<machine>_<dev|eval>_<section>_<figure>_ave``, ``..._std``,
  ``..._hmean``, ``<machine>_<dev|eval>_arithmetic mean_<figure>``, ``..._harmonic mean_<figure>``,
  ``ALL_<figure>_ave|std|hmean``, ``ALL_AUC_*``, ``TOTAL_score_ave|std|hmean``);
- ``<DATASET>_auc_pauc_extract.csv``: the compact table, rows (System, metric) = AUC (source),
  AUC (target), pAUC (source, target), TOTAL score; columns h-mean, a-mean and the machine types, as the
  public ``extract_results.py`` and the official evaluator's paper table write it. The TOTAL score h-mean
  is the official score. It is also printed, and drawn as ``<DATASET>_auc_pauc_extract.png``.

In eval mode, when ground truth is available (``--ground_truth_dir``, or the demo data's
``<dataset_directory>/<dataset lower>/eval_data/ground_truth``), the anomaly scores are first scored
against it (``tools.evaluate_with_ground_truth``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datasets.registry import families, machine_types, resolve_dataset, stage_script
from errors import ASDError, ConfigError, DataError
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
from safe_io import atomic_write_text
from tools.evaluate_with_ground_truth import default_ground_truth_dir, evaluate_system
from tools.run_results import (
    ANY_RUN,
    RunFilter,
    choose_run,
    find_result_csvs,
    parse_suffix,
    read_result_csv,
    tag_section_ids,
)

DEFAULT_SCORES = ("MAHALA", "MSE")
SUMMARY_DIR_NAME = "summarize"
COMPACT_LEADING_COLUMNS = (HARMONIC_MEAN, ARITHMETIC_MEAN)  # the public extract's column order
METRIC_ORDER = ("AUC (source)", "AUC (target)", "pAUC (source, target)", "pAUC (source)", "pAUC (target)", "AUC",
                "pAUC", TOTAL_SCORE)


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


def collect_system(folder: Path, family: str, machines: Sequence[str], split: str,
                   run_filter: RunFilter = ANY_RUN) -> SystemResults:
    """Read the result CSV(s) of every machine type in ``folder``; those without one are listed as missing."""
    system = SystemResults(Path(folder).name, Path(folder))
    for machine in machines:
        spec = resolve_dataset(family + machine, split)
        runs = find_result_csvs(Path(folder), spec.name, split == "eval", run_filter)
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
    """"TOTAL score", or a label that says the score is not official because machine types are missing."""
    if system.complete:
        return TOTAL_SCORE
    return f"{TOTAL_SCORE} (partial: {len(system.sections)} of {n_machines} machine types)"


# ----------------------------------------------------------------------------------------------------------
# the compact table
def compact_table(systems: Sequence[SystemResults], machines: Sequence[str]) -> pd.DataFrame:
    """Rows (System, metric), columns h-mean, a-mean and the machine types; systems sorted by name."""
    records = []
    for system in sorted(systems, key=lambda s: s.name):
        table = summary_table({machine: system.figures(machine) for machine in system.sections},
                              total_label(system, len(machines)))
        rows = sorted(table.items(), key=lambda item: _metric_rank(item[0]))
        for metric, row in rows:
            records.append({"System": system.name, "metric": metric,
                            **{column: row.get(column, np.nan) for column in (*COMPACT_LEADING_COLUMNS, *machines)}})
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
    frame = pd.DataFrame([wide_row(system, machines, split) for system in ordered],
                         index=[system.name for system in ordered])
    return frame.astype(np.float64)


# ----------------------------------------------------------------------------------------------------------
# the command line
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


def summary_folder(result_directory: Path, split: str, export_dir: str, family: str) -> Path:
    return Path(result_directory) / f"{split}_data" / export_dir / SUMMARY_DIR_NAME / family


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 1 (the public scripts' code for bad arguments) after the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: argument error: {message} (--help lists every option)\n")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog or "python -m tools.summarize",
        usage=f"%(prog)s [{' | '.join(families())}] ['-d' | '--dev' | '-e' | '--eval'] [options]",
        description="Summarise the per-section result CSVs of the baseline's systems (SPEC §7).",
        epilog="example: bash 03_summarize_results.sh DCASE2024T2 -d")
    parser.add_argument("family", choices=families(), metavar="DATASET",
                        help=f"dataset family: {' | '.join(families())}")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-d", "--dev", action="store_true", help="summarise the development dataset's results")
    mode.add_argument("-e", "--eval", action="store_true", help="summarise the evaluation dataset's results")
    parser.add_argument("--result_directory", type=Path, default=Path("results"),
                        help="parent of dev_data/ and eval_data/ (default: results)")
    parser.add_argument("--export_dir", nargs="+", default=["baseline"], metavar="NAME",
                        help="experiment name(s) whose <NAME>_<score> folders are read (default: baseline)")
    parser.add_argument("--scores", nargs="+", default=list(DEFAULT_SCORES), metavar="SCORE",
                        help="score folders to read for each export_dir (default: MAHALA MSE)")
    parser.add_argument("--systems", nargs="+", default=None, metavar="FOLDER",
                        help="result folders to compare, by name, instead of every --export_dir x --scores pair "
                             "(e.g. baseline_MSE baseline_MAHALA stgram_KNN stgram_NLL)")
    parser.add_argument("--summary_dir", type=Path, default=None,
                        help="where to write (default: <result_directory>/<split>_data/<first export_dir>/"
                             "summarize/<DATASET>)")
    parser.add_argument("--machines", nargs="+", default=None, metavar="MACHINE",
                        help="machine types to summarise (default: every one of the dataset's split)")
    parser.add_argument("--seed", type=int, default=None, help="pick this seed's run when a folder holds several")
    parser.add_argument("-tag", "--model_name_suffix", dest="tag", default=None,
                        help="pick this tag's run when a folder holds several (e.g. 'id(0_)')")
    parser.add_argument("--ground_truth_dir", type=Path, default=None,
                        help="eval mode: score the anomaly scores against this ground truth first (folder "
                             "holding ground_truth_data/ and ground_truth_domain/)")
    parser.add_argument("--dataset_directory", type=Path, default=Path("data"),
                        help="eval mode: where the demo data's ground truth is looked for (default: data)")
    parser.add_argument("--max_fpr", type=float, default=0.1, help="pAUC's FPR limit when scoring ground truth")
    parser.add_argument("--no_plots", action="store_true", help="write no pictures")
    return parser


def _check_machines(family: str, split: str, machines: Sequence[str] | None) -> list[str]:
    known = machine_types(family, split)
    if not machines:
        return known
    unknown = [machine for machine in machines if machine not in known]
    if unknown:
        raise ConfigError(f"--machines: {', '.join(unknown)} not a {family} {split} machine type; valid: "
                          + ", ".join(known))
    return list(machines)


def _score_against_ground_truth(args: argparse.Namespace, folders: Sequence[Path], machines: Sequence[str]) -> None:
    ground_truth_dir = args.ground_truth_dir or default_ground_truth_dir(args.dataset_directory, args.family)
    if args.ground_truth_dir is None and not ground_truth_dir.is_dir():
        return
    if not ground_truth_dir.is_dir():
        raise DataError(f"--ground_truth_dir {ground_truth_dir} is not a folder")
    for folder in folders:
        report = evaluate_system(folder, args.family, machines, ground_truth_dir, RunFilter(args.seed, args.tag),
                                 args.max_fpr, plots=not args.no_plots, strict=args.ground_truth_dir is not None)
        print(f"{folder.name}: scored {len(report.evaluated)} machine type(s) against {ground_truth_dir}")
        if report.without_truth:
            _warn(f"{ground_truth_dir} has no ground truth of {', '.join(report.without_truth)}: their existing "
                  "result CSVs (if any) are used as they are")


def summarise(args: argparse.Namespace) -> pd.DataFrame:
    split = "eval" if args.eval else "dev"
    machines = _check_machines(args.family, split, args.machines)
    split_dir = args.result_directory / f"{split}_data"
    names = args.systems or [f"{export}_{score}" for export in args.export_dir for score in args.scores]
    folders = [split_dir / name for name in names]
    existing = [folder for folder in folders if folder.is_dir()]
    absent = [folder for folder in folders if not folder.is_dir()]
    if not existing:
        stage = f"{stage_script(args.family, '02a_test')} / {stage_script(args.family, '02b_test')}"
        raise DataError(f"none of the result folders exists ({', '.join(map(str, folders))}); run the test "
                        f"stage first (bash {stage} {'-e' if args.eval else '-d'}) or set --result_directory "
                        "and --export_dir")
    if absent:
        _warn(f"result folder(s) not found, skipped: {', '.join(map(str, absent))}")
    if args.eval:
        _score_against_ground_truth(args, existing, machines)

    systems = []
    for folder in existing:
        system = collect_system(folder, args.family, machines, split, RunFilter(args.seed, args.tag))
        if not system.sections:
            hint = (" (eval test clips are unlabelled: give the ground truth with --ground_truth_dir)"
                    if args.eval else "")
            _warn(f"{folder}: no result CSV of any {args.family} {split} machine type{hint}; skipped")
            continue
        if system.missing:
            _warn(f"{folder}: no result CSV of {', '.join(system.missing)}: the summary of {system.name} is "
                  f"PARTIAL ({len(system.sections)} of {len(machines)} machine types) and its TOTAL score "
                  "is not the official score")
        systems.append(system)
    if not systems:
        raise DataError(f"no result CSV found in {', '.join(map(str, existing))}; run the test stage first")

    paths = SummaryPaths(args.summary_dir or summary_folder(args.result_directory, split, args.export_dir[0],
                                                            args.family), args.family)
    wide = wide_table(systems, machines, split)
    atomic_write_text(paths.wide_csv, wide.to_csv())
    compact = compact_table(systems, machines)
    atomic_write_text(paths.compact_csv, compact.to_csv())
    if not args.no_plots:
        from tools.plots import plot_summary_table

        labels = [f"{system} | {metric}" for system, metric in compact.index]
        plot_summary_table(paths.compact_png, labels, list(compact.columns), compact.to_numpy(),
                           f"{args.family} {split} data summary\n(TOTAL score h-mean = official score)")
    print(f"wide summary -> {paths.wide_csv}")
    print(f"compact summary -> {paths.compact_csv}")
    print(format_compact_table(compact))
    scores = ", ".join(f"{system.name} {official_score(system.every_section()):.4f}"
                       + ("" if system.complete else " (PARTIAL)") for system in sorted(systems, key=lambda s: s.name))
    print(f"official score (TOTAL score h-mean) of {args.family} {split} data: {scores}")
    return compact


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        summarise(args)
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(prog=os.environ.get("SUMMARY_PROG")))
