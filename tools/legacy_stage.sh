#!/usr/bin/env bash
# Shared body of tools/01_train_legacy.sh, 02a_test_legacy.sh and 02b_test_legacy.sh: checks the dataset
# argument, then runs tools/run_stage.sh, which trains or tests one model per section (DCASE2021/2022) or
# machine id (DCASE2020) of every machine type, tagged id(<n>_) like the public baseline's legacy scripts.
#   usage: legacy_stage.sh train|test-first|test-second SCRIPT_NAME DATASET -d|--dev|-e|--eval [train.py flags ...]
# DATASET: DCASE2020T2, DCASE2021T2 or DCASE2022T2 (DCASE2023T2 and DCASE2024T2 work too), or just the year.
set -uo pipefail
stage=$1 script=$2
shift 2
dataset=${1:-}

source "$(dirname "${BASH_SOURCE[0]}")/python_env.sh"
cd "$REPO_ROOT" || exit 1
choices=$(PYTHONPATH="$REPO_ROOT" "$PYTHON" -c 'from datasets.registry import families; print(*sorted(families()))') \
    || exit 1

family=$dataset
if [[ "$dataset" =~ ^20[0-9][0-9]$ ]]; then
    family="DCASE${dataset}T2"
fi
usage_text() {
    local listed=""
    for choice in $choices; do listed="${listed:+$listed | }'$choice'"; done
    echo -e "usage\t: bash tools/$script [$listed] ['-d' | '--dev' | '-e' | '--eval'] [train.py flags]"
    echo -e "example\t: bash tools/$script DCASE2020T2 -d"
}
if [ "$dataset" = "-h" ] || [ "$dataset" = "--help" ]; then
    usage_text
    exit 0
fi
if [ -z "$dataset" ] || [[ " $choices " != *" $family "* ]]; then
    echo "$script: argument error" >&2
    usage_text >&2
    echo -e "\tdataset: invalid choice '$dataset'" >&2
    exit 1
fi
shift
exec bash "$REPO_ROOT/tools/run_stage.sh" "$stage" "$family" "tools/$script $family" "$@"
