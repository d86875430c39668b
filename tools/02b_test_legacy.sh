#!/usr/bin/env bash
# Test every legacy model with the MAHALA score (the model's second score mode), as the public baseline's
# tools/02b_test_legacy.sh: bash tools/02b_test_legacy.sh DCASE2020T2|DCASE2021T2|DCASE2022T2 -d|-e [train.py flags].
# Each model (one per section) scores every section; results in results/<dev|eval>_data/baseline_MAHALA/.
exec bash "$(dirname "$0")/legacy_stage.sh" test-second "$(basename "$0")" "$@"
