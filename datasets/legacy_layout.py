"""DCASE2021 Task 2 ships each machine type's test clips in two folders, ``source_test/`` and ``target_test/``.

The public baseline copies both into ``test/`` after downloading, so that the 2021 data look like every
other year's. ``merge_split_test_folders`` does the same, atomically and without copying audio: the files
are hard-linked (copied only where the file system refuses links) into a temporary folder that is then
renamed to ``test/``. The download step calls it after unpacking, and the file listing calls it when it
finds the split folders but no ``test/`` (data unpacked by hand or by the public scripts' older versions).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from errors import DataError
from safe_io import install_folder, remove_dead_process_folders, staging_folder

SPLIT_TEST_FOLDERS = ("source_test", "target_test")
MERGED_TEST_FOLDER = "test"
_STAGING_KIND = "test-merge"


def has_split_test_folders(machine_dir: Path) -> bool:
    """True when ``machine_dir`` holds both ``source_test/`` and ``target_test/``."""
    return all((Path(machine_dir) / folder).is_dir() for folder in SPLIT_TEST_FOLDERS)


def staging_prefix(kind: str) -> str:
    """Prefix of a temporary folder of this process: ``.<kind>-<pid>-``, so leftovers can be told apart."""
    return f".{kind}-{os.getpid()}-"


def remove_stale_staging(folder: Path, kind: str) -> None:
    """Delete ``.<kind>-<pid>-*`` folders in ``folder`` left by processes that no longer run (killed runs)."""
    remove_dead_process_folders(folder, f".{kind}-")


def link_or_copy(source: Path, destination: Path) -> None:
    """Hard-link ``source`` to ``destination`` (no audio is copied), or copy it where links are refused."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def merge_split_test_folders(machine_dir: Path) -> Path | None:
    """Make ``<machine_dir>/test`` hold every WAV file of ``source_test/`` and ``target_test/``.

    Returns the ``test`` folder, or None when ``machine_dir`` has no split folders (nothing to merge).
    An existing ``test`` folder is left as it is. Safe to run from several processes at once.
    """
    machine_dir = Path(machine_dir)
    merged = machine_dir / MERGED_TEST_FOLDER
    if merged.is_dir():
        return merged
    if not has_split_test_folders(machine_dir):
        return None
    sources: dict[str, Path] = {}
    for folder in SPLIT_TEST_FOLDERS:
        for path in sorted((machine_dir / folder).glob("*.wav")):
            if path.name in sources:
                raise DataError(
                    f"{path} and {sources[path.name]} have the same name; the test folders "
                    f"{', '.join(SPLIT_TEST_FOLDERS)} of {machine_dir} cannot be merged into "
                    f"{MERGED_TEST_FOLDER}/: remove one of them"
                )
            sources[path.name] = path
    if not sources:
        raise DataError(
            f"{machine_dir}/{SPLIT_TEST_FOLDERS[0]} and {SPLIT_TEST_FOLDERS[1]} hold no WAV files; "
            "download the test data again"
        )
    remove_stale_staging(machine_dir, _STAGING_KIND)
    with staging_folder(machine_dir, staging_prefix(_STAGING_KIND)) as staging:
        for name, path in sources.items():
            link_or_copy(path, staging / name)
        install_folder(staging, merged)  # False: another process merged them first, the same files
    return merged
