"""How a clip is recorded: the session's room and microphone, the plant's background, the level.

Every attribute combination is a recording session of its own: the microphone was set up again, so the
room's early reflections (the comb colouring of the spectrum) differ between sessions, and each
microphone position (``mic``/``loc`` attributes) has its own frequency response, the same in both
domains: a target domain with another microphone says so in its attributes. Both domains are recorded
in the plant's main hall unless an attribute names the background (``background.hall_for``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from datasets.synthetic import components as c
from datasets.synthetic.background import hall_for, plant_background
from datasets.synthetic.model import NOMINAL_RMS, stable_hash

PEAK_LIMIT = 0.95  # highest absolute sample value written (int16 full scale is 1.0)
MIC_KEYS = ("mic", "loc")  # attributes naming the microphone position
MIC_RIPPLE_DB = 4.0  # peaks and dips of a cheap microphone's response (and its mounting)


def _session(attrs: Mapping[str, str], keys: tuple[str, ...] | None = None) -> str:
    return "/".join(f"{key}={value}" for key, value in sorted(attrs.items()) if keys is None or key in keys)


def room_for(machine: str, domain: str, attrs: Mapping[str, str], sr: int) -> np.ndarray:
    """Room response of one recording session (machine, domain, attribute combination)."""
    rng = np.random.default_rng(stable_hash(f"room/{machine}/{domain}/{_session(attrs)}"))
    hall = hall_for(domain, attrs)
    return c.room_response(
        rng,
        sr,
        hall.rt60_s * rng.uniform(0.85, 1.15),
        int(rng.integers(3, 7)),
        float(rng.uniform(0.2, 0.5)),
        float(rng.uniform(0.15, 0.35)),
    )


def microphone_response(machine: str, attrs: Mapping[str, str], n: int, sr: int) -> np.ndarray:
    """Magnitude response of the microphone on the rfft bins of ``n`` samples (fixed per machine and
    microphone attributes): a tilt and a few broad peaks and dips."""
    return _microphone_response(machine, _session(attrs, MIC_KEYS), n, sr)


@lru_cache(maxsize=64)
def _microphone_response(machine: str, position: str, n: int, sr: int) -> np.ndarray:
    rng = np.random.default_rng(stable_hash(f"mic/{machine}/{position}"))
    freqs = c.rfft_freqs(n, sr)
    level_db = c.tilt(freqs, rng.uniform(-1.5, 1.5), 1000.0)
    response_db = 20.0 * np.log10(level_db)
    for centre in np.exp(rng.uniform(np.log(150.0), np.log(7000.0), 3)):
        response_db = response_db + rng.uniform(-MIC_RIPPLE_DB, MIC_RIPPLE_DB) * c.log_band(freqs, centre, 0.5)
    response = np.asarray(c.db_to_gain(response_db))
    response.flags.writeable = False
    return response


def record(
    rng: np.random.Generator,
    dry: np.ndarray,
    machine: str,
    domain: str,
    attrs: Mapping[str, str],
    snr_db: float,
    sr: int,
    headroom_db: float = 0.0,
) -> np.ndarray:
    """Place the machine in its session's room, add the plant background at ``snr_db``, pass both through
    the microphone, set the recording level ``headroom_db`` below nominal and, should a peak still
    exceed the limit, scale the clip down."""
    wet = c.through_room(dry, room_for(machine, domain, attrs, sr))
    background = plant_background(rng, hall_for(domain, attrs), len(dry), sr)
    mixed = wet + NOMINAL_RMS * c.db_to_gain(-snr_db) * background
    mixed = c.apply_magnitude(mixed, microphone_response(machine, attrs, len(dry), sr))
    mixed *= c.db_to_gain(-headroom_db)
    peak = float(np.max(np.abs(mixed)))
    if peak > PEAK_LIMIT:  # what a recordist's gain setting would do: scale the whole clip down
        mixed *= PEAK_LIMIT / peak
    return mixed
