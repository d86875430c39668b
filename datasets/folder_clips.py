"""Folders of recordings, whatever their file names, as a waveform model's data (the monitor's fits): each folder
is one machine type, each WAV file a training clip of section 00 whose domain the caller gives; a window of a
recording being scored is a clip held in memory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datasets.audio import MONO, ChannelRule
from datasets.file_list import Clip
from datasets.waveforms import (
    FamilyTrainingSet,
    MachineClips,
    Waveforms,
    assemble_family_set,
    clip_attributes,
    load_or_build_waveforms,
)
from errors import DataError

SECTION = "00"  # a folder of one machine's recordings is one section, as a DCASE machine type of one section


def folder_clips(paths: Sequence[Path], is_target: Sequence[bool]) -> list[Clip]:
    """Normal training clips of section 00, target-domain where ``is_target`` says so."""
    return [
        Clip(Path(path), SECTION, "target" if target else "source", 0)
        for path, target in zip(paths, is_target, strict=True)
    ]


def folder_waveforms(clips: Sequence[Clip], cache_dir: Path, name: str, rule: ChannelRule = MONO) -> Waveforms:
    """The clips' samples, written once as the int16 waveform cache of a DCASE run (``cache_dir``)."""
    waves, _ = load_or_build_waveforms([clip.path for clip in clips], cache_dir, name, "training waveforms", rule)
    return waves


def machine_names(folders: Sequence[Path]) -> list[str]:
    """A name per folder, its last path parts, as few as tell the folders apart (``fan``, or ``fan/train`` and
    ``valve/train`` for folders of the DCASE layout)."""
    parts = [Path(folder).resolve().parts for folder in folders]
    for depth in range(1, max(len(item) for item in parts) + 1):
        names = ["/".join(item[-depth:]) for item in parts]
        if len(set(names)) == len(names):
            return names
    raise DataError(f"the folder {Path(folders[0])} is given twice; give each machine's folder once")


def folder_training_set(
    folders: Sequence[tuple[Path, list[Clip]]], names: Sequence[str], cache_dir: Path, rule: ChannelRule = MONO
) -> FamilyTrainingSet:
    """One training set of every folder's clips, a folder being a machine type named ``names[i]`` (from
    ``machine_names``; the monitored machine first); the attributes are those the clip names or an
    ``attributes_<section>.csv`` give."""
    waveforms = [
        folder_waveforms(clips, Path(cache_dir) / str(number), f"machine{number}", rule)
        for number, (_, clips) in enumerate(folders)
    ]
    return assemble_family_set(
        names,
        waveforms,
        [clips for _, clips in folders],
        [clip_attributes(clips, folder) for folder, clips in folders],
        f"the recordings of {', '.join(names)}",
    )


def clips_in_memory(machine: str, names: Sequence[str], signals: Sequence[np.ndarray], rate: int) -> MachineClips:
    """Windows of recordings (float32 ``signals``) as clips of ``machine`` to score; ``names`` label them."""
    clips = [Clip(Path(name), SECTION, "source", None) for name in names]
    lengths = np.array([len(signal) for signal in signals], dtype=np.int64)
    return MachineClips(machine, clips, lengths, rate, lambda ids: np.stack([signals[int(i)] for i in ids]))
