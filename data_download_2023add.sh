#!/usr/bin/env bash
# Download, verify and unpack the DCASE2023T2 additional training archives into data/dcase2023t2/eval_data/raw/.
# Options: --dataset_directory DIR, --machines M [M ...], --no-verify (unsafe); see datasets/download.py.
root="$(cd "$(dirname "$0")" && pwd)"; venv_python="$root/.venv/bin/python"; [ -x "$venv_python" ] || venv_python=python3
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-$venv_python}" -m datasets.download DCASE2023T2 add "$@"
