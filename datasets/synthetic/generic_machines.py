"""A parametric machine for every other machine type name.

The known evaluation types of DCASE2023/2024 get a hand-set ``Recipe`` (rotation speed, harmonic
content, air/friction noise, impacts, duty cycle of movements ...). Any other name is mapped to a recipe
drawn from a random generator seeded by a stable hash of the name, so it sounds the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from datasets.synthetic import components as c
from datasets.synthetic.model import (
    Attribute,
    Fault,
    MachineModel,
    anomaly_gain,
    finish,
    number,
    stable_hash,
    unpack,
)

GENERIC_ANOMALIES = ("defect_impacts", "imbalance", "friction", "rattle", "speed_drift", "extra_tone")


@dataclass(frozen=True)
class Recipe:
    """Everything that makes one generic machine type sound the way it does."""

    attributes: tuple[Attribute, ...]
    speed_key: str  # numeric attribute setting the speed; its values scale ``base_hz``
    speed_reference: float  # the speed attribute value that runs at ``base_hz``
    speed_exponent: float  # base_hz * (value / reference) ** speed_exponent
    base_hz: float  # rotation (or drive) frequency
    n_harmonics: int
    harmonic_decay_db: float
    tonal_level: float
    pass_order: int  # blades / teeth / poles: a second tone family at pass_order x rotation
    pass_level: float
    noise_centre_hz: float
    noise_octaves: float
    noise_level: float
    noise_tilt_db: float = 0.0
    impacts_per_turn: float = 0.0  # regular impacts (valves, teeth, rail joints); 0: none
    impact_level: float = 0.0
    impact_modes_hz: tuple[float, ...] = (1800.0, 3600.0)
    duty_period_s: float = 0.0  # > 0: the machine alternates moves and pauses (printer, arm, scanner)
    duty_on: float = 1.0
    sweep_depth: float = 0.0  # relative speed change over a move
    lap_s: float = 0.0  # > 0: the source travels round a circuit past the microphone
    modulation_depth: float = 0.05  # amplitude modulation of the noise by the rotation
    headroom_db: float = 0.0  # recording gain below nominal, for impulsive machines

    def model(self, name: str) -> MachineModel:
        return MachineModel(
            name, self.attributes, GENERIC_ANOMALIES, partial(synthesise_generic, self), self.headroom_db
        )


def _spd(source: tuple[str, ...], target: tuple[str, ...], key: str = "spd") -> Attribute:
    return Attribute(key, source, target)


_ID_MIC = (Attribute("id", ("A1", "A2"), ("B1",)),)
_MIC = (Attribute("mic", ("1",), ("2",)),)

KNOWN_RECIPES: dict[str, Recipe] = {
    # --- DCASE2024 evaluation types
    "3DPrinter": Recipe(
        (Attribute("mdl", ("A",), ("B",)), _spd(("1", "2"), ("3",))),
        "spd",
        1.0,
        1.0,
        base_hz=310.0,
        n_harmonics=6,
        harmonic_decay_db=7.0,
        tonal_level=0.7,
        pass_order=4,
        pass_level=0.3,
        noise_centre_hz=600.0,
        noise_octaves=1.5,
        noise_level=0.5,
        noise_tilt_db=-2.0,
        duty_period_s=1.3,
        duty_on=0.7,
        sweep_depth=0.35,
    ),
    "AirCompressor": Recipe(
        (Attribute("fl", ("0", "1"), ("2",)), Attribute("nos", ("1", "3"), ("0",))),
        "fl",
        1.0,
        0.3,
        base_hz=21.0,
        n_harmonics=14,
        harmonic_decay_db=2.0,
        tonal_level=1.0,
        pass_order=2,
        pass_level=0.4,
        noise_centre_hz=2600.0,
        noise_octaves=1.2,
        noise_level=0.6,
        impacts_per_turn=2.0,
        impact_level=0.5,
        impact_modes_hz=(2900.0, 4700.0),
    ),
    "Scanner": Recipe(
        (_spd(("1", "2"), ("3",)), *_MIC),
        "spd",
        1.0,
        1.0,
        base_hz=520.0,
        n_harmonics=5,
        harmonic_decay_db=6.0,
        tonal_level=0.6,
        pass_order=2,
        pass_level=0.2,
        noise_centre_hz=1500.0,
        noise_octaves=1.2,
        noise_level=0.3,
        noise_tilt_db=-3.0,
        duty_period_s=2.4,
        duty_on=0.75,
        sweep_depth=0.1,
    ),
    "ToyCircuit": Recipe(
        (*_ID_MIC, _spd(("1", "2"), ("4",)), *_MIC),
        "spd",
        2.0,
        0.5,
        base_hz=210.0,
        n_harmonics=6,
        harmonic_decay_db=4.0,
        tonal_level=0.6,
        pass_order=10,
        pass_level=0.5,
        noise_centre_hz=700.0,
        noise_octaves=1.3,
        noise_level=0.6,
        lap_s=3.5,
    ),
    "HoveringDrone": Recipe(
        (*_ID_MIC, _spd(("1", "2"), ("3",)), *_MIC),
        "spd",
        2.0,
        0.5,
        base_hz=160.0,
        n_harmonics=10,
        harmonic_decay_db=3.5,
        tonal_level=0.8,
        pass_order=2,
        pass_level=0.9,
        noise_centre_hz=1100.0,
        noise_octaves=2.0,
        noise_level=0.8,
        noise_tilt_db=-2.0,
        modulation_depth=0.25,
    ),
    "HairDryer": Recipe(
        (Attribute("mode", ("1", "2"), ("3",)), *_MIC),
        "mode",
        1.0,
        0.3,
        base_hz=290.0,
        n_harmonics=4,
        harmonic_decay_db=6.0,
        tonal_level=0.25,
        pass_order=11,
        pass_level=0.35,
        noise_centre_hz=2800.0,
        noise_octaves=1.8,
        noise_level=1.2,
        noise_tilt_db=1.0,
    ),
    "ToothBrush": Recipe(
        (*_ID_MIC, _spd(("1", "2"), ("3",)), *_MIC),
        "spd",
        1.0,
        0.15,
        base_hz=258.0,
        n_harmonics=16,
        harmonic_decay_db=2.5,
        tonal_level=1.0,
        pass_order=1,
        pass_level=0.0,
        noise_centre_hz=3000.0,
        noise_octaves=1.6,
        noise_level=0.3,
        modulation_depth=0.4,
    ),
    "RoboticArm": Recipe(
        (Attribute("wgt", ("0", "1"), ("2",)), _spd(("1", "2"), ("3",))),
        "spd",
        1.0,
        0.8,
        base_hz=480.0,
        n_harmonics=8,
        harmonic_decay_db=4.0,
        tonal_level=0.7,
        pass_order=3,
        pass_level=0.4,
        noise_centre_hz=900.0,
        noise_octaves=1.4,
        noise_level=0.4,
        noise_tilt_db=-2.0,
        duty_period_s=1.7,
        duty_on=0.6,
        sweep_depth=0.6,
    ),
    "BrushlessMotor": Recipe(
        (_spd(("1000", "1500"), ("2000",)), Attribute("bckg", ("A",), ("B",))),
        "spd",
        1000.0,
        1.0,
        base_hz=16.7,
        n_harmonics=12,
        harmonic_decay_db=3.0,
        tonal_level=0.6,
        pass_order=14,
        pass_level=0.6,
        noise_centre_hz=3500.0,
        noise_octaves=1.0,
        noise_level=0.4,
    ),
    # --- DCASE2023 evaluation types
    "ToyDrone": Recipe(
        (Attribute("mode", ("1", "2"), ("3",)), *_MIC),
        "mode",
        1.0,
        0.3,
        base_hz=190.0,
        n_harmonics=8,
        harmonic_decay_db=3.5,
        tonal_level=0.8,
        pass_order=2,
        pass_level=0.9,
        noise_centre_hz=1300.0,
        noise_octaves=1.8,
        noise_level=0.7,
        modulation_depth=0.2,
    ),
    "ToyNscale": Recipe(
        (*_ID_MIC, _spd(("5", "7"), ("9",))),
        "spd",
        6.0,
        1.0,
        base_hz=240.0,
        n_harmonics=5,
        harmonic_decay_db=5.0,
        tonal_level=0.4,
        pass_order=3,
        pass_level=0.3,
        noise_centre_hz=1600.0,
        noise_octaves=1.0,
        noise_level=0.5,
        impacts_per_turn=0.0125,
        impact_level=0.8,
        impact_modes_hz=(1000.0, 2500.0, 4200.0),
        lap_s=4.0,
        headroom_db=8.0,
    ),
    "ToyTank": Recipe(
        (*_ID_MIC, _spd(("1", "2"), ("3",))),
        "spd",
        1.0,
        0.6,
        base_hz=140.0,
        n_harmonics=6,
        harmonic_decay_db=4.0,
        tonal_level=0.5,
        pass_order=9,
        pass_level=0.4,
        noise_centre_hz=800.0,
        noise_octaves=1.5,
        noise_level=0.8,
        impacts_per_turn=0.15,
        impact_level=0.5,
        impact_modes_hz=(500.0, 1300.0),
    ),
    "Vacuum": Recipe(
        (Attribute("mode", ("1", "2"), ("3",)), *_MIC),
        "mode",
        1.0,
        0.2,
        base_hz=520.0,
        n_harmonics=4,
        harmonic_decay_db=6.0,
        tonal_level=0.35,
        pass_order=9,
        pass_level=0.4,
        noise_centre_hz=2200.0,
        noise_octaves=2.0,
        noise_level=1.3,
        noise_tilt_db=-1.0,
    ),
    "bandsaw": Recipe(
        (Attribute("vel", ("1", "2"), ("3",)),),
        "vel",
        1.0,
        0.5,
        base_hz=24.0,
        n_harmonics=6,
        harmonic_decay_db=4.0,
        tonal_level=0.5,
        pass_order=3,
        pass_level=0.3,
        noise_centre_hz=1200.0,
        noise_octaves=1.6,
        noise_level=0.6,
        impacts_per_turn=18.0,
        impact_level=0.35,
        impact_modes_hz=(2200.0, 3900.0, 5600.0),
    ),
    "grinder": Recipe(
        (Attribute("grd", ("A",), ("B",)), _spd(("1", "2"), ("3",))),
        "spd",
        1.0,
        0.3,
        base_hz=140.0,
        n_harmonics=6,
        harmonic_decay_db=5.0,
        tonal_level=0.5,
        pass_order=1,
        pass_level=0.0,
        noise_centre_hz=4200.0,
        noise_octaves=1.4,
        noise_level=1.1,
        noise_tilt_db=2.0,
        modulation_depth=0.15,
    ),
    "shaker": Recipe(
        (Attribute("hz", ("20", "40"), ("60",)),),
        "hz",
        20.0,
        1.0,
        base_hz=20.0,
        n_harmonics=12,
        harmonic_decay_db=3.0,
        tonal_level=1.0,
        pass_order=1,
        pass_level=0.0,
        noise_centre_hz=900.0,
        noise_octaves=2.0,
        noise_level=0.2,
        noise_tilt_db=-3.0,
    ),
}


def recipe_for(name: str) -> Recipe:
    """The hand-set recipe of a known machine type, or one drawn deterministically from the name."""
    if name in KNOWN_RECIPES:
        return KNOWN_RECIPES[name]
    rng = np.random.default_rng(stable_hash(f"generic-machine/{name}"))
    moving = rng.random() < 0.3
    return Recipe(
        attributes=(Attribute("spd", ("1", "2"), ("3",)), Attribute("mic", ("1",), ("2",))),
        speed_key="spd",
        speed_reference=1.0,
        speed_exponent=float(rng.uniform(0.2, 0.8)),
        base_hz=float(np.exp(rng.uniform(np.log(15.0), np.log(400.0)))),
        n_harmonics=int(rng.integers(3, 14)),
        harmonic_decay_db=float(rng.uniform(2.0, 7.0)),
        tonal_level=float(rng.uniform(0.3, 1.0)),
        pass_order=int(rng.integers(1, 13)),
        pass_level=float(rng.uniform(0.0, 0.8)),
        noise_centre_hz=float(np.exp(rng.uniform(np.log(300.0), np.log(4500.0)))),
        noise_octaves=float(rng.uniform(0.8, 2.2)),
        noise_level=float(rng.uniform(0.3, 1.2)),
        noise_tilt_db=float(rng.uniform(-3.0, 2.0)),
        impacts_per_turn=float(rng.choice([0.0, 0.0, 1.0, 2.0, 6.0])),
        impact_level=float(rng.uniform(0.1, 0.6)),
        impact_modes_hz=tuple(float(f) for f in np.sort(rng.uniform(600.0, 6000.0, 3))),
        duty_period_s=float(rng.uniform(1.0, 3.0)) if moving else 0.0,
        duty_on=float(rng.uniform(0.5, 0.85)),
        sweep_depth=float(rng.uniform(0.1, 0.5)) if moving else 0.0,
        modulation_depth=float(rng.uniform(0.02, 0.3)),
        headroom_db=6.0,
    )


def generic_model(name: str) -> MachineModel:
    return recipe_for(name).model(name)


def _variant(recipe: Recipe, attrs: Mapping[str, str]) -> Recipe:
    """Unit-to-unit differences: the model/id attribute (if any) shifts resonances and timbre a little."""
    key = next((attrs[k] for k in ("id", "mdl", "grd", "bckg") if k in attrs), "")
    if not key:
        return recipe
    rng = np.random.default_rng(stable_hash(f"variant/{key}"))
    return replace(
        recipe,
        base_hz=recipe.base_hz * float(rng.uniform(0.9, 1.1)),
        harmonic_decay_db=recipe.harmonic_decay_db + float(rng.uniform(-1.0, 1.0)),
        noise_centre_hz=recipe.noise_centre_hz * float(rng.uniform(0.85, 1.15)),
        impact_modes_hz=tuple(f * float(rng.uniform(0.9, 1.1)) for f in recipe.impact_modes_hz),
    )


def synthesise_generic(
    recipe: Recipe, rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    recipe = _variant(recipe, attrs)
    freqs = c.rfft_freqs(n, sr)
    speed_factor = (max(number(attrs, recipe.speed_key), 1e-3) / recipe.speed_reference) ** recipe.speed_exponent
    base_hz = recipe.base_hz * speed_factor * rng.uniform(0.985, 1.015)
    relative_speed = np.ones(n)
    moving = np.ones(n)
    if recipe.duty_period_s > 0.0:  # moves and pauses; the speed ramps within each move
        start = rng.uniform(0.0, recipe.duty_period_s)
        periods = np.arange(-1, int(n / sr / recipe.duty_period_s) + 2) * recipe.duty_period_s + start
        on_s = recipe.duty_period_s * recipe.duty_on * rng.uniform(0.9, 1.1, len(periods))
        moving = c.gate(n, periods * sr, (periods + on_s) * sr, sr, ramp_s=0.05)
        relative_speed = 0.15 + 0.85 * moving * (1.0 + recipe.sweep_depth * c.smooth_curve(rng, n, sr, 1.5))
    if anomaly == "speed_drift":
        drift = np.linspace(0.0, 1.0, n) * frng.choice([-1.0, 1.0])
        relative_speed = relative_speed * (1.0 + (0.02 + 0.1 * severity) * drift)
    freq = c.wobbly_frequency(rng, n, sr, base_hz, 0.004) * relative_speed
    turns = c.cycles_of(freq, sr)
    max_hz = float(freq.max())

    tonal = c.harmonic_series(
        rng, turns, max_hz, sr, c.decaying_amplitudes(recipe.n_harmonics, recipe.harmonic_decay_db, rng, 1.5)
    )
    passing = (
        c.harmonic_series(rng, turns * recipe.pass_order, max_hz * recipe.pass_order, sr, [1.0, 0.4, 0.2])
        if recipe.pass_level > 0.0
        else 0.0
    )
    noise = c.shaped_noise(
        rng,
        n,
        c.log_band(freqs, recipe.noise_centre_hz, recipe.noise_octaves)
        * c.tilt(freqs, recipe.noise_tilt_db)
        * c.highpass_shape(freqs, 40.0),
    )
    noise = noise * c.modulation(turns * max(recipe.pass_order, 1), recipe.modulation_depth)
    noise = noise * np.sqrt(np.clip(relative_speed, 0.05, None))
    body = (recipe.tonal_level * tonal + recipe.pass_level * passing) * (
        0.2 + 0.8 * moving
    ) + recipe.noise_level * noise
    if recipe.impacts_per_turn > 0.0:
        positions = c.event_positions(turns, recipe.impacts_per_turn, rng.uniform())
        body = body + recipe.impact_level * c.impacts(
            rng,
            positions,
            rng.uniform(0.7, 1.0, len(positions)),
            n,
            sr,
            recipe.impact_modes_hz,
            [0.006] * len(recipe.impact_modes_hz),
        )
    if anomaly == "imbalance":
        body = body * c.modulation(turns, 0.1 + 0.6 * severity)
        body = body + (0.1 + 1.5 * severity) * recipe.tonal_level * c.sine(frng, turns)
    if recipe.lap_s > 0.0:
        body = body * (0.55 + 0.45 * np.cos(c.TWO_PI * (np.arange(n) / sr / recipe.lap_s + rng.uniform())))

    extra = None
    if anomaly == "defect_impacts":
        positions = c.event_positions(turns, 1.0 if recipe.base_hz > 30 else 3.0, frng.uniform())
        positions = positions[frng.random(len(positions)) < 0.7] if recipe.base_hz > 150 else positions
        extra = anomaly_gain(severity, -28.0, -6.0) * c.impacts(
            frng,
            positions,
            frng.uniform(0.6, 1.0, len(positions)),
            n,
            sr,
            [2400.0, 3900.0, 5300.0],
            [0.004, 0.003, 0.002],
        )
    elif anomaly == "friction":
        hiss = c.shaped_noise(frng, n, c.log_band(freqs, frng.uniform(3500.0, 6500.0), 0.6))
        extra = anomaly_gain(severity, -28.0, -6.0) * c.unit_rms(hiss * (0.4 + c.bursts(frng, n, sr, 3.0, 0.3)))
    elif anomaly == "rattle":
        positions = c.random_positions(frng, n, sr, 10.0 + 30.0 * severity)
        extra = anomaly_gain(severity, -26.0, -6.0) * c.impacts(
            frng,
            positions,
            frng.uniform(0.2, 1.0, len(positions)),
            n,
            sr,
            [850.0, 1900.0, 3400.0],
            [0.01, 0.006, 0.004],
        )
    elif anomaly == "extra_tone":
        ratio = frng.uniform(2.3, 7.7)
        extra = anomaly_gain(severity, -30.0, -8.0) * c.unit_rms(
            c.harmonic_series(frng, turns * ratio, max_hz * ratio, sr, [1.0, 0.5]) * (0.2 + 0.8 * moving) + 1e-6
        )
    return finish(body, extra, 3.0 * np.log2(speed_factor))
