"""Write synthetic machine sounds in the DCASE2024/2023 Task 2 folder layout.

Each machine type's tree is built in a hidden temporary folder beside its final place and renamed into
place only when every clip and CSV is written, so an interrupted run never leaves a tree that looks
complete. A tree this generator wrote carries ``.synthetic.json`` with the settings it was made with.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from datasets.synthetic import sizes
from datasets.synthetic.catalog import DEV_MACHINES_2024, hides_attributes
from datasets.synthetic.layouts import has_supplemental, is_stereo
from datasets.synthetic.plan import (
    ClipPlan,
    attributes_rows,
    correspondence_rows,
    ground_truth_rows,
    plan_machine,
    plan_supplemental,
)
from datasets.synthetic.worker import ClipJob, write_clip
from errors import ConfigError, DataError
from progress import progress_bar
from safe_io import install_folder, remove_dead_process_folders, write_csv

GENERATOR_VERSION = 3
MARKER = ".synthetic.json"
SPLITS = ("dev", "eval")
_DATASET_PATTERN = re.compile(r"^DCASE20\d\dT2$")
_MACHINE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass
class GenerationSummary:
    """What one call wrote: clip count, wall time, speed and the machine folders."""

    n_clips: int
    seconds: float
    clips_per_second: float
    paths: list[Path] = field(default_factory=list)  # machine folders written by this call
    kept: list[Path] = field(default_factory=list)  # complete folders that were already there

    def line(self) -> str:
        kept = f", kept {len(self.kept)} existing machine folder(s)" if self.kept else ""
        return (
            f"synthetic data: {self.n_clips} clips in {self.seconds:.1f} s "
            f"({self.clips_per_second:.1f} clips/s) for {len(self.paths)} machine type(s){kept}"
        )


def generate_dataset(
    root: Path,
    machines: Sequence[str] = DEV_MACHINES_2024,
    *,
    dataset: str = "DCASE2024T2",
    split: str = "dev",
    n_train_source: int = sizes.N_TRAIN_SOURCE,
    n_train_target: int = sizes.N_TRAIN_TARGET,
    n_test_per_group: int = sizes.N_TEST_PER_GROUP,
    duration: float = sizes.DURATION_S,
    sample_rate: int = sizes.SAMPLE_RATE,
    seed: int = sizes.SEED,
    workers: int | None = None,
    overwrite: bool = False,
    n_supplemental: int = 5,
) -> GenerationSummary:
    """Generate (or keep) every machine type's tree under ``<root>/<dataset lower>/<split>_data/raw/``.

    DCASE2025 evaluation folders also get ``supplemental/`` with ``n_supplemental`` clips of the machine
    alone and as many of the background alone; DCASE2026 clips are stereo (``datasets.synthetic.layouts``)."""
    machines = list(machines)
    settings = {
        "generator_version": GENERATOR_VERSION,
        "dataset": dataset,
        "split": split,
        "n_train_source": n_train_source,
        "n_train_target": n_train_target,
        "n_test_per_group": n_test_per_group,
        "duration": duration,
        "sample_rate": sample_rate,
        "seed": seed,
    }
    if has_supplemental(dataset, split):  # only where it applies, so older trees' settings still match
        settings["n_supplemental"] = n_supplemental
    if is_stereo(dataset):
        settings["channels"] = 2
    _check_settings(machines, settings)
    data_dir = Path(root) / dataset.lower() / f"{split}_data"
    raw_dir = data_dir / "raw"
    started = time.perf_counter()

    pending: dict[str, list[ClipPlan]] = {}
    kept: list[Path] = []
    for machine in dict.fromkeys(machines):
        destination = raw_dir / machine
        if destination.exists() and not overwrite:
            _check_existing(destination, {**settings, "machine": machine})
            kept.append(destination)
            if split == "eval" and _is_ours(destination):
                _write_ground_truth(data_dir, machine, _plans(machine, settings))
            continue
        pending[machine] = _plans(machine, settings)

    written = _render_all(raw_dir, data_dir, pending, settings, workers)
    seconds = time.perf_counter() - started
    n_clips = sum(len(plans) for plans in pending.values())
    return GenerationSummary(n_clips, seconds, n_clips / seconds if seconds > 0 else 0.0, written, kept)


# ----------------------------------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------------------------------
def _check_settings(machines: list[str], settings: dict) -> None:
    if not _DATASET_PATTERN.match(settings["dataset"]):
        raise ConfigError(
            f"synthetic data: dataset {settings['dataset']!r} is not a DCASE Task 2 family name; "
            "use DCASE2024T2 or DCASE2023T2"
        )
    if settings["split"] not in SPLITS:
        raise ConfigError(f"synthetic data: split {settings['split']!r} is not valid; use dev or eval")
    if not machines:
        raise ConfigError("synthetic data: no machine types given; name at least one (e.g. fan)")
    for machine in machines:
        if not _MACHINE_PATTERN.match(machine):
            raise ConfigError(
                f"synthetic data: machine type {machine!r} is not a valid folder name; use letters, digits, '-' and '_'"
            )
    for key in ("n_train_source", "n_train_target", "n_test_per_group", "n_supplemental"):
        if not 0 <= settings.get(key, 0) <= 9999:
            raise ConfigError(f"synthetic data: {key}={settings[key]} must be between 0 and 9999")
    if settings["n_train_source"] + settings["n_train_target"] == 0:
        raise ConfigError(
            "synthetic data: n_train_source and n_train_target are both 0; a machine type needs training clips"
        )
    if not settings["duration"] > 0.0:
        raise ConfigError(f"synthetic data: duration={settings['duration']} must be positive (seconds)")
    if settings["sample_rate"] < 8000:
        raise ConfigError(f"synthetic data: sample_rate={settings['sample_rate']} is too low; use >= 8000")


def _is_ours(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _check_existing(folder: Path, wanted: dict) -> None:
    """An existing folder is kept if complete; raise if it cannot be trusted."""
    if _is_ours(folder):
        recorded = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if recorded != wanted:
            differing = ", ".join(
                f"{key}={recorded.get(key)!r} (wanted {value!r})"
                for key, value in wanted.items()
                if recorded.get(key) != value
            )
            raise DataError(
                f"{folder} holds synthetic data made with other settings: {differing}; "
                "pass overwrite=True (--overwrite) to regenerate it"
            )
        return
    if not any((folder / "train").glob("*.wav")) or not any((folder / "test").glob("*.wav")):
        raise DataError(
            f"{folder} exists but has no train/ and test/ WAV files; remove it or pass "
            "overwrite=True (--overwrite) to write synthetic data there"
        )


def _plans(machine: str, settings: dict) -> list[ClipPlan]:
    plans = plan_machine(
        settings["dataset"],
        settings["split"],
        machine,
        n_train_source=settings["n_train_source"],
        n_train_target=settings["n_train_target"],
        n_test_per_group=settings["n_test_per_group"],
        seed=settings["seed"],
    )
    return plans + plan_supplemental(
        settings["dataset"],
        settings["split"],
        machine,
        n_per_kind=settings.get("n_supplemental", 0),
        seed=settings["seed"],
    )


# ----------------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------------
def _render_all(
    raw_dir: Path, data_dir: Path, pending: dict[str, list[ClipPlan]], settings: dict, workers: int | None
) -> list[Path]:
    if not pending:
        return []
    raw_dir.mkdir(parents=True, exist_ok=True)
    staging: dict[str, Path] = {}
    jobs: list[ClipJob] = []
    for machine, plans in pending.items():
        _remove_stale_staging(raw_dir, machine)
        folder = raw_dir / f".{machine}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for sub_folder in ("train", "test", *sorted({plan.folder for plan in plans})):
            (folder / sub_folder).mkdir(parents=True, exist_ok=True)
        staging[machine] = folder
        jobs += [
            ClipJob(
                plan,
                str(folder / plan.relative_path),
                settings["duration"],
                settings["sample_rate"],
                is_stereo(settings["dataset"]),
            )
            for plan in plans
        ]
    remaining = {machine: len(plans) for machine, plans in pending.items()}
    written: list[Path] = []
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    progress = progress_bar(
        total=len(jobs), unit="clip", desc=f"synthesising {settings['dataset']} {settings['split']}"
    )
    try:
        for machine in _run_jobs(jobs, n_workers):
            progress.update()
            remaining[machine] -= 1
            if remaining[machine] == 0:
                written.append(_finalise(raw_dir, data_dir, machine, staging.pop(machine), pending[machine], settings))
    finally:
        progress.close()
        for folder in staging.values():
            shutil.rmtree(folder, ignore_errors=True)
    return written


def _run_jobs(jobs: list[ClipJob], n_workers: int):
    """Yield each finished job's machine name; a spawn pool keeps workers free of the parent's state."""
    if n_workers == 1:
        for job in jobs:
            yield write_clip(job)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(n_workers) as pool:
        yield from pool.imap_unordered(write_clip, jobs, chunksize=max(1, min(8, len(jobs) // (4 * n_workers))))


def _remove_stale_staging(raw_dir: Path, machine: str) -> None:
    """Delete staging (and replaced) folders of this machine left by runs whose process is gone."""
    for kind in ("partial", "old"):
        remove_dead_process_folders(raw_dir, f".{machine}.{kind}-")


# ----------------------------------------------------------------------------------------------------
# CSVs and the final rename
# ----------------------------------------------------------------------------------------------------
def _write_ground_truth(data_dir: Path, machine: str, plans: list[ClipPlan]) -> None:
    for kind, rows in ground_truth_rows(plans).items():
        folder = data_dir / "ground_truth" / kind
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(folder / f"ground_truth_{machine}_section_00_test.csv", rows)


def _finalise(
    raw_dir: Path, data_dir: Path, machine: str, staging: Path, plans: list[ClipPlan], settings: dict
) -> Path:
    hidden = hides_attributes(settings["dataset"], machine)
    write_csv(staging / "attributes_00.csv", attributes_rows(plans, machine, hidden))
    if hidden:
        write_csv(staging / "attributes_00_train_correspondence.csv", correspondence_rows(plans, "train"))
        if settings["split"] == "dev":  # evaluation test names are secret: their mapping is ground truth
            write_csv(staging / "attributes_00_test_correspondence.csv", correspondence_rows(plans, "test"))
    (staging / MARKER).write_text(json.dumps({**settings, "machine": machine}, indent=1), encoding="utf-8")
    if settings["split"] == "eval":
        _write_ground_truth(data_dir, machine, plans)
    destination = raw_dir / machine
    # an existing tree is only reached with overwrite: it is moved aside, then dropped
    install_folder(staging, destination, replace=True, aside_prefix=f".{machine}.old-{os.getpid()}-")
    return destination
