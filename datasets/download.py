"""Download and unpack the DCASE Task 2 archives from Zenodo: verified, resumable, safe and locked.

Used by the ``data_download_*.sh`` scripts (``python -m datasets.download DCASE2024T2 dev``) and, through
``ensure_machine_data``, by training with ``--is_auto_download True``. Where each archive is published is
written in ``download_urls.yaml``; which machine types exist, in ``machine_types.yaml``.

For each archive: read the md5 checksums of its Zenodo record, download to ``<archive>.part`` (resuming
with an HTTP Range request), verify, rename, unpack into a temporary folder inside ``raw/`` and move each
finished ``<machine>/<sub-folder>`` into place. Layout under ``<dataset_directory>/dcase2024t2/dev_data``:
``archives/dev_fan.zip`` (kept unless --remove_archives), ``archives/fan.lock`` (never deleted) and
``raw/fan/{train,test,attributes_00.csv}``. One lock per machine type keeps parallel runs from
downloading or unpacking the same data twice.

Legacy datasets (DCASE2020-2022, ``tools/data_download_<year>.sh``): DCASE2021's ``source_test/`` and
``target_test/`` are merged into ``test/`` after unpacking, and once a legacy evaluation test set is in
place its clips are given their labelled names in ``test_rename/`` (``datasets.eval_labels``), as the
public baseline does.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import quote

import yaml

from datasets.legacy_layout import has_split_test_folders, merge_split_test_folders
from datasets.registry import is_legacy, machine_types, resolve_dataset
from errors import DataError, exit_code_of
from progress import progress_bar

SOURCES_YAML = Path(__file__).with_name("download_urls.yaml")
BASE_URL_ENV = "DCASE_DOWNLOAD_BASE_URL"
DEFAULT_BASE_URL = "https://zenodo.org"
PARTS = ("dev", "add", "eval")
ALL_PARTS = "all"  # command line: dev, add and eval in turn
PARTS_OF_SPLIT = {"dev": ("dev",), "eval": ("add", "eval")}
USER_AGENT = "dcase-t2-asd-downloader/1.0"
CHUNK_BYTES = 1 << 20
RETRYABLE_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
UNPACK_PREFIX = ".unpack-"

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a network request is retried."""

    attempts: int = 5
    first_delay_s: float = 2.0
    max_delay_s: float = 60.0
    timeout_s: float = 60.0

    def delay_s(self, failed_attempts: int) -> float:
        """Exponential backoff: first_delay_s, 2x, 4x, ... capped at max_delay_s."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** (failed_attempts - 1))


@dataclass(frozen=True)
class Settings:
    """Where to download from and how careful to be."""

    base_url: str = DEFAULT_BASE_URL
    verify: bool = True
    remove_archives: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def base_url_from_environment() -> str:
    """``$DCASE_DOWNLOAD_BASE_URL`` without a trailing slash, or https://zenodo.org."""
    return (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


@dataclass(frozen=True)
class Archive:
    """One zip file of one Zenodo record, holding the ``<machine>/`` folder of one machine type."""

    family: str  # DCASE2024T2
    part: str  # dev | add | eval
    machine: str
    record: str
    name: str  # dev_fan.zip
    provides: tuple[str, ...]  # sub-folders of <machine>/ it contains, e.g. ("train", "test")
    data_dir: Path  # <dataset_directory>/dcase2024t2/dev_data

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def machine_dir(self) -> Path:
        return self.raw_dir / self.machine

    @property
    def path(self) -> Path:
        return self.data_dir / "archives" / self.name

    @property
    def partial_path(self) -> Path:
        return self.path.with_name(self.name + ".part")

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "archives" / f"{self.machine}.lock"

    def url(self, base_url: str) -> str:
        return f"{base_url}/records/{self.record}/files/{quote(self.name)}"

    def is_unpacked(self) -> bool:
        """True when every sub-folder this archive provides is in place (they are moved in complete)."""
        return all((self.machine_dir / folder).is_dir() for folder in self.provides)


@dataclass(frozen=True)
class RemoteFile:
    """What a Zenodo record says about one of its files."""

    size: int | None
    md5: str | None


# ---------------------------------------------------------------------------------------------------------
# Which archives exist


@cache
def _sources() -> dict[str, dict[str, dict]]:
    with SOURCES_YAML.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def families() -> list[str]:
    """Dataset families that can be downloaded, e.g. ["DCASE2024T2", "DCASE2023T2"]."""
    return list(_sources())


def _part_entry(family: str, part: str) -> dict:
    if family not in _sources():
        raise DataError(f"unknown dataset {family!r}; valid datasets: {', '.join(families())}")
    if part not in _sources()[family]:
        raise DataError(f"unknown part {part!r} of {family}; valid parts: {', '.join(_sources()[family])}"
                        " (dev: development data, add: additional training data, eval: evaluation test data)")
    return _sources()[family][part]


def valid_machines(family: str, part: str) -> list[str]:
    """Machine types that ``part`` of ``family`` has an archive for."""
    return machine_types(family, _part_entry(family, part)["split"])


def archives_for(dataset_directory: Path, family: str, part: str,
                 machines: Sequence[str] | None = None) -> list[Archive]:
    """The archives of ``part`` (all machine types, or only ``machines``), with where they go."""
    entry = _part_entry(family, part)
    valid = valid_machines(family, part)
    unknown = [machine for machine in machines or () if machine not in valid]
    if unknown:
        raise DataError(f"unknown machine type {', '.join(map(repr, unknown))} for {family} {part}; "
                        f"valid machine types: {', '.join(valid)}")
    archives = []
    for machine in machines or valid:
        name = entry.get("renamed", {}).get(machine, entry["archive"].format(machine=machine))
        data_dir = resolve_dataset(family + machine, entry["split"]).data_dir(Path(dataset_directory))
        archives.append(Archive(family, part, machine, str(entry["record"]), name,
                                tuple(entry["provides"]), data_dir))
    return archives


# ---------------------------------------------------------------------------------------------------------
# Network


class _TransientError(Exception):
    """A download that stopped early or answered oddly; retrying is expected to help."""


def _describe(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def _with_retries(action: Callable[[], T], url: str, retry: RetryPolicy, resume_hint: str = "") -> T:
    """Run ``action`` (one request to ``url``), retrying network failures with exponential backoff."""
    for attempt in range(1, retry.attempts + 1):
        try:
            return action()
        except urllib.error.HTTPError as error:
            error.close()
            if error.code not in RETRYABLE_HTTP_CODES:
                raise DataError(f"download failed: {url} answered HTTP {error.code} {error.reason}"
                                ) from error
            last_error: BaseException = error
            retry_after = error.headers.get("Retry-After", "") if error.headers else ""
            delay = min(float(retry_after), retry.max_delay_s) if retry_after.isdigit() else None
        except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException,
                _TransientError) as error:
            last_error, delay = error, None
        if attempt < retry.attempts:
            delay = retry.delay_s(attempt) if delay is None else delay
            print(f"{url}: {_describe(last_error)}; retrying in {delay:.1f} s "
                  f"(attempt {attempt + 1} of {retry.attempts})", flush=True)
            time.sleep(delay)
    raise DataError(f"download failed: {url}: {_describe(last_error)} (gave up after {retry.attempts} "
                    f"attempts); check the connection and run the same command again{resume_hint}"
                    ) from last_error


def _open(url: str, retry: RetryPolicy, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(request, timeout=retry.timeout_s)


def record_url(base_url: str, record: str) -> str:
    return f"{base_url}/api/records/{record}"


def parse_record_files(record_json: dict) -> dict[str, RemoteFile]:
    """File name -> size and md5 from Zenodo record metadata (``files`` as a list or as ``entries``)."""
    files = record_json.get("files", [])
    if isinstance(files, dict):
        files = files.get("entries", [])
    if isinstance(files, dict):
        files = list(files.values())
    remote_files = {}
    for entry in files:
        name = entry.get("key") or entry.get("filename")
        algorithm, _, digest = str(entry.get("checksum", "")).partition(":")
        md5 = digest.lower() if algorithm.lower() == "md5" and digest else None
        size = entry.get("size", entry.get("filesize"))
        if name:
            remote_files[name] = RemoteFile(int(size) if size is not None else None, md5)
    return remote_files


def fetch_record_files(base_url: str, record: str, retry: RetryPolicy) -> dict[str, RemoteFile]:
    """Read the checksums of a Zenodo record; a clear DataError (mentioning --no-verify) if that fails."""
    url = record_url(base_url, record)

    def read() -> dict[str, RemoteFile]:
        with _open(url, retry) as response:
            return parse_record_files(json.loads(response.read().decode("utf-8")))

    try:
        return _with_retries(read, url, retry)
    except (DataError, ValueError, AttributeError) as error:
        reason = _describe(error.__cause__) if isinstance(error, DataError) and error.__cause__ else error
        raise DataError(f"cannot read the checksums of Zenodo record {record} from {url} ({reason}); "
                        f"check the connection (or ${BASE_URL_ENV}), or pass --no-verify to download "
                        "without checking them (unsafe: a corrupt or tampered archive would go unnoticed)"
                        ) from error


def _download_once(url: str, partial: Path, expected_size: int | None, retry: RetryPolicy) -> None:
    """One request: append to ``partial`` (Range) or write it from zero; _TransientError if cut short."""
    existing = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and existing > expected_size:
        partial.unlink()
        existing = 0
    if expected_size is not None and existing == expected_size:
        return
    try:
        response = _open(url, retry, {"Range": f"bytes={existing}-"} if existing else None)
    except urllib.error.HTTPError as error:
        if error.code == 416 and existing:  # nothing after byte `existing`: the file is (over)complete
            error.close()
            if expected_size is None:
                return
            partial.unlink()
            raise _TransientError(f"the server refused to resume at byte {existing}") from error
        raise
    with response:
        resumed = existing > 0 and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {existing}-"):
            partial.unlink()
            raise _TransientError(f"unexpected Content-Range {response.headers.get('Content-Range')!r}")
        if existing and not resumed:
            print(f"{partial.name}: the server cannot resume (HTTP {response.status}); downloading from the "
                  "start", flush=True)
            existing = 0
        length = response.headers.get("Content-Length")
        total = existing + int(length) if length is not None else expected_size
        with partial.open("ab" if resumed else "wb") as output, progress_bar(
            total=total, initial=existing, unit="B", unit_scale=True, unit_divisor=1024,
            desc=partial.name.removesuffix(".part"),
        ) as progress:
            while chunk := response.read(CHUNK_BYTES):
                output.write(chunk)
                progress.update(len(chunk))
    received = partial.stat().st_size
    if total is not None and received < total:
        raise _TransientError(f"connection closed after {received} of {total} bytes")


def download_file(url: str, partial: Path, expected_size: int | None, retry: RetryPolicy) -> None:
    """Download ``url`` into ``partial``, resuming what is there; retries with backoff."""
    partial.parent.mkdir(parents=True, exist_ok=True)
    _with_retries(lambda: _download_once(url, partial, expected_size, retry), url, retry,
                  f" to resume from the partial file {partial}")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Unpacking


def unsafe_member_reason(member: zipfile.ZipInfo) -> str | None:
    """Why unpacking ``member`` could write outside the target folder, or None when it is safe."""
    name = member.filename.replace("\\", "/")
    if stat.S_ISLNK(member.external_attr >> 16):
        return "is a symbolic link"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in name.split("/"):
        return "contains '..'"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def _check_members(archive_path: Path, members: list[zipfile.ZipInfo]) -> None:
    for member in members:
        reason = unsafe_member_reason(member)
        if reason:
            raise DataError(f"refusing to unpack {archive_path}: member {member.filename!r} {reason} and "
                            "could be written outside the dataset folder; nothing was unpacked. A genuine "
                            f"DCASE archive has no such member: delete it and check where ${BASE_URL_ENV} "
                            "points")


def _require_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise DataError(f"not enough disk space in {folder} for {what}: it needs {_human(needed_bytes)}, "
                        f"{_human(free)} are free; free some space or choose another --dataset_directory")


def _extract(archive_path: Path, members: list[zipfile.ZipInfo], zip_file: zipfile.ZipFile,
             into: Path) -> None:
    root = into.resolve()
    for member in progress_bar(members, desc=f"unpack {archive_path.name}", unit="file", transient=True):
        relative = PurePosixPath(*(part for part in member.filename.replace("\\", "/").split("/")
                                   if part not in ("", ".")))
        if not relative.parts:
            continue
        target = root.joinpath(*relative.parts)
        if not target.resolve().is_relative_to(root):  # a symlinked parent; cannot pass the checks above
            raise DataError(f"refusing to unpack {archive_path}: member {member.filename!r} resolves "
                            "outside the dataset folder")
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with zip_file.open(member) as source, target.open("wb") as output:
            shutil.copyfileobj(source, output, CHUNK_BYTES)


def _move_into_place(unpacked: Path, raw_dir: Path) -> None:
    """Move every ``<top>/<entry>`` of ``unpacked`` to ``raw_dir``, keeping what is already there."""
    for top in sorted(unpacked.iterdir()):
        if not top.is_dir():
            if not (raw_dir / top.name).exists():
                os.replace(top, raw_dir / top.name)
            continue
        (raw_dir / top.name).mkdir(parents=True, exist_ok=True)
        # files first, folders last: a provided folder that exists is always complete
        for entry in sorted(top.iterdir(), key=lambda path: (path.is_dir(), path.name)):
            destination = raw_dir / top.name / entry.name
            if not destination.exists():
                os.replace(entry, destination)


def unpack(archive: Archive) -> None:
    """Unpack ``archive.path`` safely into ``archive.raw_dir``; nothing half-written is left in place."""
    archive.raw_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{UNPACK_PREFIX}{archive.name}-"
    for leftover in archive.raw_dir.glob(prefix + "*"):  # from a run that was killed; we hold the lock
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive.path) as zip_file:
            members = zip_file.infolist()
            _check_members(archive.path, members)
            _require_free_space(archive.raw_dir, sum(member.file_size for member in members),
                                f"unpacking {archive.name}")
            temporary = Path(tempfile.mkdtemp(prefix=prefix, dir=archive.raw_dir))
            try:
                _extract(archive.path, members, zip_file, temporary)
                _move_into_place(temporary, archive.raw_dir)
            finally:
                shutil.rmtree(temporary, ignore_errors=True)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        archive.path.unlink(missing_ok=True)
        raise DataError(f"archive {archive.path} is corrupt ({error}); it was deleted: run again to download "
                        "it again") from error
    if not archive.is_unpacked():
        missing = [f"{archive.machine}/{folder}" for folder in archive.provides
                   if not (archive.machine_dir / folder).is_dir()]
        raise DataError(f"archive {archive.path} does not contain {', '.join(missing)}; is "
                        f"datasets/download_urls.yaml pointing at the right file?")


# ---------------------------------------------------------------------------------------------------------
# Locking and the whole job


@contextmanager
def machine_lock(lock_path: Path, what: str) -> Iterator[None]:
    """Exclusive flock on ``lock_path`` (never deleted, so every process locks the same inode)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process that is downloading {what} (lock {lock_path})", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Downloader:
    """Fetches archives with one set of settings, reading each record's checksums once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._record_files: dict[str, dict[str, RemoteFile]] = {}
        self.downloaded_bytes = 0

    def remote_file(self, archive: Archive) -> RemoteFile:
        if not self.settings.verify:
            return RemoteFile(None, None)
        if archive.record not in self._record_files:
            self._record_files[archive.record] = fetch_record_files(
                self.settings.base_url, archive.record, self.settings.retry)
        files = self._record_files[archive.record]
        remote = files.get(archive.name)
        if remote is None or remote.md5 is None:
            problem = "lists no file" if remote is None else "gives no md5 checksum for"
            raise DataError(f"Zenodo record {archive.record} {problem} {archive.name} (it lists: "
                            f"{', '.join(sorted(files)) or 'nothing'}); update datasets/download_urls.yaml, "
                            "or pass --no-verify (unsafe)")
        return remote

    def _verified_archive_on_disk(self, archive: Archive, remote: RemoteFile) -> bool:
        if not archive.path.is_file():
            return False
        if remote.md5 is None or md5_of(archive.path) == remote.md5:
            return True
        archive.path.unlink()
        print(f"{archive.path} does not match its checksum; deleted it, downloading it again", flush=True)
        return False

    def _download_verified(self, archive: Archive, remote: RemoteFile) -> None:
        url = archive.url(self.settings.base_url)
        partial = archive.partial_path
        if remote.size is not None:
            already = partial.stat().st_size if partial.exists() else 0
            partial.parent.mkdir(parents=True, exist_ok=True)
            _require_free_space(partial.parent, max(remote.size - already, 0), f"downloading {archive.name}")
        started_from_partial = partial.exists() and partial.stat().st_size > 0
        while True:
            download_file(url, partial, remote.size, self.settings.retry)
            if remote.md5 is None:
                break
            actual = md5_of(partial)
            if actual == remote.md5:
                break
            partial.unlink()
            if not started_from_partial:
                raise DataError(f"checksum mismatch for {url}: expected md5 {remote.md5}, got {actual}; "
                                "the bad download was deleted. Run again to retry; if it repeats, the file "
                                "on the server differs from its record")
            print(f"{archive.name}: the partial download kept from an earlier run was not part of this file "
                  "(checksum mismatch); downloading it again from the start", flush=True)
            started_from_partial = False
        self.downloaded_bytes += partial.stat().st_size
        os.replace(partial, archive.path)

    def fetch(self, archive: Archive) -> str:
        """Make ``archive``'s folders present: "present", "reused" (archive on disk) or "downloaded"."""
        if archive.is_unpacked():
            return "present"
        with machine_lock(archive.lock_path, f"{archive.family} {archive.machine}"):
            if archive.is_unpacked():  # another process finished it while we waited
                return "present"
            try:
                remote = self.remote_file(archive)
                outcome = "reused"
                if not self._verified_archive_on_disk(archive, remote):
                    self._download_verified(archive, remote)
                    outcome = "downloaded"
                unpack(archive)
                if has_split_test_folders(archive.machine_dir):  # DCASE2021: source_test + target_test
                    merge_split_test_folders(archive.machine_dir)
            except OSError as error:
                if error.errno in DISK_FULL_ERRNOS:
                    raise DataError(f"the disk is full while writing {error.filename or archive.data_dir} "
                                    f"({os.strerror(error.errno)}); free some space and run again (a partial "
                                    "download is kept and resumed)") from error
                raise
            if self.settings.remove_archives:
                archive.path.unlink(missing_ok=True)
            return outcome


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def download_part(dataset_directory: Path, family: str, part: str, machines: Sequence[str] | None = None,
                  settings: Settings | None = None) -> dict[str, str]:
    """Download and unpack one part of a dataset; returns machine -> outcome and prints a summary line."""
    settings = settings or Settings(base_url=base_url_from_environment())
    archives = archives_for(dataset_directory, family, part, machines)
    downloader = Downloader(settings)
    outcomes = {}
    for archive in archives:
        outcomes[archive.machine] = downloader.fetch(archive)
        print(f"{archive.name}: {outcomes[archive.machine]} -> {archive.machine_dir}", flush=True)
    counts = {outcome: list(outcomes.values()).count(outcome)
              for outcome in ("downloaded", "reused", "present")}
    print(f"{family} {part}: {len(archives)} archive(s): {counts['downloaded']} downloaded "
          f"({_human(downloader.downloaded_bytes)}), {counts['reused']} unpacked from disk, "
          f"{counts['present']} already present; data in {archives[0].raw_dir}", flush=True)
    return outcomes


def ensure_machine_data(dataset_directory: Path, dataset: str, machine: str, split: str, *,
                        settings: Settings | None = None) -> None:
    """Download what ``machine`` of ``dataset`` needs for ``split`` ("dev"; "eval": train and test archives).

    A no-op when the data are present; otherwise runs under the same per-machine lock as the scripts.
    """
    if split not in PARTS_OF_SPLIT:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(PARTS_OF_SPLIT)}")
    archives = [archive for part in PARTS_OF_SPLIT[split]
                for archive in archives_for(dataset_directory, dataset, part, [machine])]
    if not all(archive.is_unpacked() for archive in archives):
        downloader = Downloader(settings or Settings(base_url=base_url_from_environment()))
        for archive in archives:
            outcome = downloader.fetch(archive)
            print(f"{archive.name}: {outcome} -> {archive.machine_dir}", flush=True)
    if split == "eval" and is_legacy(dataset):
        _label_legacy_eval_set(dataset_directory, dataset, [machine])


def _label_legacy_eval_set(dataset_directory: Path, dataset: str, machines: Sequence[str] | None) -> None:
    """Legacy evaluation test clips get their labelled names in ``test_rename/``, as the public baseline does."""
    from datasets.eval_labels import RENAMED_FOLDER, label_eval_set  # it imports this module

    raw_dirs = [resolve_dataset(dataset + machine, "eval").machine_dir(Path(dataset_directory))
                for machine in machines or machine_types(dataset, "eval")]
    if all((folder / RENAMED_FOLDER).is_dir() for folder in raw_dirs):
        return
    label_eval_set(dataset_directory, dataset, machines)


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.download",
        description="Download, verify and unpack DCASE Task 2 archives from Zenodo "
                    f"(base URL: ${BASE_URL_ENV}, default {DEFAULT_BASE_URL}).",
    )
    parser.add_argument("dataset", choices=families(), help="dataset family")
    parser.add_argument("part", choices=(*PARTS, ALL_PARTS),
                        help="dev: development data; add: additional training data; "
                             "eval: evaluation test data; all: the three in turn")
    parser.add_argument("--dataset_directory", type=Path, default=Path("./data"),
                        help="parent folder of the datasets (default ./data)")
    parser.add_argument("--machines", nargs="+", metavar="MACHINE", help="only these machine types")
    parser.add_argument("--no-verify", "--no_verify", dest="verify", action="store_false",
                        help="UNSAFE: do not check archives against the md5 checksums of the Zenodo record")
    parser.add_argument("--remove_archives", action="store_true",
                        help="delete each archive once it is unpacked (saves disk, loses resumability)")
    parser.add_argument("--no_eval_labels", dest="eval_labels", action="store_false",
                        help="legacy datasets (DCASE2020-2022): do not fetch the evaluation labels list and "
                             "build test_rename/ after the eval part (python -m datasets.eval_labels does it)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings(base_url=base_url_from_environment(), verify=args.verify,
                        remove_archives=args.remove_archives)
    if not args.verify:
        print("warning: --no-verify: archives are not checked against their checksums", file=sys.stderr)
    parts = PARTS if args.part == ALL_PARTS else (args.part,)

    def download_parts() -> None:
        for part in parts:
            download_part(args.dataset_directory, args.dataset, part, args.machines, settings)
            if part == "eval" and args.eval_labels and is_legacy(args.dataset):
                _label_legacy_eval_set(args.dataset_directory, args.dataset, args.machines)

    return exit_code_of(download_parts, on_interrupt="interrupted; run the same command again to resume")

if __name__ == "__main__":
    sys.exit(main())
