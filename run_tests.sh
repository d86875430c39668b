#!/usr/bin/env bash
# Set up .venv (once) and run the test suite: bash run_tests.sh [pytest arguments]
# The tests run in TEST_WORKERS processes (default 2, pytest-xdist; 0: in this process): each test and the programs
# it starts use one thread, so two cores run two test files at once. A file's tests stay in one process, so that
# its module fixtures (a whole workflow run, a Slurm cluster) are built once.
set -euo pipefail
cd "$(dirname "$0")"
source tools/python_env.sh
ensure_venv requirements-dev.txt
"$PYTHON" -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
