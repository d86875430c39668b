#!/usr/bin/env bash
# Shared body of 01_train_*, 02a_test_* and 02b_test_* (and tools/*_legacy.sh): runs train.py for every
# machine type of a dataset family, logs each run to its own file, and ends with a one-line summary.
#   usage: run_stage.sh train|test-first|test-second FAMILY SCRIPT_NAME -d|--dev|-e|--eval [train.py flags ...]
# Like the public baseline's scripts, one model per section (machine id for DCASE2020): train.py runs with
# --use_ids <n> -tag id(<n>_) for every section n, so a one-section dataset (2023, 2024) gets one run per
# machine type tagged id(0_), and a legacy one (2020-2022) one run per section.
# --machines M1,M2 or --machines M1 M2 (taken out of the train.py flags) runs only those machine types.
# --launcher local|slurm: run them here one after the other (the default), or submit them as one Slurm job array
# (tools/launch.py, engine/launch/: one task per run, each running the same train.py command).
# --seeds S1 S2 ...: run every machine type once per seed, seed S into the export folder <export_dir>_seedS.
# Logs: logs/stages/<DATASET>_<dev|eval>/<export_dir>/<stage>_<dataset>.log, one folder per experiment.
# Ctrl-C stops the whole stage (not only the current machine type) and says how to resume.
set -uo pipefail
stage=$1 family=$2 script=$3
shift 3
mode=${1:-}

usage_text() {
    echo -e "usage\t: bash $script ['-d' | '--dev' | '-e' | '--eval'] [--machines M1,M2 | --machines M1 M2 ...]"
    echo -e "\t\t[--launcher local|slurm] [--seeds S1 S2 ...] [train.py flags, e.g. --epochs 10 --config demo.yaml]"
    echo -e "\t\t-d, --dev\t: use the development dataset"
    echo -e "\t\t-e, --eval\t: use the additional training dataset and the evaluation dataset"
    echo -e "\t\t--machines\t: only these machine types (default: every one of the dataset)"
    echo -e "\t\t--launcher\t: local (one after the other, the default) or slurm (one Slurm job array)"
    echo -e "\t\t--seeds\t\t: once per seed, seed S into <export_dir>_seedS"
    echo -e "\t\tthe train.py flags: python train.py --help, or docs/options.md"
    echo -e "example\t: bash $script -d"
}

usage() {
    echo "$script: argument error" >&2
    usage_text >&2
    echo -e "\tinvalid choice '$mode'" >&2
    exit 1
}

for argument in "$@"; do
    if [ "$argument" = "-h" ] || [ "$argument" = "--help" ]; then
        usage_text
        exit 0
    fi
done

case "$mode" in
    -d|--dev) split=dev ;;
    -e|--eval) split=eval ;;
    *) usage ;;
esac
shift
user_flags=("$@")

train_flags=()
only_machines=""
launcher=local
seeds=()
seeds_given=false
while [ $# -gt 0 ]; do
    case "$1" in
        --machines) shift; while [ $# -gt 0 ] && [[ "$1" != -* ]]; do only_machines+=" $1"; shift; done ;;
        --machines=*) only_machines=${1#--machines=}; shift ;;
        --launcher) launcher=${2:-}; shift; shift || true ;;
        --launcher=*) launcher=${1#--launcher=}; shift ;;
        --seeds) seeds_given=true; shift; while [ $# -gt 0 ] && [[ "$1" =~ ^-?[0-9]+$ ]]; do seeds+=("$1"); shift; done ;;
        *) train_flags+=("$1"); shift ;;
    esac
done
case "$launcher" in
    local|slurm) ;;
    *) echo "$script: --launcher '$launcher' is not a launcher; choose local or slurm" >&2; exit 1 ;;
esac
if $seeds_given && [ ${#seeds[@]} -eq 0 ]; then
    echo "$script: --seeds needs one or more integer seeds, e.g. --seeds 13711 1 2" >&2
    exit 1
fi
set -- ${train_flags[@]+"${train_flags[@]}"}

if [ "$only_machines" = "" ] && [[ " ${user_flags[*]} " == *" --machines "* ]]; then
    echo "$script: --machines needs one or more machine types, e.g. --machines fan,valve" >&2
    exit 1
fi

source "$(dirname "${BASH_SOURCE[0]}")/python_env.sh"
require_python requirements.txt || exit 1
cd "$REPO_ROOT" || exit 1
machine_filter=()
if [ -n "$only_machines" ]; then
    machine_filter=(--machines "${only_machines//,/ }")
fi
runs_text=$("$PYTHON" -m datasets.registry "$family" "$split" --runs ${machine_filter[@]+"${machine_filter[@]}"}) \
    || exit 1
mapfile -t runs <<< "$runs_text"
# the family's own flags (machine_types.yaml script_flags, e.g. --mono False for the stereo DCASE2026 clips)
# go before the user's, so that a flag given on the command line wins
family_flags_text=$("$PYTHON" -m datasets.registry "$family" "$split" --script_flags) || exit 1
family_flags=()
if [ -n "$family_flags_text" ]; then
    mapfile -t family_flags <<< "$family_flags_text"
fi

case "$stage" in
    train) stage_flags=(--train_only) ;;
    # the model's first and second score modes: MSE and MAHALA for the autoencoder
    test-first) stage_flags=(--test_only --score first) ;;
    test-second) stage_flags=(--test_only --score second) ;;
    *) echo "run_stage.sh: unknown stage '$stage'" >&2; exit 2 ;;
esac

# every flag is checked once here (not once per machine type); prints the experiment's export folder
export_dir=$(PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m tools.launch check-flags \
    --script "$script" -- "$mode" "${stage_flags[@]}" ${family_flags[@]+"${family_flags[@]}"} "$@") || exit 1
log_dir="logs/stages/${family}_${split}/${export_dir}"
mkdir -p "$log_dir"
echo "$(date '+%F %T') $script $mode $*: $stage of $family $split data; logs in $log_dir/"
declare -A n_sections=()
for run in "${runs[@]}"; do
    read -r machine _ <<< "$run"
    n_sections[$machine]=$(( ${n_sections[$machine]:-0} + 1 ))
done
# one pass without seed flags, or one per seed: seed S runs with --seed S --export_dir <export_dir>_seedS
seed_passes=("")
declare -A seed_export_dirs=()
if [ ${#seeds[@]} -gt 0 ]; then
    export_dirs_text=$(PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m tools.launch seed-export-dirs \
        --seeds "${seeds[@]}" -- "$mode" ${family_flags[@]+"${family_flags[@]}"} "$@") || exit 1
    mapfile -t export_dirs <<< "$export_dirs_text"
    for index in "${!seeds[@]}"; do
        seed_export_dirs[${seeds[$index]}]=${export_dirs[$index]}
    done
    seed_passes=("${seeds[@]}")
fi
tasks_file=""
if [ "$launcher" = slurm ]; then
    mkdir -p "$log_dir/slurm"
    tasks_file=$(mktemp "$log_dir/slurm/${stage}.XXXXXX.tasks") || exit 1
fi
failed=()
n_done=0
interrupted=false
trap 'interrupted=true' INT
resume_command="bash $script $mode ${user_flags[*]}"
if [ "$stage" = train ] && [[ " ${user_flags[*]} " != *" --restart "* ]]; then
    resume_command="$resume_command --restart"
fi
for seed in "${seed_passes[@]}"; do
    seed_flags=()
    if [ -n "$seed" ]; then
        seed_flags=(--seed "$seed" --export_dir "${seed_export_dirs[$seed]}")
    fi
    for run in "${runs[@]}"; do
        read -r machine id <<< "$run"
        # the public baseline's tag: the evaluator and the summary find the files by it
        tag="id(${id}_)"
        name="${family}${machine}"
        log_name="$name"
        if [ "${n_sections[$machine]}" -gt 1 ]; then
            name="$name $tag"
            log_name="${log_name}_$tag"
        fi
        if [ -n "$seed" ]; then
            name="$name seed$seed"
            log_name="${log_name}_seed$seed"
        fi
        log="$log_dir/${stage}_${log_name}.log"
        command=("$PYTHON" train.py --dataset="${family}${machine}" "$mode" -tag="$tag" --use_ids "$id"
                 "${stage_flags[@]}" ${family_flags[@]+"${family_flags[@]}"} "$@" ${seed_flags[@]+"${seed_flags[@]}"})
        if [ "$launcher" = slurm ]; then
            printf '%s\t%s\t%s\n' "$name" "$log" "$(printf '%q ' "${command[@]}")" >> "$tasks_file"
            continue
        fi
        echo "== $stage $name (log: $log)"
        # tee -i: Ctrl-C reaches train.py, which ends with its own line; tee keeps copying it to the log
        "${command[@]}" < /dev/null 2>&1 | tee -i "$log"
        status=${PIPESTATUS[0]}
        if $interrupted || [ "$status" -eq 130 ]; then
            echo "$script: interrupted during $stage $name ($n_done run(s) finished before); resume with:" \
                "$resume_command" | tee -a "$log" >&2
            exit 130
        elif [ "$status" -eq 0 ]; then
            n_done=$((n_done + 1))
        else
            failed+=("$name")
        fi
    done
done
n_machines=${#n_sections[@]}
what="machine types"
if [ ${#runs[@]} -ne "$n_machines" ]; then
    what="runs (one per section of $n_machines machine type(s))"
fi
if [ ${#seeds[@]} -gt 0 ]; then
    what="runs (${#runs[@]} per seed, ${#seeds[@]} seeds)"
fi
if [ "$launcher" = slurm ]; then
    PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m tools.launch submit --tasks "$tasks_file" \
        --stage "$stage" --script "$script" --family "$family" --split "$split" --what "$what"
fi
n_runs=$(( ${#runs[@]} * ${#seed_passes[@]} ))
if [ ${#failed[@]} -gt 0 ]; then
    echo "$script: $stage finished for $n_done of $n_runs $what; FAILED: ${failed[*]} (see $log_dir/)" >&2
    exit 1
fi
echo "$script: $stage finished for all $n_done $what of $family ($split); logs in $log_dir/"
