"""The level-statistics kNN: a learning-free reference score for any data in the DCASE layout.

    python -m tools.level_stats_knn DCASE2024T2 -d [--dataset_directory data] [--machines fan valve]

Every clip becomes the mean and the standard deviation of each log-mel band over time (the features of
``baseline.yaml``: 128 bands, 1024-point frames, hop 512); a test clip scores its distance to the ``k``
nearest training clips of each domain divided by that domain's typical spacing, the smaller kept
(networks/level_stats). It runs the registered model ``level-stats-kNN`` (``level_stats_knn.yaml``) through the
same runner as every model, so it writes the standard per-section CSVs under
``<result_directory>/<dev|eval>_data/<export_dir>_KNN/`` (default ``levelstats_KNN``), and
``python -m tools.summarize DCASE2024T2 -d --systems baseline_MSE levelstats_KNN`` puts it beside trained
systems. A trained system that does not beat it has learnt little more than level and spectral envelope.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import common
from datasets.registry import families, machine_types
from engine.runner import run
from errors import exit_code_of

CONFIG = common.CONFIG_DIR / "level_stats_knn.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.level_stats_knn", description=__doc__.split("\n")[0])
    parser.add_argument("family", choices=families(), metavar="DATASET", help="e.g. DCASE2024T2")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-d", "--dev", action="store_true", help="development data (labelled test clips)")
    mode.add_argument("-e", "--eval", action="store_true", help="evaluation data (scores only)")
    parser.add_argument("--dataset_directory", type=Path, default=Path("data"))
    parser.add_argument("--result_directory", type=Path, default=Path("results"))
    parser.add_argument("--export_dir", default="levelstats", help="result folder <export_dir>_KNN")
    parser.add_argument("--machines", nargs="+", default=None, help="default: every machine type of the split")
    parser.add_argument("--k", type=int, default=2, help="neighbours per domain (default 2)")
    parser.add_argument("--seed", type=int, default=13711, help="only names the files (seed<seed>), as runs do")
    parser.add_argument("--workers", type=int, default=0, help="feature extraction processes (0: auto)")
    return parser


def runner_flags(args: argparse.Namespace, machine: str) -> list[str]:
    """The train.py flags of one machine type's run (trained and tested in one go)."""
    return [
        "--config",
        str(CONFIG),
        "--dataset",
        f"{args.family}{machine}",
        "-e" if args.eval else "-d",
        "--dataset_directory",
        str(args.dataset_directory),
        "--result_directory",
        str(args.result_directory),
        "--export_dir",
        args.export_dir,
        "--level_stats_k",
        str(args.k),
        "--seed",
        str(args.seed),
        "--num_workers",
        str(args.workers),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def score_every_machine() -> None:
        for machine in args.machines or machine_types(args.family, "eval" if args.eval else "dev"):
            run(common.parse_config(runner_flags(args, machine)))

    return exit_code_of(
        score_every_machine, error_code=2, on_interrupt="interrupted; the machine types already scored are kept"
    )


if __name__ == "__main__":
    sys.exit(main())
