#!/usr/bin/env bash
# Shared body of 01_train_*, 02a_test_* and 02b_test_*: runs train.py for every machine type of a dataset
# family, logs each machine type to its own file, and ends with a one-line summary.
#   usage: run_stage.sh train|test-first|test-second FAMILY SCRIPT_NAME -d|--dev|-e|--eval [train.py flags ...]
set -uo pipefail
stage=$1 family=$2 script=$3
shift 3
mode=${1:-}

usage() {
    echo "$script: argument error" >&2
    echo -e "usage\t: bash $script ['-d' | '--dev' | '-e' | '--eval'] [train.py flags, e.g. --epochs 10]" >&2
    echo -e "\tinvalid choice '$mode'" >&2
    echo -e "\t\t-d, --dev\t: use the development dataset" >&2
    echo -e "\t\t-e, --eval\t: use the additional training dataset and the evaluation dataset" >&2
    echo -e "example\t: bash $script -d" >&2
    exit 1
}

case "$mode" in
    -d|--dev) split=dev ;;
    -e|--eval) split=eval ;;
    *) usage ;;
esac
shift

source "$(dirname "${BASH_SOURCE[0]}")/python_env.sh"
cd "$REPO_ROOT" || exit 1
machines=$("$PYTHON" -m datasets.registry "$family" "$split") || exit 1

case "$stage" in
    train) stage_flags=(--train_only) ;;
    # the model's first and second score modes: MSE and MAHALA for the autoencoder
    test-first) stage_flags=(--test_only --score first) ;;
    test-second) stage_flags=(--test_only --score second) ;;
    *) echo "run_stage.sh: unknown stage '$stage'" >&2; exit 2 ;;
esac

log_dir="logs/stages/${family}_${split}"
mkdir -p "$log_dir"
echo "$(date '+%F %T') $script $mode $*: $stage of $family $split data; logs in $log_dir/"
failed=()
n_done=0
for machine in $machines; do
    log="$log_dir/${stage}_${family}${machine}.log"
    echo "== $stage ${family}${machine} (log: $log)"
    # the public baseline's scripts tag every file with id(0_) and train on section 0; kept for the evaluator
    if "$PYTHON" train.py --dataset="${family}${machine}" "$mode" -tag="id(0_)" --use_ids 0 \
        "${stage_flags[@]}" "$@" 2>&1 | tee "$log"; then
        n_done=$((n_done + 1))
    else
        failed+=("${family}${machine}")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "$script: $stage finished for $n_done of $((n_done + ${#failed[@]})) machine types; FAILED: ${failed[*]} (see $log_dir/)" >&2
    exit 1
fi
echo "$script: $stage finished for all $n_done machine types of $family ($split); logs in $log_dir/"
