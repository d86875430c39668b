"""``python -m datasets.synthetic``: generate a synthetic DCASE Task 2 dataset from the shell."""

from __future__ import annotations

import argparse
from pathlib import Path

from datasets.synthetic import sizes
from datasets.synthetic.catalog import (
    DEV_MACHINES_2023,
    DEV_MACHINES_2024,
    EVAL_MACHINES_2023,
    EVAL_MACHINES_2024,
)
from datasets.synthetic.generator import generate_dataset
from datasets.synthetic.layouts import (
    DEV_MACHINES_2025,
    DEV_MACHINES_2026,
    EVAL_MACHINES_2025,
    EVAL_MACHINES_2026,
)
from errors import ASDError

DEFAULT_MACHINES = {
    ("DCASE2026T2", "dev"): DEV_MACHINES_2026,
    ("DCASE2026T2", "eval"): EVAL_MACHINES_2026,
    ("DCASE2025T2", "dev"): DEV_MACHINES_2025,
    ("DCASE2025T2", "eval"): EVAL_MACHINES_2025,
    ("DCASE2024T2", "dev"): DEV_MACHINES_2024,
    ("DCASE2024T2", "eval"): EVAL_MACHINES_2024,
    ("DCASE2023T2", "dev"): DEV_MACHINES_2023,
    ("DCASE2023T2", "eval"): EVAL_MACHINES_2023,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.synthetic",
        description="Write synthetic machine operating sounds in the DCASE Task 2 folder layout "
        "(<root>/<dataset lower>/<split>_data/raw/<machine>/{train,test}/...).",
    )
    parser.add_argument("--root", type=Path, default=Path("data"), help="dataset_directory (default: data)")
    parser.add_argument(
        "--dataset",
        default="DCASE2024T2",
        help="DCASE2026T2 (stereo clips), DCASE2025T2 (eval: with supplemental/), DCASE2024T2 or "
        "DCASE2023T2 (folder name and layout)",
    )
    parser.add_argument(
        "--split",
        choices=("dev", "eval"),
        default="dev",
        help="dev: labelled test clips; eval: anonymous test clips plus ground truth CSVs",
    )
    parser.add_argument(
        "--machines",
        nargs="+",
        default=None,
        help="machine types (any name works; default: the dataset's types for the split)",
    )
    sizes.add_size_arguments(parser, per="type")
    parser.add_argument(
        "--n_supplemental",
        type=int,
        default=5,
        help="DCASE2025 eval: supplemental clips of the machine alone, and as many of the noise alone",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="regenerate machine folders that already exist (default: keep them)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    machines = args.machines or DEFAULT_MACHINES.get((args.dataset, args.split), DEV_MACHINES_2024)
    try:
        summary = generate_dataset(
            args.root,
            machines,
            dataset=args.dataset,
            split=args.split,
            n_train_source=args.n_train_source,
            n_train_target=args.n_train_target,
            n_test_per_group=args.n_test_per_group,
            duration=args.duration,
            sample_rate=args.sample_rate,
            seed=args.seed,
            workers=args.workers,
            overwrite=args.overwrite,
            n_supplemental=args.n_supplemental,
        )
    except ASDError as error:
        parser.exit(2, f"error: {error}\n")
    print(summary.line())


if __name__ == "__main__":
    main()
