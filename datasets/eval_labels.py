"""Label an evaluation test set: anonymous clip names -> labelled names, in a ``test_rename`` folder.

The evaluation test clips of every DCASE Task 2 year are published with anonymous names
(``id_01_00000000.wav``, ``section_03_source_test_0000.wav``, ``section_03_0000.wav``). Once the challenge
was over, the organisers published which labelled name each clip has; the public baseline keeps these lists
as ``datasets/eval_data_list_<year>.csv`` and copies ``<machine>/test/<anonymous>`` to
``<machine>/test_rename/<labelled>``, which the test stage then scores like development data
(``datasets.file_list.find_test_folder`` prefers ``test_rename`` in eval mode).

This project does not ship those lists: they are fetched when a user asks to score an evaluation set, from
``$DCASE_LABELS_BASE_URL/eval_data_list_<year>.csv`` (default: the public baseline's repository), cached as
``<dataset_directory>/<dataset lower>/eval_data/eval_data_list_<year>.csv`` (format: ``datasets.labels``).
Lists exist for DCASE2020 to DCASE2025; the download scripts (``data_download_<year>eval.sh``,
``tools/data_download_<year>.sh``) and ``--is_auto_download True`` label the test clips right after unpacking.

    python -m datasets.eval_labels DCASE2021T2 [--dataset_directory data] [--machines fan ...]
    python -m datasets.eval_labels DCASE2021T2 --list_file my_list.csv     # a local list, no network

``test_rename`` is built in a temporary folder and renamed into place, so it is either complete or absent;
its files are hard links to the test clips (copies where the file system refuses links).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datasets.http_fetch import RetryPolicy, download_file
from datasets.labels import LabelEntry, parse_label_list
from datasets.legacy_layout import (
    MERGED_TEST_FOLDER,
    link_or_copy,
    merge_split_test_folders,
    remove_stale_staging,
    staging_prefix,
)
from datasets.registry import families, is_legacy, machine_types, resolve_dataset
from errors import DataError, exit_code_of
from safe_io import install_folder, staging_folder

LABELS_BASE_URL_ENV = "DCASE_LABELS_BASE_URL"
DEFAULT_LABELS_BASE_URL = "https://raw.githubusercontent.com/nttcslab/dcase2023_task2_baseline_ae/main/datasets"
RENAMED_FOLDER = "test_rename"
_STAGING_KIND = "test_rename"
# the years whose list the organisers published (the public baseline's eval_data_list_<year>.csv, v5.1)
PUBLISHED_LABEL_YEARS = ("2020", "2021", "2022", "2023", "2024", "2025")


def has_published_labels(family: str) -> bool:
    """Whether the organisers published the evaluation labels of ``family`` (DCASE2020T2 to DCASE2025T2)."""
    return family[5:9] in PUBLISHED_LABEL_YEARS


class LabelsUnavailableError(DataError):
    """The labels list could not be fetched (network, server): the data themselves are fine."""


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


def fetch_label_list(
    dataset_directory: Path, family: str, base_url: str | None = None, retry: RetryPolicy | None = None
) -> Path:
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
        raise LabelsUnavailableError(
            f"cannot get the evaluation labels list of {family} from {url}: {error}. Check the connection, point "
            f"${LABELS_BASE_URL_ENV} at a copy of the lists, or pass a local copy with --list_file"
        ) from error
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
        raise DataError(
            f"the evaluation labels list names none of the {len(on_disk)} clips in {test_dir} "
            f"(e.g. {example}); is it the list of this dataset year?"
        )
    remove_stale_staging(machine_dir, _STAGING_KIND)
    with staging_folder(machine_dir, staging_prefix(_STAGING_KIND)) as staging:
        for entry in matched:
            link_or_copy(test_dir / entry.anonymous, staging / entry.labelled)
        # an existing folder (overwrite) is moved aside so that the new one appears in one step
        if not install_folder(staging, renamed, replace=True, aside_prefix=staging_prefix(_STAGING_KIND)):
            return RenameResult(renamed, "present", sum(1 for _ in renamed.glob("*.wav")))  # another process won
    return RenameResult(
        renamed,
        "renamed",
        len(matched),
        sorted(on_disk - listed),
        sorted(entry.anonymous for entry in entries if entry.anonymous not in on_disk),
    )


def label_eval_set(
    dataset_directory: Path,
    family: str,
    machines: Sequence[str] | None = None,
    *,
    list_file: Path | None = None,
    base_url: str | None = None,
    overwrite: bool = False,
    retry: RetryPolicy | None = None,
) -> dict[str, RenameResult]:
    """Build ``test_rename`` for the evaluation machine types of ``family`` that have test data.

    Without ``machines``, every machine type whose eval test data are present is labelled (and those absent
    are skipped); named ``machines`` must all have test data.
    """
    if not has_published_labels(family) and list_file is None:
        raise DataError(
            f"the organisers have not published the evaluation labels of {family} (published: "
            f"DCASE{PUBLISHED_LABEL_YEARS[0]}T2 to DCASE{PUBLISHED_LABEL_YEARS[-1]}T2); pass a "
            "list you have with --list_file"
        )
    valid = machine_types(family, "eval")
    unknown = [machine for machine in machines or () if machine not in valid]
    if unknown:
        raise DataError(
            f"unknown machine type {', '.join(map(repr, unknown))} for {family} eval; valid machine "
            f"types: {', '.join(valid)}"
        )
    data_dir = Path(dataset_directory)
    machine_dirs = {
        machine: resolve_dataset(family + machine, "eval").machine_dir(data_dir) for machine in machines or valid
    }
    present = {
        machine: folder
        for machine, folder in machine_dirs.items()
        if (folder / MERGED_TEST_FOLDER).is_dir()
        or (folder / RENAMED_FOLDER).is_dir()
        or merge_split_test_folders(folder) is not None
    }
    if machines and len(present) < len(machine_dirs):
        missing = [
            str(folder / MERGED_TEST_FOLDER) for machine, folder in machine_dirs.items() if machine not in present
        ]
        raise DataError(
            f"no evaluation test data in {', '.join(missing)}: download them first "
            f"({_download_hint(family)}, or python -m datasets.download {family} eval)"
        )
    if not present:
        raise DataError(
            f"no {family} evaluation test data under {data_dir / family.lower() / 'eval_data/raw'}; "
            "download them first or check --dataset_directory"
        )
    if all((folder / RENAMED_FOLDER).is_dir() for folder in present.values()) and not overwrite:
        lists: dict[str, list[LabelEntry]] = {}  # nothing to do: no need for the list (or the network)
    else:
        path = list_file or fetch_label_list(data_dir, family, base_url, retry)
        lists = read_label_list(path)
    results = {}
    for machine, folder in present.items():
        if (folder / RENAMED_FOLDER).is_dir() and not overwrite:
            results[machine] = RenameResult(
                folder / RENAMED_FOLDER, "present", sum(1 for _ in (folder / RENAMED_FOLDER).glob("*.wav"))
            )
        elif machine not in lists:
            raise DataError(
                f"the evaluation labels list of {family} has no entry for {machine} (it lists {', '.join(lists)})"
            )
        else:
            results[machine] = build_renamed_folder(folder, lists[machine], overwrite)
        _report(machine, results[machine])
    renamed = sum(result.outcome == "renamed" for result in results.values())
    print(
        f"{family} evaluation labels: {renamed} machine type(s) labelled, {len(results) - renamed} already "
        f"labelled; scored from test_rename/ by the eval-mode test stage",
        flush=True,
    )
    return results


def _download_hint(family: str) -> str:
    year = family[5:9]
    return f"bash tools/data_download_{year}.sh" if is_legacy(family) else f"bash data_download_{year}eval.sh"


def _report(machine: str, result: RenameResult) -> None:
    print(f"{machine}: {result.n_clips} labelled test clips -> {result.folder} ({result.outcome})", flush=True)
    if result.unlisted:
        print(
            f"warning: {machine}: {len(result.unlisted)} clip(s) in test/ are not in the labels list and are left "
            f"out of {RENAMED_FOLDER}/ (e.g. {result.unlisted[0]})",
            file=sys.stderr,
            flush=True,
        )
    if result.absent:
        print(
            f"warning: {machine}: {len(result.absent)} clip(s) of the labels list are missing from test/ (e.g. "
            f"{result.absent[0]}); the test data may be incomplete: download them again",
            file=sys.stderr,
            flush=True,
        )


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.eval_labels",
        description="Give the evaluation test clips their labelled names (test/ -> test_rename/) from the "
        f"organisers' list, fetched from ${LABELS_BASE_URL_ENV} (default {DEFAULT_LABELS_BASE_URL}).",
    )
    parser.add_argument("dataset", choices=families(), help="dataset family, e.g. DCASE2021T2")
    parser.add_argument(
        "--dataset_directory", type=Path, default=Path("./data"), help="parent folder of the datasets (default ./data)"
    )
    parser.add_argument("--machines", nargs="+", metavar="MACHINE", help="only these machine types")
    parser.add_argument(
        "--list_file",
        type=Path,
        default=None,
        help="use this local labels list (published format) instead of fetching it",
    )
    parser.add_argument("--overwrite", action="store_true", help="rebuild test_rename folders that exist")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_code_of(
        lambda: label_eval_set(
            args.dataset_directory, args.dataset, args.machines, list_file=args.list_file, overwrite=args.overwrite
        ),
        on_interrupt="interrupted; run the same command again",
    )


if __name__ == "__main__":
    sys.exit(main())
