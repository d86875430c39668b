"""DCASE2021's source_test/ + target_test/ merged into test/; the legacy families in the registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datasets.file_list import find_test_folder, list_test_clips
from datasets.legacy_layout import merge_split_test_folders
from datasets.registry import is_legacy, resolve_dataset, training_runs
from errors import DataError
from tests.conftest import REPO_ROOT

SOURCE = [
    "section_00_source_test_anomaly_0000.wav",
    "section_00_source_test_normal_0000.wav",
    "section_01_source_test_normal_0000.wav",
]
TARGET = ["section_00_target_test_anomaly_0000.wav", "section_00_target_test_normal_0000.wav"]


def _split_folders(machine_dir: Path) -> None:
    for folder, names in (("source_test", SOURCE), ("target_test", TARGET)):
        (machine_dir / folder).mkdir(parents=True)
        for name in names:
            (machine_dir / folder / name).write_bytes(name.encode())


def test_merge_links_every_clip_of_both_folders_into_test(tmp_path: Path) -> None:
    _split_folders(tmp_path)
    merged = merge_split_test_folders(tmp_path)
    assert merged == tmp_path / "test"
    assert sorted(path.name for path in merged.iterdir()) == sorted(SOURCE + TARGET)
    for name in SOURCE:
        assert (merged / name).read_bytes() == name.encode()
        assert (merged / name).stat().st_ino == (tmp_path / "source_test" / name).stat().st_ino  # no copy
    assert sorted(path.name for path in tmp_path.iterdir()) == ["source_test", "target_test", "test"]


def test_merge_leaves_an_existing_test_folder_and_needs_split_folders(tmp_path: Path) -> None:
    assert merge_split_test_folders(tmp_path) is None
    _split_folders(tmp_path)
    (tmp_path / "test").mkdir()
    assert merge_split_test_folders(tmp_path) == tmp_path / "test"
    assert list((tmp_path / "test").iterdir()) == []


def test_merge_refuses_clashing_names(tmp_path: Path) -> None:
    _split_folders(tmp_path)
    (tmp_path / "target_test" / SOURCE[0]).write_bytes(b"other")
    with pytest.raises(DataError, match="same name"):
        merge_split_test_folders(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["source_test", "target_test"]


def test_file_listing_merges_on_first_use_in_the_baseline_order(tmp_path: Path) -> None:
    spec = resolve_dataset("DCASE2021T2fan", "dev")
    _split_folders(spec.machine_dir(tmp_path))
    folder, labelled = find_test_folder(spec, tmp_path)
    assert folder == spec.machine_dir(tmp_path) / "test" and labelled
    clips, _ = list_test_clips(spec, tmp_path, "00")
    # normal clips sorted by name, then anomaly clips sorted by name, both domains together
    assert [clip.name for clip in clips] == [
        "section_00_source_test_normal_0000.wav",
        "section_00_target_test_normal_0000.wav",
        "section_00_source_test_anomaly_0000.wav",
        "section_00_target_test_anomaly_0000.wav",
    ]
    assert [clip.domain for clip in clips] == ["source", "target", "source", "target"]


def test_missing_legacy_data_names_the_legacy_commands(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"tools/data_download_2020\.sh.*datasets\.synthetic\.legacy --year 2020"):
        find_test_folder(resolve_dataset("DCASE2020T2fan", "eval"), tmp_path)


def test_registry_lists_the_published_sections_and_runs() -> None:
    assert resolve_dataset("DCASE2020T2ToyCar", "dev").sections == ("01", "02", "03", "04")
    assert resolve_dataset("DCASE2020T2fan", "eval").sections == ("01", "03", "05")
    assert resolve_dataset("DCASE2020T2fan", "dev").section_keyword == "id"
    assert resolve_dataset("DCASE2021T2pump", "eval").sections == ("03", "04", "05")
    assert resolve_dataset("DCASE2022T2bearing", "dev").sections == ("00", "01", "02")
    assert [is_legacy(f"DCASE{year}T2") for year in range(2020, 2025)] == [True, True, True, False, False]
    assert training_runs("DCASE2020T2", "dev")[:5] == [("fan", 0), ("fan", 2), ("fan", 4), ("fan", 6), ("pump", 0)]
    assert len(training_runs("DCASE2021T2", "eval")) == 21
    assert training_runs("DCASE2024T2", "dev") == [
        (machine, 0) for machine in ("bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve")
    ]


def test_registry_command_line_filters_machine_types() -> None:
    def registry(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "datasets.registry", *args], cwd=REPO_ROOT, capture_output=True, text=True
        )

    result = registry("DCASE2020T2", "eval", "--runs", "--machines", "ToyCar,ToyConveyor")
    assert result.stdout.split("\n")[:-1] == [
        "ToyCar 5",
        "ToyCar 6",
        "ToyCar 7",
        "ToyConveyor 4",
        "ToyConveyor 5",
        "ToyConveyor 6",
    ]
    result = registry("DCASE2021T2", "dev", "--machines", "bearing")
    assert result.returncode == 2 and "bearing not a DCASE2021T2 dev machine type" in result.stderr


def test_leftovers_of_killed_runs_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    _split_folders(tmp_path)
    dead = tmp_path / ".test-merge-99999999-abc"
    live = tmp_path / f".test-merge-{os.getpid()}-abc"
    for folder in (dead, live):
        folder.mkdir()
        (folder / "clip.wav").write_bytes(b"x")
    merge_split_test_folders(tmp_path)
    assert not dead.exists() and live.is_dir()
