"""Which files form the training and test sets, in the public baseline's order, and the errors."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from datasets.file_list import list_test_clips, list_train_clips
from datasets.registry import resolve_dataset
from errors import ConfigError, DataError

FAN_DEV = resolve_dataset("DCASE2024T2fan", "dev")
FAN_EVAL_SPEC = resolve_dataset("DCASE2024T2AirCompressor", "eval")


def touch_all(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_dev_test_order_is_normals_sorted_then_anomalies_sorted(tmp_path: Path) -> None:
    names = [
        "section_00_target_test_anomaly_0003_a.wav",
        "section_00_source_test_normal_0002_a.wav",
        "section_00_source_test_anomaly_0001_a.wav",
        "section_00_target_test_normal_0000_a.wav",
        "section_01_source_test_normal_0000_a.wav",
        "notes.txt",
    ]
    touch_all(tmp_path / "dcase2024t2/dev_data/raw/fan/test", names)
    clips, labelled = list_test_clips(FAN_DEV, tmp_path, "00")
    assert labelled
    assert [clip.name for clip in clips] == [
        "section_00_source_test_normal_0002_a.wav",
        "section_00_target_test_normal_0000_a.wav",
        "section_00_source_test_anomaly_0001_a.wav",
        "section_00_target_test_anomaly_0003_a.wav",
    ]
    assert [clip.label for clip in clips] == [0, 0, 1, 1]
    assert [clip.domain for clip in clips] == ["source", "target", "source", "target"]


def test_eval_test_clips_are_sorted_and_unlabelled(tmp_path: Path) -> None:
    touch_all(
        tmp_path / "dcase2024t2/eval_data/raw/AirCompressor/test",
        ["section_00_0002.wav", "section_00_0000.wav", "section_00_0001.wav"],
    )
    clips, labelled = list_test_clips(FAN_EVAL_SPEC, tmp_path, "00")
    assert not labelled
    assert [clip.name for clip in clips] == ["section_00_0000.wav", "section_00_0001.wav", "section_00_0002.wav"]
    assert all(clip.label is None for clip in clips)


def test_eval_uses_the_labelled_test_rename_folder_when_present(tmp_path: Path) -> None:
    machine = tmp_path / "dcase2024t2/eval_data/raw/AirCompressor"
    touch_all(machine / "test", ["section_00_0000.wav"])
    touch_all(machine / "test_rename", ["section_00_source_test_anomaly_0000_x.wav"])
    clips, labelled = list_test_clips(FAN_EVAL_SPEC, tmp_path, "00")
    assert labelled and clips[0].label == 1 and clips[0].path.parent.name == "test_rename"


def test_train_clips_are_sorted_and_use_ids_select_sections(tmp_path: Path) -> None:
    touch_all(
        tmp_path / "dcase2024t2/dev_data/raw/fan/train",
        ["section_00_target_train_normal_0001_a.wav", "section_00_source_train_normal_0000_a.wav"],
    )
    clips = list_train_clips(FAN_DEV, tmp_path, use_ids=[])
    assert [clip.name for clip in clips] == [
        "section_00_source_train_normal_0000_a.wav",
        "section_00_target_train_normal_0001_a.wav",
    ]
    assert list_train_clips(FAN_DEV, tmp_path, use_ids=[0]) == clips
    with pytest.raises(DataError, match="selects no section"):
        list_train_clips(FAN_DEV, tmp_path, use_ids=[3])


def test_missing_folder_names_the_path_and_the_download_script(tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        list_train_clips(FAN_DEV, tmp_path, use_ids=[])
    message = str(raised.value)
    assert str(tmp_path / "dcase2024t2/dev_data/raw/fan/train") in message
    assert "data_download_2024dev.sh" in message and "--is_auto_download" in message


def test_eval_test_folder_missing_points_to_the_eval_download(tmp_path: Path) -> None:
    (tmp_path / "dcase2024t2/eval_data/raw/AirCompressor/train").mkdir(parents=True)
    with pytest.raises(DataError, match=r"data_download_2024eval\.sh"):
        list_test_clips(FAN_EVAL_SPEC, tmp_path, "00")


def test_empty_section_and_anomalies_in_train_are_errors(tmp_path: Path) -> None:
    train = tmp_path / "dcase2024t2/dev_data/raw/fan/train"
    train.mkdir(parents=True)
    with pytest.raises(DataError, match=r"no WAV files of section 00"):
        list_train_clips(FAN_DEV, tmp_path, use_ids=[])
    touch_all(train, ["section_00_source_train_normal_0000_a.wav", "section_00_source_test_anomaly_0001_a.wav"])
    with pytest.raises(DataError, match=r"anomaly clip.*section_00_source_test_anomaly_0001_a\.wav"):
        list_train_clips(FAN_DEV, tmp_path, use_ids=[])


def test_unknown_dataset_lists_valid_names_and_hints_at_the_mode() -> None:
    with pytest.raises(ConfigError, match=r"valid names: DCASE2024T2bearing, DCASE2024T2fan, .*DCASE2024T2valve \("):
        resolve_dataset("DCASE2024T2xyzzy", "dev")
    with pytest.raises(ConfigError, match="is an eval dataset: use -e"):
        resolve_dataset("DCASE2024T2AirCompressor", "dev")


def test_a_misspelt_dataset_gets_the_closest_names_not_all_of_them() -> None:
    with pytest.raises(ConfigError) as error:
        resolve_dataset("DCASE2024T2fna", "dev")
    message = str(error.value)
    assert "did you mean DCASE2024T2fan" in message
    assert "DCASE2020T2ToyConveyor" not in message and message.count("DCASE") <= 5


@pytest.mark.parametrize("dataset", ["DCASE2024T2fan", "DCASE2026T2ToyCar"])
def test_the_suggested_synthetic_command_writes_the_missing_folder(tmp_path: Path, dataset: str) -> None:
    from datasets.synthetic.__main__ import main as synthetic_main

    spec = resolve_dataset(dataset, "dev")
    root = tmp_path / "my data"
    with pytest.raises(DataError) as error:
        list_train_clips(spec, root, use_ids=[])
    command = shlex.split(str(error.value).split("'python -m datasets.synthetic ")[1].split("'; ")[0])
    # the command as suggested, made tiny
    synthetic_main(
        [
            *command,
            "--n_train_source",
            "2",
            "--n_train_target",
            "1",
            "--n_test_per_group",
            "1",
            "--duration",
            "0.5",
            "--workers",
            "1",
        ]
    )
    assert len(list_train_clips(spec, root, use_ids=[])) == 3
