"""Train and/or test one machine type with any registered model: configuration -> engine.runner.run.

python train.py --dataset DCASE2024T2fan -d                      # baseline.yaml's system: train, then test
python train.py --dataset DCASE2024T2fan -d --test_only --score second
python train.py --dataset DCASE2024T2fan -d --config SYSTEM.yaml  # a system's yaml in configs/
python train.py --config SYSTEM.yaml --help                       # the core options and that system's own
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import common
from engine.runner import run
from errors import exit_code_of


def main(argv: Sequence[str] | None = None) -> int:
    return exit_code_of(
        lambda: run(common.parse_config(sys.argv[1:] if argv is None else argv)),
        error_code=2,
        on_interrupt="interrupted; completed epochs are kept (resume with --restart)",
    )


if __name__ == "__main__":
    sys.exit(main())
