#!/usr/bin/env bash
# Download, verify and unpack the DCASE2025T2 evaluation test archives into data/dcase2025t2/eval_data/raw/.
# Options: --dataset_directory DIR, --machines M [M ...], --no-verify (unsafe); see datasets/download.py.
source "$(dirname "$0")/tools/python_env.sh"
PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m datasets.download DCASE2025T2 eval "$@"
