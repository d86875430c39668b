#!/usr/bin/env bash
# Test every DCASE2026 Task 2 machine type with the MSE score (the model's first score mode): bash 02a_test_2026t2.sh -d|-e [train.py flags]
exec bash "$(dirname "$0")/tools/run_stage.sh" test-first DCASE2026T2 "$(basename "$0")" "$@"
