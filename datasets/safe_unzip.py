"""Unpack a zip archive safely: no member may land outside the target folder, enough disk space first,
and a half-unpacked tree never appears in place (moved in entry by entry once complete)."""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from datasets.http_fetch import BASE_URL_ENV, CHUNK_BYTES, human_size
from errors import DataError
from progress import progress_bar


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


def check_members(archive_path: Path, members: list[zipfile.ZipInfo]) -> None:
    for member in members:
        reason = unsafe_member_reason(member)
        if reason:
            raise DataError(
                f"refusing to unpack {archive_path}: member {member.filename!r} {reason} and "
                "could be written outside the dataset folder; nothing was unpacked. A genuine "
                f"DCASE archive has no such member: delete it and check where ${BASE_URL_ENV} "
                "points"
            )


def require_free_space(folder: Path, needed_bytes: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise DataError(
            f"not enough disk space in {folder} for {what}: it needs {human_size(needed_bytes)}, "
            f"{human_size(free)} are free; free some space or choose another --dataset_directory"
        )


def extract_members(archive_path: Path, members: list[zipfile.ZipInfo], zip_file: zipfile.ZipFile, into: Path) -> None:
    root = into.resolve()
    for member in progress_bar(members, desc=f"unpack {archive_path.name}", unit="file", transient=True):
        relative = PurePosixPath(
            *(part for part in member.filename.replace("\\", "/").split("/") if part not in ("", "."))
        )
        if not relative.parts:
            continue
        target = root.joinpath(*relative.parts)
        if not target.resolve().is_relative_to(root):  # a symlinked parent; cannot pass the checks above
            raise DataError(
                f"refusing to unpack {archive_path}: member {member.filename!r} resolves outside the dataset folder"
            )
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with zip_file.open(member) as source, target.open("wb") as output:
            shutil.copyfileobj(source, output, CHUNK_BYTES)


def move_into_place(unpacked: Path, raw_dir: Path) -> None:
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
