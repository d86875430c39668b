"""Command line of the stage scripts' launcher helpers (``tools/run_stage.sh`` calls it; engine/launch does the work):

python -m tools.launch check-flags --script NAME -- -d|-e [train.py flags]   check them once, print the export folder
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
from errors import ASDError, did_you_mean
from evaluation.summary import seed_export_dir

STAGE_FLAGS = ("--machines", "--launcher", "--seeds")  # tools/run_stage.sh's own, taken out of the train.py flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.launch", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check-flags", help="check a stage's train.py flags once; print the export folder")
    check.add_argument("--script", required=True, help="the stage script's name, for the error line")
    check.add_argument("flags", nargs=argparse.REMAINDER, help="-- then the train.py flags")
    export = commands.add_parser("seed-export-dirs", help="print each seed's export folder for these train.py flags")
    export.add_argument("--seeds", nargs="+", type=int, required=True)
    export.add_argument("flags", nargs=argparse.REMAINDER, help="-- then the train.py flags")
    submit = commands.add_parser("submit", help="submit a task file as Slurm job arrays, wait, print the end line")
    submit.add_argument("--tasks", type=Path, required=True, help="task file written by tools/run_stage.sh")
    for name in ("stage", "script", "family", "split", "what"):
        submit.add_argument(f"--{name}", required=True)
    return parser


def _flags(args: argparse.Namespace) -> list[str]:
    return args.flags[1:] if args.flags[:1] == ["--"] else args.flags


def check_flags(script: str, flags: Sequence[str]) -> int:
    """Check a stage's train.py flags as train.py would, once for every machine type; print the export folder.
    An unknown flag is matched against the stage script's own flags too (--machine: did you mean --machines?)."""
    known = {"--config", *(flag for option in common.all_options() for flag in option.flags)}
    for flag in flags:
        name = flag.split("=", 1)[0]
        if name.startswith("--") and name not in known:
            suggestion = did_you_mean(name, [*STAGE_FLAGS, *sorted(known)])
            print(f"{script}: error: unknown argument {flag!r}{suggestion} (see bash {script} --help)", file=sys.stderr)
            return 1
    try:
        print(common.parse_config(["--dataset=stage", *flags]).export_dir)
    except ASDError as error:
        print(f"{script}: error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check-flags":
            return check_flags(args.script, _flags(args))
        if args.command == "seed-export-dirs":
            export_dir = common.parse_config(["--dataset=stage", *_flags(args)]).export_dir
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
