"""The int16 waveform cache (exact samples, reuse, rebuild when a file changes, crops) and the clip attributes
read from file names and attributes_00.csv."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from datasets.file_list import Clip
from datasets.registry import resolve_dataset
from datasets.waveforms import (
    attributes_from_name,
    clip_attributes,
    list_family_training_clips,
    load_family_training_set,
    load_or_build_waveforms,
    read_attribute_table,
    to_int16,
)
from errors import DataError

RATE = 16000


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, RATE, subtype="PCM_16")


def test_cache_holds_the_exact_samples_and_is_reused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    paths = [tmp_path / f"clip_{i}.wav" for i in range(3)]
    for i, path in enumerate(paths):
        write_wav(path, rng.integers(-32768, 32767, 1000 + 7 * i).astype(np.int16))
    waves, cached = load_or_build_waveforms(paths, tmp_path / "cache", "train")
    assert not cached and waves.n_clips == 3 and waves.sample_rate == RATE
    for i, path in enumerate(paths):
        expected, _ = soundfile.read(str(path), dtype="int16")
        np.testing.assert_array_equal(waves.samples[waves.offsets[i] : waves.offsets[i + 1]], expected)
        np.testing.assert_array_equal(waves.clip(i), expected.astype(np.float32) / 32768)
    again, cached = load_or_build_waveforms(paths, tmp_path / "cache", "train")
    assert cached and isinstance(again.samples, np.memmap)
    assert not list((tmp_path / "cache").glob(".*.tmp"))  # no temporary left behind

    write_wav(paths[1], np.zeros(500, dtype=np.int16))  # a changed dataset is never served from the cache
    os.utime(paths[1], ns=(1, 1))
    rebuilt, cached = load_or_build_waveforms(paths, tmp_path / "cache", "train")
    assert not cached and rebuilt.rows_per_clip()[1] == 500


def test_crops_are_zero_padded_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    write_wav(path, np.arange(1, 101, dtype=np.int16))
    waves, _ = load_or_build_waveforms([path], tmp_path / "cache", "a")
    crops = waves.crops(np.array([0, 0]), np.array([10, 95]), 8)
    np.testing.assert_array_equal(crops[0] * 32768, np.arange(11, 19))
    np.testing.assert_array_equal(crops[1] * 32768, [96, 97, 98, 99, 100, 0, 0, 0])
    assert to_int16(np.array([1.5, -2.0, 0.5])).tolist() == [32767, -32768, 16384]


def test_clips_of_another_sample_rate_are_refused(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", np.zeros(100, dtype=np.int16))
    soundfile.write(str(tmp_path / "b.wav"), np.zeros(100, dtype=np.int16), 8000, subtype="PCM_16")
    soundfile.write(str(tmp_path / "c.wav"), np.zeros(100, dtype=np.int16), RATE, subtype="PCM_16")
    with pytest.raises(DataError, match=r"b\.wav: sample rate 8000 Hz"):
        load_or_build_waveforms([tmp_path / n for n in ("a.wav", "b.wav", "c.wav")], tmp_path / "cache", "x")


def test_attributes_from_names_and_from_the_csv(tmp_path: Path) -> None:
    assert attributes_from_name("section_00_source_train_normal_0001_car_A1_spd_28V.wav") == "car_A1_spd_28V"
    assert attributes_from_name("section_00_target_test_anomaly_0003_noAttribute.wav") == ""
    assert attributes_from_name("normal_id_00_00000000.wav") == ""  # DCASE2020 names carry none
    machine_dir = tmp_path / "fan"
    machine_dir.mkdir()
    (machine_dir / "attributes_00.csv").write_text(
        "file_name,d1p,d1v,d2p,d2v\n"
        "fan/train/section_00_source_train_normal_0000_x.wav,m-n,W,noAttribute,\n"
        "fan/train/section_00_target_train_normal_0000_y.wav,m-n,Y,speed,3\n"
    )
    table = read_attribute_table(machine_dir)
    assert table == {
        "section_00_source_train_normal_0000_x.wav": "m-n_W",
        "section_00_target_train_normal_0000_y.wav": "m-n_Y_speed_3",
    }
    clips = [
        Clip(machine_dir / "train" / name, "00", domain, 0)
        for name, domain in (
            ("section_00_source_train_normal_0000_x.wav", "source"),  # the CSV wins over the name
            ("section_00_target_train_normal_0000_y.wav", "target"),
            ("section_00_source_train_normal_0001_m-n_X.wav", "source"),  # not in the CSV: from the name
            ("section_00_source_train_normal_0002_noAttribute.wav", "source"),
        )
    ]
    assert clip_attributes(clips, machine_dir) == ["m-n_W", "m-n_Y_speed_3", "m-n_X", ""]


def test_family_training_set_describes_every_clip_of_every_machine_type(tiny_data_dir: Path) -> None:
    listing = list_family_training_clips("DCASE2024T2", "dev", tiny_data_dir, [0], required="fan")
    data = load_family_training_set(listing, tiny_data_dir)
    assert data.machines == ["bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve"]
    assert data.n_clips == 7 * 12 and int(data.is_target.sum()) == 7 * 2 and data.sample_rate == RATE
    fan = resolve_dataset("DCASE2024T2fan", "dev")
    fan_rows = np.flatnonzero(data.clip_machine == data.machines.index("fan"))
    fan_clips = listing[1][1]
    assert [data.clips[row] for row in fan_rows] == fan_clips
    assert [data.attributes[row] for row in fan_rows] == clip_attributes(fan_clips, fan.machine_dir(tiny_data_dir))
    assert {data.clip_machine_names[row] for row in fan_rows} == {"fan"}
    rng = np.random.default_rng(0)
    crops = data.random_crops(np.array([0, 20, 83]), 4000, rng)
    assert crops.shape == (3, 4000) and crops.dtype == np.float32 and np.abs(crops).max() > 0
