#!/usr/bin/env bash
# Set up .venv (once) and run the test suite: bash run_tests.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")"
source tools/python_env.sh
ensure_venv requirements-dev.txt
"$PYTHON" -m pytest "$@"
