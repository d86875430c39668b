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
import os
import shutil
import sys
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import quote

import yaml

from datasets import eval_labels
from datasets.http_fetch import (
    BASE_URL_ENV,
    RemoteFile,
    RetryPolicy,
    download_file,
    fetch_record_files,
    human_size,
    md5_of,
)
from datasets.legacy_layout import has_split_test_folders, merge_split_test_folders
from datasets.registry import machine_types, resolve_dataset
from datasets.safe_unzip import check_members, extract_members, move_into_place, require_free_space
from errors import DataError, exit_code_of
from safe_io import file_lock, staging_folder

SOURCES_YAML = Path(__file__).with_name("download_urls.yaml")
DEFAULT_BASE_URL = "https://zenodo.org"
PARTS = ("dev", "add", "eval")
ALL_PARTS = "all"  # command line: dev, add and eval in turn
PARTS_OF_SPLIT = {"dev": ("dev",), "eval": ("add", "eval")}
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
UNPACK_PREFIX = ".unpack-"


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
        raise DataError(
            f"unknown part {part!r} of {family}; valid parts: {', '.join(_sources()[family])}"
            " (dev: development data, add: additional training data, eval: evaluation test data)"
        )
    entry = _sources()[family][part]
    if entry.get("unpublished"):
        raise DataError(f"the {family} {entry['description']} is not yet public: {entry['unpublished']}")
    return entry


def valid_machines(family: str, part: str) -> list[str]:
    """Machine types that ``part`` of ``family`` has an archive for."""
    return machine_types(family, _part_entry(family, part)["split"])


def archives_for(
    dataset_directory: Path, family: str, part: str, machines: Sequence[str] | None = None
) -> list[Archive]:
    """The archives of ``part`` (all machine types, or only ``machines``), with where they go."""
    entry = _part_entry(family, part)
    valid = valid_machines(family, part)
    unknown = [machine for machine in machines or () if machine not in valid]
    if unknown:
        raise DataError(
            f"unknown machine type {', '.join(map(repr, unknown))} for {family} {part}; "
            f"valid machine types: {', '.join(valid)}"
        )
    archives = []
    for machine in machines or valid:
        name = entry.get("renamed", {}).get(machine, entry["archive"].format(machine=machine))
        data_dir = resolve_dataset(family + machine, entry["split"]).data_dir(Path(dataset_directory))
        archives.append(Archive(family, part, machine, str(entry["record"]), name, tuple(entry["provides"]), data_dir))
    return archives


# ---------------------------------------------------------------------------------------------------------
# Network


# ---------------------------------------------------------------------------------------------------------
# Unpacking


def unpack(archive: Archive) -> None:
    """Unpack ``archive.path`` safely into ``archive.raw_dir``; nothing half-written is left in place."""
    archive.raw_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{UNPACK_PREFIX}{archive.name}-"
    for leftover in archive.raw_dir.glob(prefix + "*"):  # from a run that was killed; we hold the lock
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive.path) as zip_file:
            members = zip_file.infolist()
            check_members(archive.path, members)
            require_free_space(
                archive.raw_dir, sum(member.file_size for member in members), f"unpacking {archive.name}"
            )
            with staging_folder(archive.raw_dir, prefix) as temporary:
                extract_members(archive.path, members, zip_file, temporary)
                move_into_place(temporary, archive.raw_dir)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        archive.path.unlink(missing_ok=True)
        raise DataError(
            f"archive {archive.path} is corrupt ({error}); it was deleted: run again to download it again"
        ) from error
    if not archive.is_unpacked():
        missing = [
            f"{archive.machine}/{folder}" for folder in archive.provides if not (archive.machine_dir / folder).is_dir()
        ]
        raise DataError(
            f"archive {archive.path} does not contain {', '.join(missing)}; is "
            f"datasets/download_urls.yaml pointing at the right file?"
        )


# ---------------------------------------------------------------------------------------------------------
# Locking and the whole job


def _say_waiting(archive: Archive) -> None:
    print(
        f"waiting for another process that is downloading {archive.family} {archive.machine} "
        f"(lock {archive.lock_path})",
        flush=True,
    )


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
                self.settings.base_url, archive.record, self.settings.retry
            )
        files = self._record_files[archive.record]
        remote = files.get(archive.name)
        if remote is None or remote.md5 is None:
            problem = "lists no file" if remote is None else "gives no md5 checksum for"
            raise DataError(
                f"Zenodo record {archive.record} {problem} {archive.name} (it lists: "
                f"{', '.join(sorted(files)) or 'nothing'}); update datasets/download_urls.yaml, "
                "or pass --no-verify (unsafe)"
            )
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
            require_free_space(partial.parent, max(remote.size - already, 0), f"downloading {archive.name}")
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
                raise DataError(
                    f"checksum mismatch for {url}: expected md5 {remote.md5}, got {actual}; "
                    "the bad download was deleted. Run again to retry; if it repeats, the file "
                    "on the server differs from its record"
                )
            print(
                f"{archive.name}: the partial download kept from an earlier run was not part of this file "
                "(checksum mismatch); downloading it again from the start",
                flush=True,
            )
            started_from_partial = False
        self.downloaded_bytes += partial.stat().st_size
        os.replace(partial, archive.path)

    def fetch(self, archive: Archive) -> str:
        """Make ``archive``'s folders present: "present", "reused" (archive on disk) or "downloaded"."""
        if archive.is_unpacked():
            return "present"
        with file_lock(archive.lock_path, lambda: _say_waiting(archive)):
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
                    raise DataError(
                        f"the disk is full while writing {error.filename or archive.data_dir} "
                        f"({os.strerror(error.errno)}); free some space and run again (a partial "
                        "download is kept and resumed)"
                    ) from error
                raise
            if self.settings.remove_archives:
                archive.path.unlink(missing_ok=True)
            return outcome


def download_part(
    dataset_directory: Path,
    family: str,
    part: str,
    machines: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> dict[str, str]:
    """Download and unpack one part of a dataset; returns machine -> outcome and prints a summary line."""
    settings = settings or Settings(base_url=base_url_from_environment())
    archives = archives_for(dataset_directory, family, part, machines)
    downloader = Downloader(settings)
    outcomes = {}
    for archive in archives:
        outcomes[archive.machine] = downloader.fetch(archive)
        print(f"{archive.name}: {outcomes[archive.machine]} -> {archive.machine_dir}", flush=True)
    counts = {outcome: list(outcomes.values()).count(outcome) for outcome in ("downloaded", "reused", "present")}
    print(
        f"{family} {part}: {len(archives)} archive(s): {counts['downloaded']} downloaded "
        f"({human_size(downloader.downloaded_bytes)}), {counts['reused']} unpacked from disk, "
        f"{counts['present']} already present; data in {archives[0].raw_dir}",
        flush=True,
    )
    return outcomes


def ensure_machine_data(
    dataset_directory: Path, dataset: str, machine: str, split: str, *, settings: Settings | None = None
) -> None:
    """Download what ``machine`` of ``dataset`` needs for ``split`` ("dev"; "eval": train and test archives).

    A no-op when the data are present; otherwise runs under the same per-machine lock as the scripts.
    """
    if split not in PARTS_OF_SPLIT:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(PARTS_OF_SPLIT)}")
    archives = [
        archive
        for part in PARTS_OF_SPLIT[split]
        for archive in archives_for(dataset_directory, dataset, part, [machine])
    ]
    if not all(archive.is_unpacked() for archive in archives):
        downloader = Downloader(settings or Settings(base_url=base_url_from_environment()))
        for archive in archives:
            outcome = downloader.fetch(archive)
            print(f"{archive.name}: {outcome} -> {archive.machine_dir}", flush=True)
    if split == "eval":
        label_eval_test_clips(dataset_directory, dataset, [machine])


def label_eval_test_clips(dataset_directory: Path, dataset: str, machines: Sequence[str] | None) -> None:
    """Evaluation test clips get their labelled names in ``test_rename/`` once the organisers published them
    (DCASE2020-2025), as the public baseline's download scripts and auto download do; a no-op otherwise."""
    if not eval_labels.has_published_labels(dataset):
        return
    raw_dirs = [
        resolve_dataset(dataset + machine, "eval").machine_dir(Path(dataset_directory))
        for machine in machines or machine_types(dataset, "eval")
    ]
    if all((folder / eval_labels.RENAMED_FOLDER).is_dir() for folder in raw_dirs):
        return
    try:
        eval_labels.label_eval_set(dataset_directory, dataset, machines)
    except eval_labels.LabelsUnavailableError as error:  # the data are complete; only the labels are missing
        print(
            f"warning: {error}; the evaluation test clips stay unlabelled (eval runs write scores, no AUC). "
            f"Label them later with: python -m datasets.eval_labels {dataset}",
            file=sys.stderr,
            flush=True,
        )


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.download",
        description="Download, verify and unpack DCASE Task 2 archives from Zenodo "
        f"(base URL: ${BASE_URL_ENV}, default {DEFAULT_BASE_URL}).",
    )
    parser.add_argument("dataset", choices=families(), help="dataset family")
    parser.add_argument(
        "part",
        choices=(*PARTS, ALL_PARTS),
        help="dev: development data; add: additional training data; eval: evaluation test data; all: the three in turn",
    )
    parser.add_argument(
        "--dataset_directory", type=Path, default=Path("./data"), help="parent folder of the datasets (default ./data)"
    )
    parser.add_argument("--machines", nargs="+", metavar="MACHINE", help="only these machine types")
    parser.add_argument(
        "--no-verify",
        "--no_verify",
        dest="verify",
        action="store_false",
        help="UNSAFE: do not check archives against the md5 checksums of the Zenodo record",
    )
    parser.add_argument(
        "--remove_archives",
        action="store_true",
        help="delete each archive once it is unpacked (saves disk, loses resumability)",
    )
    parser.add_argument(
        "--no_eval_labels",
        dest="eval_labels",
        action="store_false",
        help="do not fetch the evaluation labels list (published for DCASE2020-2025) and build "
        "test_rename/ after the eval part (python -m datasets.eval_labels does it later)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings(base_url=base_url_from_environment(), verify=args.verify, remove_archives=args.remove_archives)
    if not args.verify:
        print("warning: --no-verify: archives are not checked against their checksums", file=sys.stderr)
    parts = PARTS if args.part == ALL_PARTS else (args.part,)

    def download_parts() -> None:
        for part in parts:
            download_part(args.dataset_directory, args.dataset, part, args.machines, settings)
            if part == "eval" and args.eval_labels:
                label_eval_test_clips(args.dataset_directory, args.dataset, args.machines)

    return exit_code_of(download_parts, on_interrupt="interrupted; run the same command again to resume")


if __name__ == "__main__":
    sys.exit(main())
