#!/usr/bin/env bash
# Train the autoencoder on every DCASE2024 Task 2 machine type: bash 01_train_2024t2.sh -d|-e [train.py flags]
exec bash "$(dirname "$0")/tools/run_stage.sh" train DCASE2024T2 "$(basename "$0")" "$@"
