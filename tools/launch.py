"""Command line of the stage scripts' launcher helpers (``tools/run_stage.sh`` calls it; engine/launch does the work):

python -m tools.launch seed-export-dirs --seeds SEED... -- -d|-e [train.py flags]   each seed's export folder
python -m tools.launch submit --tasks FILE --stage STAGE --script NAME --family F --split dev|eval --what TEXT
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import common
from engine.launch import stage
from errors import ASDError
from evaluation.summary import seed_export_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.launch", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("seed-export-dirs", help="print each seed's export folder for these train.py flags")
    export.add_argument("--seeds", nargs="+", type=int, required=True)
    export.add_argument("flags", nargs=argparse.REMAINDER, help="-- then the train.py flags")
    submit = commands.add_parser("submit", help="submit a task file as Slurm job arrays, wait, print the end line")
    submit.add_argument("--tasks", type=Path, required=True, help="task file written by tools/run_stage.sh")
    for name in ("stage", "script", "family", "split", "what"):
        submit.add_argument(f"--{name}", required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "seed-export-dirs":
            flags = args.flags[1:] if args.flags[:1] == ["--"] else args.flags
            export_dir = common.parse_config(["--dataset=stage", *flags]).export_dir
            print("\n".join(seed_export_dir(export_dir, seed) for seed in args.seeds))
            return 0
        return stage.submit(args.tasks, args.script, args.stage, args.what, args.family, args.split)
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "stopped waiting; the submitted Slurm tasks keep running (squeue shows them, scancel cancels them)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
