"""The sound of the plant around a machine: several independent sources that change from clip to clip.

A real recording's background is not one stationary noise: the hall's diffuse noise changes colour with
the doors and the ventilation, neighbouring machines start, stop and run at their own speeds, vehicles
pass, compressed air blows off, parts are dropped. Every source here has its own random level per clip
and a level that drifts within the clip, so two clips of the same machine never share a background.
The plant has two halls that differ in their sources, not only in their level. A machine type is
recorded in the plant's main hall in both domains (its target domain is another operating condition of
the same machine, as in the real sets); only where an attribute names the background (ToyCar's ``noise``)
does the target domain move to the other hall, a background the source domain never shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from datasets.synthetic import components as c


@dataclass(frozen=True)
class Hall:
    """Recording conditions of one domain."""

    name: str
    snr_db: tuple[float, float]  # SNR range of a clip: the machine's nominal level against the background
    rt60_s: float
    noise_tilt_db: tuple[float, float]  # range of the diffuse noise's colour, dB per octave
    hum_hz: float  # mains frequency
    hvac_hz: float  # centre of the ventilation band
    neighbour_hz: tuple[float, ...]  # shaft speeds of the machines that may run nearby
    clank_rate_hz: float  # dropped parts, tools, doors: impacts per second
    pass_rate_hz: float  # vehicles (forklifts, carts) passing: per second
    blowoff_rate_hz: float  # compressed-air blow-off bursts per second


HALLS = {  # two halls of the same plant: the "target" one is noisier, more reverberant, brighter
    "source": Hall("source", (-6.0, 6.0), 0.35, (-4.5, -2.0), 50.0, 900.0, (24.7, 29.3, 47.5, 12.4), 0.4, 0.08, 0.15),
    "target": Hall("target", (-8.0, 4.0), 0.5, (-3.5, -1.0), 60.0, 2600.0, (19.6, 35.8, 58.3, 16.1), 0.8, 0.12, 0.25),
}


BACKGROUND_KEYS = ("noise", "nos", "bckg")  # attributes that name the recording's background


def hall_for(domain: str, attribute_keys: Iterable[str]) -> Hall:
    """The hall a clip is recorded in: the main ("source") hall, unless the machine type has an attribute
    naming the background, whose target values are then recorded in the other hall."""
    names_background = any(key in BACKGROUND_KEYS for key in attribute_keys)
    return HALLS[domain] if names_background else HALLS["source"]


def _drifting_level(
    rng: np.random.Generator,
    n: int,
    sr: int,
    spread_db: float,
    changes_per_second: float,
) -> np.ndarray:
    """A gain that wanders by about ``spread_db`` within the clip."""
    return np.asarray(c.db_to_gain(spread_db * c.smooth_curve(rng, n, sr, changes_per_second)))


def diffuse_noise(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """The hall's broadband noise: random colour, a ventilation band of random strength, slow drift."""
    freqs = c.rfft_freqs(n, sr)
    colour = c.tilt(freqs, rng.uniform(*hall.noise_tilt_db), 500.0) * c.highpass_shape(freqs, 25.0, 2)
    colour = colour + rng.uniform(0.0, 0.6) * c.log_band(freqs, hall.hvac_hz * rng.uniform(0.8, 1.25), 0.7)
    return c.shaped_noise(rng, n, colour) * _drifting_level(rng, n, sr, 2.0, 0.4)


def neighbour_machines(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """One to three machines of the hall running nearby, each at its own speed and distance; some of
    them start or stop during the clip."""
    total = np.zeros(n)
    for shaft_hz in rng.choice(hall.neighbour_hz, int(rng.integers(1, 4)), replace=False):
        shaft_hz = float(shaft_hz) * rng.uniform(0.97, 1.03)
        turns = c.cycles_of(c.wobbly_frequency(rng, n, sr, shaft_hz, 0.003), sr)
        passes = int(rng.integers(3, 13))  # blades, vanes, teeth or poles
        tones = c.harmonic_series(rng, turns * passes, passes * shaft_hz, sr, c.decaying_amplitudes(5, 5.0, rng, 3.0))
        level = float(c.db_to_gain(rng.uniform(-12.0, 0.0)))
        if rng.random() < 0.3:  # starts or stops somewhere in the clip, within half a second
            running = np.clip((np.arange(n) - rng.integers(0, n)) / (0.5 * sr), 0.0, 1.0)
            total += level * c.unit_rms(tones) * (running if rng.random() < 0.5 else 1.0 - running)
        else:
            total += level * c.unit_rms(tones)
    return total


def passing_vehicles(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """Forklifts and carts driving past: engine rumble and tyre noise swelling and fading over seconds."""
    positions = c.random_positions(rng, n, sr, hall.pass_rate_hz)
    if len(positions) == 0:
        return np.zeros(n)
    freqs = c.rfft_freqs(n, sr)
    rumble = c.shaped_noise(rng, n, c.log_band(freqs, rng.uniform(120.0, 300.0), 1.3) + 0.3 * c.tilt(freqs, -3.0))
    t = np.arange(n)
    envelope = np.zeros(n)
    for position in positions:
        width = rng.uniform(0.8, 2.5) * sr
        envelope += rng.uniform(0.3, 1.0) * np.exp(-0.5 * ((t - position) / width) ** 2)
    return rumble * envelope


def air_blowoffs(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """Compressed-air blow-off: bright hiss bursts of a few hundred milliseconds."""
    freqs = c.rfft_freqs(n, sr)
    hiss = c.shaped_noise(rng, n, c.highpass_shape(freqs, rng.uniform(2000.0, 4000.0), 2))
    return hiss * c.bursts(rng, n, sr, hall.blowoff_rate_hz, 0.3)


def far_clanks(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """Parts, tools and doors somewhere in the hall: impacts ringing random structures."""
    positions = c.random_positions(rng, n, sr, hall.clank_rate_hz)
    if len(positions) == 0:
        return np.zeros(n)
    modes = rng.uniform(250.0, 3500.0, 3)
    return c.impacts(rng, positions, rng.uniform(0.2, 1.0, len(positions)), n, sr, modes, [0.05, 0.03, 0.02], 0.3)


def plant_background(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """Unit-RMS background of one clip: every source at its own random level (dB against the diffuse noise)."""
    hum = c.harmonic_series(rng, c.cycles_of(np.full(n, hall.hum_hz), sr), hall.hum_hz, sr, [0.6, 1.0, 0.4, 0.3, 0.1])
    parts = [
        (diffuse_noise(rng, hall, n, sr), 0.0, 0.0),
        (neighbour_machines(rng, hall, n, sr), -8.0, 2.0),
        (c.unit_rms(hum), -22.0, -12.0),
        (passing_vehicles(rng, hall, n, sr), -6.0, 4.0),
        (air_blowoffs(rng, hall, n, sr), -10.0, 0.0),
        (far_clanks(rng, hall, n, sr), -14.0, -4.0),
    ]
    background = np.zeros(n)
    for sound, low_db, high_db in parts:
        background += float(c.db_to_gain(rng.uniform(low_db, high_db))) * sound
    return c.unit_rms(background)
