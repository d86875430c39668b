"""Writes that never leave a half-written file, a lock between processes, and a fault-injection hook.

Every file someone may rely on later (caches, checkpoints, weights, results) is written to a temporary
name in the same folder, flushed to disk, then renamed over the final name: a reader sees the old
complete file or the new complete file, never a mix, even after kill -9.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import glob
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from tqdm import tqdm

from errors import DataError

PAUSE_AT_VARIABLE = "ASD_TEST_PAUSE_AT"
PAUSE_FLAG_VARIABLE = "ASD_TEST_PAUSE_FLAG"
PAUSE_LIMIT_S = 600.0
_pause_hits: dict[str, int] = {}
Cached = TypeVar("Cached")


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()  # what open() would give; mkstemp alone gives 0600


def pause_point(point: str) -> None:
    """Fault-injection hook for the tests (kill -9 at a known moment, lock contention); does nothing unless
    the environment variable ``ASD_TEST_PAUSE_AT`` is set.

    Points: ``rename:<file name>`` in :func:`atomic_write` (the temporary file is complete, the final name
    not replaced yet) and ``extract:<clip file name>`` before a clip's features are computed.
    ``ASD_TEST_PAUSE_AT=<glob>`` pauses at the first point matching the glob in this process,
    ``<glob>#<n>`` at the n-th. Pausing creates the file named by ``ASD_TEST_PAUSE_FLAG`` and waits until
    that file is deleted (at most ten minutes).
    """
    setting = os.environ.get(PAUSE_AT_VARIABLE)
    if not setting:
        return
    pattern, _, nth = setting.partition("#")
    if not fnmatch.fnmatchcase(point, pattern):
        return
    _pause_hits[setting] = _pause_hits.get(setting, 0) + 1
    if _pause_hits[setting] != int(nth or 1):
        return
    flag = Path(os.environ[PAUSE_FLAG_VARIABLE])
    flag.write_text(f"{os.getpid()} paused at {point}\n", encoding="utf-8")
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while flag.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), _FILE_MODE)
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        pause_point(f"rename:{path.name}")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))


def remove_stale_temporaries(path: Path) -> int:
    """Delete temporary files that :func:`atomic_write` left next to ``path`` when its process was killed.

    Call it only where no other process can be writing ``path`` (e.g. while holding the lock that guards
    it). Returns how many files were removed.
    """
    path = Path(path)
    removed = 0
    for temporary in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def file_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed, never deleted) for the ``with`` block.

    ``on_wait`` is called once if another process holds the lock, before blocking on it. The kernel
    releases the lock when the holder dies, even by kill -9 (child processes forked while it is held
    share it: they must not outlive the holder, see ``datasets.clip_features``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_process_folders(folder: Path, prefix: str) -> None:
    """Delete the folders ``<prefix><pid>-*`` in ``folder`` whose process no longer runs (killed runs'
    staging folders); those of running processes are left alone."""
    for leftover in Path(folder).glob(f"{glob.escape(prefix)}*-*"):
        pid = leftover.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def load_or_build_cache(data_path: Path, manifest_path: Path, load_cached: Callable[[], Cached | None],
                        build: Callable[[], tuple[Callable[[IO[bytes]], Any], dict, Cached | None]],
                        what: str) -> tuple[Cached, bool]:
    """A cache made of a data file and a JSON manifest, the manifest being the commit mark: returns
    ``(load_cached(), True)`` when it is valid, else builds it once under a lock and returns
    what it built, with False.

    ``load_cached()`` returns None for a missing, stale or half-written cache; ``build()`` does the slow
    work and returns ``(write_data, manifest, value)``, value being what it built when it holds it in
    memory, else None (then the new cache is loaded). A second process asking for the same cache waits
    for the first's lock (saying so once), then loads its result; a killed builder leaves no manifest, so
    its data file is never trusted.
    """
    data_path, manifest_path = Path(data_path), Path(manifest_path)
    cached = load_cached()
    if cached is not None:
        return cached, True

    def say_waiting() -> None:
        tqdm.write(f"waiting for another process that is writing the {what} cache {data_path} ...")

    with file_lock(data_path.with_name(f"{data_path.stem}.lock"), on_wait=say_waiting):
        cached = load_cached()
        if cached is not None:
            return cached, True
        for leftover in (data_path, manifest_path):
            remove_stale_temporaries(leftover)  # of a run killed while writing; only the lock holder writes
        write_data, manifest, value = build()
        manifest_path.unlink(missing_ok=True)  # drop the commit mark before the data it vouches for
        atomic_write(data_path, write_data)
        atomic_write_text(manifest_path, json.dumps(manifest))
    if value is not None:
        return value, False
    built = load_cached()
    if built is None:  # the input files changed while the cache was built
        raise DataError(f"the input files of the {what} cache {data_path} changed while it was built; run again")
    return built, False
