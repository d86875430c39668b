"""Atomic writes, stale temporary files, the fault-injection pause and the cross-host lock of safe_io."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

import safe_io
from errors import DataError
from safe_io import (
    PAUSE_AT_VARIABLE,
    PAUSE_FLAG_VARIABLE,
    atomic_write,
    atomic_write_text,
    csv_text,
    install_folder,
    pause_point,
    staging_folder,
    write_csv,
)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    atomic_write_text(path, "old complete content\n")

    def fail_half_way(stream) -> None:
        stream.write(b"new half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail_half_way)
    assert path.read_text() == "old complete content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    path = tmp_path / "scores.csv"
    atomic_write_text(path, "a.wav,1.0\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # as open() gives, not mkstemp's 0600


def test_remove_stale_temporaries_touches_only_that_file_s(tmp_path: Path) -> None:
    target = tmp_path / "DCASE2023T2-AE_fan_id(0_)_seed1.pth"
    mine = [tmp_path / f".{target.name}.abc123.tmp", tmp_path / f".{target.name}.zz.tmp"]
    others = [tmp_path / ".DCASE2023T2-AE_valve_id(0_)_seed1.pth.abc.tmp", tmp_path / f"{target.name}.tmp"]
    for path in mine + others:
        path.write_bytes(b"x")
    assert safe_io.remove_stale_temporaries(target) == 2
    assert not any(path.exists() for path in mine) and all(path.exists() for path in others)


def test_pause_point_is_a_no_op_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PAUSE_AT_VARIABLE, raising=False)
    pause_point("rename:anything")
    monkeypatch.setenv(PAUSE_AT_VARIABLE, "rename:other*")
    monkeypatch.setenv(PAUSE_FLAG_VARIABLE, str(tmp_path / "flag"))
    pause_point("rename:anything")
    assert not (tmp_path / "flag").exists()


def test_pause_point_waits_at_the_nth_match_until_the_flag_is_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "flag"
    monkeypatch.setenv(PAUSE_AT_VARIABLE, "rename:checkpoint.tar#2")
    monkeypatch.setenv(PAUSE_FLAG_VARIABLE, str(flag))
    monkeypatch.setattr(safe_io, "_pause_hits", {})
    pause_point("rename:checkpoint.tar")  # the first match passes
    assert not flag.exists()
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (pause_point("rename:checkpoint.tar"), done.set()))
    waiter.start()
    deadline = time.monotonic() + 10
    while not flag.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not done.wait(0.2)  # still paused
    flag.unlink()
    assert done.wait(10)
    waiter.join()


class TextCache:
    """A toy cache for load_or_build_cache: data.txt holds the text, manifest.json its length."""

    def __init__(self, folder: Path, text: str) -> None:
        self.data, self.manifest, self.text, self.builds = folder / "data.txt", folder / "data.json", text, 0

    def load(self) -> str | None:
        try:
            length = json.loads(self.manifest.read_text())["length"]
            text = self.data.read_text()
        except (OSError, ValueError, KeyError):
            return None
        return text if len(text) == length else None

    def build(self, keep_in_memory: bool):
        self.builds += 1
        text = self.text
        return (lambda stream: stream.write(text.encode())), {"length": len(text)}, (text if keep_in_memory else None)

    def get(self, keep_in_memory: bool = True) -> tuple[str, bool]:
        return safe_io.load_or_build_cache(
            self.data, self.manifest, self.load, lambda: self.build(keep_in_memory), "text"
        )


@pytest.mark.parametrize("keep_in_memory", [True, False])
def test_a_cache_is_built_once_then_loaded(tmp_path: Path, keep_in_memory: bool) -> None:
    cache = TextCache(tmp_path, "abc")
    assert cache.get(keep_in_memory) == ("abc", False)
    assert cache.get(keep_in_memory) == ("abc", True)
    assert cache.builds == 1
    assert json.loads(cache.manifest.read_text()) == {"length": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json", "data.lock", "data.txt"]


def test_data_without_its_manifest_and_stale_temporaries_are_rebuilt(tmp_path: Path) -> None:
    cache = TextCache(tmp_path, "fresh")
    cache.data.write_text("half-written by a killed run")  # no manifest: never trusted
    (tmp_path / ".data.txt.1234.tmp").write_text("left by kill -9")
    assert cache.get() == ("fresh", False)
    assert cache.data.read_text() == "fresh" and not list(tmp_path.glob("*.tmp"))


def test_a_cache_that_does_not_load_after_building_is_an_error(tmp_path: Path) -> None:
    cache = TextCache(tmp_path, "abc")
    cache.load = lambda: None  # e.g. the input files changed while it was built
    with pytest.raises(DataError, match="changed while it was built"):
        cache.get(keep_in_memory=False)


# ----------------------------------------------------------------------------------------------------------
# file_lock across hosts: the owner file next to the lock file
def _hold_in_thread(
    path: Path, entered: threading.Event, leave: threading.Event, waited: threading.Event | None = None
) -> threading.Thread:
    def hold() -> None:
        with safe_io.file_lock(path, on_wait=waited.set if waited else None):
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_the_owner_file_alone_excludes_a_second_holder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an NFS mount that refuses flock: the owner file, created by link(2), is the lock."""
    monkeypatch.setattr(safe_io, "_flock", lambda descriptor, on_wait: False)
    monkeypatch.setattr(safe_io, "LOCK_POLL_S", 0.02)
    lock = tmp_path / "cache.lock"
    first_in, first_out, second_in, second_out, second_waited = (threading.Event() for _ in range(5))
    first = _hold_in_thread(lock, first_in, first_out)
    assert first_in.wait(10)
    owner = json.loads((tmp_path / "cache.lock.owner").read_text())
    assert owner["host"] == socket.gethostname() and owner["pid"] == os.getpid()
    second = _hold_in_thread(lock, second_in, second_out, second_waited)
    assert second_waited.wait(10) and not second_in.wait(0.3)
    first_out.set()
    assert second_in.wait(10)
    second_out.set()
    first.join(10)
    second.join(10)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cache.lock"]


def test_a_dead_holders_owner_file_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = tmp_path / "cache.lock.owner"
    owner.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "since": time.time()}))
    waits: list[int] = []
    with safe_io.file_lock(tmp_path / "cache.lock", on_wait=lambda: waits.append(1)):
        assert json.loads(owner.read_text())["pid"] == os.getpid()
    assert waits == [] and not owner.exists()


def test_another_hosts_owner_file_holds_until_it_is_older_than_the_stale_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safe_io, "LOCK_POLL_S", 0.02)
    owner = tmp_path / "cache.lock.owner"
    owner.write_text(json.dumps({"host": "another-node", "pid": os.getpid(), "since": time.time()}))
    entered, leave, waited = threading.Event(), threading.Event(), threading.Event()
    holder = _hold_in_thread(tmp_path / "cache.lock", entered, leave, waited)
    assert waited.wait(10) and not entered.wait(0.5)
    last_heartbeat = time.time() - safe_io.LOCK_STALE_S - 1
    os.utime(owner, (last_heartbeat, last_heartbeat))
    assert entered.wait(10)
    assert json.loads(owner.read_text())["host"] == socket.gethostname()
    leave.set()
    holder.join(10)


def test_the_holder_keeps_its_owner_file_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safe_io, "LOCK_HEARTBEAT_S", 0.05)
    owner = tmp_path / "cache.lock.owner"
    with safe_io.file_lock(tmp_path / "cache.lock"):
        long_ago = time.time() - 3600
        os.utime(owner, (long_ago, long_ago))
        time.sleep(0.5)
        assert time.time() - owner.stat().st_mtime < 5


def test_write_csv_writes_the_csv_module_s_bytes_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "rows.csv"
    write_csv(path, [["a.wav", 1 / 3], ["b,c.wav", 2]])
    assert path.read_bytes() == b'a.wav,0.3333333333333333\n"b,c.wav",2\n'
    assert csv_text([]) == "" and [p.name for p in path.parent.iterdir()] == ["rows.csv"]


def test_install_folder_puts_a_complete_folder_in_place_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = tmp_path / "fan"
    with staging_folder(tmp_path, ".fan.partial-") as staging:
        (staging / "new.txt").write_text("new")
        assert install_folder(staging, destination)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fan"] and (destination / "new.txt").is_file()
    # without replace an existing folder is kept (another process finished first): False, the staging removed
    with staging_folder(tmp_path, ".fan.partial-") as staging:
        (staging / "other.txt").write_text("other")
        assert not install_folder(staging, destination)
    assert sorted(p.name for p in destination.iterdir()) == ["new.txt"]
    # with replace the old folder goes aside under the prefix given, and is deleted once the new one is in place
    seen_aside: list[str] = []
    real_rmtree = shutil.rmtree

    def spy(path: Path, *args: object, **kwargs: object) -> None:
        seen_aside.append(Path(path).name)
        real_rmtree(path, *args, **kwargs)

    with staging_folder(tmp_path, ".fan.partial-") as staging:
        (staging / "newer.txt").write_text("newer")
        monkeypatch.setattr(safe_io.shutil, "rmtree", spy)
        assert install_folder(staging, destination, replace=True, aside_prefix=".fan.old-1-")
    assert sorted(p.name for p in destination.iterdir()) == ["newer.txt"]
    assert seen_aside[0].startswith(".fan.old-1-") and sorted(p.name for p in tmp_path.iterdir()) == ["fan"]


def test_a_staging_folder_is_removed_when_the_build_fails(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), staging_folder(tmp_path, ".x-") as staging:
        (staging / "half.wav").write_bytes(b"RIFF")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
