#!/usr/bin/env bash
# Summarise the test results of the baseline's systems, as the public baseline's own summary does:
#   bash 03_summarize_results.sh DCASE2024T2|DCASE2023T2|DCASE2022T2|DCASE2021T2|DCASE2020T2 -d|-e [--result_directory DIR] [--export_dir NAME ...]
# Reads results/<dev|eval>_data/baseline_MAHALA and baseline_MSE, writes <DATASET>_auc_pauc.csv and
# <DATASET>_auc_pauc_extract.csv under results/<dev|eval>_data/baseline/summarize/<DATASET>/ and prints the
# compact table. --seeds S1 S2 ... summarises a seed sweep (the stage scripts' --seeds: mean and standard deviation
# over the seeds); --wait first waits for the stage scripts' Slurm job arrays (--launcher slurm --slurm_wait False).
# More options: bash 03_summarize_results.sh --help (tools/summarize.py).
source "$(dirname "$0")/tools/python_env.sh"
require_python requirements.txt || exit 1
cd "$REPO_ROOT" || exit 1
SUMMARY_PROG="$(basename "$0")" PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m tools.summarize "$@"
