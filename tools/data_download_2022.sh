#!/usr/bin/env bash
# Download, verify and unpack the DCASE2022 Task 2 data (development, additional training and evaluation
# archives from Zenodo) into <repository>/data/dcase2022t2/{dev,eval}_data/raw/, then give the evaluation
# test clips their labelled names in <machine>/test_rename/ (the organisers' list is fetched from the public
# baseline's repository; python -m datasets.eval_labels --help).
# Options: --dataset_directory DIR, --machines M [M ...], --no-verify (unsafe), --remove_archives,
# --no_eval_labels; see python -m datasets.download --help.
# One part only: python -m datasets.download DCASE2022T2 dev|add|eval
source "$(dirname "$0")/python_env.sh"
cd "$REPO_ROOT" || exit 1  # like the public tools/data_download_<year>.sh: data/ of the repository
PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m datasets.download DCASE2022T2 all "$@"
