"""The ``supplemental/`` clips of the DCASE2025 evaluation machine types, for models that want them.

From DCASE2025 on, an evaluation machine folder may hold ``<machine>/supplemental/`` next to ``train/`` and
``test/``: clips of the machine alone (``section_00_machine_0000_.wav``) or of the background noise alone
(``section_00_noise_0000_.wav``), recorded at the site of the training clips. They are neither training nor
test data: the public baseline ignores them, and so do the autoencoder and the file lists here (only
``train/`` and ``test/`` are ever listed). A model that wants them (e.g. to estimate the noise of the site)
calls :func:`read_supplemental_clips`; :func:`supplemental_summary` is the line the training run prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.audio import MONO, ChannelRule, read_clip
from datasets.registry import DatasetSpec
from errors import DataError

SUPPLEMENTAL_FOLDER = "supplemental"
_KIND = re.compile(r"^section_(?P<section>\d+)_(?P<kind>[A-Za-z]+)_\d+")
KINDS = ("machine", "noise")  # what a clip holds; any other word in the name is reported as "other"


@dataclass(frozen=True)
class SupplementalClip:
    """One clip of ``supplemental/``: its path, section and what it holds (machine, noise or other)."""

    path: Path
    section: str | None
    kind: str


def supplemental_dir(spec: DatasetSpec, dataset_directory: Path) -> Path:
    """``<dataset_directory>/dcase2025t2/eval_data/raw/<machine>/supplemental``."""
    return spec.machine_dir(Path(dataset_directory)) / SUPPLEMENTAL_FOLDER


def clip_kind(file_name: str) -> tuple[str | None, str]:
    """(section, kind) from a supplemental file name; kind "other" for a name of another form."""
    match = _KIND.match(file_name)
    if match is None:
        return None, "other"
    kind = match["kind"].lower()
    return match["section"], kind if kind in KINDS else "other"


def list_supplemental_clips(spec: DatasetSpec, dataset_directory: Path) -> list[SupplementalClip]:
    """The WAV files of the machine type's ``supplemental/`` folder sorted by name (empty when it has none)."""
    folder = supplemental_dir(spec, dataset_directory)
    if not folder.is_dir():
        return []
    return [SupplementalClip(path, *clip_kind(path.name)) for path in sorted(folder.glob("*.wav"))]


def read_supplemental_clips(
    spec: DatasetSpec, dataset_directory: Path, kind: str | None = None, rule: ChannelRule = MONO
) -> tuple[list[SupplementalClip], list[np.ndarray], int]:
    """The supplemental clips (all, or only ``kind``: "machine", "noise", "other"), their float32 signals
    (the channel ``rule`` picks, as for the training clips) and their common sample rate.

    Raises DataError when the folder holds no such clip, or when the clips' sample rates differ.
    """
    clips = [clip for clip in list_supplemental_clips(spec, dataset_directory) if kind in (None, clip.kind)]
    if not clips:
        what = f"{kind} clips" if kind else "WAV files"
        raise DataError(
            f"no supplemental {what} in {supplemental_dir(spec, dataset_directory)}; only some "
            "DCASE2025 evaluation machine types have them"
        )
    signals, rates = [], []
    for clip in clips:
        signal, rate = read_clip(clip.path, rule)
        signals.append(signal)
        rates.append(rate)
    odd = next((clip for clip, rate in zip(clips, rates, strict=True) if rate != rates[0]), None)
    if odd is not None:
        raise DataError(
            f"{odd.path}: sample rate differs from {rates[0]} Hz of {clips[0].path.name}; resample it or remove it"
        )
    return clips, signals, rates[0]


def supplemental_summary(spec: DatasetSpec, dataset_directory: Path) -> str | None:
    """One line on the machine type's supplemental clips, or None when it has none."""
    clips = list_supplemental_clips(spec, dataset_directory)
    if not clips:
        return None
    counts = {kind: sum(clip.kind == kind for clip in clips) for kind in (*KINDS, "other")}
    parts = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    return (
        f"{spec.name}: {supplemental_dir(spec, dataset_directory)} holds {len(clips)} supplemental clips "
        f"({parts}); not training or test data, left out (datasets.supplemental.read_supplemental_clips "
        "loads them)"
    )
