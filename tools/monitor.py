"""Monitor one machine: fit a model bundle on its normal recordings, score new recordings, watch a folder, export.

    python -m tools.monitor fit NORMAL_DIR --out BUNDLE [--model NAME] [--config demo.yaml]
                                [--domains domains.csv] [--others OTHER_MACHINE_DIR ...]
                                [any train.py option, e.g. --epochs 20 --seed 1]
    python -m tools.monitor score BUNDLE FILES_OR_DIRS... [--csv scores.csv] [--json] [--plot scores.png]
                                [--threshold X|pNN] [--score MSE|MAHALA] [--window SECONDS --hop SECONDS]
    python -m tools.monitor watch BUNDLE DIR [--csv DIR/monitor_scores.csv] [--interval 2] [--settle 2] [--once]
    python -m tools.monitor export BUNDLE --onnx model.onnx

Every error is one line naming the file or setting and what to do (exit 2); nothing is left written half.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from common import parse_bool
from engine.monitor.bundle import Bundle, load_bundle
from engine.monitor.export import export_onnx
from engine.monitor.fit import fit_bundle, list_wavs
from engine.monitor.scoring import (
    CSV_COLUMNS,
    ScoreRow,
    resolve_mode,
    resolve_threshold,
    score_files,
    timeline,
)
from engine.monitor.watch import watch
from errors import ConfigError, DataError, did_you_mean, exit_code_of
from evaluation.plots import plot_score_timeline
from progress import progress_bar
from safe_io import write_csv


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see {self.prog} --help)")


def _scoring_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score", default=None, help="score mode (default: the one the bundle was fitted with)")
    parser.add_argument(
        "--threshold",
        default=None,
        help="decision threshold: a score, or pNN, the NN-th percentile of the training clips' scores "
        "(default: the bundle's gamma threshold)",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="window length in s for long recordings (default: the training clips' length)",
    )
    parser.add_argument("--hop", type=float, default=None, help="seconds between windows (default: half a window)")
    parser.add_argument("--use_cuda", type=parse_bool, default=True, help="use CUDA when available (True/False)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tools.monitor", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fit = commands.add_parser("fit", help="train a bundle on a folder of normal recordings", allow_abbrev=False)
    fit.add_argument("normal_dir", type=Path)
    fit.add_argument("--out", type=Path, required=True, help="the bundle folder to write (must not exist)")
    fit.add_argument("--model", default=None, help="registered model name (default: baseline.yaml's, or a --config's)")
    fit.add_argument("--config", action="append", default=[], help="yaml overlay on baseline.yaml (repeatable)")
    fit.add_argument("--domains", type=Path, default=None, help="CSV of file,domain (source/target) rows")
    fit.add_argument(
        "--others",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of another machine's normal recordings (repeatable): a classifier of several machine types "
        "(a family model) also learns to tell the machine from these; its reference stays NORMAL_DIR's clips",
    )
    score = commands.add_parser("score", help="score recordings", allow_abbrev=False)
    score.add_argument("bundle", type=Path)
    score.add_argument("paths", type=Path, nargs="+", help="WAV files and folders of WAV files")
    score.add_argument("--csv", type=Path, default=None, help="write every row to this CSV")
    score.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    score.add_argument(
        "--plot", type=Path, default=None, help="picture of the score over time (default: beside --csv, as .png)"
    )
    _scoring_options(score)
    watcher = commands.add_parser("watch", help="score new recordings as they appear in a folder", allow_abbrev=False)
    watcher.add_argument("bundle", type=Path)
    watcher.add_argument("folder", type=Path)
    watcher.add_argument("--csv", type=Path, default=None, help="results CSV (default: FOLDER/monitor_scores.csv)")
    watcher.add_argument("--interval", type=float, default=2.0, help="seconds between looks at the folder")
    watcher.add_argument("--settle", type=float, default=2.0, help="seconds a file must stay unchanged")
    watcher.add_argument("--once", action="store_true", help="score what is there, then stop")
    _scoring_options(watcher)
    export = commands.add_parser(
        "export", help="write the network and its scoring as an ONNX graph", allow_abbrev=False
    )
    export.add_argument("bundle", type=Path)
    export.add_argument("--onnx", type=Path, required=True, help="the .onnx file to write")
    return parser


def _load(args: argparse.Namespace) -> tuple[Bundle, dict]:
    device = torch.device("cuda" if args.use_cuda and torch.cuda.is_available() else "cpu")
    bundle = load_bundle(args.bundle, device)
    mode = resolve_mode(bundle, args.score)
    window = bundle.clip_seconds if args.window is None else args.window
    hop = window / 2 if args.hop is None else args.hop
    threshold = resolve_threshold(bundle, mode, args.threshold)
    return bundle, {"mode": mode, "window_s": window, "hop_s": hop, "threshold": threshold}


def _collect_files(paths: Sequence[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += list_wavs(path)
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path}: no such file or folder; give WAV files or folders that hold them")
    return found


def _print_table(rows: Sequence[ScoreRow]) -> None:
    by_file: dict[str, list[ScoreRow]] = {}
    for row in rows:
        by_file.setdefault(row.file, []).append(row)
    for name, windows in by_file.items():
        worst = max(windows, key=lambda row: row.score)
        verdict = "ANOMALY" if any(row.decision for row in windows) else "normal"
        where = f" (window {worst.start_s:.0f}-{worst.end_s:.0f} s of {len(windows)})" if len(windows) > 1 else ""
        print(
            f"{name}: {verdict}  score {worst.score:.4g}  threshold {worst.threshold:.4g}  "
            f"percentile {worst.percentile:.1f}{where}"
        )


def run_score(args: argparse.Namespace) -> None:
    bundle, settings = _load(args)
    files = _collect_files(args.paths)
    progress = progress_bar(total=len(files), desc="score", unit="file", transient=True)
    rows: list[ScoreRow] = []
    for file_rows in score_files(bundle, files, **settings):
        rows += file_rows
        progress.update()
    progress.close()
    if args.csv:
        write_csv(args.csv, [list(CSV_COLUMNS), *(row.csv_values() for row in rows)])
    plot = args.plot or (args.csv.with_suffix(".png") if args.csv else None)
    if plot:
        times, label = timeline(rows)
        plot_score_timeline(
            plot,
            times,
            [row.score for row in rows],
            rows[0].threshold,
            f"{bundle.manifest['model']} ({settings['mode']}) of {len(files)} recordings",
            label,
        )
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=1))
    else:
        _print_table(rows)
    anomalous = len({row.file for row in rows if row.decision})
    written = ", ".join(str(path) for path in (args.csv, plot) if path)
    print(
        f"scored {len(files)} files ({len(rows)} windows): {anomalous} anomalous{' -> ' + written if written else ''}",
        file=sys.stderr if args.json else sys.stdout,
    )


def run_watch(args: argparse.Namespace) -> None:
    bundle, settings = _load(args)
    results = args.csv or args.folder / "monitor_scores.csv"
    if args.interval <= 0 or args.settle < 0:
        raise ConfigError(f"--interval ({args.interval}) must be positive and --settle ({args.settle}) at least 0")
    watch(
        bundle,
        args.folder,
        results,
        settings,
        interval=args.interval,
        settle=args.settle,
        once=args.once,
        report=lambda line: print(line, flush=True),
    )


def run_export(args: argparse.Namespace) -> None:
    if importlib.util.find_spec("onnx") is None:  # torch.onnx.export needs it, and would say so in a traceback
        raise ConfigError(
            f"ONNX export needs the onnx package, which {sys.executable} lacks: install it with "
            f"'{sys.executable} -m pip install -r requirements.txt' (or pip install onnx)"
        )
    bundle = load_bundle(args.bundle)
    description = export_onnx(bundle, args.onnx)
    print(
        f"exported {bundle.manifest['model']} ({', '.join(bundle.manifest['score_modes'])}) -> {args.onnx} "
        f"(inputs, thresholds: {description})"
    )


def _options_of(parser: argparse.ArgumentParser, command: str) -> list[str]:
    """The option strings of one subcommand (for "did you mean")."""
    subcommands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return [name for name in subcommands.choices[command]._option_string_actions if name.startswith("--")]


def run_command(argv: Sequence[str]) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(list(argv))
    if extra and args.command != "fit":
        raise ConfigError(
            f"unknown argument {extra[0]!r}{did_you_mean(extra[0], _options_of(parser, args.command))} "
            f"(see python -m tools.monitor {args.command} --help)"
        )
    if args.command == "fit":
        fit_bundle(args.normal_dir, args.out, args.model, args.config, extra, args.domains, args.others)
    else:
        {"score": run_score, "watch": run_watch, "export": run_export}[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    return exit_code_of(
        lambda: run_command(sys.argv[1:] if argv is None else argv),
        error_code=2,
        on_interrupt="interrupted; nothing was written half",
    )


if __name__ == "__main__":
    sys.exit(main())
