"""A stage on Slurm: submit its task file as job arrays, wait for them, and end with the local launcher's line.

Each submission is recorded in ``<log folder>/slurm/<stage>_<export_dir>.json`` (job ids, task file, what the end
line needs): a test stage submitted while the training arrays of the same export folder are still queued waits
for them (``--dependency=afterok``), and ``03_summarize_results.sh --wait`` waits for the recorded arrays of the
folders it summarises.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import common
from engine.launch.slurm import (
    EXIT_FOLDER,
    SlurmSettings,
    Task,
    end_line,
    failure_of,
    parse_job_id,
    parse_task_states,
    read_tasks,
    sbatch_command,
)
from errors import ConfigError, DataError
from safe_io import atomic_write_text

STAGES = ("train", "test-first", "test-second")  # tools/run_stage.sh's
MAX_POLL_S = 10.0  # squeue is asked every second at first, then less often (it loads the controller)


@dataclass(frozen=True)
class StageRecord:
    """One submitted stage: its arrays and what its end line says."""

    jobs: list[str]
    tasks_file: str
    script: str
    stage: str
    what: str
    family: str
    split: str

    @property
    def tasks(self) -> list[Task]:
        return read_tasks(Path(self.tasks_file))

    @property
    def log_dir(self) -> Path:
        return Path(self.tasks_file).parent.parent


def record_path(log_dir: Path, stage: str, export_dir: str) -> Path:
    return Path(log_dir) / EXIT_FOLDER / f"{stage}_{export_dir}.json"


def read_record(path: Path) -> StageRecord | None:
    try:
        return StageRecord(**json.loads(Path(path).read_text(encoding="utf-8")))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def slurm(command: Sequence[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run a Slurm client command; a missing client or a refused command is a one-line error."""
    try:
        result = subprocess.run(list(command), capture_output=True, text=True)
    except FileNotFoundError as error:
        raise ConfigError(
            f"{command[0]} not found: --launcher slurm runs on a Slurm login node (install the Slurm "
            "client, or use --launcher local)"
        ) from error
    if check and result.returncode != 0:
        raise DataError(f"{shlex.join(command)} failed: {(result.stderr or result.stdout).strip()}")
    return result


def queued_jobs(jobs: Sequence[str]) -> set[str]:
    """The jobs of ``jobs`` with tasks still pending, running or completing."""
    if not jobs:
        return set()
    result = slurm(["squeue", "--noheader", "--format=%F", f"--jobs={','.join(jobs)}"], check=False)
    if result.returncode != 0 and "Invalid job id" not in result.stderr:
        raise DataError(f"squeue failed: {result.stderr.strip()}")
    return {line.strip() for line in result.stdout.splitlines() if line.strip() in jobs}


def family_first_tasks(tasks: Sequence[Task]) -> list[int]:
    """The first task of every family model (one per export folder, tag and seed): it trains the model."""
    firsts: dict[tuple[str, str, int], int] = {}
    for task in tasks:
        config = common.parse_config(task.train_arguments)
        firsts.setdefault((config.export_dir, config.model_name_suffix, config.seed), task.index)
    return sorted(firsts.values())


def _submit_array(settings: SlurmSettings, record: StageRecord, indexes: Sequence[int], after: Sequence[str]) -> str:
    output = record.log_dir / EXIT_FOLDER / f"{record.stage}_%A_%a.out"
    command = sbatch_command(
        settings, f"{record.stage}-{record.family}-{record.split}", indexes, Path(record.tasks_file), output, after
    )
    print(f"$ {shlex.join(command)}")
    return parse_job_id(slurm(command).stdout)


def submit(tasks_file: Path, script: str, stage: str, what: str, family: str, split: str) -> int:
    """Submit a stage's task file; wait for it and print its end line unless ``--slurm_wait False``."""
    tasks = read_tasks(tasks_file)
    config = common.parse_config(tasks[0].train_arguments)
    settings = SlurmSettings.from_config(config)
    record = StageRecord([], str(tasks_file), script, stage, what, family, split)
    for task in tasks:
        task.exit_file.unlink(missing_ok=True)
    training = read_record(record_path(record.log_dir, "train", config.export_dir)) if stage != "train" else None
    after = sorted(queued_jobs(training.jobs)) if training else []
    if after:
        print(f"the tasks wait for the training array(s) {', '.join(after)} (afterok)")
    firsts: list[int] = []
    if stage == "train":
        from networks import registry  # imports the model's module: only where its scope matters

        if registry.get(config.model).scope == "family":
            firsts = family_first_tasks(tasks)
    if firsts:
        print("one task per family model trains it; the other machine types' tasks wait for it")
        record.jobs.append(_submit_array(settings, record, firsts, after))
    rest = [task.index for task in tasks if task.index not in firsts]
    if rest:
        record.jobs.append(_submit_array(settings, record, rest, [*after, *record.jobs]))
    path = record_path(record.log_dir, stage, config.export_dir)
    previous = read_record(path)
    if previous is not None and not queued_jobs(previous.jobs):  # its task file is no longer read
        Path(previous.tasks_file).unlink(missing_ok=True)
    atomic_write_text(path, json.dumps(asdict(record), indent=1))
    parts = [part for part in (firsts, rest) if part]
    job_of = {index: job for job, part in zip(record.jobs, parts, strict=True) for index in part}
    for task in tasks:
        print(f"== {stage} {task.name} (log: {task.log}, Slurm task {job_of[task.index]}_{task.index})")
    print(
        f"submitted {len(tasks)} task(s) as Slurm job array(s) {', '.join(record.jobs)}; watch them with "
        f"squeue --jobs={','.join(record.jobs)}"
    )
    if not settings.wait:
        print(
            f"{script}: {stage} submitted, not waited for (--slurm_wait False); "
            f"bash 03_summarize_results.sh {family} {'-e' if split == 'eval' else '-d'} --wait waits for it"
        )
        return 0
    return 0 if wait_and_report([record]) else 1


def wait_and_report(records: Sequence[StageRecord]) -> bool:
    """Wait until no task of ``records`` is queued, then print each stage's end line; True if all finished."""
    jobs = [job for record in records for job in record.jobs]
    tasks = [task for record in records for task in record.tasks]
    started, reported = time.monotonic(), None
    while True:
        queued = queued_jobs(jobs)
        finished = sum(task.exit_file.is_file() for task in tasks)
        if finished != reported:
            print(
                f"{time.strftime('%F %T')} {finished} of {len(tasks)} task(s) finished"
                + (f"; waiting for job(s) {', '.join(sorted(queued))}" if queued else ""),
                flush=True,
            )
            reported = finished
        if not queued:
            break
        time.sleep(min(MAX_POLL_S, 1.0 + (time.monotonic() - started) / 10))
    all_finished = True
    for record in records:
        states: dict[int, str] = {}
        for job in record.jobs:
            states.update(parse_task_states(slurm(["scontrol", "--oneliner", "show", "job", job], check=False).stdout))
        failures = {task.name: failure_of(task, states.get(task.index)) for task in record.tasks}
        line, finished_all = end_line(
            record.script, record.stage, record.what, record.family, record.split, record.log_dir, failures
        )
        print(line, file=sys.stdout if finished_all else sys.stderr, flush=True)
        all_finished &= finished_all
    return all_finished


def wait_for_stages(log_dir: Path, export_dirs: Sequence[str]) -> bool:
    """Wait for the last recorded stages of ``export_dirs`` under ``log_dir`` (those still queued), then print
    their end lines; True if none failed."""
    paths = [record_path(log_dir, stage, export_dir) for export_dir in dict.fromkeys(export_dirs) for stage in STAGES]
    records = [record for path in paths if (record := read_record(path)) is not None]
    if not records:
        print(f"no Slurm array of {', '.join(export_dirs)} recorded in {log_dir}: nothing to wait for")
        return True
    return wait_and_report(records)
