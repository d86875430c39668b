#!/usr/bin/env bash
# Train one model per section (DCASE2021/2022 Task 2) or machine id (DCASE2020) of every machine type, as the
# public baseline's tools/01_train_legacy.sh: bash tools/01_train_legacy.sh DCASE2020T2|DCASE2021T2|DCASE2022T2 -d|-e
# [train.py flags]. Files are tagged id(<n>_); logs go to logs/stages/<DATASET>_<dev|eval>/<export_dir>/.
exec bash "$(dirname "$0")/legacy_stage.sh" train "$(basename "$0")" "$@"
