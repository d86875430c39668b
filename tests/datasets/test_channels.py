"""--mono / --channel: which channel of a clip becomes the input, and the clear errors for a mismatch."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile

from common import parse_config, validate_config
from datasets.audio import ChannelRule, read_clip
from datasets.clip_features import cache_key, extract_features
from datasets.features import FeatureParams
from datasets.waveforms import load_or_build_waveforms, read_waveforms
from errors import ConfigError, DataError

SR = 16000


def _stereo(path: Path, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    samples = (rng.uniform(-0.5, 0.5, (SR // 2, 2))).astype(np.float32)
    samples[:, 1] *= 0.3  # the far microphone is quieter
    soundfile.write(path, samples, SR, subtype="PCM_16")
    return soundfile.read(path, dtype="float32")[0]


def test_mono_rule_refuses_a_stereo_clip_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "section_00_source_train_normal_0000_a.wav"
    _stereo(path)
    with pytest.raises(DataError) as error:
        read_clip(path)
    assert str(error.value) == (
        f"{path} has 2 channels; DCASE2026 clips are stereo: use --mono False [--channel 0|1|mean]"
    )


def test_stereo_rule_refuses_a_mono_clip(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    soundfile.write(path, np.zeros(SR // 4), SR, subtype="PCM_16")
    with pytest.raises(DataError, match=r"mono\.wav has 1 channel but --mono False expects stereo clips"):
        read_clip(path, ChannelRule(mono=False))


@pytest.mark.parametrize("channel", ["0", "1", "mean"])
def test_each_channel_choice_reads_what_soundfile_and_librosa_read(tmp_path: Path, channel: str) -> None:
    path = tmp_path / "stereo.wav"
    both = _stereo(path)
    signal, rate = read_clip(path, ChannelRule(mono=False, channel=channel))
    expected = {"0": both[:, 0], "1": both[:, 1], "mean": both.mean(axis=1)}[channel]
    assert rate == SR
    np.testing.assert_array_equal(signal, expected.astype(np.float32))
    if channel == "mean":  # librosa's own down-mix: the same average
        np.testing.assert_allclose(signal, librosa.load(path, sr=None, mono=True)[0], atol=1e-7)
    if channel == "0":  # the public baseline v5: librosa.load(mono=False)[0]
        np.testing.assert_array_equal(signal, librosa.load(path, sr=None, mono=False)[0][0])


def test_features_follow_the_channel_and_the_cache_key_includes_it(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    both = _stereo(path)
    base = FeatureParams(n_mels=32, n_fft=512, hop_length=256, mono=False)
    for channel, column in (("0", 0), ("1", 1)):
        params = FeatureParams(**{**base.as_dict(), "channel": channel})
        features = extract_features([path], params, workers=1)
        mel = librosa.feature.melspectrogram(y=both[:, column], sr=SR, n_fft=512, hop_length=256, n_mels=32, power=2.0)
        expected = 10.0 * np.log10(np.maximum(mel, np.finfo(float).eps)).T
        np.testing.assert_allclose(features.log_mel, expected, atol=1e-4)
    keys = {cache_key(FeatureParams(**{**base.as_dict(), "channel": c})) for c in ("0", "1", "mean")}
    assert len(keys) == 3 and cache_key(FeatureParams(n_mels=32, n_fft=512, hop_length=256)) not in keys


def test_waveforms_honour_the_channel_and_cache_each_choice_apart(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    both = _stereo(path)
    signals, _ = read_waveforms([path], ChannelRule(mono=False, channel="1"))
    np.testing.assert_array_equal(signals[0], both[:, 1])
    far, _ = load_or_build_waveforms([path], tmp_path / "cache", "train", rule=ChannelRule(False, "1"))
    near, _ = load_or_build_waveforms([path], tmp_path / "cache", "train", rule=ChannelRule(False, "0"))
    np.testing.assert_array_equal(far.samples, np.round(both[:, 1] * 32768).astype(np.int16))
    np.testing.assert_array_equal(near.samples, np.round(both[:, 0] * 32768).astype(np.int16))
    with pytest.raises(DataError, match="has 2 channels"):
        read_waveforms([path])


def test_options_and_their_validation() -> None:
    config = parse_config(["--dataset", "DCASE2026T2fan", "-d", "--mono", "False", "--channel", "mean"])
    validate_config(config)
    assert FeatureParams.from_config(config).channel_rule == ChannelRule(mono=False, channel="mean")
    assert FeatureParams.from_config(parse_config(["--dataset", "DCASE2024T2fan", "-d"])).channel_rule == ChannelRule()
    with pytest.raises(ConfigError, match="--channel 1 picks a channel of stereo clips: it needs --mono False"):
        validate_config(parse_config(["--dataset", "DCASE2026T2fan", "-d", "--channel", "1"]))
    with pytest.raises((ConfigError, SystemExit)):
        parse_config(["--dataset", "DCASE2026T2fan", "-d", "--channel", "2"])
