"""What a system's yaml sets up, for the shell scripts (demo.sh), read from the registry and the model's own
declarations rather than written into the scripts:

    python -m tools.system_info CONFIG.yaml            # "<model>: <export_dir>, scores <first>, <second>"
    python -m tools.system_info CONFIG.yaml --folders  # the result folders 02a and 02b write: <export_dir>_<mode>
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import common
from errors import ASDError
from networks import registry


def tested_modes(config_file: str) -> tuple[str, str, tuple[str, ...]]:
    """``(model, export_dir, modes)`` of the system ``config_file`` configures: the score modes 02a and 02b test
    (the model's first two; one for a one-mode model)."""
    config = common.parse_config(["--config", config_file, "-d", "--dataset", "system_info"])
    return config.model, config.export_dir, registry.get(config.model).score_modes[:2]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.system_info", description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a system's yaml (a path, or its name in configs/)")
    parser.add_argument("--folders", action="store_true", help="print the result folders 02a and 02b write")
    args = parser.parse_args(argv)
    try:
        model, export_dir, modes = tested_modes(args.config)
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.folders:
        print(" ".join(f"{export_dir}_{mode}" for mode in modes))
    else:
        print(f"{model}: {export_dir}, scores {', '.join(modes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
