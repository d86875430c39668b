#!/usr/bin/env bash
# Train the autoencoder on every DCASE2026 Task 2 machine type: bash 01_train_2026t2.sh -d|-e [train.py flags]
exec bash "$(dirname "$0")/tools/run_stage.sh" train DCASE2026T2 "$(basename "$0")" "$@"
