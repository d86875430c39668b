"""Writes that never leave a half-written file, a lock between processes, and a fault-injection hook.

Every file someone may rely on later (caches, checkpoints, weights, results) is written to a temporary
name in the same folder, flushed to disk, then renamed over the final name: a reader sees the old
complete file or the new complete file, never a mix, even after kill -9.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import fnmatch
import glob
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
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
FOLDER_MODE = 0o777 & ~_current_umask()  # what mkdir would give; mkdtemp alone gives 0700


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


def csv_text(rows: Sequence[Sequence[object]]) -> str:
    """Rows as the csv module writes them, ``\n`` line ends, no header added (floats in full precision)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path, rows: Sequence[Sequence[object]]) -> None:
    """Write ``rows`` (``csv_text``) to ``path`` atomically."""
    atomic_write_text(path, csv_text(rows))


@contextlib.contextmanager
def staging_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A fresh folder ``<parent>/<prefix><random>`` to build a folder in before ``install_folder`` gives it its
    name; whatever is left of it is removed on the way out, also on an error or Ctrl-C. A ``prefix`` naming
    the process (``.<what>-<pid>-``) lets ``remove_dead_process_folders`` clear those a killed run left."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    folder.chmod(FOLDER_MODE)  # mkdtemp's folder is private (0700); what is installed from it is read by others
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def install_folder(staging: Path, destination: Path, *, replace: bool = False, aside_prefix: str = "") -> bool:
    """Rename the finished folder ``staging`` to ``destination`` in one step: a reader sees no folder or a
    complete one. An existing ``destination`` is, with ``replace``, renamed aside first (to
    ``<aside_prefix or .<name>.old-<pid>->``<random> beside it) and deleted after; without ``replace`` it is
    kept. Returns False when ``destination`` was kept, or appeared meanwhile (another process finished first)."""
    if replace and destination.exists():
        prefix = aside_prefix or f".{destination.name}.old-{os.getpid()}-"
        aside = destination.with_name(f"{prefix}{uuid.uuid4().hex[:8]}")
        os.rename(destination, aside)
        os.rename(staging, destination)
        shutil.rmtree(aside, ignore_errors=True)
        return True
    try:
        os.rename(staging, destination)
    except OSError:
        if not destination.is_dir():  # not a folder another process installed first: a real failure
            raise
        return False
    return True


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


# The lock holds on one host through flock, which the kernel releases when its holder dies, and across hosts on a
# shared filesystem (NFS: flock there may be local to a client, or refused) through an owner file next to the lock
# file, created complete by link(2), which is atomic on NFS too. The owner file names its holder (host, pid) and
# is touched every LOCK_HEARTBEAT_S while held; it is stale, and removed by the next process that wants the lock,
# when its holder is a dead process of this host, or when it has not been touched for LOCK_STALE_S (its holder died
# on another host; the limit covers the heartbeat, NFS attribute caching, up to a minute, and clock differences).
LOCK_HEARTBEAT_S = 10.0
LOCK_STALE_S = 300.0
LOCK_POLL_S = 0.5


def _owner_file(lock_path: Path) -> Path:
    return lock_path.with_name(f"{lock_path.name}.owner")


def _try_own(owner: Path, record: str) -> bool:
    """Create ``owner`` holding ``record`` unless it exists: link a complete private file to it (open(2)'s
    NFS-safe recipe: a lost reply of a link that succeeded shows as a link count of 2)."""
    handle, private = tempfile.mkstemp(prefix=f".{owner.name}.", suffix=".tmp", dir=owner.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(record)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(private, owner)
        except FileExistsError:
            return False
        except OSError:
            return os.stat(private).st_nlink == 2
        return True
    finally:
        os.unlink(private)


def _read_owner(owner: Path) -> tuple[str, float] | None:
    """The owner file's record and how long ago it was last touched; None when there is none."""
    try:
        handle = os.open(owner, os.O_RDONLY)  # opening revalidates NFS's cached attributes
    except FileNotFoundError:
        return None
    with os.fdopen(handle, encoding="utf-8", errors="replace") as stream:
        return stream.read(), time.time() - os.fstat(stream.fileno()).st_mtime


def _is_stale(record: str, age_s: float) -> bool:
    try:
        holder = json.loads(record)
    except json.JSONDecodeError:
        holder = {}
    pid = holder.get("pid") if isinstance(holder, dict) and holder.get("host") == socket.gethostname() else None
    return (isinstance(pid, int) and not process_alive(pid)) or age_s > LOCK_STALE_S


def _remove_stale(owner: Path, record: str) -> None:
    """Move the stale owner file aside and delete it; if it turns out to be a new holder's, put it back."""
    aside = owner.with_name(f"{owner.name}.stale.{socket.gethostname()}.{os.getpid()}")
    try:
        os.rename(owner, aside)
    except FileNotFoundError:
        return
    with contextlib.suppress(FileExistsError):
        if aside.read_text(encoding="utf-8", errors="replace") != record:
            os.link(aside, owner)
    aside.unlink()


@contextlib.contextmanager
def _owning(lock_path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    owner = _owner_file(lock_path)
    record = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})
    while not _try_own(owner, record):
        held = _read_owner(owner)
        if held is not None and _is_stale(*held):
            _remove_stale(owner, held[0])
            continue
        on_wait()
        time.sleep(LOCK_POLL_S)
    released = threading.Event()

    def heartbeat() -> None:
        while not released.wait(LOCK_HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(owner)

    beating = threading.Thread(target=heartbeat, name=f"lock heartbeat {owner.name}", daemon=True)
    beating.start()
    try:
        yield
    finally:
        released.set()
        beating.join()
        held = _read_owner(owner)
        if held is not None and held[0] == record:
            owner.unlink(missing_ok=True)


@contextlib.contextmanager
def file_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed, never deleted) for the ``with`` block, against
    processes of this host and of other hosts sharing the folder (see LOCK_STALE_S above).

    ``on_wait`` is called once if another process holds the lock, before blocking on it. A holder killed by
    kill -9 loses the lock at once on this host (child processes forked while it is held share its flock: they
    must not outlive the holder, see ``datasets.clip_features``), after LOCK_STALE_S on another host.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    waited = False

    def say_waiting() -> None:
        nonlocal waited
        if on_wait is not None and not waited:
            on_wait()
        waited = True

    with open(path, "a+b") as stream:
        local = _flock(stream.fileno(), say_waiting)
        try:
            with _owning(path, say_waiting):
                yield
        finally:
            if local:
                fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


def _flock(descriptor: int, on_wait: Callable[[], None]) -> bool:
    """flock ``descriptor``, waiting if needed; False where the filesystem refuses flock (some NFS mounts)."""
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
    except OSError as error:
        if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return False
        raise
    return True


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


def load_or_build_cache(
    data_path: Path,
    manifest_path: Path,
    load_cached: Callable[[], Cached | None],
    build: Callable[[], tuple[Callable[[IO[bytes]], Any], dict, Cached | None]],
    what: str,
) -> tuple[Cached, bool]:
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
