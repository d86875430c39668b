"""engine.monitor.watch: files appearing while the watch runs (one written slowly), Ctrl-C, a restart that neither
scores a file twice nor misses one, a write cut short by a crash, and a bad file that does not stop the watch."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.monitor.bundle import load_bundle
from engine.monitor.scoring import CSV_COLUMNS, score_files
from engine.monitor.watch import Readiness, complete_rows, csv_text, open_results, watch
from errors import DataError
from tests.conftest import REPO_ROOT
from tests.monitor_data import write_wav

SETTINGS = {"mode": "MSE", "window_s": 2.0, "hop_s": 1.0, "threshold": None}


def result_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def wait_for(condition, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def write_slowly(source: Path, target: Path, pieces: int = 4, pause: float = 0.3) -> None:
    """Copy ``source`` in ``pieces`` writes ``pause`` seconds apart, as a recorder writes its file."""
    data = source.read_bytes()
    size = len(data) // pieces + 1
    with open(target, "wb") as stream:
        for start in range(0, len(data), size):
            stream.write(data[start : start + size])
            stream.flush()
            time.sleep(pause)


def start_watch(bundle: Path, folder: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "tools.monitor",
        "watch",
        str(bundle),
        str(folder),
        "--interval",
        "0.2",
        "--settle",
        "1.0",
        "--use_cuda",
        "False",
        *extra,
    ]
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def expected_scores(bundle: Path, clips: list[Path]) -> dict[str, float]:
    return {
        clip.name: rows[0].score
        for clip, rows in zip(clips, score_files(load_bundle(bundle), clips, **SETTINGS), strict=True)
    }


def test_watch_scores_new_files_once_across_ctrl_c_and_restart(
    ae_bundle: Path, recordings: Path, tmp_path: Path
) -> None:
    clips = sorted((recordings / "day").glob("*.wav"))[:6]
    folder, results = tmp_path / "incoming", tmp_path / "incoming" / "monitor_scores.csv"
    folder.mkdir()
    process = start_watch(ae_bundle, folder)
    try:
        wait_for(results.exists)
        for clip in clips[:2]:
            shutil.copyfile(clip, folder / clip.name)
        write_slowly(clips[2], folder / clips[2].name)  # still being written for about a second
        (folder / f".{clips[3].name}.part").write_bytes(clips[3].read_bytes())  # a recorder's hidden temporary
        wait_for(lambda: len(result_rows(results)) == 3)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "watch stopped: 3 files scored (" in output.splitlines()[-1]
    (folder / f".{clips[3].name}.part").rename(folder / clips[3].name)
    for clip in clips[4:]:
        shutil.copyfile(clip, folder / clip.name)
    again = start_watch(ae_bundle, folder, "--once")
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    assert "(3 files already in" in output and "watch stopped: 3 files scored (" in output
    rows = result_rows(results)
    assert sorted(row["file"] for row in rows) == sorted(clip.name for clip in clips)  # each once
    expected = expected_scores(ae_bundle, clips)
    assert {row["file"]: float(row["score"]) for row in rows} == pytest.approx(expected, rel=1e-6)


def test_a_write_cut_short_is_dropped_and_that_file_scored_again(
    ae_bundle: Path, recordings: Path, tmp_path: Path
) -> None:
    [long] = (recordings / "long").glob("*.wav")
    short = sorted((recordings / "day").glob("*.wav"))[0]
    folder = tmp_path / "incoming"
    folder.mkdir()
    for clip in (short, long):
        shutil.copyfile(clip, folder / clip.name)
    results = tmp_path / "scores.csv"
    bundle = load_bundle(ae_bundle)
    rows = [
        row.csv_values()
        for rows in score_files(bundle, [folder / short.name, folder / long.name], **SETTINGS)
        for row in rows
    ]
    rows[0][0], rows[1][0] = short.name, long.name
    for row in rows[1:]:
        row[0] = long.name
    text = csv_text([list(CSV_COLUMNS), *rows])
    results.write_text(text[: text.index(rows[5][6])])  # killed in the middle of the long file's rows
    lines = []
    counts = watch(bundle, folder, results, SETTINGS, interval=0.05, settle=0.0, once=True, report=lines.append)
    assert counts.scored == 1 and "dropped the rows of a write cut short" in "\n".join(lines)
    scored = result_rows(results)
    assert [row["file"] for row in scored].count(short.name) == 1
    assert [int(row["window"]) for row in scored if row["file"] == long.name] == list(range(1, len(rows)))


def test_a_bad_file_is_reported_and_the_watch_goes_on(ae_bundle: Path, recordings: Path, tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    write_wav(folder / "a-stereo.wav", channels=2)
    clip = sorted((recordings / "day").glob("*.wav"))[0]
    shutil.copyfile(clip, folder / clip.name)
    lines: list[str] = []
    counts = watch(
        load_bundle(ae_bundle),
        folder,
        tmp_path / "s.csv",
        SETTINGS,
        interval=0.05,
        settle=0.0,
        once=True,
        report=lines.append,
    )
    assert counts.scored == 1 and list(counts.skipped) == ["a-stereo.wav"]
    assert any(line.startswith("skipped: ") and "a-stereo.wav has 2 channels" in line for line in lines)
    assert [row["file"] for row in result_rows(tmp_path / "s.csv")] == [clip.name]


def test_complete_rows_keeps_whole_groups_only() -> None:
    def row(name: str, window: int, windows: int) -> list[str]:
        return [name, str(window), str(windows)]

    whole = [row("a", 1, 1), row("b", 1, 3), row("b", 2, 3), row("b", 3, 3)]
    assert complete_rows(whole) == whole
    assert complete_rows([*whole, row("c", 1, 2)]) == whole
    assert complete_rows([*whole, row("c", 1, 2), ["c", "2"]]) == whole
    assert complete_rows([]) == []


def test_a_csv_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("name,value\nx,1\n")
    with pytest.raises(DataError, match=r"is not a results CSV of tools\.monitor"):
        open_results(other)
    assert other.read_text() == "name,value\nx,1\n"  # left as it was


def test_readiness_waits_for_a_file_to_stop_growing(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", 0.5)
    readiness = Readiness(tmp_path, settle=0.0)
    assert readiness.poll() == ([], 1)  # first look: size not known yet
    assert readiness.poll() == ([path], 0)
    with open(path, "ab") as stream:
        stream.write(b"\0" * 100)
    assert readiness.poll() == ([], 1)
    assert Readiness(tmp_path, settle=3600.0).poll()[0] == []  # written just now: not settled
