"""A real single-node Slurm cluster on localhost for the launcher's tests: munged, slurmctld and slurmd started
as daemons with a minimal slurm.conf in a temporary folder (no cgroups, no accounting database), stopped at the
end of the session. Skipped, saying why, where the Slurm packages are missing (``.ci/run`` installs them)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")
PACKAGES = "slurmctld slurmd slurm-client munge"


@dataclass(frozen=True)
class SlurmCluster:
    folder: Path
    conf: Path

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, the stage scripts) needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.conf)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_hardware() -> tuple[int, int]:
    """CPUs and memory (MB) of this machine, as slurmd itself reports them."""
    report = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    cpus, memory = re.search(r"\bCPUs=(\d+)", report), re.search(r"\bRealMemory=(\d+)", report)
    assert cpus and memory, f"slurmd -C printed no CPUs / RealMemory: {report!r}"
    return int(cpus.group(1)), int(memory.group(1))


def _write_conf(folder: Path) -> Path:
    cpus, memory = _node_hardware()
    settings = {
        "ClusterName": "asdtest",
        "SlurmctldHost": "localhost",
        "SlurmctldPort": _free_port(),
        "SlurmdPort": _free_port(),
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "AuthInfo": f"socket={folder / 'munge.socket'}",
        "StateSaveLocation": folder / "state",
        "SlurmdSpoolDir": folder / "spool",
        "SlurmctldPidFile": folder / "slurmctld.pid",
        "SlurmdPidFile": folder / "slurmd.pid",
        "SlurmctldLogFile": folder / "slurmctld.log",
        "SlurmdLogFile": folder / "slurmd.log",
        # no cgroups: processes tracked through /proc, no task containment
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_CPU",
        # no accounting database: the launcher reads its tasks' exit files (engine/launch/slurm.py)
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/none",
        "MpiDefault": "none",
        "SchedulerType": "sched/builtin",
        "ReturnToService": 2,
        "KillWait": 2,
        "MinJobAge": 600,
        "InactiveLimit": 0,
    }
    lines = [f"{key}={value}" for key, value in settings.items()]
    lines += [
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
    ]
    for name in ("state", "spool"):
        (folder / name).mkdir()
    conf = folder / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


def _start_daemons(folder: Path, conf: Path) -> None:
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    munge = [
        "munged",
        "--force",
        f"--socket={folder / 'munge.socket'}",
        f"--key-file={key}",
        f"--pid-file={folder / 'munged.pid'}",
        f"--log-file={folder / 'munged.log'}",
        f"--seed-file={folder / 'munged.seed'}",
    ]
    for command in (munge, ["slurmctld", "-f", str(conf)], ["slurmd", "-f", str(conf), "-N", "localhost"]):
        subprocess.run(command, check=True, capture_output=True, timeout=60)


def _wait_until_idle(cluster: SlurmCluster) -> None:
    env = {**os.environ, **cluster.env}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "--noheader", "--format=%T"], env=env, capture_output=True, text=True)
        if state.stdout.strip() == "idle":
            return
        time.sleep(0.2)
    logs = "".join(
        (cluster.folder / name).read_text()[-1500:]
        for name in ("slurmctld.log", "slurmd.log")
        if (cluster.folder / name).is_file()
    )
    raise AssertionError(f"the test cluster's node never became idle:\n{logs}")


def _stop_daemons(folder: Path) -> None:
    for name in ("slurmd.pid", "slurmctld.pid", "munged.pid"):
        pid_file = folder / name
        if not pid_file.is_file():
            continue
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.1)


def _running(pid: int) -> bool:
    """Whether the process runs (a daemon's zombie, left to an init that does not reap, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(errors="replace")
    except FileNotFoundError:
        return False
    return "(zombie)" not in status


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    missing = [program for program in PROGRAMS if shutil.which(program) is None]
    if missing:
        pytest.skip(
            f"no Slurm on this machine ({', '.join(missing)} not found): install the Debian packages "
            f"{PACKAGES} (.ci/run does, as root) to run the Slurm launcher's tests"
        )
    if os.geteuid() != 0:
        pytest.skip("the test cluster's daemons (slurmd, slurmctld as SlurmUser root) need root")
    folder = tmp_path_factory.mktemp("slurm")
    cluster = SlurmCluster(folder, _write_conf(folder))
    try:
        _start_daemons(folder, cluster.conf)
        _wait_until_idle(cluster)
        yield cluster
    finally:
        _stop_daemons(folder)
