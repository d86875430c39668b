"""Signal building blocks shared by the machine models.

Everything here is a small vectorised numpy function of (random generator, sample count, sample rate,
physical parameters). The models in ``dev_machines`` and ``generic_machines`` combine them into the
tonal, impulsive and broadband parts of a machine's sound.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import fft as sfft

TWO_PI = 2.0 * np.pi


# ----------------------------------------------------------------------------------------------------
# slowly varying curves (speed wobble, level drift)
# ----------------------------------------------------------------------------------------------------
def smooth_curve(rng: np.random.Generator, n: int, sr: int, changes_per_second: float) -> np.ndarray:
    """Random curve of ``n`` samples, about unit standard deviation, changing ~``changes_per_second``."""
    n_knots = int(np.ceil(n / sr * changes_per_second)) + 2
    knots = rng.standard_normal(n_knots)
    return np.interp(np.linspace(0.0, n_knots - 1.0, n), np.arange(n_knots), knots)


def wobbly_frequency(
    rng: np.random.Generator, n: int, sr: int, mean_hz: float, wobble: float, changes_per_second: float = 0.7
) -> np.ndarray:
    """Instantaneous frequency around ``mean_hz`` with relative random wobble ``wobble``."""
    return mean_hz * (1.0 + wobble * smooth_curve(rng, n, sr, changes_per_second))


def cycles_of(freq: np.ndarray, sr: int, start: float = 0.0) -> np.ndarray:
    """Number of turns completed at each sample by something turning at ``freq`` Hz."""
    return start + np.cumsum(freq) / sr


# ----------------------------------------------------------------------------------------------------
# tones
# ----------------------------------------------------------------------------------------------------
def harmonic_series(
    rng: np.random.Generator, cycles: np.ndarray, max_freq: float, sr: int, amplitudes: Sequence[float]
) -> np.ndarray:
    """``sum_k a_k sin(2 pi k cycles + phi_k)`` with random phases, harmonics above 0.47 sr dropped.

    Evaluated with Horner's scheme on the unit phasor, one complex multiply-add per harmonic.
    """
    amplitudes = np.asarray(amplitudes, dtype=float)
    orders = np.arange(1, len(amplitudes) + 1)
    coefficients = amplitudes * np.exp(1j * rng.uniform(0.0, TWO_PI, len(amplitudes)))
    coefficients[orders * max_freq >= 0.47 * sr] = 0.0
    kept = np.nonzero(coefficients)[0]
    if len(kept) == 0:
        return np.zeros(len(cycles))
    angle = (TWO_PI * np.mod(cycles, 1.0)).astype(np.float32)
    phasor = np.empty(len(cycles), dtype=np.complex64)
    phasor.real, phasor.imag = np.cos(angle), np.sin(angle)
    total = np.full(len(cycles), coefficients[kept[-1]], dtype=np.complex64)
    for k in range(kept[-1] - 1, -1, -1):
        total *= phasor
        if coefficients[k] != 0.0:
            total += np.complex64(coefficients[k])
    total *= phasor
    return total.imag.astype(np.float64)


def decaying_amplitudes(
    n_harmonics: int, decay_db_per_harmonic: float, rng: np.random.Generator | None = None, spread_db: float = 0.0
) -> np.ndarray:
    """Harmonic amplitudes falling by a fixed number of dB per order, with optional random spread."""
    levels_db = -decay_db_per_harmonic * np.arange(n_harmonics)
    if rng is not None and spread_db > 0.0:
        levels_db = levels_db + rng.normal(0.0, spread_db, n_harmonics)
    return 10.0 ** (levels_db / 20.0)


def sine(rng: np.random.Generator, cycles: np.ndarray) -> np.ndarray:
    """A single sinusoid with random phase following ``cycles``."""
    return np.sin(TWO_PI * cycles + rng.uniform(0.0, TWO_PI))


# ----------------------------------------------------------------------------------------------------
# broadband noise
# ----------------------------------------------------------------------------------------------------
def rfft_freqs(n: int, sr: int) -> np.ndarray:
    return np.fft.rfftfreq(n, 1.0 / sr)


def log_band(freqs: np.ndarray, centre_hz: float, width_octaves: float) -> np.ndarray:
    """Gaussian bump on a log-frequency axis (magnitude 1 at ``centre_hz``)."""
    octaves = np.log2(np.maximum(freqs, 1.0) / centre_hz)
    return np.exp(-0.5 * (octaves / max(width_octaves, 1e-3)) ** 2)


def tilt(freqs: np.ndarray, db_per_octave: float, reference_hz: float = 1000.0) -> np.ndarray:
    """Magnitude slope of ``db_per_octave`` (negative: darker), 1 at ``reference_hz``."""
    octaves = np.log2(np.maximum(freqs, 20.0) / reference_hz)
    return 10.0 ** (db_per_octave * octaves / 20.0)


def highpass_shape(freqs: np.ndarray, corner_hz: float, order: int = 2) -> np.ndarray:
    ratio = np.maximum(freqs, 1e-3) / corner_hz
    return ratio**order / np.sqrt(1.0 + ratio ** (2 * order))


def lowpass_shape(freqs: np.ndarray, corner_hz: float, order: int = 2) -> np.ndarray:
    return 1.0 / np.sqrt(1.0 + (freqs / corner_hz) ** (2 * order))


def shaped_noise(rng: np.random.Generator, n: int, magnitude: np.ndarray) -> np.ndarray:
    """Gaussian noise with spectral magnitude ``magnitude`` (one value per rfft bin), unit RMS."""
    spectrum = np.empty(len(magnitude), dtype=np.complex64)
    spectrum.real = rng.standard_normal(len(magnitude), dtype=np.float32)
    spectrum.imag = rng.standard_normal(len(magnitude), dtype=np.float32)
    spectrum *= magnitude.astype(np.float32)
    spectrum[0] = 0.0
    noise = sfft.irfft(spectrum, n).astype(np.float64)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def apply_magnitude(x: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """Zero-phase filter of ``x`` by a magnitude response given on its rfft bins (circular)."""
    return sfft.irfft(sfft.rfft(x) * magnitude, len(x))


# ----------------------------------------------------------------------------------------------------
# impulses and resonances
# ----------------------------------------------------------------------------------------------------
def event_positions(cycles: np.ndarray, events_per_turn: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """Sample indices where ``events_per_turn * cycles + offset`` crosses an integer."""
    counts = np.floor(cycles * events_per_turn + offset)
    return np.nonzero(np.diff(counts) > 0)[0] + 1


def random_positions(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """Poisson event times at ``rate_hz`` as sample indices."""
    count = rng.poisson(rate_hz * n / sr)
    return np.sort(rng.integers(0, n, count))


def jitter_positions(rng: np.random.Generator, positions: np.ndarray, n: int, sr: int, jitter_s: float) -> np.ndarray:
    shifted = positions + np.round(rng.normal(0.0, jitter_s * sr, len(positions))).astype(int)
    return np.clip(shifted, 0, n - 1)


def spikes(n: int, positions: np.ndarray, amplitudes: np.ndarray | float) -> np.ndarray:
    """Unit impulses at ``positions`` scaled by ``amplitudes`` (summed where they coincide)."""
    out = np.zeros(n)
    np.add.at(out, np.asarray(positions, dtype=int), amplitudes)
    return out


def modal_response(
    rng: np.random.Generator,
    sr: int,
    freqs_hz: Sequence[float],
    decays_s: Sequence[float],
    gains: Sequence[float] | None = None,
    noise_gain: float = 0.0,
    noise_decay_s: float = 0.003,
) -> np.ndarray:
    """Impulse response of a struck body: damped sinusoids plus an optional short noisy 'click'."""
    length = int(sr * min(5.0 * max(decays_s), 0.4)) + 1
    t = np.arange(length) / sr
    gains = np.ones(len(freqs_hz)) if gains is None else np.asarray(gains, dtype=float)
    response = np.zeros(length)
    for freq, decay, gain in zip(freqs_hz, decays_s, gains, strict=True):
        if freq < 0.47 * sr:
            response += gain * np.exp(-t / decay) * np.sin(TWO_PI * freq * t + rng.uniform(0, TWO_PI))
    if noise_gain > 0.0:
        response += noise_gain * np.exp(-t / noise_decay_s) * rng.standard_normal(length)
    return response


def impacts(
    rng: np.random.Generator,
    positions: np.ndarray,
    amplitudes: np.ndarray | float,
    n: int,
    sr: int,
    modes_hz: Sequence[float],
    decays_s: Sequence[float],
    noise_gain: float = 0.3,
) -> np.ndarray:
    """Unit-RMS train of structural impacts ringing the given modes (silence when there are none)."""
    if len(positions) == 0:
        return np.zeros(n)
    ringing = excite(
        spikes(n, positions, amplitudes), modal_response(rng, sr, modes_hz, decays_s, noise_gain=noise_gain)
    )
    return unit_rms(ringing)


def excite(impulses: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Ring ``response`` at every impulse (linear convolution cut to the input length)."""
    if not np.any(impulses):
        return np.zeros(len(impulses))
    return convolve(impulses, response)


def resonant_noise(
    rng: np.random.Generator,
    n: int,
    sr: int,
    freqs_hz: Sequence[float],
    widths_octaves: Sequence[float],
    gains: Sequence[float],
) -> np.ndarray:
    """Noise coloured by a few structural resonances (the 'rolling' noise of bearings and rails)."""
    freqs = rfft_freqs(n, sr)
    magnitude = np.zeros(len(freqs))
    for centre, width, gain in zip(freqs_hz, widths_octaves, gains, strict=True):
        magnitude += gain * log_band(freqs, centre, width)
    return shaped_noise(rng, n, magnitude)


# ----------------------------------------------------------------------------------------------------
# envelopes
# ----------------------------------------------------------------------------------------------------
def modulation(cycles: np.ndarray, depth: float, phase: float = 0.0) -> np.ndarray:
    """``1 + depth * cos(2 pi cycles + phase)``: amplitude modulation following a rotation."""
    return 1.0 + depth * np.cos(TWO_PI * cycles + phase)


def gate(n: int, starts: np.ndarray, stops: np.ndarray, sr: int, ramp_s: float = 0.01) -> np.ndarray:
    """1 between each start/stop pair, 0 elsewhere, with short linear ramps."""
    level = np.zeros(n)
    for start, stop in zip(starts, stops, strict=True):
        level[max(int(start), 0) : max(int(stop), 0)] = 1.0
    ramp = max(int(ramp_s * sr), 1)
    kernel = np.ones(ramp) / ramp
    return np.convolve(level, kernel, mode="same")


def bursts(rng: np.random.Generator, n: int, sr: int, rate_hz: float, mean_length_s: float) -> np.ndarray:
    """0/1 envelope with random bursts (crackle, scraping), smoothed by 5 ms ramps."""
    positions = random_positions(rng, n, sr, rate_hz)
    lengths = rng.exponential(mean_length_s * sr, len(positions)).astype(int) + 1
    return gate(n, positions, positions + lengths, sr, ramp_s=0.005)


# ----------------------------------------------------------------------------------------------------
# rooms and microphones
# ----------------------------------------------------------------------------------------------------
def room_response(
    rng: np.random.Generator, sr: int, rt60_s: float, n_reflections: int, reflection_gain: float, tail_gain: float
) -> np.ndarray:
    """Direct sound, a few early reflections (comb colouring) and an exponentially decaying tail."""
    length = int(sr * min(rt60_s, 0.35)) + 1
    response = np.zeros(length)
    response[0] = 1.0
    delays = rng.integers(int(0.0015 * sr), int(0.02 * sr), n_reflections)
    response[np.minimum(delays, length - 1)] += reflection_gain * rng.uniform(-1.0, 1.0, n_reflections)
    t = np.arange(length) / sr
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.005 * sr)] = 0.0
    response += tail_gain * tail / np.sqrt(np.sum(tail**2) + 1e-12)
    return response


def through_room(x: np.ndarray, response: np.ndarray) -> np.ndarray:
    return convolve(x, response)


def convolve(x: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Linear convolution of ``x`` with a (shorter) ``response``, cut to ``len(x)`` (via one FFT pair)."""
    size = sfft.next_fast_len(len(x) + len(response) - 1, real=True)
    return sfft.irfft(sfft.rfft(x, size) * sfft.rfft(response, size), size)[: len(x)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)) + 1e-20))


def unit_rms(x: np.ndarray) -> np.ndarray:
    return x / rms(x)


def db_to_gain(db: float | np.ndarray) -> float | np.ndarray:
    return 10.0 ** (np.asarray(db) / 20.0)
