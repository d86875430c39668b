"""How a clip is recorded: room and microphone, factory background at a random SNR, safe level.

The source and target domains are recorded in different halls: the target hall has a different
reverberation, a background of another colour with other tonal and impulsive parts, and lower SNRs,
none of which the source domain ever shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from datasets.synthetic import components as c
from datasets.synthetic.model import NOMINAL_RMS, stable_hash

PEAK_LIMIT = 0.95  # highest absolute sample value written (int16 full scale is 1.0)
MIC_KEYS = ("mic", "loc")  # attributes naming the microphone position


@dataclass(frozen=True)
class Hall:
    """Recording conditions of one domain."""

    name: str
    snr_db: tuple[float, float]  # nominal SNR range (machine nominal level vs background RMS)
    rt60_s: float
    noise_tilt_db: float  # background colour, dB per octave
    hum_hz: float  # mains hum fundamental
    hvac_hz: float  # centre of a ventilation hiss band (0: none)
    neighbour_hz: float  # a distant machine's tone (0: none)
    clank_rate_hz: float  # distant impacts per second


HALLS = {
    "source": Hall("source", (4.0, 14.0), 0.35, -3.5, 50.0, 0.0, 0.0, 0.4),
    "target": Hall("target", (1.0, 11.0), 0.6, -1.5, 60.0, 2600.0, 137.0, 1.2),
}


def factory_background(rng: np.random.Generator, hall: Hall, n: int, sr: int) -> np.ndarray:
    """Unit-RMS factory noise: coloured noise, mains hum, a distant machine, ventilation, far clanks."""
    freqs = c.rfft_freqs(n, sr)
    colour = c.tilt(freqs, hall.noise_tilt_db, 500.0) * c.highpass_shape(freqs, 25.0, 2)
    if hall.hvac_hz > 0.0:
        colour = colour + 0.35 * c.log_band(freqs, hall.hvac_hz, 0.8)
    noise = c.shaped_noise(rng, n, colour) * (1.0 + 0.15 * c.smooth_curve(rng, n, sr, 0.5))
    hum = c.harmonic_series(rng, c.cycles_of(np.full(n, hall.hum_hz), sr), hall.hum_hz, sr,
                            [0.6, 1.0, 0.4, 0.3, 0.1])
    background = noise + 0.12 * hum
    if hall.neighbour_hz > 0.0:
        turns = c.cycles_of(c.wobbly_frequency(rng, n, sr, hall.neighbour_hz, 0.002), sr)
        background += 0.15 * c.harmonic_series(rng, turns, hall.neighbour_hz, sr, [1.0, 0.5, 0.6, 0.2])
    clanks = c.random_positions(rng, n, sr, hall.clank_rate_hz)
    if len(clanks):
        far = c.impacts(rng, clanks, rng.uniform(0.2, 1.0, len(clanks)), n, sr, [380.0, 900.0, 1700.0],
                        [0.05, 0.03, 0.02], 0.2)
        background += 0.3 * far
    return c.unit_rms(background)


def room_for(machine: str, domain: str, attrs: Mapping[str, str], sr: int) -> np.ndarray:
    """Room and microphone response, fixed for a machine, a domain and a microphone position."""
    mic = "/".join(f"{key}={attrs[key]}" for key in MIC_KEYS if key in attrs)
    rng = np.random.default_rng(stable_hash(f"room/{machine}/{domain}/{mic}"))
    hall = HALLS[domain]
    return c.room_response(rng, sr, hall.rt60_s * rng.uniform(0.85, 1.15), int(rng.integers(3, 7)),
                           float(rng.uniform(0.2, 0.5)), float(rng.uniform(0.15, 0.35)))


def record(rng: np.random.Generator, dry: np.ndarray, machine: str, domain: str, attrs: Mapping[str, str],
           snr_db: float, sr: int, headroom_db: float = 0.0) -> np.ndarray:
    """Place the machine in its hall, add the background at ``snr_db``, set the recording level
    ``headroom_db`` below nominal and, should a peak still exceed the limit, scale the clip down."""
    wet = c.through_room(dry, room_for(machine, domain, attrs, sr))
    background = factory_background(rng, HALLS[domain], len(dry), sr)
    mixed = (wet + NOMINAL_RMS * c.db_to_gain(-snr_db) * background) * c.db_to_gain(-headroom_db)
    peak = float(np.max(np.abs(mixed)))
    if peak > PEAK_LIMIT:  # what a recordist's gain setting would do: scale the whole clip down
        mixed *= PEAK_LIMIT / peak
    return mixed
