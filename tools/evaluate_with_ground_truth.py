"""Score evaluation-set anomaly scores against ground-truth CSVs in the official evaluator's format
(``evaluation.ground_truth``): writes the same per-section result CSV as dev mode, next to the scores.

    python -m tools.evaluate_with_ground_truth DCASE2024T2 [--ground_truth_dir DIR] [--export_dir baseline]

DIR holds ``ground_truth_data/``, ``ground_truth_domain/`` and optionally ``ground_truth_attributes/``;
the default is ``<dataset_directory>/<dataset lower>/eval_data/ground_truth`` (the demo generator's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from datasets.registry import machine_types, resolve_dataset
from errors import ASDError, DataError
from evaluation.ground_truth import default_ground_truth_dir, evaluate_system
from evaluation.run_results import DEFAULT_SCORES, RunFilter


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.evaluate_with_ground_truth",
        description="Score eval-mode anomaly score CSVs against ground truth in the official evaluator's format; "
        "writes result_<dataset>_test_<suffix>_roc.csv (and pictures) next to the scores.",
    )
    parser.add_argument("family", help="dataset family, e.g. DCASE2024T2")
    parser.add_argument(
        "--ground_truth_dir",
        type=Path,
        default=None,
        help="folder holding ground_truth_data/ and ground_truth_domain/ (default: "
        "<dataset_directory>/<family lower>/eval_data/ground_truth)",
    )
    parser.add_argument("--dataset_directory", type=Path, default=Path("data"))
    parser.add_argument("--result_directory", type=Path, default=Path("results"))
    parser.add_argument("--export_dir", nargs="+", default=["baseline"])
    parser.add_argument("--scores", nargs="+", default=list(DEFAULT_SCORES))
    parser.add_argument("--machines", nargs="+", default=None, help="default: every eval machine type")
    parser.add_argument("--seed", type=int, default=None, help="pick this seed's run when there are several")
    parser.add_argument("-tag", "--model_name_suffix", dest="tag", default=None, help="pick this tag's run")
    parser.add_argument("--max_fpr", type=float, default=0.1)
    parser.add_argument("--no_plots", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        machine_names = args.machines or machine_types(args.family, "eval")
        ground_truth_dir = args.ground_truth_dir or default_ground_truth_dir(args.dataset_directory, args.family)
        folders = [
            args.result_directory / "eval_data" / f"{export}_{score}"
            for export in args.export_dir
            for score in args.scores
        ]
        existing = [folder for folder in folders if folder.is_dir()]
        if not existing:
            raise DataError(
                f"no result folder found ({', '.join(map(str, folders))}); run the eval-mode test "
                "stage first (bash 02a_test_2024t2.sh -e)"
            )
        machines = [resolve_dataset(args.family + machine, "eval") for machine in machine_names]
        n_written = 0
        for folder in existing:
            report = evaluate_system(
                folder, machines, ground_truth_dir, RunFilter(args.seed, args.tag), args.max_fpr, not args.no_plots
            )
            for machine in report.evaluated:
                print(f"{machine.dataset}: results -> {machine.result_csv}")
            if report.missing:
                print(f"{folder}: no anomaly scores of {', '.join(report.missing)}")
            n_written += len(report.evaluated)
        print(f"scored {n_written} machine type run(s) against {ground_truth_dir}")
        return 0 if n_written else 1
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
