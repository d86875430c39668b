"""Is this Python one the scripts can run on? Standard library only: it runs before anything is installed.

    python tools/check_environment.py REQUIREMENTS_FILE

Exit 0 when the interpreter is new enough (``datetime.UTC`` needs 3.11) and every package of the file is
installed; otherwise one line on stderr naming what is missing and how to get it, and exit 1.
"""

import re
import sys
from importlib import metadata
from pathlib import Path

MINIMUM_PYTHON = (3, 11)


def missing_packages(requirements: Path) -> list:
    """The distribution names of ``requirements`` (``-r`` includes followed) that are not installed."""
    missing = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r"):
            missing += missing_packages(requirements.parent / line[2:].strip())
            continue
        name = re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]
        if not name:
            continue
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def problem(requirements: Path) -> str:
    """What keeps this interpreter from running the scripts, as one sentence; empty when nothing does."""
    if sys.version_info < MINIMUM_PYTHON:
        return (
            f"{sys.executable} is Python {sys.version.split()[0]}; the scripts need Python "
            f"{'.'.join(map(str, MINIMUM_PYTHON))} or newer: set PYTHON=/path/to/python3.11 (or newer)"
        )
    missing = missing_packages(requirements)
    if missing:
        return (
            f"{sys.executable} lacks {', '.join(missing)} (from {requirements.name}): run 'bash demo.sh' once "
            f"(it creates .venv), or '{sys.executable} -m pip install -r {requirements}', or set PYTHON="
            "to an interpreter that has them"
        )
    return ""


if __name__ == "__main__":
    message = problem(Path(sys.argv[1]))
    if message:
        print(f"error: {message}", file=sys.stderr)
    sys.exit(1 if message else 0)
