"""Which WAV files make the training set and each section's test set, in the public baseline's order.

Training: every clip of the selected sections, sorted by name, section after section. Test (dev mode,
or eval mode once a labelled ``test_rename`` folder exists): normal clips sorted by name, then anomaly
clips sorted by name. Test in eval mode: every clip sorted by name, labels unknown.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from datasets.labels import clip_domain, name_label
from datasets.legacy_layout import merge_split_test_folders
from datasets.registry import DatasetSpec
from errors import DataError

DOWNLOAD_SCRIPTS = {"dev": "data_download_{year}dev.sh", "eval": "data_download_{year}add.sh"}
EVAL_TEST_SCRIPT = "data_download_{year}eval.sh"


@dataclass(frozen=True)
class Clip:
    """One WAV file and what its name tells about it."""

    path: Path
    section: str
    domain: str  # "source" or "target"
    label: int | None  # 0 normal, 1 anomaly, None when unknown (evaluation test clips)

    @property
    def name(self) -> str:
        return self.path.name


def _missing_folder_error(spec: DatasetSpec, dataset_directory: Path, folder: Path) -> DataError:
    year = spec.family[5:9]
    root = shlex.quote(str(dataset_directory))
    if spec.is_legacy:
        return DataError(
            f"dataset folder {folder} not found. Download it with 'bash tools/data_download_{year}.sh', run "
            f"with --is_auto_download True, or write synthetic demo data with 'python -m datasets.synthetic."
            f"legacy --year {year} --split {spec.split} --machines {spec.machine} --root {root}'; check "
            "--dataset_directory if the data are elsewhere"
        )
    script = DOWNLOAD_SCRIPTS[spec.split].format(year=year)
    if spec.split == "eval" and folder.name.startswith("test"):
        script = EVAL_TEST_SCRIPT.format(year=year)
    return DataError(
        f"dataset folder {folder} not found. Download it with 'bash {script}', run with "
        f"--is_auto_download True, or write the synthetic demo data with 'python -m datasets.synthetic "
        f"--dataset {spec.family} --split {spec.split} --machines {spec.machine} --root {root}'; check "
        "--dataset_directory if the data are elsewhere"
    )


def _section_files(folder: Path, spec: DatasetSpec, section: str) -> list[Path]:
    pattern = re.compile(rf"(^|_){re.escape(spec.section_keyword)}_{re.escape(section)}_")
    return sorted(path for path in folder.glob("*.wav") if pattern.search(path.name))


def list_train_clips(spec: DatasetSpec, dataset_directory: Path, use_ids: list[int]) -> list[Clip]:
    """Normal training clips of the sections in ``use_ids`` (all sections when empty)."""
    folder = spec.machine_dir(dataset_directory) / "train"
    if not folder.is_dir():
        raise _missing_folder_error(spec, dataset_directory, folder)
    sections = [s for s in spec.sections if not use_ids or int(s) in use_ids]
    if not sections:
        raise DataError(
            f"--use_ids {' '.join(map(str, use_ids))} selects no section of {spec.name}; "
            f"its sections are {', '.join(spec.sections)}"
        )
    clips = []
    for section in sections:
        files = _section_files(folder, spec, section)
        if not files:
            raise DataError(
                f"no WAV files of {spec.section_keyword} {section} in {folder} (expected names "
                f"like {spec.section_keyword}_{section}_source_train_normal_0001_....wav)"
            )
        anomalies = [path.name for path in files if name_label(path.name) == 1]
        if anomalies:
            raise DataError(
                f"{folder} holds {len(anomalies)} anomaly clip(s), e.g. {anomalies[0]}; training "
                "uses normal clips only: move them to the test folder or delete them"
            )
        clips += [Clip(path, section, clip_domain(path.name), 0) for path in files]
    return clips


def find_test_folder(spec: DatasetSpec, dataset_directory: Path) -> tuple[Path, bool]:
    """The test folder and whether its clips are labelled (dev data, or eval data renamed to labels)."""
    machine_dir = spec.machine_dir(dataset_directory)
    renamed = machine_dir / "test_rename"
    if spec.split == "eval" and renamed.is_dir():
        return renamed, True
    folder = machine_dir / "test"
    if not folder.is_dir() and merge_split_test_folders(machine_dir) is None:  # DCASE2021's split folders
        raise _missing_folder_error(spec, dataset_directory, folder)
    return folder, spec.split == "dev"


def list_test_clips(spec: DatasetSpec, dataset_directory: Path, section: str) -> tuple[list[Clip], bool]:
    """Test clips of one section in the baseline's order, and whether they carry labels."""
    folder, labelled = find_test_folder(spec, dataset_directory)
    files = _section_files(folder, spec, section)
    if not files:
        raise DataError(f"no WAV files of {spec.section_keyword} {section} in {folder}")
    if not labelled:
        return [Clip(path, section, clip_domain(path.name), None) for path in files], False
    normals = [path for path in files if name_label(path.name) == 0]
    anomalies = [path for path in files if name_label(path.name) == 1]
    unlabelled = [path.name for path in files if name_label(path.name) is None]
    if unlabelled:
        raise DataError(
            f"{folder}/{unlabelled[0]}: a labelled test clip needs 'normal' or 'anomaly' in "
            f"its name ({len(unlabelled)} such file(s)); rename or remove them"
        )
    clips = [Clip(path, section, clip_domain(path.name), 0) for path in normals]
    clips += [Clip(path, section, clip_domain(path.name), 1) for path in anomalies]
    return clips, True
