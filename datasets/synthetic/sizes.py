"""The synthetic datasets' default sizes, in one place: the generators' keyword defaults and both command lines'
flags (``python -m datasets.synthetic``, ``python -m datasets.synthetic.legacy``) read them from here."""

from __future__ import annotations

import argparse

N_TRAIN_SOURCE = 990
N_TRAIN_TARGET = 10
N_TEST_PER_GROUP = 50
DURATION_S = 10.0
SAMPLE_RATE = 16000
SEED = 0


def add_size_arguments(parser: argparse.ArgumentParser, per: str, target_note: str = "") -> None:
    """The flags of the dataset's size and randomness; ``per``: what each count is per ("type", "section");
    ``target_note``: appended to the help of --n_train_target."""
    parser.add_argument("--n_train_source", type=int, default=N_TRAIN_SOURCE, help=f"source training clips per {per}")
    parser.add_argument(
        "--n_train_target", type=int, default=N_TRAIN_TARGET, help=f"target training clips per {per}{target_note}"
    )
    parser.add_argument(
        "--n_test_per_group",
        type=int,
        default=N_TEST_PER_GROUP,
        help=f"test clips per {per} and (domain, normal/anomaly) group",
    )
    parser.add_argument("--duration", type=float, default=DURATION_S, help="clip length in seconds")
    parser.add_argument("--sample_rate", type=int, default=SAMPLE_RATE, help="sampling rate in Hz")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed; same seed, same bytes")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
