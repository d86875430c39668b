"""The DCASE2025 and DCASE2026 layouts of the synthetic data: machine lists, ``supplemental/`` clips, stereo.

What changes from the 2023/2024 layout (the sounds themselves are the same machine models):

- DCASE2025: the machine lists and hidden attributes of 2025, and in the evaluation set a ``supplemental/``
  folder per machine type with clips of the machine alone (``section_00_machine_NNNN_.wav``: the machine in
  its hall, no background) and of the background alone (``section_00_noise_NNNN_.wav``).
- DCASE2026: two-channel clips, the near microphone in the left channel (the 2024-style recording) and a far
  microphone in the right: the near signal delayed by the extra path, passed through a longer room response
  (a reverberant tail of 0.5-0.9 s) and the air's high-frequency loss, attenuated, and mixed with more
  background noise at a lower SNR (0-6 dB), so that the channels differ the way near and far microphones do.
- The 2026 development types that emulate the real machines (``ToyCarEmu``, ``bearingEmu``, ``gearboxEmu``,
  ``sliderEmu``, ``valveEmu``) use the sound model of the machine they emulate (``ToyCar``, ``bearing``, ...).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.signal

DEV_MACHINES_2025 = ("bearing", "fan", "gearbox", "slider", "ToyCar", "ToyTrain", "valve")
EVAL_MACHINES_2025 = (
    "ToyRCCar",
    "ToyPet",
    "HomeCamera",
    "AutoTrash",
    "Polisher",
    "ScrewFeeder",
    "BandSealer",
    "CoffeeGrinder",
)
DEV_MACHINES_2026 = ("ToyCar", "ToyCarEmu", "bearingEmu", "fan", "gearboxEmu", "sliderEmu", "valveEmu")
EVAL_MACHINES_2026 = ("ToyDrone", "ToothBrush", "SewingMachine", "BlowerDustCollector", "Sander")
HIDDEN_ATTRIBUTES_2025 = frozenset({"ToyTrain", "bearing", "slider", "AutoTrash", "Polisher", "ScrewFeeder", "ToyPet"})
EMULATED_MACHINES = {
    "ToyCarEmu": "ToyCar",
    "bearingEmu": "bearing",
    "gearboxEmu": "gearbox",
    "sliderEmu": "slider",
    "valveEmu": "valve",
}
SUPPLEMENTAL_FOLDER = "supplemental"
SUPPLEMENTAL_KINDS = ("machine", "noise")
MACHINE_ALONE_SNR_DB = 90.0  # the background 90 dB below the machine: inaudible in 16-bit audio
STEREO_PEAK_LIMIT = 0.95


def nearest_model_name(machine: str) -> str:
    """The machine type whose sound model ``machine`` uses (itself unless it emulates another)."""
    return EMULATED_MACHINES.get(machine, machine)


def hides_attributes_2025(dataset: str, machine: str) -> bool:
    return dataset.upper() == "DCASE2025T2" and machine in HIDDEN_ATTRIBUTES_2025


def has_supplemental(dataset: str, split: str) -> bool:
    """Whether the evaluation machine folders of this layout hold ``supplemental/`` (DCASE2025 eval)."""
    return dataset.upper() == "DCASE2025T2" and split == "eval"


def is_stereo(dataset: str) -> bool:
    """Whether the clips of this layout have two channels (DCASE2026)."""
    return dataset.upper() == "DCASE2026T2"


def supplemental_file_name(kind: str, number: int) -> str:
    return f"section_00_{kind}_{number:04d}_.wav"


# ---------------------------------------------------------------------------------------------------------
# supplemental clips


def render_supplemental(
    kind: str, machine_alone: Callable[[float], np.ndarray], noise_alone: Callable[[], np.ndarray]
) -> np.ndarray:
    """A supplemental clip: ``machine_alone(snr_db)`` records the machine with the background
    ``MACHINE_ALONE_SNR_DB`` below it; ``noise_alone()`` records the hall with a silent machine."""
    if kind == "machine":
        return machine_alone(MACHINE_ALONE_SNR_DB)
    if kind == "noise":
        return noise_alone()
    raise ValueError(f"unknown supplemental clip kind {kind!r}; expected one of {SUPPLEMENTAL_KINDS}")


# ---------------------------------------------------------------------------------------------------------
# the far microphone


def _rms(signal: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(signal)))) or 1.0


def _far_room_response(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Direct sound and a diffuse tail decaying by 60 dB in 0.5-0.9 s (the near microphone's is shorter)."""
    rt60 = rng.uniform(0.5, 0.9)
    n = int(rt60 * sample_rate)
    decay = 10.0 ** (-3.0 * np.arange(n) / (rt60 * sample_rate))
    response = rng.uniform(0.25, 0.45) * rng.standard_normal(n) * decay / np.sqrt(sample_rate * rt60 / 13.8)
    response[0] = 1.0
    return response


def _background(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Unit-RMS hall noise: white noise leaning towards low frequencies (one-pole low-pass at 300 Hz plus a
    little of the white noise itself)."""
    white = rng.standard_normal(n)
    pole = np.exp(-2.0 * np.pi * 300.0 / sample_rate)
    rumble = scipy.signal.lfilter([1.0 - pole], [1.0, -pole], white)
    noise = rumble / _rms(rumble) + 0.3 * white
    return noise / _rms(noise)


def far_microphone(near: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """The far microphone's signal made from the near one (see the module docstring)."""
    n = len(near)
    delay = min(n, round(rng.uniform(0.004, 0.012) * sample_rate))  # 1.4-4 m of extra path
    reverberant = scipy.signal.fftconvolve(near, _far_room_response(rng, sample_rate))[:n]
    pole = np.exp(-2.0 * np.pi * rng.uniform(3000.0, 5000.0) / sample_rate)  # air absorption
    dull = scipy.signal.lfilter([1.0 - pole], [1.0, -pole], reverberant)
    distant = rng.uniform(0.3, 0.5) * np.concatenate([np.zeros(delay), dull[: n - delay]])
    snr_db = rng.uniform(0.0, 6.0)
    return distant + _rms(distant) * 10.0 ** (-snr_db / 20.0) * _background(rng, n, sample_rate)


def stereo_clip(near: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """(samples, 2): the near microphone left, the far one right, both scaled down together should a peak
    exceed the limit (so their level difference stays)."""
    both = np.stack([near, far_microphone(near, rng, sample_rate)], axis=1)
    peak = float(np.max(np.abs(both)))
    if peak > STEREO_PEAK_LIMIT:
        both *= STEREO_PEAK_LIMIT / peak
    return both
