#!/usr/bin/env bash
# Test every DCASE2025 Task 2 machine type with the selective Mahalanobis score (the model's second mode):
#   bash 02b_test_2025t2.sh -d|-e [train.py flags]
exec bash "$(dirname "$0")/tools/run_stage.sh" test-second DCASE2025T2 "$(basename "$0")" "$@"
