"""Raw waveforms of many clips for models that learn from the signal (``Inputs.WAVEFORMS``), and the clips' attributes.

Waveforms: the samples of all clips of a list, back to back, in one int16 ``.npy`` (memory-mapped on load;
lossless for the 16-bit WAV files of the DCASE sets), with a JSON manifest written after it that records
the offsets, the sample rate and every input file's name, size and modification time: a changed dataset is
never served from an old cache. The file is written clip by clip, so building it holds one clip in memory.

Attributes: those of a training clip come from ``attributes_<section>.csv`` when it lists the clip, else from
its file name (``section_00_source_train_normal_0000_<attributes>.wav``); hidden ones (``noAttribute``) are "".
What a model makes of them (its classes) is the model's own business.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile
from tqdm import tqdm

from datasets.audio import MONO, ChannelRule, read_clip
from datasets.file_list import Clip, list_train_clips
from datasets.registry import DatasetSpec, machine_types, resolve_dataset
from datasets.stacked_clips import StackedClips, file_fingerprint, load_stacked_rows
from errors import DataError
from progress import progress_bar
from safe_io import load_or_build_cache

CACHE_FORMAT_VERSION = 1
INT16_SCALE = 32768.0
HIDDEN_ATTRIBUTES = "noAttribute"
_NAME_ATTRIBUTES = re.compile(r"_(?:source|target)_(?:train|test)_(?:normal|anomaly)_\d+_(?P<attributes>.+)\.wav$")


# ---------------------------------------------------------------- attributes


def attributes_from_name(file_name: str) -> str:
    """The attribute part of a clip name (``car_A1_spd_28V``); "" when hidden or absent."""
    match = _NAME_ATTRIBUTES.search(file_name)
    if match is None or match["attributes"] == HIDDEN_ATTRIBUTES:
        return ""
    return match["attributes"]


def read_attribute_table(machine_dir: Path) -> dict[str, str]:
    """``{file name: attributes}`` from every ``attributes_<section>.csv`` of a machine folder.

    A row is ``<machine>/<folder>/<file>,<name 1>,<value 1>,<name 2>,<value 2>,...``; the attributes are
    written ``<name 1>_<value 1>_<name 2>_<value 2>`` like in the file names, hidden ones left out.
    """
    table: dict[str, str] = {}
    for path in sorted(Path(machine_dir).glob("attributes_[0-9][0-9].csv")):
        try:
            with path.open(newline="", encoding="utf-8") as stream:
                rows = list(csv.reader(stream))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise DataError(
                f"{path}: cannot be read as a CSV file ({error}); re-download the dataset or delete "
                "the file (the attributes are then read from the file names)"
            ) from error
        for row in rows[1:]:
            if not row or not row[0].strip():
                continue
            values = [cell.strip() for cell in row[1:]]
            pairs = [(values[i], values[i + 1] if i + 1 < len(values) else "") for i in range(0, len(values), 2)]
            parts = [
                f"{name}_{value}" if value else name for name, value in pairs if name and name != HIDDEN_ATTRIBUTES
            ]
            table[Path(row[0].strip()).name] = "_".join(parts)
    return table


def clip_attributes(clips: Sequence[Clip], machine_dir: Path) -> list[str]:
    """The attributes of every training clip of one machine type ("" when hidden)."""
    table = read_attribute_table(machine_dir)
    return [table.get(clip.name, attributes_from_name(clip.name)) for clip in clips]


# ---------------------------------------------------------------- waveform cache


@dataclass
class Waveforms(StackedClips):
    """Samples of several clips, stacked; clip i is ``samples[offsets[i]:offsets[i + 1]]``."""

    samples: np.ndarray  # (total samples,) int16, possibly memory-mapped

    def clip(self, index: int) -> np.ndarray:
        """Clip ``index`` as float32 in [-1, 1)."""
        return to_float(self.samples[self.offsets[index] : self.offsets[index + 1]])

    def crops(self, indices: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
        """``length`` samples of each clip ``indices[j]`` from ``starts[j]``, zero-padded past its end:
        (len(indices), length) float32."""
        out = np.zeros((len(indices), length), dtype=np.float32)
        for row, (index, start) in enumerate(zip(indices, starts, strict=True)):
            first = self.offsets[index] + start
            end = min(first + length, self.offsets[index + 1])
            out[row, : end - first] = to_float(self.samples[first:end])
        return out


def to_int16(signal: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1) to int16 (exact for samples read from 16-bit files)."""
    return np.clip(np.round(np.asarray(signal, dtype=np.float64) * INT16_SCALE), -32768, 32767).astype(np.int16)


def to_float(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, dtype=np.float32) / np.float32(INT16_SCALE)


def listing_digest(paths: Sequence[Path]) -> str:
    """Short hash of the names, sizes and modification times of ``paths``: changes when the data change."""
    return hashlib.sha1(json.dumps(file_fingerprint(paths)).encode()).hexdigest()[:16]


def _load_cached(npy_path: Path, manifest_path: Path, fingerprint: list[list]) -> Waveforms | None:
    expected = {"version": CACHE_FORMAT_VERSION, "files": fingerprint}
    loaded = load_stacked_rows(npy_path, manifest_path, expected, (), np.dtype(np.int16))
    if loaded is None:
        return None
    samples, offsets, sample_rate = loaded
    return Waveforms(
        offsets=offsets, names=[entry[0] for entry in fingerprint], sample_rate=sample_rate, samples=samples
    )


def _clip_lengths(paths: Sequence[Path]) -> tuple[np.ndarray, int]:
    """Samples per clip and the common sample rate, from the WAV headers only."""
    lengths, rates = [], []
    for path in paths:
        try:
            info = soundfile.info(str(path))
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
            raise DataError(
                f"{path}: not a readable WAV file ({error}); re-download the dataset or delete the file"
            ) from error
        lengths.append(info.frames)
        rates.append(info.samplerate)
    common = max(set(rates), key=rates.count)
    for path, rate in zip(paths, rates, strict=True):
        if rate != common:
            raise DataError(
                f"{path}: sample rate {rate} Hz differs from {common} Hz of the other clips; all "
                "clips of a dataset must share one rate (resample the odd file or remove it)"
            )
    return np.asarray(lengths, dtype=np.int64), common


def _write_samples(stream, paths: Sequence[Path], lengths: np.ndarray, description: str, rule: ChannelRule) -> None:
    """The ``.npy`` of all clips' int16 samples, written clip by clip."""
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype("<i2")),
        "fortran_order": False,
        "shape": (int(lengths.sum()),),
    }
    np.lib.format.write_array_header_1_0(stream, header)
    progress = progress_bar(total=len(paths), desc=description, unit="clip", transient=True)
    for path, expected in zip(paths, lengths, strict=True):
        signal, _ = read_clip(Path(path), rule)
        if len(signal) != expected:
            raise DataError(
                f"{path}: holds {len(signal)} samples but its header says {expected}; re-download "
                "the dataset or delete the file"
            )
        stream.write(to_int16(signal).astype("<i2", copy=False).tobytes())
        progress.update()
    progress.close()


def load_or_build_waveforms(
    paths: Sequence[Path], cache_dir: Path, cache_name: str, description: str = "waveforms", rule: ChannelRule = MONO
) -> tuple[Waveforms, bool]:
    """Waveforms of ``paths`` (in that order) from ``cache_dir`` if valid, else read and cached. Returns
    ``(waveforms, was_cached)``. Two processes asking for the same cache build it once. ``rule``: which
    channel of a clip (``--mono``/``--channel``); each channel choice has its own cache."""
    if not paths:
        raise DataError(f"no clips to read ({description})")
    stem = f"{cache_name}_wave_int16" + ("" if rule.mono else f"_channel{rule.channel}")
    npy_path = Path(cache_dir) / f"{stem}.npy"
    manifest_path = Path(cache_dir) / f"{stem}.json"
    fingerprint = file_fingerprint(paths)

    def read_headers() -> tuple[Callable[[IO[bytes]], None], dict, None]:
        lengths, sample_rate = _clip_lengths(paths)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        manifest = {
            "version": CACHE_FORMAT_VERSION,
            "files": fingerprint,
            "offsets": offsets.tolist(),
            "sample_rate": sample_rate,
        }
        return lambda stream: _write_samples(stream, paths, lengths, description, rule), manifest, None

    return load_or_build_cache(
        npy_path, manifest_path, lambda: _load_cached(npy_path, manifest_path, fingerprint), read_headers, "waveform"
    )


def read_waveforms(paths: Sequence[Path], rule: ChannelRule = MONO) -> tuple[list[np.ndarray], int]:
    """Float32 signals of ``paths`` (no cache: test clips are read once per test run) and their rate;
    ``rule`` picks the channel as for the log-mel features (``FeatureParams.channel_rule``)."""
    signals, rates = [], []
    for path in paths:
        signal, rate = read_clip(Path(path), rule)
        signals.append(signal)
        rates.append(rate)
    for path, rate in zip(paths, rates, strict=True):
        if rate != rates[0]:
            raise DataError(
                f"{path}: sample rate {rate} Hz differs from {rates[0]} Hz of {Path(paths[0]).name}; "
                "all clips of a dataset must share one rate"
            )
    return signals, rates[0]


# ---------------------------------------------------------------- one family's training set


@dataclass
class FamilyTrainingSet:
    """The training clips of every machine type of a dataset family (one split).

    Clip ``i`` of the set is clip ``clip_index[i]`` of ``waveforms[clip_machine[i]]``; ``clips[i]`` and
    ``attributes[i]`` describe it."""

    machines: list[str]
    waveforms: list[Waveforms]
    clip_machine: np.ndarray  # (n_clips,) int64
    clip_index: np.ndarray  # (n_clips,) int64
    clips: list[Clip]
    attributes: list[str]
    sample_rate: int
    data_digest: str  # changes when any training file changes
    run_machine: str = ""  # the machine type the run that loaded the set is for (a model of one machine type)

    @property
    def is_target(self) -> np.ndarray:
        return np.array([clip.domain == "target" for clip in self.clips], dtype=bool)

    @property
    def clip_machine_names(self) -> list[str]:
        return [self.machines[number] for number in self.clip_machine]

    @property
    def n_clips(self) -> int:
        return len(self.clips)

    def clip_lengths(self) -> np.ndarray:
        """Samples of every clip of the set: (n_clips,)."""
        per_machine = [waves.rows_per_clip() for waves in self.waveforms]
        return np.concatenate(per_machine)[self._flat_index()]

    def _flat_index(self) -> np.ndarray:
        firsts = np.concatenate([[0], np.cumsum([waves.n_clips for waves in self.waveforms])[:-1]])
        return firsts[self.clip_machine] + self.clip_index

    def random_crops(self, ids: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
        """A ``length``-sample crop at a random position of each clip ``ids[j]`` (zero-padded when the clip
        is shorter): (len(ids), length) float32."""
        out = np.empty((len(ids), length), dtype=np.float32)
        lengths = self.clip_lengths()[ids]
        starts = rng.integers(0, np.maximum(lengths - length, 0) + 1)
        for machine, waves in enumerate(self.waveforms):
            rows = np.flatnonzero(self.clip_machine[ids] == machine)
            if len(rows):
                out[rows] = waves.crops(self.clip_index[ids[rows]], starts[rows], length)
        return out


def list_family_training_clips(
    family: str, split: str, dataset_directory: Path, use_ids: list[int], required: str
) -> list[tuple[DatasetSpec, list[Clip]]]:
    """The training clips of every machine type of ``family`` in ``split``, sections ``use_ids`` (all when
    empty; a machine type without them is left out). A machine type whose folder is absent is left out with
    a warning, except ``required`` (the one being trained), whose absence is an error."""
    listing, absent = [], []
    for machine in machine_types(family, split):
        spec = resolve_dataset(family + machine, split)
        if use_ids and not any(int(section) in use_ids for section in spec.sections):
            continue
        if machine != required and not (spec.machine_dir(Path(dataset_directory)) / "train").is_dir():
            absent.append(machine)
            continue
        listing.append((spec, list_train_clips(spec, Path(dataset_directory), use_ids)))
    if absent:
        tqdm.write(
            f"warning: no training folder of {', '.join(absent)} under {Path(dataset_directory)}: the "
            f"{family} {split} model is trained without them (download them and train again to use them)"
        )
    if not listing:
        raise DataError(
            f"--use_ids {' '.join(map(str, use_ids))} selects no section of any {family} {split} machine type"
        )
    return listing


def training_cache_name(spec: DatasetSpec, clips: Sequence[Clip]) -> str:
    """Name of a machine type's training waveform cache (its sections, like the log-mel cache's name)."""
    return f"{spec.section_keyword}_{'_'.join(sorted({clip.section for clip in clips}))}"


def load_machine_training_waveforms(
    spec: DatasetSpec, clips: Sequence[Clip], dataset_directory: Path, rule: ChannelRule = MONO
) -> Waveforms:
    waves, cached = load_or_build_waveforms(
        [clip.path for clip in clips],
        spec.processed_dir(Path(dataset_directory)) / "train",
        training_cache_name(spec, clips),
        f"{spec.name} train waveforms",
        rule,
    )
    if not cached:
        tqdm.write(f"{spec.name}: {len(clips)} training clips cached as int16 waveforms")
    return waves


def load_family_training_set(
    listing: Sequence[tuple[DatasetSpec, list[Clip]]], dataset_directory: Path, rule: ChannelRule = MONO
) -> FamilyTrainingSet:
    """Waveforms (cached per machine type) and attributes of the clips of ``list_family_training_clips``."""
    root = Path(dataset_directory)
    return assemble_family_set(
        [spec.machine for spec, _ in listing],
        [load_machine_training_waveforms(spec, clips, root, rule) for spec, clips in listing],
        [clips for _, clips in listing],
        [clip_attributes(clips, spec.machine_dir(root)) for spec, clips in listing],
        f"the machine types of {listing[0][0].family} ({listing[0][0].split})",
    )


def assemble_family_set(
    machines: Sequence[str],
    waveforms: Sequence[Waveforms],
    clips: Sequence[list[Clip]],
    attributes: Sequence[list[str]],
    what: str,
) -> FamilyTrainingSet:
    """One training set of several machine types' clips (``clips[m]``, read into ``waveforms[m]``); ``what``
    names them in the error raised when their sample rates differ."""
    rates = {waves.sample_rate for waves in waveforms}
    if len(rates) > 1:
        rate_list = ", ".join(
            f"{machine} {waves.sample_rate} Hz" for machine, waves in zip(machines, waveforms, strict=True)
        )
        raise DataError(
            f"{what} are sampled at different rates ({rate_list}); one model for all of them needs one rate: "
            "resample the clips"
        )
    clips_all = [clip for group in clips for clip in group]
    return FamilyTrainingSet(
        list(machines),
        list(waveforms),
        np.concatenate([np.full(len(group), number, dtype=np.int64) for number, group in enumerate(clips)]),
        np.concatenate([np.arange(len(group), dtype=np.int64) for group in clips]),
        clips_all,
        [value for group in attributes for value in group],
        rates.pop(),
        listing_digest([clip.path for clip in clips_all]),
    )


def family_listing_digest(listing: Sequence[tuple[DatasetSpec, list[Clip]]]) -> str:
    return listing_digest([clip.path for _, clips in listing for clip in clips])


# ---------------------------------------------------------------- one machine type's clips, batch by batch


@dataclass
class MachineClips:
    """Clips of one machine type to run through a waveform model: clip ``i`` is ``clips[i]``, its samples come
    from ``read(ids)`` for ids of clips of one length (``lengths``), as a (len(ids), length) float32 array."""

    machine: str
    clips: list[Clip]
    lengths: np.ndarray
    sample_rate: int
    read: Callable[[np.ndarray], np.ndarray]

    @property
    def is_target(self) -> np.ndarray:
        return np.array([clip.domain == "target" for clip in self.clips], dtype=bool)

    def equal_length_batches(self, samples_per_batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, signals)`` of clips of equal length, about ``samples_per_batch`` samples a batch."""
        for length in np.unique(self.lengths):
            members = np.flatnonzero(self.lengths == length)
            per_batch = max(1, samples_per_batch // max(int(length), 1))
            for start in range(0, len(members), per_batch):
                ids = members[start : start + per_batch]
                yield ids, self.read(ids)


def cached_machine_clips(
    spec: DatasetSpec, clips: Sequence[Clip], dataset_directory: Path, rule: ChannelRule = MONO
) -> MachineClips:
    """A machine type's training clips, read from (and cached as) int16 waveforms."""
    return machine_clips_of(spec.machine, clips, load_machine_training_waveforms(spec, clips, dataset_directory, rule))


def machine_clips_of(machine: str, clips: Sequence[Clip], waves: Waveforms) -> MachineClips:
    """``clips``, whose samples ``waves`` holds in the same order."""
    return MachineClips(
        machine,
        list(clips),
        waves.rows_per_clip(),
        waves.sample_rate,
        lambda ids: np.stack([waves.clip(int(i)) for i in ids]),
    )


def machine_clips_from_files(machine: str, clips: Sequence[Clip], rule: ChannelRule = MONO) -> MachineClips:
    """Clips read from their files only when a batch needs them (test clips: read once per test run)."""
    paths = [clip.path for clip in clips]
    lengths, sample_rate = _clip_lengths(paths)

    def read(ids: np.ndarray) -> np.ndarray:
        signals, _ = read_waveforms([paths[int(i)] for i in ids], rule)
        return np.stack(signals)

    return MachineClips(machine, list(clips), lengths, sample_rate, read)
