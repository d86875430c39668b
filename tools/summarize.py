"""Command line of the summary (``evaluation.summary``); ``03_summarize_results.sh`` runs it:

    python -m tools.summarize DCASE2024T2 -d|-e [--result_directory results] [--export_dir baseline ...]

Reads the result folders ``<result_directory>/<dev|eval>_data/<export_dir>_<score>`` (by default
``baseline_MAHALA`` and ``baseline_MSE``), writes ``<DATASET>_auc_pauc.csv`` and
``<DATASET>_auc_pauc_extract.csv`` (and its picture) under
``<result_directory>/<dev|eval>_data/<first export_dir>/summarize/<DATASET>/`` and prints the compact table
with each system's official score. In eval mode, when ground truth is available (``--ground_truth_dir``, or
the demo data's ``<dataset_directory>/<dataset lower>/eval_data/ground_truth``), the anomaly scores are
first scored against it (``evaluation.ground_truth``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from datasets.registry import DatasetSpec, families, machine_types, resolve_dataset, stage_script
from errors import ASDError, ConfigError, DataError, did_you_mean
from evaluation.ground_truth import default_ground_truth_dir, evaluate_system
from evaluation.merged_roc import write_merged_rocs
from evaluation.official_score import TOTAL_SCORE
from evaluation.run_results import DEFAULT_SCORES, RunFilter
from evaluation.summary import (
    SummaryPaths,
    collect_system,
    format_compact_table,
    official_scores,
    seed_export_dir,
    seed_statistics,
    seed_system,
    summary_folder,
    write_summaries,
)
from safe_io import atomic_write_text


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 1 (the public scripts' code for bad arguments) after the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: argument error: {message} (--help lists every option)\n")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog or "python -m tools.summarize",
        usage=f"%(prog)s [{' | '.join(families())}] ['-d' | '--dev' | '-e' | '--eval'] [options]",
        description="Summarise the per-section result CSVs of the baseline's systems into the public baseline's "
        "two summary CSVs.",
        epilog="example: bash 03_summarize_results.sh DCASE2024T2 -d",
    )
    parser.add_argument(
        "family", choices=families(), metavar="DATASET", help=f"dataset family: {' | '.join(families())}"
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-d", "--dev", action="store_true", help="summarise the development dataset's results")
    mode.add_argument("-e", "--eval", action="store_true", help="summarise the evaluation dataset's results")
    parser.add_argument(
        "--result_directory",
        type=Path,
        default=Path("results"),
        help="parent of dev_data/ and eval_data/ (default: results)",
    )
    parser.add_argument(
        "--export_dir",
        nargs="+",
        default=["baseline"],
        metavar="NAME",
        help="experiment name(s) whose <NAME>_<score> folders are read (default: baseline)",
    )
    parser.add_argument(
        "--scores",
        nargs="+",
        default=None,
        metavar="SCORE",
        help="score folders to read for each export_dir (default: MAHALA MSE where one of them exists, else the "
        "score modes of the registered systems whose <NAME>_<score> folders exist)",
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        default=None,
        metavar="FOLDER",
        help="result folders to compare, by name, instead of every --export_dir x --scores pair "
        "(<export_dir>_<score mode> of each system, e.g. baseline_MSE baseline_MAHALA)",
    )
    parser.add_argument(
        "--summary_dir",
        type=Path,
        default=None,
        help="where to write (default: <result_directory>/<split>_data/<first export_dir>/summarize/<DATASET>)",
    )
    parser.add_argument(
        "--machines",
        nargs="+",
        default=None,
        metavar="MACHINE",
        help="machine types to summarise, separated by spaces or commas as in the stage scripts "
        "(default: every one of the dataset's split)",
    )
    parser.add_argument("--seed", type=int, default=None, help="pick this seed's run when a folder holds several")
    parser.add_argument(
        "-tag",
        "--model_name_suffix",
        dest="tag",
        default=None,
        help="pick this tag's run when a folder holds several (e.g. 'id(0_)')",
    )
    parser.add_argument(
        "--ground_truth_dir",
        type=Path,
        default=None,
        help="eval mode: score the anomaly scores against this ground truth first (folder "
        "holding ground_truth_data/ and ground_truth_domain/)",
    )
    parser.add_argument(
        "--dataset_directory",
        type=Path,
        default=Path("data"),
        help="eval mode: where the demo data's ground truth is looked for (default: data)",
    )
    parser.add_argument("--max_fpr", type=float, default=0.1, help="pAUC's FPR limit when scoring ground truth")
    parser.add_argument("--no_plots", action="store_true", help="write no pictures")
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=None,
        metavar="SEED",
        help="summarise a seed sweep (the stage scripts' --seeds): each seed's <export_dir>_seed<SEED> "
        "folders, then every system's h-means over the seeds, their mean and standard deviation",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="first wait for the stage scripts' Slurm job arrays of this dataset (--launcher slurm) "
        "still queued, and print their end lines",
    )
    return parser


def _check_machines(family: str, split: str, machines: Sequence[str] | None) -> list[DatasetSpec]:
    known = machine_types(family, split)
    machines = [name for item in machines or () for name in item.split(",") if name]  # "fan,valve" or "fan valve"
    unknown = [machine for machine in machines or () if machine not in known]
    if unknown:
        raise ConfigError(
            f"--machines: {', '.join(unknown)} not a {family} {split} machine type; valid: " + ", ".join(known)
        )
    return [resolve_dataset(family + machine, split) for machine in machines or known]


def _score_against_ground_truth(
    args: argparse.Namespace, folders: Sequence[Path], machines: Sequence[DatasetSpec]
) -> None:
    ground_truth_dir = args.ground_truth_dir or default_ground_truth_dir(args.dataset_directory, args.family)
    if args.ground_truth_dir is None and not ground_truth_dir.is_dir():
        return
    if not ground_truth_dir.is_dir():
        raise DataError(f"--ground_truth_dir {ground_truth_dir} is not a folder")
    for folder in folders:
        report = evaluate_system(
            folder,
            machines,
            ground_truth_dir,
            RunFilter(args.seed, args.tag),
            args.max_fpr,
            plots=not args.no_plots,
            strict=args.ground_truth_dir is not None,
        )
        print(f"{folder.name}: scored {len(report.evaluated)} machine type(s) against {ground_truth_dir}")
        if report.without_truth:
            _warn(
                f"{ground_truth_dir} has no ground truth of {', '.join(report.without_truth)}: their existing "
                "result CSVs (if any) are used as they are"
            )


def summarise(args: argparse.Namespace) -> pd.DataFrame:
    split = "eval" if args.eval else "dev"
    machines = _check_machines(args.family, split, args.machines)
    machine_names = [spec.machine for spec in machines]
    split_dir = args.result_directory / f"{split}_data"
    folders = [split_dir / name for name in _system_names(args)]
    existing = [folder for folder in folders if folder.is_dir()]
    absent = [folder for folder in folders if not folder.is_dir()]
    if not existing:
        stage = f"{stage_script(args.family, '02a_test')} / {stage_script(args.family, '02b_test')}"
        raise DataError(
            f"none of the result folders exists ({', '.join(map(str, folders))}); run the test "
            f"stage first (bash {stage} {'-e' if args.eval else '-d'}) or set --result_directory "
            "and --export_dir"
        )
    if absent:
        _warn(f"result folder(s) not found, skipped: {', '.join(map(str, absent))}")
    if args.eval:
        _score_against_ground_truth(args, existing, machines)

    systems = []
    for folder in existing:
        system = collect_system(folder, machines, args.eval, RunFilter(args.seed, args.tag))
        if not system.sections:
            hint = (
                " (eval test clips are unlabelled: give the ground truth with --ground_truth_dir)" if args.eval else ""
            )
            _warn(f"{folder}: no result CSV of any {args.family} {split} machine type{hint}; skipped")
            continue
        if system.missing:
            _warn(
                f"{folder}: no result CSV of {', '.join(system.missing)}: the summary of {system.name} is "
                f"PARTIAL ({len(system.sections)} of {len(machines)} machine types) and its TOTAL score "
                "is not the official score"
            )
        systems.append(system)
    if not systems:
        raise DataError(f"no result CSV found in {', '.join(map(str, existing))}; run the test stage first")

    paths = SummaryPaths(
        args.summary_dir or summary_folder(args.result_directory, split, args.export_dir[0], args.family), args.family
    )
    compact = write_summaries(paths, systems, machine_names, split, plots=not args.no_plots)
    merged = write_merged_rocs(paths.folder, systems)
    print(f"wide summary -> {paths.wide_csv}")
    print(f"merged ROC CSVs ({len(merged)}) -> {paths.folder}/<system>/")
    print(f"compact summary -> {paths.compact_csv}")
    print(format_compact_table(compact))
    every = machine_types(args.family, split)
    partial = (
        f" (PARTIAL: {len(machine_names)} of {len(every)} machine types, {', '.join(machine_names)})"
        if len(machine_names) < len(every)
        else ""
    )
    print(f"official score (TOTAL score h-mean) of {args.family} {split} data{partial}: {official_scores(systems)}")
    return compact


def _system_names(args: argparse.Namespace) -> list[str]:
    return args.systems or [f"{export}_{score}" for export in args.export_dir for score in _scores(args, export)]


def _scores(args: argparse.Namespace, export: str) -> list[str]:
    """The score folders of ``export``: --scores, else DEFAULT_SCORES (baseline.yaml's system) when one of those
    folders exists, else every registered system's score mode whose folder exists (whatever the system is named)."""
    if args.scores is not None:
        return list(args.scores)
    split_dir = args.result_directory / f"{'eval' if args.eval else 'dev'}_data"
    probe = seed_export_dir(export, args.seeds[0]) if args.seeds else export

    def present(mode: str) -> bool:
        return (split_dir / f"{probe}_{mode}").is_dir()

    if any(present(mode) for mode in DEFAULT_SCORES):
        return list(DEFAULT_SCORES)
    from networks import registry  # imports every model (torch): only when the folders are not the default ones

    return sorted(mode for mode in registry.score_modes() if present(mode)) or list(DEFAULT_SCORES)


def _export_dirs(args: argparse.Namespace) -> dict[str, list[str]]:
    """``{export folder of a stage script run: the export folders it wrote}`` of the systems summarised: itself,
    or each seed's for a seed sweep (the stage scripts log a sweep in the folder of the export_dir given)."""
    exports = dict.fromkeys(name.rpartition("_")[0] or name for name in _system_names(args))
    return {
        export: [seed_export_dir(export, seed) for seed in args.seeds] if args.seeds else [export] for export in exports
    }


def summarise_seeds(args: argparse.Namespace) -> pd.DataFrame:
    """Summarise each seed's folders, then write and print every system's h-means over the seeds."""
    names = _system_names(args)
    split = "eval" if args.eval else "dev"
    paths = SummaryPaths(
        args.summary_dir or summary_folder(args.result_directory, split, args.export_dir[0], args.family), args.family
    )
    compact_by_seed = {}
    for seed in args.seeds:
        print(f"== seed {seed}")
        folders = {seed_system(name, seed): name for name in names}
        seed_args = argparse.Namespace(
            **{
                **vars(args),
                "seeds": None,
                "seed": seed,
                "systems": list(folders),
                "export_dir": [seed_export_dir(export, seed) for export in args.export_dir],
                "summary_dir": args.summary_dir / f"seed{seed}" if args.summary_dir else None,
            }
        )
        compact_by_seed[seed] = summarise(seed_args).rename(index=folders, level="System")
    table = seed_statistics(compact_by_seed)
    atomic_write_text(paths.seeds_csv, table.to_csv())
    print(f"\nh-means over the seeds {' '.join(map(str, args.seeds))} -> {paths.seeds_csv}")
    print(format_compact_table(table))
    totals = [(system, row) for (system, metric), row in table.iterrows() if metric.startswith(TOTAL_SCORE)]
    print(
        f"official score of {args.family} {split} data over {len(args.seeds)} seeds (mean ± std): "
        + ", ".join(f"{system} {row['mean']:.4f} ± {row['std']:.4f}" for system, row in totals)
    )
    return table


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        options = [name for name in parser._option_string_actions if name.startswith("--")]
        parser.error(f"unknown argument {unknown[0]!r}{did_you_mean(unknown[0], options)}")
    return args


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = _parse(build_parser(prog), argv)
    try:
        if args.wait:
            from engine.launch.stage import wait_for_stages

            split = "eval" if args.eval else "dev"
            stage_logs = Path("logs/stages") / f"{args.family}_{split}"  # tools/run_stage.sh's, one per experiment
            if not all([wait_for_stages(stage_logs / base, exports) for base, exports in _export_dirs(args).items()]):
                _warn("some Slurm tasks failed (their end lines above): the summary covers what finished")
        summarise_seeds(args) if args.seeds else summarise(args)
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(prog=os.environ.get("SUMMARY_PROG")))
