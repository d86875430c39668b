#!/usr/bin/env bash
# The whole pipeline on the synthetic demo data, set-up included:
#   .venv -> synthetic DCASE2024 dev data -> train 7 machine types -> test (MSE, MAHALA) -> summary.
# DEMO_DATA_DIR=folder bash demo.sh writes and reads the demo data elsewhere (default: ./data).
# bash demo.sh --year 2026 does the same in another year's layout (2023, 2024, 2025, or 2026: stereo clips,
# which the 2026 scripts read with --mono False).
# bash demo.sh --with CONFIG.yaml also trains and tests the system that yaml configures (a name in configs/; repeat
# --with for several) and adds its scores to the comparison (tools/system_info: its result folders).
set -euo pipefail
cd "$(dirname "$0")"
started=$SECONDS
also=()
year=2024
usage() { echo "usage: bash demo.sh [--year 2023|2024|2025|2026] [--with CONFIG.yaml ...]" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --with) [ $# -gt 1 ] || usage; also+=("$2"); shift ;;
        --with=*) also+=("${1#--with=}") ;;
        --year) year=${2:-}; if [ $# -gt 1 ]; then shift; fi ;;
        --year=*) year=${1#--year=} ;;
        *) usage ;;
    esac
    shift
done
case "$year" in
    2023|2024|2025|2026) ;;
    *) echo "demo.sh: --year '$year' is not a year the demo knows; choose 2023, 2024, 2025 or 2026" >&2; usage ;;
esac
family="DCASE${year}T2"
source tools/python_env.sh
ensure_venv requirements.txt
for config in ${also[@]+"${also[@]}"}; do  # a yaml that does not configure a system fails now, not after training
    "$PYTHON" -m tools.system_info "$config" > /dev/null
done

data_dir=${DEMO_DATA_DIR:-data}
raw_dir="$data_dir/dcase${year}t2/dev_data/raw"
machines=$("$PYTHON" -m datasets.registry "$family" dev)
for machine in $machines; do
    if [ -d "$raw_dir/$machine" ] && [ ! -f "$raw_dir/$machine/.synthetic.json" ]; then
        echo "error: $raw_dir/$machine holds data the demo did not write (the real DCASE set?). The demo" \
             "would train on it: move it away, or run DEMO_DATA_DIR=demo_data bash demo.sh" >&2
        exit 1
    fi
done

echo "== 1/5 synthetic demo data in $raw_dir"
# 190 source + 10 target training clips and 50 clips per (domain, label) in test, 10 s each
"$PYTHON" -m datasets.synthetic --root "$data_dir" --dataset "$family" --split dev --machines $machines \
    --n_train_source 190 --n_train_target 10 --n_test_per_group 50 --duration 10 --seed 0
echo "== 2/5 training (demo.yaml: 20 epochs)"
bash "01_train_${year}t2.sh" -d --config demo.yaml --dataset_directory "$data_dir"
echo "== 3/5 testing with the MSE score"
bash "02a_test_${year}t2.sh" -d --config demo.yaml --dataset_directory "$data_dir"
echo "== 4/5 testing with the selective Mahalanobis score"
bash "02b_test_${year}t2.sh" -d --config demo.yaml --dataset_directory "$data_dir"
systems="baseline_MSE baseline_MAHALA"
all_stages() {  # train and test with the config $1 on every machine type
    for stage in 01_train 02a_test 02b_test; do
        bash "${stage}_${year}t2.sh" -d --config "$1" --dataset_directory "$data_dir"
    done
}
for config in ${also[@]+"${also[@]}"}; do
    echo "== $("$PYTHON" -m tools.system_info "$config") ($config)"
    all_stages "$config"
    systems="$systems $("$PYTHON" -m tools.system_info "$config" --folders)"
done
echo "== 5/5 summary"
# shellcheck disable=SC2086  # the system names are words
bash 03_summarize_results.sh "$family" -d --systems $systems
echo
echo "demo finished in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s."
echo "per-section CSVs: results/dev_data/baseline_MSE/ and results/dev_data/baseline_MAHALA/"
echo "summary tables:   results/dev_data/baseline/summarize/$family/"
echo "logs per stage:   logs/stages/${family}_dev/baseline/   training curves: logs/baseline/*/log.png"
