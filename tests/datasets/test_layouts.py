"""The DCASE2025 (supplemental/) and DCASE2026 (stereo) layouts of the synthetic data, and the supplemental loader."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile

from datasets.audio import ChannelRule
from datasets.dcase_data import load_train_set
from datasets.features import FeatureParams
from datasets.file_list import list_test_clips, list_train_clips
from datasets.registry import resolve_dataset
from datasets.supplemental import read_supplemental_clips, supplemental_summary
from datasets.synthetic import generate_dataset
from datasets.synthetic.catalog import hides_attributes, machine_model
from datasets.synthetic.layouts import far_microphone
from errors import DataError

SR = 16000
SMALL = {"n_train_source": 3, "n_train_target": 1, "n_test_per_group": 1, "duration": 1.0, "seed": 2, "workers": 1}


@pytest.fixture(scope="module")
def eval_2025(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout_2025")
    generate_dataset(root, ["ToyPet"], dataset="DCASE2025T2", split="eval", n_supplemental=2, **SMALL)
    return root


@pytest.fixture(scope="module")
def dev_2026(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout_2026")
    generate_dataset(root, ["ToyCarEmu"], dataset="DCASE2026T2", split="dev", **SMALL)
    return root


def test_2025_supplemental_clips_are_written_and_kept_apart(eval_2025: Path) -> None:
    spec = resolve_dataset("DCASE2025T2ToyPet", "eval")
    machine_dir = spec.machine_dir(eval_2025)
    assert sorted(path.name for path in (machine_dir / "supplemental").iterdir()) == [
        "section_00_machine_0000_.wav",
        "section_00_machine_0001_.wav",
        "section_00_noise_0000_.wav",
        "section_00_noise_0001_.wav",
    ]
    # never training or test data, never in the attributes file or the ground truth
    assert all("supplemental" not in str(clip.path) for clip in list_train_clips(spec, eval_2025, []))
    assert all("supplemental" not in str(clip.path) for clip in list_test_clips(spec, eval_2025, "00")[0])
    with open(machine_dir / "attributes_00.csv", newline="") as stream:
        assert not any("supplemental" in row[0] for row in csv.reader(stream))
    truth = eval_2025 / "dcase2025t2/eval_data/ground_truth/ground_truth_data/ground_truth_ToyPet_section_00_test.csv"
    assert len(truth.read_text().splitlines()) == 4
    # ToyPet hides its attributes in DCASE2025
    assert hides_attributes("DCASE2025T2", "ToyPet") and not hides_attributes("DCASE2024T2", "ToyPet")
    assert all(name.endswith("_noAttribute.wav") for name in (p.name for p in (machine_dir / "train").iterdir()))


def test_supplemental_loader_and_summary(eval_2025: Path) -> None:
    spec = resolve_dataset("DCASE2025T2ToyPet", "eval")
    clips, signals, rate = read_supplemental_clips(spec, eval_2025, kind="noise")
    assert rate == SR and [clip.path.name for clip in clips] == [
        "section_00_noise_0000_.wav",
        "section_00_noise_0001_.wav",
    ]
    np.testing.assert_array_equal(signals[0], soundfile.read(clips[0].path, dtype="float32")[0])
    machine_clips, machine_signals, _ = read_supplemental_clips(spec, eval_2025, kind="machine")
    assert len(machine_clips) == 2 and all(np.sqrt(np.mean(s**2)) > 1e-3 for s in machine_signals)
    assert "holds 4 supplemental clips (2 machine, 2 noise)" in supplemental_summary(spec, eval_2025)
    with pytest.raises(DataError, match=r"no supplemental other clips in .*ToyPet/supplemental"):
        read_supplemental_clips(spec, eval_2025, kind="other")
    assert supplemental_summary(resolve_dataset("DCASE2025T2ToyRCCar", "eval"), eval_2025) is None


def test_training_lists_supplemental_and_its_features_do_not_change(
    eval_2025: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = resolve_dataset("DCASE2025T2ToyPet", "eval")
    params = FeatureParams(n_mels=32, n_fft=512, hop_length=256)
    with_supplemental = load_train_set(spec, eval_2025, params, [], workers=1)
    assert "supplemental clips (2 machine, 2 noise)" in capsys.readouterr().out
    copy = tmp_path / "copy"
    (copy / "dcase2025t2/eval_data/raw/ToyPet").mkdir(parents=True)
    for item in ("train", "attributes_00.csv"):
        target = copy / "dcase2025t2/eval_data/raw/ToyPet" / item
        target.symlink_to(spec.machine_dir(eval_2025) / item)
    without = load_train_set(spec, copy, params, [], workers=1)
    np.testing.assert_array_equal(with_supplemental.features.log_mel, without.features.log_mel)


def test_2026_clips_are_stereo_with_a_far_microphone(dev_2026: Path) -> None:
    spec = resolve_dataset("DCASE2026T2ToyCarEmu", "dev")
    path = sorted((spec.machine_dir(dev_2026) / "train").glob("*.wav"))[0]
    info = soundfile.info(path)
    assert (info.channels, info.samplerate, info.subtype) == (2, SR, "PCM_16")
    both, _ = soundfile.read(path)
    near, far = both[:, 0], both[:, 1]
    lag = np.argmax(scipy.signal.correlate(far, near, mode="full")) - (len(near) - 1)
    assert 0.004 * SR <= lag <= 0.012 * SR  # the far microphone hears it 4-12 ms later
    assert np.sqrt(np.mean(far**2)) < np.sqrt(np.mean(near**2))
    with pytest.raises(DataError, match="has 2 channels; DCASE2026 clips are stereo: use --mono False"):
        load_train_set(spec, dev_2026, FeatureParams(n_mels=32, n_fft=512, hop_length=256), [], workers=1)
    rule = ChannelRule(mono=False, channel="1")
    clips = load_train_set(
        spec,
        dev_2026,
        FeatureParams(n_mels=32, n_fft=512, hop_length=256, mono=rule.mono, channel=rule.channel),
        [],
        workers=1,
    )
    assert len(clips.clips) == 4
    assert machine_model("ToyCarEmu") is machine_model("ToyCar")


def test_far_microphone_is_delayed_duller_and_noisier() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(2 * SR) / SR
    near = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(
        t.size
    )
    far = far_microphone(near, np.random.default_rng(1), SR)
    assert far.shape == near.shape and np.isfinite(far).all()
    _, near_psd = scipy.signal.welch(near, SR, nperseg=1024)
    freqs, far_psd = scipy.signal.welch(far, SR, nperseg=1024)
    tone = np.argmin(np.abs(freqs - 440))
    near_tone_to_floor = near_psd[tone] / np.median(near_psd)
    far_tone_to_floor = far_psd[tone] / np.median(far_psd)
    assert far_tone_to_floor < near_tone_to_floor / 3  # more noise relative to the machine
    lag = np.argmax(scipy.signal.correlate(far, near, mode="full")) - (len(near) - 1)
    assert 0.004 * SR <= lag <= 0.012 * SR
