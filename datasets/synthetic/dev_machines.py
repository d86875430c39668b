"""Sound models of the seven DCASE2024 development machine types.

Each ``synthesise_<machine>`` builds the normal sound from physically motivated parts, driven by the
clip's attributes, then adds the requested anomaly. Added anomaly parts are scaled relative to the
machine's own level (``anomaly_gain`` in dB), so that severity 0 is barely audible and 1 obvious.
The returned signal is dry (no room, no background): ``recording`` adds those.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from datasets.synthetic import components as c
from datasets.synthetic.model import Attribute, Fault, MachineModel, anomaly_gain, finish, number, unpack

# ----------------------------------------------------------------------------------------------------
# bearing: a shaft on rolling-element bearings in a test rig
# ----------------------------------------------------------------------------------------------------
BEARING_MODES = [1850.0, 3150.0, 4650.0, 6300.0]


def synthesise_bearing(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    vel = number(attrs, "vel")
    shaft_hz = vel * 4.0 * rng.uniform(0.985, 1.015)
    shaft = c.wobbly_frequency(rng, n, sr, shaft_hz, 0.004)
    turns = c.cycles_of(shaft, sr)
    freqs = c.rfft_freqs(n, sr)
    speed = vel / 10.0
    outer, inner, ball_spin = 3.58, 5.42, 2.33  # defect frequencies per shaft turn (9 balls)

    shaft_tones = c.harmonic_series(rng, turns, shaft_hz, sr, [1.0, 0.45, 0.25, 0.12, 0.06])
    mains = c.harmonic_series(rng, c.cycles_of(np.full(n, 50.0), sr), 50.0, sr, [0.0, 1.0, 0.0, 0.35, 0, 0.15])
    slot_whine = c.harmonic_series(rng, turns * 28.0, 28.0 * shaft_hz, sr, [1.0, 0.3])
    rolling = c.resonant_noise(rng, n, sr, BEARING_MODES, [0.25, 0.3, 0.3, 0.35], [1.0, 0.8, 0.6, 0.35])
    rolling_modulation = c.modulation(turns * outer, 0.08) * c.modulation(turns, 0.05)
    rumble = c.shaped_noise(rng, n, c.lowpass_shape(freqs, 250.0, 2) * c.highpass_shape(freqs, 20.0, 2))

    harmonic_boost = 1.0
    if anomaly == "misalignment":
        harmonic_boost = 1.0 + 3.0 * severity**1.5
        rolling_modulation = rolling_modulation * c.modulation(turns * 2.0, 0.05 + 0.3 * severity)
    body = (
        0.22 * speed**0.5 * shaft_tones * harmonic_boost
        + 0.12 * mains
        + 0.1 * speed * slot_whine
        + 0.55 * speed**1.2 * rolling * rolling_modulation
        + 0.35 * rumble
    )
    if anomaly == "misalignment":
        body += 0.1 * harmonic_boost * c.harmonic_series(frng, turns * 2.0, 2 * shaft_hz, sr, [1.0, 0.5])

    extra = None
    if anomaly in ("outer_race", "inner_race", "ball_defect"):
        rate, envelope = {
            "outer_race": (outer, None),
            "inner_race": (inner, c.modulation(turns, 0.9)),
            "ball_defect": (2.0 * ball_spin, c.modulation(turns * 0.4, 0.7)),
        }[anomaly]
        positions = c.jitter_positions(frng, c.event_positions(turns, rate), n, sr, 0.0004)
        amplitudes = frng.uniform(0.6, 1.0, len(positions))
        if envelope is not None:
            amplitudes = amplitudes * envelope[positions]
        loud_db = -2.0 if anomaly == "inner_race" else -3.0  # the inner race's impacts are damped by the path
        extra = anomaly_gain(severity, loud_db - 24.0, loud_db) * c.impacts(
            frng, positions, amplitudes, n, sr, BEARING_MODES, [0.004, 0.003, 0.0025, 0.002], 0.4
        )
    elif anomaly == "lubrication":
        friction = c.shaped_noise(frng, n, c.log_band(freqs, 5200.0, 0.6)) * (
            0.5 + c.bursts(frng, n, sr, 3.0 + 4.0 * severity, 0.25)
        )
        extra = anomaly_gain(severity, -27.0, -6.0) * c.unit_rms(friction)
    return finish(body, extra, 3.0 * np.log2(speed))


BEARING = MachineModel(
    "bearing",
    (Attribute("vel", ("6", "10", "14"), ("18", "22")), Attribute("loc", ("A", "B"), ("A", "B"))),
    ("outer_race", "inner_race", "ball_defect", "lubrication", "misalignment"),
    synthesise_bearing,
)


# ----------------------------------------------------------------------------------------------------
# fan: an axial industrial fan; m-n names the other machine audible nearby
# ----------------------------------------------------------------------------------------------------
def _nearby_machine(rng: np.random.Generator, kind: str, n: int, sr: int) -> np.ndarray:
    """Unit-RMS sound of the neighbouring machine mixed into the fan recordings (fan's ``m-n``)."""
    freqs = c.rfft_freqs(n, sr)
    if kind == "W":  # centrifugal pump: vane-pass tone and low hiss
        turns = c.cycles_of(c.wobbly_frequency(rng, n, sr, 24.5, 0.002), sr)
        sound = c.harmonic_series(rng, turns * 5, 122.5, sr, [1.0, 0.5, 0.3]) + 0.7 * c.shaped_noise(
            rng, n, c.log_band(freqs, 400.0, 1.0)
        )
    elif kind == "X":  # belt conveyor: roller rumble and irregular rattles
        rumble = c.shaped_noise(rng, n, c.log_band(freqs, 250.0, 1.2))
        positions = c.random_positions(rng, n, sr, 6.0)
        rattles = c.impacts(
            rng, positions, rng.uniform(0.3, 1.0, len(positions)), n, sr, [900.0, 2100.0], [0.01, 0.006]
        )
        sound = rumble + 0.6 * rattles
    elif kind == "Y":  # piston compressor: low pulsation and valve ticks
        turns = c.cycles_of(c.wobbly_frequency(rng, n, sr, 14.5, 0.003), sr)
        pulses = c.harmonic_series(rng, turns, 14.5, sr, c.decaying_amplitudes(12, 2.0))
        ticks = c.impacts(rng, c.event_positions(turns, 2.0), 1.0, n, sr, [3300.0, 5100.0], [0.003, 0.002])
        sound = pulses + 0.4 * ticks
    else:  # "Z" and anything else: a second, smaller fan with a different blade-pass tone
        turns = c.cycles_of(c.wobbly_frequency(rng, n, sr, 41.0, 0.003), sr)
        sound = c.harmonic_series(rng, turns * 5, 205.0, sr, [1.0, 0.4, 0.2]) + c.shaped_noise(
            rng, n, c.log_band(freqs, 1500.0, 1.3)
        )
    return c.unit_rms(sound)


def synthesise_fan(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    freqs = c.rfft_freqs(n, sr)
    shaft_hz = 22.5 * rng.uniform(0.985, 1.015)
    blades = 7
    if anomaly == "clogging":  # a clogged filter unloads the fan: it speeds up and moves less air
        shaft_hz *= 1.0 + 0.06 * severity
    shaft = c.wobbly_frequency(rng, n, sr, shaft_hz, 0.003)
    turns = c.cycles_of(shaft, sr)

    blade_pass = c.harmonic_series(rng, turns * blades, blades * shaft_hz, sr, c.decaying_amplitudes(8, 5.0, rng, 1.5))
    residual = c.harmonic_series(rng, turns, shaft_hz, sr, [0.12, 0.05, 0.03])
    flow_centre = 700.0 * (1.0 - 0.35 * severity if anomaly == "clogging" else 1.0)
    flow = c.shaped_noise(
        rng, n, c.log_band(freqs, flow_centre, 1.6) * c.tilt(freqs, -2.0) * c.highpass_shape(freqs, 60.0)
    )
    flow = flow * c.modulation(turns * blades, 0.06) * (1.0 + 0.05 * c.smooth_curve(rng, n, sr, 3.0))
    mains = c.harmonic_series(rng, c.cycles_of(np.full(n, 50.0), sr), 50.0, sr, [0.0, 1.0, 0.0, 0.3])
    whine = c.harmonic_series(rng, turns * 92.0, 92.0 * shaft_hz, sr, [1.0, 0.2])

    imbalance = anomaly == "imbalance"
    body = (
        0.5 * blade_pass
        + residual * (1.0 + (6.0 * severity if imbalance else 0.0))
        + 1.0 * flow
        + 0.08 * mains
        + 0.05 * whine
    )
    if imbalance:
        body = body * c.modulation(turns, 0.04 + 0.25 * severity)
    body += 0.45 * _nearby_machine(rng, attrs["m-n"], n, sr)

    extra = None
    if anomaly == "blade_damage":  # one blade differs: shaft harmonics around the blade-pass tone
        orders = np.arange(1, 3 * blades + 1)
        amplitudes = np.exp(-0.5 * ((orders - blades) / 2.5) ** 2) * frng.uniform(0.5, 1.0, len(orders))
        tones = c.harmonic_series(frng, turns, shaft_hz, sr, amplitudes)
        gusts = c.shaped_noise(frng, n, c.log_band(freqs, 1800.0, 1.0)) * c.modulation(turns, 0.9)
        extra = anomaly_gain(severity, -30.0, -8.0) * c.unit_rms(tones + 0.5 * gusts)
    elif anomaly == "bearing_wear":
        rolling = c.resonant_noise(frng, n, sr, [3900.0, 5600.0], [0.25, 0.3], [1.0, 0.7])
        rolling = rolling * c.modulation(turns * 3.1, 0.6)
        extra = anomaly_gain(severity, -30.0, -8.0) * c.unit_rms(rolling)
    elif anomaly == "rattle":
        positions = c.event_positions(turns, 1.0)
        keep = frng.random(len(positions)) < 0.25 + 0.6 * severity
        extra = anomaly_gain(severity, -26.0, -6.0) * c.impacts(
            frng,
            positions[keep],
            frng.uniform(0.3, 1.0, int(keep.sum())),
            n,
            sr,
            [1250.0, 2900.0, 4400.0],
            [0.012, 0.008, 0.005],
        )
    return finish(body, extra, 0.0)


FAN = MachineModel(
    "fan",
    (Attribute("m-n", ("W", "X"), ("Y", "Z")),),
    ("imbalance", "blade_damage", "clogging", "bearing_wear", "rattle"),
    synthesise_fan,
)


# ----------------------------------------------------------------------------------------------------
# gearbox: DC motor driving a 17:53 spur gear pair lifting a weight
# ----------------------------------------------------------------------------------------------------
def synthesise_gearbox(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    freqs = c.rfft_freqs(n, sr)
    volt, weight = number(attrs, "volt"), number(attrs, "wt")
    load = weight / 80.0
    input_hz = 12.0 * volt * (1.0 - 0.04 * load) * rng.uniform(0.985, 1.015)
    pinion_teeth, wheel_teeth = 17, 53
    motor = c.wobbly_frequency(rng, n, sr, input_hz, 0.004)
    pinion = c.cycles_of(motor, sr)
    wheel = pinion * pinion_teeth / wheel_teeth
    mesh_hz = pinion_teeth * input_hz

    mesh_orders = c.decaying_amplitudes(5, 6.0 - 2.0 * load, rng, 1.0)
    if anomaly == "worn_teeth":  # worn flanks: higher mesh harmonics and a broad sideband family
        mesh_orders = mesh_orders * (1.0 + 1.2 * severity * np.arange(5) / 4.0)
    mesh = c.harmonic_series(rng, pinion * pinion_teeth, mesh_hz, sr, mesh_orders)
    sidebands = c.modulation(pinion, 0.08) * c.modulation(wheel, 0.05)
    if anomaly == "eccentricity":
        sidebands = sidebands * c.modulation(wheel, 0.05 + 0.3 * severity)
    if anomaly == "worn_teeth":
        sidebands = sidebands * (
            1.0 + 0.35 * severity * c.harmonic_series(frng, pinion, input_hz, sr, frng.uniform(0.3, 1.0, 6))
        )
    if anomaly == "broken_tooth":  # the mesh loses contact briefly once per pinion turn
        dip = np.exp(-0.5 * ((np.mod(pinion, 1.0) - 0.5) * pinion_teeth / 0.7) ** 2)
        sidebands = sidebands * (1.0 - (0.15 + 0.4 * severity) * dip)
    commutator = c.harmonic_series(rng, pinion * 12, 12 * input_hz, sr, [1.0, 0.3])
    motor_tones = c.harmonic_series(rng, pinion, input_hz, sr, [0.4, 0.3, 0.15])
    rattle_noise = c.shaped_noise(rng, n, c.log_band(freqs, 1400.0, 1.4)) * c.modulation(pinion * pinion_teeth, 0.3)
    brush = c.shaped_noise(rng, n, c.log_band(freqs, 4500.0, 0.8))

    body = (
        (0.7 + 0.5 * load) * mesh * sidebands
        + 0.12 * commutator
        + 0.2 * motor_tones
        + (0.35 + 0.2 * load) * rattle_noise
        + 0.12 * brush
    )
    extra = None
    if anomaly == "broken_tooth":
        positions = c.event_positions(pinion, 1.0, frng.uniform())
        extra = anomaly_gain(severity, -30.0, -10.0) * c.impacts(
            frng, positions, 1.0, n, sr, [mesh_hz * 2.0, 2600.0, 3700.0], [0.01, 0.006, 0.004]
        )
    elif anomaly == "backlash_rattle":
        positions = c.random_positions(frng, n, sr, 8.0 + 30.0 * severity)
        extra = anomaly_gain(severity, -28.0, -8.0) * c.impacts(
            frng,
            positions,
            frng.uniform(0.2, 1.0, len(positions)),
            n,
            sr,
            [1700.0, 3100.0, 5200.0],
            [0.006, 0.004, 0.003],
        )
    elif anomaly == "lubrication":
        squeal = c.shaped_noise(frng, n, c.log_band(freqs, 6000.0, 0.5)) * c.modulation(pinion * pinion_teeth, 0.8)
        extra = anomaly_gain(severity, -36.0, -16.0) * c.unit_rms(squeal)
    return finish(body, extra, 4.0 * np.log2(volt) + 1.5 * load)


GEARBOX = MachineModel(
    "gearbox",
    (Attribute("volt", ("1.0", "1.5"), ("2.0",)), Attribute("wt", ("30", "80"), ("30", "80"))),
    ("broken_tooth", "worn_teeth", "eccentricity", "backlash_rattle", "lubrication"),
    synthesise_gearbox,
)


# ----------------------------------------------------------------------------------------------------
# slider: a ball-screw linear stage moving back and forth
# ----------------------------------------------------------------------------------------------------
def _stroke_speed(
    n: int, sr: int, speed: float, accel: float, stroke: float, dwell_s: float, start_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Speed (mm/s), position along the stroke (0..1, back and forth) and stroke start times (samples)."""
    ramp_s = speed / accel
    if speed * ramp_s > stroke:  # never reaches full speed: triangular profile
        speed = np.sqrt(accel * stroke)
        ramp_s = speed / accel
    cruise_s = max((stroke - speed * ramp_s) / speed, 0.0)
    move_s = 2.0 * ramp_s + cruise_s
    period_s = move_s + dwell_s
    t = (np.arange(n) / sr + start_s) % period_s
    moving_speed = np.minimum.reduce(
        [np.minimum(t, move_s) * accel, np.full(n, speed), np.maximum(move_s - t, 0.0) * accel]
    )
    moving_speed = np.maximum(moving_speed, 0.0)
    travelled = np.cumsum(moving_speed) / sr / stroke  # strokes completed, fractional
    position = np.abs(((travelled + 1.0) % 2.0) - 1.0)
    starts = np.nonzero(np.diff(np.floor((np.arange(n) / sr + start_s) / period_s)) > 0)[0] + 1
    return moving_speed, position, starts


SLIDER_DWELL_S = 0.3  # pause between strokes


def synthesise_slider(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    freqs = c.rfft_freqs(n, sr)
    top_speed = number(attrs, "vel") * rng.uniform(0.99, 1.01)
    accel = number(attrs, "ac") * 30000.0  # the "ac" setting in units of 30 m/s^2, as mm/s^2
    speed, position, starts = _stroke_speed(n, sr, top_speed, accel, 400.0, SLIDER_DWELL_S, rng.uniform(0.0, 3.0))
    if anomaly == "hunting":  # the servo loop oscillates around the commanded speed
        speed = speed * (
            1.0 + (0.02 + 0.08 * severity) * np.sin(c.TWO_PI * c.cycles_of(np.full(n, frng.uniform(7.0, 11.0)), sr))
        )
    pitch_mm = 10.0
    screw = c.cycles_of(speed / pitch_mm, sr)
    relative = speed / 500.0
    moving = np.clip(relative * 4.0, 0.0, 1.0)
    acceleration = np.abs(np.gradient(speed) * sr) / 9810.0

    motor = c.harmonic_series(rng, screw * 5.0, 5.0 * top_speed / pitch_mm, sr, c.decaying_amplitudes(6, 4.0, rng, 1.0))
    motor = motor * (0.3 * moving + 6.0 * acceleration)
    pwm = c.sine(rng, c.cycles_of(np.full(n, 3906.25), sr))
    rolling = c.resonant_noise(rng, n, sr, [2200.0, 3500.0, 5000.0], [0.3, 0.3, 0.35], [1.0, 0.8, 0.5])
    rolling = rolling * relative**1.5 * c.modulation(screw * 3.2, 0.25)
    guide = c.shaped_noise(rng, n, c.log_band(freqs, 350.0, 1.0)) * relative
    idle = c.shaped_noise(rng, n, c.tilt(freqs, -4.0) * c.highpass_shape(freqs, 40.0))
    clunks = c.impacts(rng, starts, 1.0, n, sr, [620.0, 1450.0], [0.015, 0.008]) if len(starts) else 0.0

    body = 0.5 * motor + 0.05 * pwm + 0.9 * rolling + 0.3 * guide + 0.08 * idle + 0.25 * clunks
    extra = None
    if anomaly == "rail_damage":
        damaged = np.sort(frng.uniform(0.1, 0.9, 3))
        hits = np.concatenate([np.nonzero(np.diff(np.sign(position - spot)) != 0)[0] for spot in damaged])
        extra = anomaly_gain(severity, -26.0, -4.0) * c.impacts(
            frng, np.sort(hits), 1.0, n, sr, [2700.0, 4100.0, 5900.0], [0.004, 0.003, 0.002]
        )
    elif anomaly == "no_grease":
        squeal_hz = frng.uniform(2300.0, 3800.0)
        squeal = c.sine(frng, c.cycles_of(c.wobbly_frequency(frng, n, sr, squeal_hz, 0.01, 6.0), sr))
        friction = c.shaped_noise(frng, n, c.log_band(freqs, 3000.0, 1.0))
        extra = anomaly_gain(severity, -24.0, -2.0) * c.unit_rms((0.6 * squeal + friction) * relative)
    elif anomaly == "loose_belt":
        rattle = c.random_positions(frng, n, sr, 25.0 + 40.0 * severity)
        rattle = rattle[moving[rattle] > 0.2]
        extra = anomaly_gain(severity, -30.0, -8.0) * c.impacts(
            frng, rattle, frng.uniform(0.3, 1.0, len(rattle)), n, sr, [800.0, 1900.0], [0.01, 0.006]
        )
    elif anomaly == "hard_stop":  # the carriage hits its end stop as each stroke ends
        stops = starts - int(SLIDER_DWELL_S * sr)
        extra = anomaly_gain(severity, -30.0, -8.0) * c.impacts(
            frng, stops[stops >= 0], 1.0, n, sr, [450.0, 1300.0, 3100.0], [0.03, 0.015, 0.008], 0.6
        )
    return finish(body, extra, 3.0 * np.log2(top_speed / 500.0))


SLIDER = MachineModel(
    "slider",
    (Attribute("vel", ("300", "500"), ("600",)), Attribute("ac", ("0.03", "0.05"), ("0.05",))),
    ("rail_damage", "no_grease", "loose_belt", "hard_stop", "hunting"),
    synthesise_slider,
    headroom_db=2.0,
)


# ----------------------------------------------------------------------------------------------------
# ToyCar: a toy car on a roller rig, DC motor, spur gear to the wheels
# ----------------------------------------------------------------------------------------------------
TOYCAR_MODELS = {  # pinion teeth, wheel-gear teeth, body resonance (Hz)
    "A1": (9, 38, 1100.0),
    "A2": (11, 41, 1450.0),
    "B1": (10, 35, 900.0),
    "B2": (12, 44, 1700.0),
}


def synthesise_toycar(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    freqs = c.rfft_freqs(n, sr)
    pinion_teeth, wheel_teeth, body_hz = TOYCAR_MODELS.get(attrs["car"], TOYCAR_MODELS["A1"])
    volts = number(attrs, "spd")
    rotor_hz = 6.0 * volts * rng.uniform(0.98, 1.02)
    if anomaly == "motor_brush":
        rotor_hz *= 1.0 - 0.02 * severity
    rotor = c.wobbly_frequency(rng, n, sr, rotor_hz, 0.006, 2.0)
    turns = c.cycles_of(rotor, sr)
    wheel = turns * pinion_teeth / wheel_teeth
    mesh_hz = pinion_teeth * rotor_hz

    motor = c.harmonic_series(rng, turns, rotor_hz, sr, c.decaying_amplitudes(6, 5.0, rng, 2.0))
    commutator = c.harmonic_series(rng, turns * 6, 6 * rotor_hz, sr, [1.0, 0.5, 0.25])
    wobble = c.modulation(wheel, 0.1)
    if anomaly == "shaft_bent":
        wobble = wobble * c.modulation(wheel, 0.05 + 0.3 * severity) * c.modulation(wheel * 2, 0.1 * severity)
    gear = c.harmonic_series(rng, turns * pinion_teeth, mesh_hz, sr, [1.0, 0.4, 0.15]) * wobble
    brush = c.shaped_noise(rng, n, c.log_band(freqs, 4800.0, 0.9)) * c.modulation(turns * 6, 0.4)
    tyre = c.shaped_noise(rng, n, c.log_band(freqs, 450.0, 1.1)) * wobble
    shell = c.shaped_noise(rng, n, c.log_band(freqs, body_hz, 0.3))

    body = 0.35 * motor + 0.25 * commutator + 0.7 * gear + 0.3 * brush + 0.5 * tyre + 0.25 * shell
    extra = None
    if anomaly == "gear_chipped":
        positions = c.event_positions(wheel, 1.0, frng.uniform())
        extra = anomaly_gain(severity, -26.0, -6.0) * c.impacts(
            frng, positions, 1.0, n, sr, [mesh_hz, 2.6 * body_hz, 5200.0], [0.006, 0.004, 0.002]
        )
    elif anomaly == "tyre_damage":
        positions = c.event_positions(wheel, 1.0, frng.uniform())
        extra = anomaly_gain(severity, -24.0, -4.0) * c.impacts(
            frng, positions, 1.0, n, sr, [180.0, 420.0, body_hz], [0.02, 0.012, 0.006], 0.2
        )
    elif anomaly == "motor_brush":
        crackle = c.shaped_noise(frng, n, c.highpass_shape(freqs, 2500.0, 2)) * c.bursts(
            frng, n, sr, 4.0 + 10.0 * severity, 0.04
        )
        extra = anomaly_gain(severity, -32.0, -12.0) * c.unit_rms(crackle)
    elif anomaly == "bearing_squeak":
        squeak = c.sine(
            frng, c.cycles_of(c.wobbly_frequency(frng, n, sr, frng.uniform(3000, 4800), 0.02, 5.0), sr)
        ) * c.bursts(frng, n, sr, 1.5, 0.4)
        extra = anomaly_gain(severity, -32.0, -10.0) * c.unit_rms(squeak + 1e-3)
    return finish(body, extra, 6.0 * np.log2(volts / 30.0))


TOYCAR = MachineModel(
    "ToyCar",
    (
        Attribute("car", ("A1", "A2"), ("A1", "A2")),
        Attribute("spd", ("28V", "31V"), ("33V",)),
        Attribute("mic", ("1",), ("2",)),
        Attribute("noise", ("1",), ("2",)),
    ),
    ("shaft_bent", "gear_chipped", "tyre_damage", "motor_brush", "bearing_squeak"),
    synthesise_toycar,
)


# ----------------------------------------------------------------------------------------------------
# ToyTrain: a toy train circling an oval track past the microphone
# ----------------------------------------------------------------------------------------------------
TOYTRAIN_MODELS = {  # motor Hz per speed step, rail-click modes, wheel circumference (m)
    "A1": (44.0, [950.0, 2350.0, 4100.0], 0.034),
    "B1": (52.0, [1150.0, 2700.0, 4600.0], 0.031),
    "C1": (48.0, [1050.0, 2500.0, 4300.0], 0.036),
}


def synthesise_toytrain(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    freqs = c.rfft_freqs(n, sr)
    motor_per_step, rail_modes, wheel_m = TOYTRAIN_MODELS.get(attrs["car"], TOYTRAIN_MODELS["A1"])
    step = number(attrs, "spd")
    speed_ms = 0.075 * step * rng.uniform(0.97, 1.03)
    speed = c.wobbly_frequency(rng, n, sr, speed_ms, 0.02, 0.5)
    if anomaly == "motor_damage":
        speed = speed * (1.0 - 0.08 * severity * (1.0 + c.smooth_curve(frng, n, sr, 4.0)) / 2.0)
    distance = c.cycles_of(speed, sr, rng.uniform(0.0, 3.0))  # metres along a 3 m lap
    lap = distance / 3.0
    # the microphone sits beside one straight: level and brightness follow the train around the lap
    nearness = 0.55 + 0.45 * np.cos(c.TWO_PI * lap)
    motor_hz = motor_per_step * step
    motor_turns = c.cycles_of(speed / speed_ms * motor_hz, sr)

    motor = c.harmonic_series(rng, motor_turns, motor_hz, sr, c.decaying_amplitudes(5, 5.0, rng, 1.5))
    worm = c.harmonic_series(rng, motor_turns * 3, 3 * motor_hz, sr, [1.0, 0.3])
    rolling = c.resonant_noise(rng, n, sr, [1300.0, 2600.0], [0.5, 0.4], [1.0, 0.6]) * step / 7.0
    joints = c.event_positions(distance, 1.0 / 0.17)
    axle_delays = np.array([0.0, 0.03, 0.12, 0.15]) / speed_ms * sr  # two bogies, two axles each
    clicks = np.concatenate([joints + int(delay) for delay in axle_delays])
    clicks = clicks[clicks < n]
    click_sound = c.impacts(rng, clicks, rng.uniform(0.7, 1.0, len(clicks)), n, sr, rail_modes, [0.006, 0.004, 0.003])
    body = (0.3 * motor + 0.12 * worm + 0.45 * rolling + 0.5 * click_sound) * nearness
    extra = None
    if anomaly == "flat_wheel":
        positions = c.event_positions(distance, 1.0 / wheel_m, frng.uniform())
        extra = anomaly_gain(severity, -22.0, -2.0) * c.impacts(
            frng, positions, nearness[positions], n, sr, [r * 0.8 for r in rail_modes], [0.004, 0.003, 0.002]
        )
    elif anomaly == "flange_squeal":
        on_curve = (np.cos(c.TWO_PI * (lap * 2.0)) < -0.3).astype(float)
        squeal = c.sine(frng, c.cycles_of(c.wobbly_frequency(frng, n, sr, frng.uniform(2600, 4500), 0.015, 3.0), sr))
        extra = anomaly_gain(severity, -30.0, -8.0) * c.unit_rms(squeal * on_curve * nearness + 1e-4)
    elif anomaly == "motor_damage":
        crackle = c.shaped_noise(frng, n, c.highpass_shape(freqs, 3000.0)) * c.bursts(frng, n, sr, 8.0, 0.03)
        extra = anomaly_gain(severity, -26.0, -6.0) * c.unit_rms(crackle * nearness)
    elif anomaly == "loose_coupler":
        delays = frng.uniform(0.02, 0.08, len(joints)) * sr
        rattles = (joints + delays.astype(int))[frng.random(len(joints)) < 0.4 + 0.5 * severity]
        rattles = rattles[rattles < n]
        extra = anomaly_gain(severity, -24.0, -4.0) * c.impacts(
            frng, rattles, 1.0, n, sr, [700.0, 1600.0, 3300.0], [0.012, 0.007, 0.004]
        )
    elif anomaly == "derailment_scrape":
        scrape = c.shaped_noise(frng, n, c.log_band(freqs, 2200.0, 1.5)) * c.bursts(frng, n, sr, 2.0, 0.6)
        extra = anomaly_gain(severity, -22.0, 0.0) * c.unit_rms(scrape * nearness + 1e-4)
    return finish(body, extra, 4.0 * np.log2(step / 6.0))


TOYTRAIN = MachineModel(
    "ToyTrain",
    (
        Attribute("car", ("A1", "B1"), ("A1", "B1")),
        Attribute("spd", ("5", "7"), ("9",)),
        Attribute("mic", ("1",), ("2",)),
    ),
    ("flat_wheel", "flange_squeal", "motor_damage", "loose_coupler", "derailment_scrape"),
    synthesise_toytrain,
    headroom_db=4.0,
)


# ----------------------------------------------------------------------------------------------------
# valve: a solenoid valve switching water flow following a pattern; a pump runs throughout
# ----------------------------------------------------------------------------------------------------
VALVE_PATTERNS = {  # (open seconds, closed seconds) steps repeated
    "00": ((0.5, 0.5),),
    "01": ((0.25, 0.25), (0.25, 0.75)),
    "02": ((1.0, 0.5),),
    "03": ((0.15, 0.35), (0.15, 0.35), (0.6, 1.0)),
}


def _valve_schedule(
    rng: np.random.Generator,
    pattern: str,
    n: int,
    sr: int,
    timing_spread: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices of openings and closings following ``pattern`` from a random point of the cycle."""
    steps = VALVE_PATTERNS.get(pattern, VALVE_PATTERNS["00"])
    time = -rng.uniform(0.0, sum(a + b for a, b in steps))
    opens, closes = [], []
    index = 0
    while time < n / sr:
        open_s, closed_s = steps[index % len(steps)]
        open_s *= 1.0 + rng.normal(0.0, timing_spread)
        opens.append(time)
        closes.append(time + open_s)
        time += open_s + closed_s * (1.0 + rng.normal(0.0, timing_spread))
        index += 1
    return (np.round(np.array(opens) * sr).astype(int), np.round(np.array(closes) * sr).astype(int))


def _inside(positions: np.ndarray, n: int) -> np.ndarray:
    return positions[(positions >= 0) & (positions < n)]


def synthesise_valve(
    rng: np.random.Generator, attrs: Mapping[str, str], fault: Fault | None, n: int, sr: int
) -> np.ndarray:
    anomaly, severity, frng = unpack(fault)
    freqs = c.rfft_freqs(n, sr)
    opens, closes = _valve_schedule(rng, attrs["pat"], n, sr, 0.01)
    commanded = opens
    if anomaly == "sticky":  # the plunger hesitates before it moves and closes irregularly
        opens = opens + (frng.uniform(0.02, 0.05 + 0.12 * severity, len(opens)) * sr).astype(int)
        closes = closes + (frng.normal(0.0, 0.05 * severity, len(closes)) * sr).astype(int)
        closes = np.maximum(closes, opens + int(0.02 * sr))
    is_open = c.gate(n, opens, closes, sr, ramp_s=0.02)

    pump_turns = c.cycles_of(c.wobbly_frequency(rng, n, sr, 29.0, 0.003), sr)
    pump = c.harmonic_series(rng, pump_turns * 6, 174.0, sr, [1.0, 0.4, 0.2]) + 0.5 * c.harmonic_series(
        rng, c.cycles_of(np.full(n, 50.0), sr), 50.0, sr, [0.0, 1.0]
    )
    flow = c.shaped_noise(rng, n, c.log_band(freqs, 1300.0, 1.3)) * (1.0 + 0.15 * c.smooth_curve(rng, n, sr, 8))
    open_clicks = _inside(opens, n)
    close_clicks = _inside(closes, n)
    click_level = np.ones(len(open_clicks))
    if anomaly == "contamination":  # debris: some strokes are weak or lost, the flow sputters
        click_level = np.where(
            frng.random(len(open_clicks)) < 0.05 + 0.45 * severity, frng.uniform(0.0, 0.5, len(open_clicks)), 1.0
        )
        flow = flow * (1.0 - (0.05 + 0.35 * severity) * c.bursts(frng, n, sr, 6.0, 0.05))
    opening = (
        c.impacts(rng, open_clicks, click_level, n, sr, [2800.0, 4600.0, 6300.0], [0.012, 0.008, 0.005], 0.5)
        if len(open_clicks)
        else np.zeros(n)
    )
    closing = (
        c.impacts(rng, close_clicks, 1.0, n, sr, [120.0, 1900.0, 3300.0], [0.04, 0.01, 0.006], 0.3)
        if len(close_clicks)
        else np.zeros(n)
    )
    body = 0.25 * pump + 0.6 * flow * is_open + 0.9 * opening + 0.6 * closing
    if attrs.get("panel") == "closed":  # the cover muffles highs and adds a panel resonance
        body = c.apply_magnitude(body, c.lowpass_shape(freqs, 4000.0, 1) + 0.4 * c.log_band(freqs, 420.0, 0.25))

    extra = None
    if anomaly == "leak":
        hiss = c.shaped_noise(frng, n, c.log_band(freqs, 4200.0, 0.7)) * (1.0 - 0.8 * is_open)
        extra = anomaly_gain(severity, -38.0, -16.0) * c.unit_rms(hiss)
    elif anomaly == "double_click":
        bounce = open_clicks + (frng.uniform(0.012, 0.04, len(open_clicks)) * sr).astype(int)
        bounce = bounce[frng.random(len(bounce)) < 0.5 + 0.5 * severity]
        extra = anomaly_gain(severity, -26.0, -6.0) * c.impacts(
            frng, _inside(bounce, n), 1.0, n, sr, [2500.0, 4300.0], [0.01, 0.006], 0.5
        )
    elif anomaly == "sticky":  # the energised coil buzzes while the plunger hangs
        hanging = c.gate(n, commanded, opens, sr, ramp_s=0.005)
        buzz = c.harmonic_series(frng, c.cycles_of(np.full(n, 100.0), sr), 100.0, sr, [0.6, 1.0, 0.5, 0.4, 0.2])
        extra = anomaly_gain(severity, -26.0, -4.0) * c.unit_rms(buzz * hanging + 1e-4)
    elif anomaly == "coil_hum":
        hum = c.harmonic_series(frng, c.cycles_of(np.full(n, 100.0), sr), 100.0, sr, [1.0, 0.6, 0.5, 0.3, 0.2])
        extra = anomaly_gain(severity, -32.0, -10.0) * c.unit_rms(hum * is_open + 1e-4)
    return finish(body, extra, 0.0)


VALVE = MachineModel(
    "valve",
    (Attribute("pat", ("00", "01"), ("02", "03")), Attribute("panel", ("open",), ("open", "closed"))),
    ("contamination", "leak", "double_click", "sticky", "coil_hum"),
    synthesise_valve,
    headroom_db=8.0,  # sharp clicks: the recording level is set low to keep their peaks in range
)

DEV_MODELS: dict[str, MachineModel] = {
    model.name: model for model in (BEARING, FAN, GEARBOX, SLIDER, TOYCAR, TOYTRAIN, VALVE)
}
