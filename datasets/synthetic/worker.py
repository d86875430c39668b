"""Render one planned clip and write it as 16-bit PCM WAV (runs in the worker processes).

Imports stay light (numpy, scipy.fft, soundfile): spawned workers import this module and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soundfile as sf

from datasets.synthetic.catalog import machine_model
from datasets.synthetic.layouts import SUPPLEMENTAL_FOLDER, render_supplemental, stereo_clip
from datasets.synthetic.model import Fault
from datasets.synthetic.plan import ClipPlan
from datasets.synthetic.recording import record


@dataclass(frozen=True)
class ClipJob:
    plan: ClipPlan
    path: str  # where the WAV file goes
    duration: float
    sample_rate: int
    stereo: bool = False  # DCASE2026: a far-microphone channel is added (datasets.synthetic.layouts)


def render_clip(plan: ClipPlan, duration: float, sample_rate: int) -> np.ndarray:
    """The recorded clip as float64 samples in (-1, 1)."""
    n = round(duration * sample_rate)
    machine_seed, fault_seed, recording_seed = plan.render_seed().spawn(3)
    fault = None if plan.anomaly is None else Fault(plan.anomaly, plan.severity, np.random.default_rng(fault_seed))
    attrs = dict(plan.attributes)
    model = machine_model(plan.machine)

    def recorded(dry: np.ndarray, snr_db: float) -> np.ndarray:
        return record(
            np.random.default_rng(recording_seed),
            dry,
            plan.machine,
            plan.domain,
            attrs,
            snr_db,
            sample_rate,
            model.headroom_db,
        )

    def machine_alone(snr_db: float) -> np.ndarray:
        return recorded(model.synthesise(np.random.default_rng(machine_seed), attrs, fault, n, sample_rate), snr_db)

    if plan.folder == SUPPLEMENTAL_FOLDER:
        return render_supplemental(plan.label, machine_alone, lambda: recorded(np.zeros(n), plan.snr_db))
    return machine_alone(plan.snr_db)


def write_clip(job: ClipJob) -> str:
    audio = render_clip(job.plan, job.duration, job.sample_rate)
    if job.stereo:
        far_seed = np.random.SeedSequence([*job.plan.entropy, 2])
        audio = stereo_clip(audio, np.random.default_rng(far_seed), job.sample_rate)
    sf.write(job.path, audio, job.sample_rate, subtype="PCM_16", format="WAV")
    return job.plan.machine
