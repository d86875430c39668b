"""Synthetic machine operating sounds in the DCASE2024/2023 Task 2 layout.

``generate_dataset(Path("data"), ["fan", "valve"])`` writes ``data/dcase2024t2/dev_data/raw/<machine>/``;
``python -m datasets.synthetic --help`` does the same from the shell.
"""

from datasets.synthetic.catalog import (
    DEV_MACHINES_2023,
    DEV_MACHINES_2024,
    EVAL_MACHINES_2023,
    EVAL_MACHINES_2024,
)
from datasets.synthetic.generator import GenerationSummary, generate_dataset

__all__ = [
    "DEV_MACHINES_2023",
    "DEV_MACHINES_2024",
    "EVAL_MACHINES_2023",
    "EVAL_MACHINES_2024",
    "GenerationSummary",
    "generate_dataset",
]
