"""What the Slurm launcher submits and how it reads back what happened, as pure functions.

A stage is a task file (one line per run: name, log, shell-quoted ``train.py`` command, tab-separated, written by
``tools/run_stage.sh``) and one job array over its lines: task ``i`` runs line ``i`` through
``tools/slurm_task.sh``, which writes the command's output to the run's log and then its exit status to
``<log folder>/slurm/<log stem>.exit`` (atomically). Those exit files, not ``sacct``, say how a task ended: they
need no accounting database (``sacct`` needs slurmdbd, which many small clusters and the test cluster lack) and
they outlive the scheduler's memory of finished jobs. A task without one was cancelled, timed out or lost its
node; ``scontrol show job`` names which while Slurm still remembers the job.
"""

from __future__ import annotations

import re
import shlex
from argparse import Namespace
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from errors import ConfigError

TASK_SCRIPT = Path("tools/slurm_task.sh")
EXIT_FOLDER = "slurm"


@dataclass(frozen=True)
class Task:
    """One run of a stage: line ``index`` of the task file."""

    index: int
    name: str
    log: Path
    command: str  # shell-quoted, as the local launcher runs it

    @property
    def exit_file(self) -> Path:
        return self.log.parent / EXIT_FOLDER / f"{self.log.stem}.exit"

    @property
    def train_arguments(self) -> list[str]:
        """The ``train.py`` arguments of the command (what follows ``<python> train.py``)."""
        words = shlex.split(self.command)
        return words[words.index("train.py") + 1 :]


def read_tasks(path: Path) -> list[Task]:
    """The tasks of a task file, in order."""
    tasks = []
    for index, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        name, log, command = line.split("\t", 2)
        tasks.append(Task(index, name, Path(log), command))
    return tasks


def array_spec(indexes: Iterable[int]) -> str:
    """``sbatch --array`` spelling of task indexes: [0, 1, 2, 5, 7, 8] -> ``0-2,5,7-8``."""
    ordered = sorted(set(indexes))
    if not ordered:
        raise ValueError("a job array needs at least one task")
    parts, start = [], ordered[0]
    for previous, current in zip(ordered, [*ordered[1:], None], strict=True):
        if current != previous + 1:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = current
    return ",".join(parts)


def expand_array_spec(spec: str) -> list[int]:
    """The task indexes of an array spelling as squeue / scontrol print it (``0-6:2%3``, ``1,3``)."""
    indexes: list[int] = []
    for part in spec.split("%", 1)[0].strip("[]").split(","):
        bounds, _, step = part.partition(":")
        first, _, last = bounds.partition("-")
        indexes += range(int(first), int(last or first) + 1, int(step or 1))
    return indexes


@dataclass(frozen=True)
class SlurmSettings:
    """The per-cluster sbatch options (``--slurm_*`` in a yaml file or on the command line)."""

    partition: str = ""
    time: str = ""
    cpus_per_task: int = 0
    mem: str = ""
    gres: str = ""
    account: str = ""
    options: tuple[str, ...] = ()
    wait: bool = True

    @classmethod
    def from_config(cls, config: Namespace) -> SlurmSettings:
        try:
            extra = tuple(shlex.split(config.slurm_options))
        except ValueError as error:
            raise ConfigError(f"--slurm_options {config.slurm_options!r} does not parse ({error})") from error
        if config.slurm_cpus_per_task < 0:
            raise ConfigError(f"--slurm_cpus_per_task must be 0 (not given) or more, got {config.slurm_cpus_per_task}")
        return cls(
            config.slurm_partition,
            config.slurm_time,
            config.slurm_cpus_per_task,
            config.slurm_mem,
            config.slurm_gres,
            config.slurm_account,
            extra,
            config.slurm_wait,
        )

    def sbatch_options(self) -> list[str]:
        given = {
            "--partition": self.partition,
            "--time": self.time,
            "--mem": self.mem,
            "--gres": self.gres,
            "--account": self.account,
            "--cpus-per-task": str(self.cpus_per_task) if self.cpus_per_task else "",
        }
        return [f"{flag}={value}" for flag, value in given.items() if value] + list(self.options)


def sbatch_command(
    settings: SlurmSettings,
    job_name: str,
    indexes: Iterable[int],
    tasks_file: Path,
    output: Path,
    after: Sequence[str] = (),
) -> list[str]:
    """The sbatch line of one job array over ``indexes`` of ``tasks_file``; ``after``: job ids every task waits
    for (``afterok``; a task whose dependency failed is cancelled instead of pending forever)."""
    command = [
        "sbatch",
        "--parsable",
        f"--job-name={job_name}",
        f"--array={array_spec(indexes)}",
        f"--output={output}",
        *settings.sbatch_options(),
    ]
    if after:
        command += [f"--dependency=afterok:{':'.join(after)}", "--kill-on-invalid-dep=yes"]
    return [*command, str(TASK_SCRIPT), str(tasks_file)]


def parse_job_id(sbatch_output: str) -> str:
    """The job id ``sbatch --parsable`` printed (``1234`` or ``1234;cluster``)."""
    text = sbatch_output.strip().splitlines()[-1] if sbatch_output.strip() else ""
    job_id = text.split(";", 1)[0]
    if not job_id.isdigit():
        raise ValueError(f"sbatch printed no job id: {sbatch_output.strip()!r}")
    return job_id


def parse_task_states(scontrol_output: str) -> dict[int, str]:
    """Task index -> state from ``scontrol -o show job <array job id>`` (one record per line)."""
    states: dict[int, str] = {}
    for record in scontrol_output.splitlines():
        task = re.search(r"\bArrayTaskId=(\S+)", record)
        state = re.search(r"\bJobState=(\S+)", record)
        if task and state:
            for index in expand_array_spec(task.group(1)):
                states[index] = state.group(1)
    return states


def failure_of(task: Task, state: str | None) -> str | None:
    """None when the task finished with exit status 0; else what went wrong, in a few words."""
    try:
        status = task.exit_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return f"{state or 'ended'} without an exit status"
    if status == "0":
        return None
    return f"exit status {status}"


def end_line(
    script: str, stage: str, what: str, family: str, split: str, log_dir: Path, failures: dict[str, str | None]
) -> tuple[str, bool]:
    """The stage's last line (the local launcher's wording) and whether every task finished."""
    failed = [
        name if reason and reason.startswith("exit status") else f"{name} ({reason})"
        for name, reason in failures.items()
        if reason
    ]
    n_done = len(failures) - len(failed)
    if failed:
        return (
            f"{script}: {stage} finished for {n_done} of {len(failures)} {what}; FAILED: {' '.join(failed)} "
            f"(see {log_dir}/)",
            False,
        )
    return f"{script}: {stage} finished for all {n_done} {what} of {family} ({split}); logs in {log_dir}/", True
