"""Synthetic data in the DCASE2020, 2021 and 2022 Task 2 layouts, so the legacy workflow runs without downloads.

The clips come from ``generate_dataset`` (one call per section index, each with its own seed, into a
temporary folder) and are renamed and moved into the legacy trees::

    2020  raw/<machine>/train/normal_id_00_00000000.wav           machine ids, one domain, no attributes
          raw/<machine>/test/{normal,anomaly}_id_00_00000000.wav
    2021  raw/<machine>/train/section_00_{source,target}_train_normal_0000.wav
          raw/<machine>/{source,target}_test/section_00_<domain>_test_{normal,anomaly}_0000.wav
    2022  raw/<machine>/train/section_00_<domain>_train_normal_0000_<attributes>.wav
          raw/<machine>/test/section_00_<domain>_test_{normal,anomaly}_0000_<attributes>.wav

with the sections (machine ids) of ``datasets/machine_types.yaml``: 00-02 in dev and 03-05 in eval for
2021 and 2022, the published machine ids for 2020. In eval, the test clips get anonymous names
(``id_01_00000000.wav``, ``<domain>_test/section_03_<domain>_test_0000.wav``, ``section_03_0000.wav``) and
their labelled names go to ``<root>/<dataset lower>/eval_data/eval_data_list_<year>.synthetic.csv`` in the
organisers' published format, for ``python -m datasets.eval_labels DCASE2021T2 --list_file ...``.

    python -m datasets.synthetic.legacy --year 2021 --split dev --machines fan --n_train_source 20
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets.eval_labels import LabelEntry, parse_label_list
from datasets.registry import machine_types, resolve_dataset
from datasets.synthetic import sizes
from datasets.synthetic.generator import generate_dataset
from errors import ASDError, ConfigError, DataError
from safe_io import atomic_write_text, csv_text, install_folder, staging_folder

YEARS = (2020, 2021, 2022)
MARKER = ".synthetic_legacy.json"
_GENERATED_NAME = re.compile(r"^section_\d+_(source|target)_(train|test)_(normal|anomaly)_(\d+)(?:_(.*))?\.wav$")


@dataclass(frozen=True)
class GeneratedClip:
    """A clip written by ``generate_dataset``, with what its name says."""

    path: Path
    domain: str
    folder: str  # "train" or "test"
    label: str  # "normal" or "anomaly"
    number: int
    attributes: str  # "" when none

    @classmethod
    def parse(cls, path: Path) -> GeneratedClip:
        match = _GENERATED_NAME.match(path.name)
        if match is None:
            raise DataError(f"unexpected file name from the synthetic generator: {path.name}")
        domain, folder, label, number, attributes = match.groups()
        return cls(path, domain, folder, label, int(number), attributes or "")


@dataclass(frozen=True)
class Placement:
    """Where one clip goes in the legacy tree, and its labelled name when it is written anonymously."""

    clip: GeneratedClip
    folder: str  # sub-folder of <machine>/
    name: str  # name on disk
    labelled_name: str | None = None  # eval test clips only


# ---------------------------------------------------------------------------------------------------------
# Names of each year (pure functions)


def labelled_name(year: int, section: str, clip: GeneratedClip, number: int) -> str:
    """The name a labelled clip has in ``year``'s data."""
    if year == 2020:
        return f"{clip.label}_id_{section}_{number:08d}.wav"
    base = f"section_{section}_{clip.domain}_{clip.folder}_{clip.label}_{number:04d}"
    if year == 2022 and clip.attributes:
        base += f"_{clip.attributes}"
    return base + ".wav"


def anonymous_name(year: int, section: str, domain: str, index: int) -> str:
    """The name an evaluation test clip is published under in ``year``'s data."""
    if year == 2020:
        return f"id_{section}_{index:08d}.wav"
    if year == 2021:
        return f"section_{section}_{domain}_test_{index:04d}.wav"
    return f"section_{section}_{index:04d}.wav"


def test_folder(year: int, domain: str) -> str:
    """2021 keeps its test clips in ``source_test/`` and ``target_test/``; the other years in ``test/``."""
    return f"{domain}_test" if year == 2021 else "test"


def place_section(
    year: int, section: str, clips: Sequence[GeneratedClip], split: str, rng: np.random.Generator
) -> list[Placement]:
    """Where every clip of one section goes; eval test clips get anonymous names in a shuffled order."""
    if year == 2020:  # one domain only
        clips = [clip for clip in clips if clip.domain == "source"]
    placements = [
        Placement(clip, "train", labelled_name(year, section, clip, clip.number))
        for clip in clips
        if clip.folder == "train"
    ]
    test = [clip for clip in clips if clip.folder == "test"]
    if split == "dev":
        placements += [
            Placement(clip, test_folder(year, clip.domain), labelled_name(year, section, clip, clip.number))
            for clip in test
        ]
        return placements
    # 2021 numbers each domain folder on its own; 2020 and 2022 number the whole section
    groups = (
        [[clip for clip in test if clip.domain == domain] for domain in ("source", "target")]
        if year == 2021
        else [test]
    )
    for group in groups:
        for index, position in enumerate(rng.permutation(len(group))):
            clip = group[position]
            placements.append(
                Placement(
                    clip,
                    test_folder(year, clip.domain),
                    anonymous_name(year, section, clip.domain, index),
                    labelled_name(year, section, clip, index),
                )
            )
    return placements


def section_seed(seed: int, year: int, split: str, index: int) -> int:
    """The generator's seed for section ``index``: distinct per year, split and section, same for same inputs."""
    return int(np.random.SeedSequence([seed, year, 1 if split == "eval" else 0, index]).generate_state(1)[0])


def label_list_text(entries: dict[str, list[LabelEntry]], year: int) -> str:
    """The organisers' list format: a machine type line, then ``anonymous,labelled[,0|1]`` (2020 adds it)."""
    rows: list[list[str]] = []
    for machine, clips in entries.items():
        rows.append([machine])
        for entry in clips:
            row = [entry.anonymous, entry.labelled]
            if year == 2020:
                row.append("1" if entry.labelled.startswith("anomaly_") else "0")
            rows.append(row)
    return csv_text(rows)


def label_list_path(root: Path, year: int) -> Path:
    return Path(root) / f"dcase{year}t2" / "eval_data" / f"eval_data_list_{year}.synthetic.csv"


# ---------------------------------------------------------------------------------------------------------
# Generation


@dataclass
class LegacySummary:
    """What one call wrote."""

    family: str
    split: str
    n_clips: int
    seconds: float
    paths: list[Path] = field(default_factory=list)  # machine folders written by this call
    kept: list[Path] = field(default_factory=list)  # complete folders that were already there
    label_list: Path | None = None  # eval only

    def line(self) -> str:
        kept = f", kept {len(self.kept)} existing machine folder(s)" if self.kept else ""
        labels = f"; labels list -> {self.label_list}" if self.label_list else ""
        return (
            f"synthetic {self.family} {self.split} data: {self.n_clips} clips in {self.seconds:.1f} s for "
            f"{len(self.paths)} machine type(s){kept}{labels}"
        )


def _settings(year: int, split: str, machine: str, sections: Sequence[str], options: dict) -> dict:
    return {"year": year, "split": split, "machine": machine, "sections": list(sections), **options}


def _existing_is_kept(folder: Path, wanted: dict) -> bool:
    """True when ``folder`` holds this data already; raises when it holds something else."""
    marker = folder / MARKER
    if not marker.is_file():
        raise DataError(f"{folder} exists and is not synthetic legacy data; remove it or pass --overwrite")
    recorded = json.loads(marker.read_text(encoding="utf-8"))
    if recorded != wanted:
        differing = ", ".join(
            f"{key}={recorded.get(key)!r} (wanted {value!r})"
            for key, value in wanted.items()
            if recorded.get(key) != value
        )
        raise DataError(
            f"{folder} holds synthetic data made with other settings: {differing}; pass --overwrite to regenerate it"
        )
    return True


def _update_label_list(
    path: Path, year: int, machines: Sequence[str], new_entries: dict[str, list[LabelEntry]]
) -> None:
    """Replace the entries of the machine types written now, keep the others, in registry order."""
    entries = parse_label_list(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    entries.update(new_entries)
    ordered = {machine: entries[machine] for machine in machines if machine in entries}
    ordered.update({machine: clips for machine, clips in entries.items() if machine not in ordered})
    atomic_write_text(path, label_list_text(ordered, year))


def generate_legacy_dataset(
    root: Path,
    year: int,
    split: str = "dev",
    machines: Sequence[str] | None = None,
    *,
    n_train_source: int = sizes.N_TRAIN_SOURCE,
    n_train_target: int = sizes.N_TRAIN_TARGET,
    n_test_per_group: int = sizes.N_TEST_PER_GROUP,
    duration: float = sizes.DURATION_S,
    sample_rate: int = sizes.SAMPLE_RATE,
    seed: int = sizes.SEED,
    workers: int | None = None,
    overwrite: bool = False,
) -> LegacySummary:
    """Write (or keep) ``<root>/dcase<year>t2/<split>_data/raw/<machine>/`` for every machine type.

    Per section: ``n_train_source`` (+ ``n_train_target``, not in 2020) training clips and
    ``n_test_per_group`` test clips per (domain, normal/anomaly) group (source groups only in 2020).
    """
    if year not in YEARS:
        raise ConfigError(f"synthetic legacy data: year {year} is not one of {', '.join(map(str, YEARS))}")
    if split not in ("dev", "eval"):
        raise ConfigError(f"synthetic legacy data: split {split!r} is not valid; use dev or eval")
    family = f"DCASE{year}T2"
    valid = machine_types(family, split)
    machines = list(dict.fromkeys(machines or valid))
    unknown = [machine for machine in machines if machine not in valid]
    if unknown:
        raise ConfigError(
            f"synthetic legacy data: {', '.join(unknown)} not a {family} {split} machine type; "
            f"valid: {', '.join(valid)}"
        )
    if n_train_source <= 0:
        raise ConfigError("synthetic legacy data: n_train_source must be positive (2020 has no target clips)")
    if year == 2020:
        n_train_target = 0
    options = {
        "n_train_source": n_train_source,
        "n_train_target": n_train_target,
        "n_test_per_group": n_test_per_group,
        "duration": duration,
        "sample_rate": sample_rate,
        "seed": seed,
    }
    data_dir = Path(root) / family.lower() / f"{split}_data"
    raw_dir = data_dir / "raw"
    sections = {machine: resolve_dataset(family + machine, split).sections for machine in machines}
    started = time.perf_counter()

    pending, kept = [], []
    for machine in machines:
        destination = raw_dir / machine
        wanted = _settings(year, split, machine, sections[machine], options)
        if destination.exists() and not overwrite and _existing_is_kept(destination, wanted):
            kept.append(destination)
        else:
            pending.append(machine)

    written: list[Path] = []
    new_entries: dict[str, list[LabelEntry]] = {}
    n_clips = 0
    if pending:
        raw_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".legacy-synthesis-", dir=data_dir))
        try:
            placements: dict[str, list[Placement]] = {machine: [] for machine in pending}
            for index in range(max(len(sections[machine]) for machine in pending)):
                group = [machine for machine in pending if index < len(sections[machine])]
                generated = work / f"section{index}"
                generate_dataset(
                    generated,
                    group,
                    dataset=family,
                    split="dev",
                    n_train_source=n_train_source,
                    n_train_target=n_train_target,
                    n_test_per_group=n_test_per_group,
                    duration=duration,
                    sample_rate=sample_rate,
                    seed=section_seed(seed, year, split, index),
                    workers=workers,
                )
                for machine in group:
                    section = sections[machine][index]
                    folder = generated / family.lower() / "dev_data" / "raw" / machine
                    clips = [GeneratedClip.parse(path) for path in sorted(folder.glob("*/*.wav"))]
                    rng = np.random.default_rng([seed, year, index, zlib.crc32(machine.encode())])
                    placements[machine] += place_section(year, section, clips, split, rng)
            for machine in pending:
                with staging_folder(raw_dir, f".{machine}.legacy-partial-") as staging:
                    for placement in placements[machine]:
                        (staging / placement.folder).mkdir(exist_ok=True)
                        os.rename(placement.clip.path, staging / placement.folder / placement.name)
                    wanted = _settings(year, split, machine, sections[machine], options)
                    (staging / MARKER).write_text(json.dumps(wanted, indent=1), encoding="utf-8")
                    install_folder(staging, raw_dir / machine, replace=True)
                written.append(raw_dir / machine)
                n_clips += len(placements[machine])
                if split == "eval":
                    new_entries[machine] = [
                        LabelEntry(placement.name, placement.labelled_name)
                        for placement in placements[machine]
                        if placement.labelled_name
                    ]
        finally:
            shutil.rmtree(work, ignore_errors=True)
    label_list = None
    if split == "eval":
        label_list = label_list_path(root, year)
        if new_entries or not label_list.is_file():
            _update_label_list(label_list, year, valid, new_entries)
    return LegacySummary(family, split, n_clips, time.perf_counter() - started, written, kept, label_list)


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.synthetic.legacy",
        description="Write synthetic machine sounds in the DCASE2020/2021/2022 Task 2 folder layouts "
        "(<root>/dcase<year>t2/<split>_data/raw/<machine>/...), every section or machine id.",
    )
    parser.add_argument("--year", type=int, choices=YEARS, required=True, help="dataset year")
    parser.add_argument(
        "--split",
        choices=("dev", "eval"),
        default="dev",
        help="dev: labelled test clips; eval: anonymous test clips plus a labels list",
    )
    parser.add_argument("--root", type=Path, default=Path("data"), help="dataset_directory (default: data)")
    parser.add_argument(
        "--machines", nargs="+", default=None, help="machine types (default: every one of the year's split)"
    )
    sizes.add_size_arguments(parser, per="section", target_note=" (2021, 2022)")
    parser.add_argument("--overwrite", action="store_true", help="regenerate machine folders that exist")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        summary = generate_legacy_dataset(
            args.root,
            args.year,
            args.split,
            args.machines,
            n_train_source=args.n_train_source,
            n_train_target=args.n_train_target,
            n_test_per_group=args.n_test_per_group,
            duration=args.duration,
            sample_rate=args.sample_rate,
            seed=args.seed,
            workers=args.workers,
            overwrite=args.overwrite,
        )
    except ASDError as error:
        parser.exit(2, f"error: {error}\n")
    print(summary.line())


if __name__ == "__main__":
    main()
