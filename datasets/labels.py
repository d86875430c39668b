"""What a clip's file name says about it, and the organisers' evaluation labels list format.

One rule for the whole project: ``datasets.file_list`` reads the labels of training and test clips with it,
``datasets.eval_labels`` checks the published lists with it.

File names: ``section_00_source_test_anomaly_0012_vel_6.wav`` (2021 onwards), ``anomaly_id_00_00000000.wav``
(2020). The evaluation labels list (the public baseline's ``datasets/eval_data_list_<year>.csv``): a line
holding a machine type, then one line per clip ``anonymous name,labelled name[,0|1]`` (the 2020 list adds
the label).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from errors import DataError

NORMAL, ANOMALY = 0, 1


def name_label(file_name: str) -> int | None:
    """1 anomaly, 0 normal, None when the name says neither (an anonymous evaluation test clip)."""
    if "_anomaly_" in file_name or file_name.startswith("anomaly_"):
        return ANOMALY
    if "_normal_" in file_name or file_name.startswith("normal_"):
        return NORMAL
    return None


def clip_domain(file_name: str) -> str:
    """The public baseline's rule: a clip is in the target domain when its name contains "target"."""
    return "target" if "target" in file_name else "source"


@dataclass(frozen=True)
class LabelEntry:
    """One evaluation test clip: its anonymous name in ``test/`` and its labelled name."""

    anonymous: str
    labelled: str


def _check_file_name(name: str, source: str, line: int) -> None:
    if not name.endswith(".wav") or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise DataError(
            f"{source}, line {line}: {name!r} is not a plain WAV file name; the list is damaged "
            "(delete it to fetch it again) or not an evaluation labels list"
        )


def _clip_entry(row: list[str], source: str, line: int) -> LabelEntry:
    anonymous, labelled = row[0], row[1]
    _check_file_name(anonymous, source, line)
    _check_file_name(labelled, source, line)
    label = name_label(labelled)
    if label is None:
        raise DataError(f"{source}, line {line}: the labelled name {labelled!r} says neither normal nor anomaly")
    if len(row) > 2 and row[2] and row[2] != str(label):
        raise DataError(f"{source}, line {line}: label column {row[2]!r} contradicts the name {labelled!r}")
    return LabelEntry(anonymous, labelled)


def _check_complete(entries: dict[str, list[LabelEntry]], source: str) -> None:
    if not entries:
        raise DataError(f"{source} holds no machine type; it is not an evaluation labels list")
    for machine, clips in entries.items():
        if not clips:
            raise DataError(
                f"{source}: machine type {machine!r} has no clip lines; it is not an evaluation labels "
                "list in the published format"
            )
        for attribute in ("anonymous", "labelled"):
            names = [getattr(entry, attribute) for entry in clips]
            if len(set(names)) != len(names):
                duplicate = next(name for name in names if names.count(name) > 1)
                raise DataError(f"{source}: {machine} lists the {attribute} name {duplicate!r} twice")


def parse_label_list(text: str, source: str = "labels list") -> dict[str, list[LabelEntry]]:
    """Machine type -> its clips, from the published list format; a DataError naming the line if malformed."""
    entries: dict[str, list[LabelEntry]] = {}
    machine: str | None = None
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        row = [cell.strip() for cell in row]
        if not any(row):
            continue
        if len(row) == 1:
            machine = row[0]
            if machine in entries:
                raise DataError(f"{source}, line {line}: machine type {machine!r} appears twice")
            entries[machine] = []
        elif machine is None:
            raise DataError(
                f"{source}, line {line}: a clip comes before any machine type line; expected the "
                "published format (a machine type line, then 'anonymous name,labelled name' lines)"
            )
        else:
            entries[machine].append(_clip_entry(row, source, line))
    _check_complete(entries, source)
    return entries
