#!/usr/bin/env bash
# Test every DCASE2023 Task 2 machine type with the selective Mahalanobis score:
#   bash 02b_test_2023t2.sh -d|-e [train.py flags]
exec bash "$(dirname "$0")/tools/run_stage.sh" test-MAHALA DCASE2023T2 "$(basename "$0")" "$@"
