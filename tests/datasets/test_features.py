"""Log-mel features against librosa's melspectrogram and the public baseline's log and framing."""

from __future__ import annotations

import sys

import librosa
import numpy as np
import pytest
import scipy.signal

from datasets.features import (
    FeatureParams,
    analysis_window,
    count_stft_frames,
    log_mel_spectrogram,
    mel_filterbank,
    power_spectrogram,
)


def machine_like_signal(seconds: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 120 * t) + 0.1 * np.sin(2 * np.pi * 1234.5 * t)
    signal = tone + 0.05 * rng.standard_normal(t.size)
    signal[: sample_rate // 10] = 0.0  # a silent start exercises the log floor
    return signal.astype(np.float32)


def librosa_reference(signal: np.ndarray, sample_rate: int, params: FeatureParams) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=signal,
        sr=sample_rate,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_mels=params.n_mels,
        power=params.power,
        fmin=params.fmin,
        fmax=params.fmax,
        win_length=params.win_length,
    )
    log_mel = 20.0 / params.power * np.log10(np.maximum(mel, sys.float_info.epsilon))
    return log_mel.T  # time-major like ours


@pytest.mark.parametrize(
    "params",
    [
        FeatureParams(),
        FeatureParams(n_mels=64, power=1.0, fmin=50.0, fmax=7000.0, win_length=512),
        FeatureParams(n_mels=40, n_fft=512, hop_length=160, win_length=400),
    ],
)
def test_log_mel_matches_librosa(params: FeatureParams) -> None:
    signal = machine_like_signal(3.0)
    ours = log_mel_spectrogram(signal, 16000, params)
    reference = librosa_reference(signal, 16000, params)
    assert ours.dtype == np.float32
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize(("n_fft", "win_length"), [(1024, None), (512, 400), (2048, 1023), (400, None)])
def test_analysis_window_is_librosas_to_the_last_bit(n_fft: int, win_length: int | None) -> None:
    """librosa takes scipy.signal.get_window("hann", N, fftbins=True) and centres it with pad_center."""
    length = win_length or n_fft
    reference = librosa.util.pad_center(scipy.signal.get_window("hann", length, fftbins=True), size=n_fft)
    np.testing.assert_array_equal(analysis_window(n_fft, win_length), reference)
    np.testing.assert_array_equal(
        analysis_window(n_fft, win_length),
        librosa.util.pad_center(librosa.filters.get_window("hann", length), size=n_fft),
    )
    textbook = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)  # the formula used before
    assert np.max(np.abs(textbook - reference[(n_fft - length) // 2 :][:length])) < 1e-15


@pytest.mark.parametrize("params", [FeatureParams(), FeatureParams(n_mels=64, n_fft=512, hop_length=160)])
def test_power_spectrogram_and_log_mel_equal_librosas_bit_for_bit(params: FeatureParams) -> None:
    signal = machine_like_signal(2.0, seed=3)
    reference = (
        np.abs(librosa.stft(signal, n_fft=params.n_fft, hop_length=params.hop_length, center=True, pad_mode="constant"))
        ** 2
    )
    np.testing.assert_array_equal(power_spectrogram(signal, params.n_fft, params.hop_length, None, 2.0), reference.T)
    np.testing.assert_array_equal(log_mel_spectrogram(signal, 16000, params), librosa_reference(signal, 16000, params))


def test_mel_filterbank_matches_librosa() -> None:
    for sample_rate, n_fft, n_mels, fmin, fmax in [(16000, 1024, 128, 0.0, None), (22050, 2048, 64, 30.0, 9000.0)]:
        reference = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        np.testing.assert_allclose(
            mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax), reference, rtol=1e-6, atol=1e-9
        )


def test_ten_second_clip_gives_313_frames() -> None:
    log_mel = log_mel_spectrogram(machine_like_signal(10.0), 16000, FeatureParams())
    assert log_mel.shape == (313, 128) == (count_stft_frames(160000, 1024, 512), 128)
