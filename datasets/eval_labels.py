"""Label an evaluation test set: anonymous clip names -> labelled names, in a ``test_rename`` folder.

The evaluation test clips of every DCASE Task 2 year are published with anonymous names
(``id_01_00000000.wav``, ``section_03_source_test_0000.wav``, ``section_03_0000.wav``). Once the challenge
was over, the organisers published which labelled name each clip has; the public baseline keeps these lists
as ``datasets/eval_data_list_<year>.csv`` and copies ``<machine>/test/<anonymous>`` to
``<machine>/test_rename/<labelled>``, which the test stage then scores like development data
(``datasets.file_list.find_test_folder`` prefers ``test_rename`` in eval mode).

This project does not ship those lists: they are fetched when a user asks to score an evaluation set, from
``$DCASE_LABELS_BASE_URL/eval_data_list_<year>.csv`` (default: the public baseline's repository), cached as
``<dataset_directory>/<dataset lower>/eval_data/eval_data_list_<year>.csv``. List format: a line holding a
machine type, then one line per clip ``anonymous name,labelled name[,0|1]`` (the 2020 list adds the label).

    python -m datasets.eval_labels DCASE2021T2 [--dataset_directory data] [--machines fan ...]
    python -m datasets.eval_labels DCASE2021T2 --list_file my_list.csv     # a local list, no network

``test_rename`` is built in a temporary folder and renamed into place, so it is either complete or absent;
its files are hard links to the test clips (copies where the file system refuses links).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datasets.download import RetryPolicy, download_file
from datasets.legacy_layout import (
    MERGED_TEST_FOLDER,
    link_or_copy,
    merge_split_test_folders,
    remove_stale_staging,
    staging_prefix,
)
from datasets.registry import families, machine_types, resolve_dataset
from errors import DataError, exit_code_of

LABELS_BASE_URL_ENV = "DCASE_LABELS_BASE_URL"
DEFAULT_LABELS_BASE_URL = "https://raw.githubusercontent.com/nttcslab/dcase2023_task2_baseline_ae/main/datasets"
RENAMED_FOLDER = "test_rename"
_STAGING_KIND = "test_rename"


def labels_base_url() -> str:
    """``$DCASE_LABELS_BASE_URL`` without a trailing slash, or the public baseline's ``datasets/`` folder."""
    return (os.environ.get(LABELS_BASE_URL_ENV) or DEFAULT_LABELS_BASE_URL).rstrip("/")


def list_file_name(family: str) -> str:
    """``eval_data_list_2021.csv`` for DCASE2021T2."""
    return f"eval_data_list_{family[5:9]}.csv"


def cached_list_path(dataset_directory: Path, family: str) -> Path:
    return Path(dataset_directory) / family.lower() / "eval_data" / list_file_name(family)


# ---------------------------------------------------------------------------------------------------------
# The list


@dataclass(frozen=True)
class LabelEntry:
    """One evaluation test clip: its anonymous name in ``test/`` and its labelled name."""

    anonymous: str
    labelled: str


def name_label(file_name: str) -> int | None:
    """1 anomaly, 0 normal, None when the name says neither (the rule of ``datasets.file_list``)."""
    if "_anomaly_" in file_name or file_name.startswith("anomaly_"):
        return 1
    if "_normal_" in file_name or file_name.startswith("normal_"):
        return 0
    return None


def _check_file_name(name: str, source: str, line: int) -> None:
    if not name.endswith(".wav") or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise DataError(f"{source}, line {line}: {name!r} is not a plain WAV file name; the list is damaged "
                        "(delete it to fetch it again) or not an evaluation labels list")


def parse_label_list(text: str, source: str = "labels list") -> dict[str, list[LabelEntry]]:
    """Machine type -> its clips, from the published list format; a DataError naming the line if malformed."""
    entries: dict[str, list[LabelEntry]] = {}
    machine: str | None = None
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        row = [field.strip() for field in row]
        if not any(row):
            continue
        if len(row) == 1:
            machine = row[0]
            if machine in entries:
                raise DataError(f"{source}, line {line}: machine type {machine!r} appears twice")
            entries[machine] = []
            continue
        if machine is None:
            raise DataError(f"{source}, line {line}: a clip comes before any machine type line; expected the "
                            "published format (a machine type line, then 'anonymous name,labelled name' lines)")
        anonymous, labelled = row[0], row[1]
        _check_file_name(anonymous, source, line)
        _check_file_name(labelled, source, line)
        label = name_label(labelled)
        if label is None:
            raise DataError(f"{source}, line {line}: the labelled name {labelled!r} says neither normal nor "
                            "anomaly")
        if len(row) > 2 and row[2] and row[2] != str(label):
            raise DataError(f"{source}, line {line}: label column {row[2]!r} contradicts the name {labelled!r}")
        entries[machine].append(LabelEntry(anonymous, labelled))
    if not entries:
        raise DataError(f"{source} holds no machine type; it is not an evaluation labels list")
    for machine, clips in entries.items():
        if not clips:
            raise DataError(f"{source}: machine type {machine!r} has no clip lines; it is not an evaluation labels "
                            "list in the published format")
        for attribute in ("anonymous", "labelled"):
            names = [getattr(entry, attribute) for entry in clips]
            if len(set(names)) != len(names):
                duplicate = next(name for name in names if names.count(name) > 1)
                raise DataError(f"{source}: {machine} lists the {attribute} name {duplicate!r} twice")
    return entries


def fetch_label_list(dataset_directory: Path, family: str, base_url: str | None = None,
                     retry: RetryPolicy | None = None) -> Path:
    """The cached list of ``family``, fetched first when absent (written atomically, checked before use)."""
    path = cached_list_path(dataset_directory, family)
    if path.is_file():
        return path
    url = f"{base_url or labels_base_url()}/{list_file_name(family)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part-{os.getpid()}")
    partial.unlink(missing_ok=True)
    print(f"fetching the evaluation labels list {url}", flush=True)
    try:
        download_file(url, partial, None, retry or RetryPolicy(attempts=3, first_delay_s=1.0, timeout_s=30.0))
        parse_label_list(partial.read_text(encoding="utf-8"), url)
        os.replace(partial, path)
    except DataError as error:
        raise DataError(f"cannot get the evaluation labels list of {family} from {url}: {error}. Check the "
                        f"connection, point ${LABELS_BASE_URL_ENV} at a copy of the lists, or pass a local "
                        "copy with --list_file") from error
    except UnicodeDecodeError as error:
        raise DataError(f"{url} is not a text file ({error}); check ${LABELS_BASE_URL_ENV}") from error
    finally:
        partial.unlink(missing_ok=True)
    return path


def read_label_list(path: Path) -> dict[str, list[LabelEntry]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the evaluation labels list {path}: {error}") from error
    return parse_label_list(text, str(path))


# ---------------------------------------------------------------------------------------------------------
# Renaming


@dataclass
class RenameResult:
    """What labelling one machine type's test folder did."""

    folder: Path
    outcome: str  # "renamed" or "present"
    n_clips: int = 0
    unlisted: list[str] = field(default_factory=list)  # clips in test/ the list does not name
    absent: list[str] = field(default_factory=list)  # clips the list names that test/ lacks


def build_renamed_folder(machine_dir: Path, entries: Sequence[LabelEntry], overwrite: bool = False) -> RenameResult:
    """Write ``<machine_dir>/test_rename`` from ``<machine_dir>/test`` and the machine type's list entries."""
    machine_dir = Path(machine_dir)
    renamed = machine_dir / RENAMED_FOLDER
    if renamed.is_dir() and not overwrite:
        return RenameResult(renamed, "present", sum(1 for _ in renamed.glob("*.wav")))
    test_dir = machine_dir / MERGED_TEST_FOLDER
    if not test_dir.is_dir() and merge_split_test_folders(machine_dir) is None:
        raise DataError(f"{test_dir} not found: download the evaluation test data first")
    on_disk = {path.name for path in test_dir.glob("*.wav")}
    listed = {entry.anonymous for entry in entries}
    matched = [entry for entry in entries if entry.anonymous in on_disk]
    if not matched:
        example = sorted(on_disk)[0] if on_disk else "no WAV file at all"
        raise DataError(f"the evaluation labels list names none of the {len(on_disk)} clips in {test_dir} "
                        f"(e.g. {example}); is it the list of this dataset year?")
    remove_stale_staging(machine_dir, _STAGING_KIND)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(_STAGING_KIND), dir=machine_dir))
    try:
        for entry in matched:
            link_or_copy(test_dir / entry.anonymous, staging / entry.labelled)
        if renamed.exists():  # overwrite: move the old folder aside so the new one appears in one step
            old = Path(tempfile.mkdtemp(prefix=staging_prefix(_STAGING_KIND), dir=machine_dir))
            os.rename(renamed, old / RENAMED_FOLDER)
            os.rename(staging, renamed)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.rename(staging, renamed)
            except OSError:
                if not renamed.is_dir():  # not a lost race with another process
                    raise
                return RenameResult(renamed, "present", sum(1 for _ in renamed.glob("*.wav")))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RenameResult(renamed, "renamed", len(matched), sorted(on_disk - listed),
                        sorted(entry.anonymous for entry in entries if entry.anonymous not in on_disk))


def label_eval_set(dataset_directory: Path, family: str, machines: Sequence[str] | None = None, *,
                   list_file: Path | None = None, base_url: str | None = None, overwrite: bool = False,
                   retry: RetryPolicy | None = None) -> dict[str, RenameResult]:
    """Build ``test_rename`` for the evaluation machine types of ``family`` that have test data.

    Without ``machines``, every machine type whose eval test data are present is labelled (and those absent
    are skipped); named ``machines`` must all have test data.
    """
    valid = machine_types(family, "eval")
    unknown = [machine for machine in machines or () if machine not in valid]
    if unknown:
        raise DataError(f"unknown machine type {', '.join(map(repr, unknown))} for {family} eval; valid machine "
                        f"types: {', '.join(valid)}")
    data_dir = Path(dataset_directory)
    machine_dirs = {machine: resolve_dataset(family + machine, "eval").machine_dir(data_dir)
                    for machine in machines or valid}
    present = {machine: folder for machine, folder in machine_dirs.items()
               if (folder / MERGED_TEST_FOLDER).is_dir() or (folder / RENAMED_FOLDER).is_dir()
               or merge_split_test_folders(folder) is not None}
    if machines and len(present) < len(machine_dirs):
        missing = [str(folder / MERGED_TEST_FOLDER) for machine, folder in machine_dirs.items()
                   if machine not in present]
        raise DataError(f"no evaluation test data in {', '.join(missing)}: download them first "
                        f"(bash tools/data_download_{family[5:9]}.sh, or python -m datasets.download {family} eval)")
    if not present:
        raise DataError(f"no {family} evaluation test data under {data_dir / family.lower() / 'eval_data/raw'}; "
                        "download them first or check --dataset_directory")
    if all((folder / RENAMED_FOLDER).is_dir() for folder in present.values()) and not overwrite:
        lists: dict[str, list[LabelEntry]] = {}  # nothing to do: no need for the list (or the network)
    else:
        path = list_file or fetch_label_list(data_dir, family, base_url, retry)
        lists = read_label_list(path)
    results = {}
    for machine, folder in present.items():
        if (folder / RENAMED_FOLDER).is_dir() and not overwrite:
            results[machine] = RenameResult(folder / RENAMED_FOLDER, "present",
                                            sum(1 for _ in (folder / RENAMED_FOLDER).glob("*.wav")))
        elif machine not in lists:
            raise DataError(f"the evaluation labels list of {family} has no entry for {machine} (it lists "
                            f"{', '.join(lists)})")
        else:
            results[machine] = build_renamed_folder(folder, lists[machine], overwrite)
        _report(machine, results[machine])
    renamed = sum(result.outcome == "renamed" for result in results.values())
    print(f"{family} evaluation labels: {renamed} machine type(s) labelled, {len(results) - renamed} already "
          f"labelled; scored from test_rename/ by the eval-mode test stage", flush=True)
    return results


def _report(machine: str, result: RenameResult) -> None:
    print(f"{machine}: {result.n_clips} labelled test clips -> {result.folder} ({result.outcome})", flush=True)
    if result.unlisted:
        print(f"warning: {machine}: {len(result.unlisted)} clip(s) in test/ are not in the labels list and are left "
              f"out of {RENAMED_FOLDER}/ (e.g. {result.unlisted[0]})", file=sys.stderr, flush=True)
    if result.absent:
        print(f"warning: {machine}: {len(result.absent)} clip(s) of the labels list are missing from test/ (e.g. "
              f"{result.absent[0]}); the test data may be incomplete: download them again", file=sys.stderr,
              flush=True)


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.eval_labels",
        description="Give the evaluation test clips their labelled names (test/ -> test_rename/) from the "
                    f"organisers' list, fetched from ${LABELS_BASE_URL_ENV} (default {DEFAULT_LABELS_BASE_URL}).")
    parser.add_argument("dataset", choices=families(), help="dataset family, e.g. DCASE2021T2")
    parser.add_argument("--dataset_directory", type=Path, default=Path("./data"),
                        help="parent folder of the datasets (default ./data)")
    parser.add_argument("--machines", nargs="+", metavar="MACHINE", help="only these machine types")
    parser.add_argument("--list_file", type=Path, default=None,
                        help="use this local labels list (published format) instead of fetching it")
    parser.add_argument("--overwrite", action="store_true", help="rebuild test_rename folders that exist")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_code_of(lambda: label_eval_set(args.dataset_directory, args.dataset, args.machines,
                                               list_file=args.list_file, overwrite=args.overwrite),
                        on_interrupt="interrupted; run the same command again")

if __name__ == "__main__":
    sys.exit(main())
