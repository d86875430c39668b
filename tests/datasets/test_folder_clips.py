"""datasets.folder_clips: folders of recordings as a family model's machine types, windows as clips in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from datasets.folder_clips import clips_in_memory, folder_clips, folder_training_set, machine_names
from errors import DataError
from tests.monitor_data import write_wav


def test_machine_names_are_the_fewest_last_path_parts_that_tell_the_folders_apart(tmp_path: Path) -> None:
    assert machine_names([tmp_path / "pump", tmp_path / "fan"]) == ["pump", "fan"]
    layout = [tmp_path / "raw/fan/train", tmp_path / "raw/valve/train"]
    assert machine_names(layout) == ["fan/train", "valve/train"]
    with pytest.raises(DataError, match="is given twice"):
        machine_names([tmp_path / "fan", tmp_path / "fan"])


def test_a_training_set_of_two_folders_holds_every_clip_in_order(tmp_path: Path) -> None:
    pump = [write_wav(tmp_path / "pump" / f"{n}.wav", 0.5, seed=n) for n in range(3)]
    fan = [write_wav(tmp_path / "fan" / f"section_00_target_train_normal_000{n}_speed_1.wav", 0.25) for n in range(2)]
    folders = [
        (tmp_path / "pump", folder_clips(pump, [False, True, False])),
        (tmp_path / "fan", folder_clips(fan, [True] * 2)),
    ]
    data = folder_training_set(folders, machine_names([folder for folder, _ in folders]), tmp_path / "cache")
    assert data.machines == ["pump", "fan"] and data.clip_machine_names == ["pump"] * 3 + ["fan"] * 2
    np.testing.assert_array_equal(data.is_target, [False, True, False, True, True])
    assert data.attributes == ["", "", "", "speed_1", "speed_1"]
    np.testing.assert_array_equal(data.clip_lengths(), [8000] * 3 + [4000] * 2)
    expected, _ = soundfile.read(str(pump[1]), dtype="float32")
    np.testing.assert_array_equal(data.waveforms[0].clip(1), expected)  # 16-bit samples: int16 is lossless


def test_windows_in_memory_are_clips_of_the_machine() -> None:
    signals = [np.zeros(4, np.float32), np.ones(6, np.float32), np.full(4, 2, np.float32)]
    clips = clips_in_memory("pump", ["a.wav", "b.wav", "c.wav"], signals, 16000)
    batches = {tuple(ids): signals for ids, signals in clips.equal_length_batches(100)}
    assert set(batches) == {(0, 2), (1,)} and batches[(0, 2)][1][0] == 2.0
    assert [clip.name for clip in clips.clips] == ["a.wav", "b.wav", "c.wav"] and not clips.is_target.any()
