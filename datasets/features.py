"""Log-mel features exactly as the public baseline computes them with librosa, in plain numpy.

The order of operations and the dtypes follow librosa's ``melspectrogram`` on a float32 signal (the
window product and FFT in float64, the magnitude and mel projection in float32, the log in float32), so
the values match the baseline's to float32 rounding. Frames are stored time-major, shape (T, n_mels).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import scipy.signal

from datasets.audio import ChannelRule

LOG_FLOOR = sys.float_info.epsilon  # the baseline floors mel power at the float64 machine epsilon


@dataclass(frozen=True)
class FeatureParams:
    """Every parameter that changes the features; the cache key is built from all of them."""

    n_mels: int = 128
    frames: int = 5
    frame_hop_length: int = 1
    n_fft: int = 1024
    hop_length: int = 512
    power: float = 2.0
    fmin: float = 0.0
    fmax: float | None = None
    win_length: int | None = None
    mono: bool = True  # which channel of a clip is the input: datasets.audio.ChannelRule
    channel: str = "0"

    @classmethod
    def from_config(cls, config: object) -> FeatureParams:
        """The feature parameters among a run's settings (an argparse Namespace)."""
        return cls(**{name: getattr(config, name) for name in cls.__dataclass_fields__})

    @property
    def channel_rule(self) -> ChannelRule:
        return ChannelRule(self.mono, self.channel)

    @property
    def vector_dim(self) -> int:
        return self.n_mels * self.frames

    def as_dict(self) -> dict:
        return asdict(self)


# Slaney's mel scale: linear below 1 kHz at 200/3 Hz per mel, logarithmic above (librosa's htk=False)
MEL_LINEAR_HZ = 200.0 / 3.0
MEL_BREAK_HZ = 1000.0
MEL_BREAK = MEL_BREAK_HZ / MEL_LINEAR_HZ
MEL_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Frequencies in Hz to Slaney mels."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    mels = frequencies / MEL_LINEAR_HZ
    above = frequencies >= MEL_BREAK_HZ
    mels[above] = MEL_BREAK + np.log(frequencies[above] / MEL_BREAK_HZ) / MEL_LOG_STEP
    return mels


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mels = np.asarray(mels, dtype=np.float64)
    frequencies = mels * MEL_LINEAR_HZ
    above = mels >= MEL_BREAK
    frequencies[above] = MEL_BREAK_HZ * np.exp(MEL_LOG_STEP * (mels[above] - MEL_BREAK))
    return frequencies


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """Triangular mel filters with Slaney area normalisation, shape (n_mels, n_fft // 2 + 1), float32."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    edges_mel = np.linspace(hz_to_mel(np.array([fmin]))[0], hz_to_mel(np.array([fmax]))[0], n_mels + 2)
    edges_hz = mel_to_hz(edges_mel)
    widths = np.diff(edges_hz)
    distance = edges_hz[:, None] - fft_freqs[None, :]
    rising = -distance[:-2] / widths[:-1, None]
    falling = distance[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    area_norm = 2.0 / (edges_hz[2:] - edges_hz[:-2])
    weights *= area_norm[:, None]  # float32 times float64, rounded once to float32, as librosa does
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=16)
def analysis_window(n_fft: int, win_length: int | None) -> np.ndarray:
    """Periodic Hann window of ``win_length`` samples, zero-padded to ``n_fft`` and centred (float64).

    Built as librosa builds it, with ``scipy.signal.get_window("hann", win_length, fftbins=True)``: the
    textbook formula ``0.5 - 0.5 cos(2 pi n / N)`` differs from it in the last bit at about half the samples.
    """
    length = n_fft if win_length is None else win_length
    window = scipy.signal.get_window("hann", length, fftbins=True)
    padded = np.zeros(n_fft, dtype=np.float64)
    start = (n_fft - length) // 2
    padded[start : start + length] = window
    padded.setflags(write=False)
    return padded


def count_stft_frames(n_samples: int, n_fft: int, hop_length: int) -> int:
    """Frames of a centred STFT (n_fft // 2 zeros padded at both ends)."""
    return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


def power_spectrogram(
    signal: np.ndarray, n_fft: int, hop_length: int, win_length: int | None, power: float
) -> np.ndarray:
    """``|STFT|**power`` of a float32 signal, centred frames, shape (T, n_fft // 2 + 1), float32."""
    padded = np.pad(np.asarray(signal, dtype=np.float32), n_fft // 2, mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = np.fft.rfft(frames * analysis_window(n_fft, win_length), axis=1).astype(np.complex64)
    return np.abs(spectrum) ** np.float32(power)


def log_mel_spectrogram(signal: np.ndarray, sample_rate: int, params: FeatureParams) -> np.ndarray:
    """``20 / power * log10(max(mel, eps))`` of a mono float32 signal, shape (T, n_mels), float32."""
    spectrogram = power_spectrogram(signal, params.n_fft, params.hop_length, params.win_length, params.power)
    filters = mel_filterbank(sample_rate, params.n_fft, params.n_mels, params.fmin, params.fmax)
    # librosa's own expression and operand layout: the same BLAS call, so the same float32 rounding of the
    # sums (a plain ``spectrogram @ filters.T`` rounds about 1 in 30 values differently, by one step)
    mel = np.einsum("ft,mf->mt", spectrogram.T, filters, optimize=True).T
    return (20.0 / params.power) * np.log10(np.maximum(mel, LOG_FLOOR))
