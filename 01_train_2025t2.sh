#!/usr/bin/env bash
# Train the autoencoder on every DCASE2025 Task 2 machine type: bash 01_train_2025t2.sh -d|-e [train.py flags]
exec bash "$(dirname "$0")/tools/run_stage.sh" train DCASE2025T2 "$(basename "$0")" "$@"
