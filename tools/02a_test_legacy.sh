#!/usr/bin/env bash
# Test every legacy model with the MSE score (the model's first score mode), as the public baseline's
# tools/02a_test_legacy.sh: bash tools/02a_test_legacy.sh DCASE2020T2|DCASE2021T2|DCASE2022T2 -d|-e [train.py flags].
# Each model (one per section) scores every section; results in results/<dev|eval>_data/baseline_MSE/.
exec bash "$(dirname "$0")/legacy_stage.sh" test-first "$(basename "$0")" "$@"
