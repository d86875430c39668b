"""Watch a folder: score each new recording once it is complete and append its rows to a results CSV.

- Complete: a WAV whose size has not changed since the previous look and that nobody has written to for
  ``settle`` seconds; hidden files (a recorder's ``.part`` files) are never read.
- Safe appends: each file's rows are one ``write`` to the CSV opened for appending, then ``fsync``. A write cut
  short by a crash leaves at most the rows of that one file incomplete: the next start drops them (every row says
  which window of how many it is) and scores that file again.
- Restart: the files already in the CSV are not scored again; every other complete file is.
- Ctrl-C (or SIGTERM) lets the file being scored finish, then stops with a summary line.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from engine.monitor.bundle import Bundle
from engine.monitor.scoring import CSV_COLUMNS, ScoreRow, score_files
from errors import DataError
from safe_io import atomic_write_text, csv_text


def complete_rows(rows: list[list[str]]) -> list[list[str]]:
    """``rows`` without a trailing group of one file's rows that does not hold all its windows 1..n."""
    if not rows:
        return rows
    last = rows[-1][0]
    first = len(rows)
    while first > 0 and rows[first - 1][0] == last:
        first -= 1
    group = rows[first:]
    try:
        whole = [int(row[1]) for row in group] == list(range(1, int(group[0][2]) + 1)) and all(
            row[2] == group[0][2] for row in group
        )
    except (IndexError, ValueError):
        whole = False
    return rows if whole else rows[:first]


def open_results(path: Path, report: Callable[[str], None] = print) -> set[str]:
    """The files the results CSV ``path`` already scores; creates it (header only) when missing, and drops the
    rows a crash left incomplete."""
    header = list(CSV_COLUMNS)
    if not path.exists():
        atomic_write_text(path, csv_text([header]))
        return set()
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    kept_text = "\n".join(lines[:-1]) + "\n" if lines[:-1] else ""  # a last line without newline is cut short
    rows = list(csv.reader(io.StringIO(kept_text)))
    if not rows or rows[0] != header:
        raise DataError(
            f"{path} is not a results CSV of tools.monitor (its header is not {','.join(header)}); "
            "give another --csv or move that file away"
        )
    body = complete_rows(rows[1:])
    if csv_text([header, *body]) != text:
        atomic_write_text(path, csv_text([header, *body]))
        report(f"{path}: dropped the rows of a write cut short (the file is scored again)")
    return {row[0] for row in body}


def append_rows(path: Path, rows: Sequence[ScoreRow]) -> None:
    """One file's rows, in one write, then flushed to disk."""
    data = csv_text([row.csv_values() for row in rows]).encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        written = os.write(descriptor, data)
        if written != len(data):
            raise DataError(f"{path}: only {written} of {len(data)} bytes could be appended (disk full?)")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass
class Readiness:
    """Which WAV files of a folder are complete: unchanged in size since the last look, untouched for ``settle`` s."""

    folder: Path
    settle: float
    sizes: dict[str, int] = field(default_factory=dict)

    def poll(self) -> tuple[list[Path], int]:
        """``(complete files in name order, files still being written)``."""
        now, ready, waiting, sizes = time.time(), [], 0, {}
        for path in sorted(self.folder.rglob("*")):
            relative = path.relative_to(self.folder)
            if path.suffix.lower() != ".wav" or any(part.startswith(".") for part in relative.parts):
                continue
            try:
                status = path.stat()
            except FileNotFoundError:
                continue
            name = relative.as_posix()
            sizes[name] = status.st_size
            if self.sizes.get(name) == status.st_size and now - status.st_mtime >= self.settle:
                ready.append(path)
            else:
                waiting += 1
        self.sizes = sizes
        return ready, waiting


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop`` instead of interrupting a write (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, lambda *_: stop.set())
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@dataclass
class WatchCounts:
    scored: int = 0
    anomalous: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # file -> its size when it could not be scored


def _score_one(
    bundle: Bundle, path: Path, label: str, settings: dict, results: Path, report: Callable[[str], None]
) -> list[ScoreRow]:
    rows = next(score_files(bundle, [path], labels=[label], **settings))
    append_rows(results, rows)
    worst = max(rows, key=lambda row: row.score)
    verdict = "ANOMALY" if any(row.decision for row in rows) else "normal"
    report(
        f"{label}: {verdict} (score {worst.score:.4g}, threshold {worst.threshold:.4g}, percentile "
        f"{worst.percentile:.1f}{f', {len(rows)} windows' if len(rows) > 1 else ''})"
    )
    return rows


def watch(
    bundle: Bundle,
    folder: Path,
    results: Path,
    settings: dict,
    interval: float = 2.0,
    settle: float = 2.0,
    once: bool = False,
    stop: threading.Event | None = None,
    report: Callable[[str], None] = print,
) -> WatchCounts:
    """Score every complete new WAV under ``folder`` into ``results`` until ``stop`` is set (Ctrl-C) or, with
    ``once``, until every file present is scored. ``settings``: score_files' mode, window_s, hop_s, threshold."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; give the folder the recorder writes into")
    stop = stop or threading.Event()
    done = open_results(results, report)
    readiness, counts = Readiness(folder, settle), WatchCounts()
    report(f"watching {folder} ({len(done)} files already in {results}); Ctrl-C stops")
    with stop_on_signals(stop):
        while not stop.is_set():
            ready, waiting = readiness.poll()
            for path in ready:
                label = path.relative_to(folder).as_posix()
                if stop.is_set() or label in done or counts.skipped.get(label) == readiness.sizes.get(label):
                    continue
                try:
                    rows = _score_one(bundle, path, label, settings, results, report)
                except DataError as error:
                    report(f"skipped: {error}")
                    counts.skipped[label] = readiness.sizes[label]
                    continue
                done.add(label)
                counts.scored += 1
                counts.anomalous += any(row.decision for row in rows)
            if once and waiting == 0:
                break
            stop.wait(interval)
    report(
        f"watch stopped: {counts.scored} files scored ({counts.anomalous} anomalous, {len(counts.skipped)} "
        f"skipped) -> {results}"
    )
    return counts
