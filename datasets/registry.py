"""Dataset names: ``DCASE2024T2fan`` -> which folder, which sections, dev or eval.

The machine types and their section ids live in ``machine_types.yaml``; this module is the only reader.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from errors import ConfigError

MACHINE_TYPES_YAML = Path(__file__).with_name("machine_types.yaml")
SPLITS = ("dev", "eval")


@dataclass(frozen=True)
class DatasetSpec:
    """One machine type of one dataset family, in dev or eval mode."""

    name: str  # e.g. DCASE2024T2fan
    family: str  # e.g. DCASE2024T2
    machine: str  # e.g. fan
    split: str  # "dev" or "eval"
    sections: tuple[str, ...]  # e.g. ("00",)
    section_keyword: str  # "section" (2021 onwards) or "id" (2020)

    @property
    def is_legacy(self) -> bool:
        """DCASE2020-2022: run by tools/*_legacy.sh, downloaded by tools/data_download_<year>.sh."""
        return is_legacy(self.family)

    def data_dir(self, dataset_directory: Path) -> Path:
        """``<dataset_directory>/dcase2024t2/dev_data``."""
        return Path(dataset_directory) / self.family.lower() / f"{self.split}_data"

    def machine_dir(self, dataset_directory: Path) -> Path:
        """``<dataset_directory>/dcase2024t2/dev_data/raw/fan``."""
        return self.data_dir(dataset_directory) / "raw" / self.machine

    def processed_dir(self, dataset_directory: Path) -> Path:
        """Feature cache folder of this machine type."""
        return self.data_dir(dataset_directory) / "processed" / self.machine


@cache
def _registry() -> dict[str, dict]:
    with MACHINE_TYPES_YAML.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def stage_script(family: str, stage: str) -> str:
    """The script of a workflow stage ("01_train", "02a_test", "02b_test") for a dataset family, with the
    family argument the legacy scripts take: ``01_train_2024t2.sh`` or ``tools/01_train_legacy.sh DCASE2021T2``."""
    return f"tools/{stage}_legacy.sh {family}" if is_legacy(family) else f"{stage}_{family[5:9]}t2.sh"


def families() -> list[str]:
    """Dataset family names, e.g. ["DCASE2024T2", "DCASE2023T2"]."""
    return list(_registry())


def is_legacy(family: str) -> bool:
    """True for the legacy datasets (DCASE2020-2022 Task 2), marked ``legacy: true`` in the YAML."""
    return bool(_registry().get(family, {}).get("legacy", False))


def is_stereo(family: str) -> bool:
    """True where the clips have two channels (DCASE2026T2: near microphone left, far microphone right)."""
    return bool(_registry().get(family, {}).get("stereo", False))


def script_flags(family: str) -> list[str]:
    """train.py flags the numbered scripts pass for this family before the user's own (which win)."""
    return [str(flag) for flag in _registry().get(family, {}).get("script_flags", [])]


def machine_types(family: str, split: str) -> list[str]:
    """Machine types of ``family`` in ``split`` ("dev" or "eval"), in the order the scripts run them."""
    if family not in _registry():
        raise ConfigError(f"unknown dataset family {family!r}; valid: {', '.join(families())}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid: dev, eval")
    return list(_registry()[family][split])


def training_runs(family: str, split: str) -> list[tuple[str, int]]:
    """(machine type, section id) of every model the scripts train, as the public baseline's scripts do.

    One model per section (``--use_ids <id> -tag id(<id>_)``): a single run per machine type for the
    one-section datasets (2023, 2024), one per section or machine id for the legacy ones (2020-2022).
    """
    return [
        (machine, int(section))
        for machine in machine_types(family, split)
        for section in _registry()[family][split][machine]
    ]


def dataset_names(split: str) -> list[str]:
    """Every valid ``--dataset`` value for ``split``."""
    return [family + machine for family in families() for machine in machine_types(family, split)]


def resolve_dataset(name: str, split: str) -> DatasetSpec:
    """Look up a ``--dataset`` name; the error lists every valid name for that split."""
    for family in families():
        if name.startswith(family):
            entry = _registry()[family]
            machine = name[len(family) :]
            if machine in entry[split]:
                sections = tuple(str(section) for section in entry[split][machine])
                return DatasetSpec(name, family, machine, split, sections, entry["section_keyword"])
    other = "eval" if split == "dev" else "dev"
    hint = (
        f" ({name} is an {other} dataset: use {'-e' if other == 'eval' else '-d'})"
        if name in dataset_names(other)
        else ""
    )
    if hint:
        raise ConfigError(f"unknown dataset {name!r} for {split} mode{hint}")
    family = next((family for family in families() if name.startswith(family)), None)
    if family:  # compare the machine type alone: the family prefix would make every name look close
        candidates = [family + machine for machine in machine_types(family, split)]
        machines = difflib.get_close_matches(name[len(family) :], machine_types(family, split), n=3, cutoff=0.6)
        close = [family + machine for machine in machines]
    else:
        candidates = dataset_names(split)
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        advice = f"did you mean {' or '.join(close)}?"
    elif family:
        advice = f"valid names: {', '.join(candidates)}"
    else:
        advice = f"a name is a family ({', '.join(families())}) followed by a machine type"
    raise ConfigError(
        f"unknown dataset {name!r} for {split} mode; {advice} "
        f"(python -m datasets.registry <family> {split} lists a family's machine types)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the machine types of a dataset family.")
    parser.add_argument("family", help="e.g. DCASE2024T2")
    parser.add_argument("split", choices=SPLITS)
    parser.add_argument(
        "--runs", action="store_true", help="print one line '<machine type> <section id>' per model the scripts train"
    )
    parser.add_argument(
        "--machines",
        default="",
        help="only these machine types (separated by spaces or commas); an unknown one is an error",
    )
    parser.add_argument(
        "--script_flags",
        action="store_true",
        help="print the train.py flags the scripts pass for this family, one per line",
    )
    args = parser.parse_args()
    try:
        if args.script_flags:
            print("\n".join(script_flags(args.family)))
            return
        known = machine_types(args.family, args.split)
        wanted = args.machines.replace(",", " ").split()
        unknown = [machine for machine in wanted if machine not in known]
        if unknown:
            raise ConfigError(
                f"--machines: {', '.join(unknown)} not a {args.family} {args.split} machine type; "
                f"valid: {', '.join(known)}"
            )
        if args.runs:
            runs = training_runs(args.family, args.split)
            print("\n".join(f"{machine} {section}" for machine, section in runs if not wanted or machine in wanted))
        else:
            print(" ".join(machine for machine in known if not wanted or machine in wanted))
    except ConfigError as error:
        parser.exit(2, f"error: {error}\n")


if __name__ == "__main__":
    main()
