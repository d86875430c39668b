"""Run a command in a fresh process and measure it: wall time and the peak resident memory of its largest process
(tools/benchmark.py and tools/benchmark_monitor.py both time their commands with it)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

# Runs a command and prints its peak resident memory in KiB. The command is started from this small process:
# a child forked straight from the benchmark would count the benchmark's own memory (copied at fork) as its peak.
PEAK_MEMORY_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(f"PEAK_RSS_KIB={usage.ru_maxrss}", flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured_run(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    log_path: Path,
    what: str,
) -> tuple[float, str, float]:
    """Run ``command`` (wrapped in PEAK_MEMORY_WRAPPER) with its output in ``log_path``: wall seconds, the output,
    the peak resident memory in MiB (NaN if the wrapper did not report it). RuntimeError naming ``what`` on failure."""
    started = time.perf_counter()
    with log_path.open("w") as log:
        status = subprocess.run(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
    output = log_path.read_text()
    if status != 0:
        raise RuntimeError(f"{what} failed:\n{output[-2000:]}")
    peak = re.search(r"PEAK_RSS_KIB=(\d+)", output)
    return seconds, output, int(peak.group(1)) / 1024 if peak else float("nan")
