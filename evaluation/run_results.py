"""Finding and reading the per-section result CSVs in a result folder (e.g. ``results/dev_data/baseline_MSE``).

The file names and their run suffix ``seed<seed><_tag><_Eval>`` are those of ``evaluation.result_names``.
A folder may hold several runs of one machine type (other seeds or tags); ``RunFilter`` picks one.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from errors import DataError
from evaluation.result_names import RESULT_KIND, SCORE_KINDS, ResultFileName, RunSuffix, parse_result_file_name

MEAN_ROW_NAMES = ("arithmetic mean", "harmonic mean")
DEFAULT_SCORES = ("MAHALA", "MSE")  # the baseline's two result folders per export_dir: <export_dir>_<score>

T = TypeVar("T")


class MachineDataset(Protocol):
    """One machine type of a dataset family, as ``datasets.registry.DatasetSpec`` describes it."""

    @property
    def name(self) -> str: ...  # e.g. DCASE2024T2fan, the <dataset> of the file names

    @property
    def machine(self) -> str: ...  # e.g. fan

    @property
    def sections(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class RunFilter:
    """Which run to take when a folder holds several: by seed and/or tag (None: any)."""

    seed: int | None = None
    tag: str | None = None

    def accepts(self, suffix: RunSuffix) -> bool:
        return (self.seed is None or suffix.seed == self.seed) and (self.tag is None or suffix.tag == self.tag)

    def describe(self) -> str:
        parts = [f"--seed {self.seed}"] if self.seed is not None else []
        parts += [f"-tag {self.tag!r}"] if self.tag is not None else []
        return " ".join(parts) or "no filter"


ANY_RUN = RunFilter()


def _runs_matching(
    names: list[str], dataset: str, kind: str, is_eval: bool, run_filter: RunFilter
) -> dict[str, list[ResultFileName]]:
    """Run suffix -> the parsed ``kind`` files of ``dataset`` among ``names`` that the filter accepts."""
    runs: dict[str, list[ResultFileName]] = {}
    for name in sorted(names):
        parsed = parse_result_file_name(name, dataset)
        if parsed is None or parsed.kind != kind:
            continue
        if parsed.suffix.is_eval != is_eval or not run_filter.accepts(parsed.suffix):
            continue
        runs.setdefault(parsed.suffix.text, []).append(parsed)
    return runs


def _file_names(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []


def choose_run(runs: Mapping[str, T], folder: Path, dataset: str, run_filter: RunFilter) -> tuple[str, T] | None:
    """The only run in ``runs``; None when there is none; a DataError naming them when there are several."""
    if not runs:
        return None
    if len(runs) > 1:
        raise DataError(
            f"{folder} holds several runs of {dataset} ({', '.join(sorted(runs))}; filter: "
            f"{run_filter.describe()}); choose one with --seed and/or -tag"
        )
    return next(iter(runs.items()))


def find_result_csvs(folder: Path, dataset: str, is_eval: bool, run_filter: RunFilter) -> dict[str, Path]:
    """Run suffix -> path of every ``result_<dataset>_test_<suffix>_roc.csv`` in ``folder`` the filter accepts."""
    runs = _runs_matching(_file_names(folder), dataset, RESULT_KIND, is_eval, run_filter)
    return {suffix: folder / parsed[0].name for suffix, parsed in runs.items()}


@dataclass(frozen=True)
class ScoreFiles:
    """The anomaly score and decision CSVs of one run, by section id."""

    suffix: str
    anomaly_scores: dict[str, Path]
    decisions: dict[str, Path]


def find_score_csvs(folder: Path, dataset: str, is_eval: bool, run_filter: RunFilter) -> ScoreFiles | None:
    """The score and decision CSVs of ``dataset``'s run in ``folder``; None when it has no scores."""
    names = _file_names(folder)
    files: dict[str, dict[str, dict[str, Path]]] = {}
    for kind in SCORE_KINDS:
        for suffix, parsed_names in _runs_matching(names, dataset, kind, is_eval, run_filter).items():
            by_section = files.setdefault(suffix, {}).setdefault(kind, {})
            for parsed in parsed_names:
                by_section[str(parsed.section)] = folder / parsed.name
    runs = {suffix: kinds for suffix, kinds in files.items() if "anomaly_score" in kinds}
    chosen = choose_run(runs, folder, dataset, run_filter)
    if chosen is None:
        return None
    suffix, kinds = chosen
    return ScoreFiles(suffix, kinds["anomaly_score"], kinds.get("decision_result", {}))


def _parse_float(text: str, path: Path, line: int) -> float:
    try:
        return float(text)
    except ValueError as error:
        raise DataError(
            f"{path}, line {line}: {text!r} is not a number; write the file again (re-run the test stage)"
        ) from error


def read_result_csv(path: Path) -> list[tuple[str, dict[str, float]]]:
    """The section rows of a result CSV as (section id, {column: value}); the mean rows are left out."""
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except OSError as error:
        raise DataError(f"cannot read result file {path}: {error}") from error
    if not rows or not rows[0] or rows[0][0] != "section" or len(rows[0]) < 2:
        raise DataError(
            f"{path} is not a result CSV (its first line must start with 'section,'); "
            "re-run the test stage to write it again"
        )
    columns = rows[0][1:]
    sections = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or row[0] in MEAN_ROW_NAMES:
            break
        if len(row) != len(columns) + 1:
            raise DataError(f"{path}, line {line}: {len(row)} fields where the header has {len(columns) + 1}")
        sections.append(
            (row[0], {column: _parse_float(value, path, line) for column, value in zip(columns, row[1:], strict=True)})
        )
    if not sections:
        raise DataError(f"{path} has no section rows; re-run the test stage to write it again")
    return sections


def read_name_value_csv(path: Path) -> list[tuple[str, str]]:
    """Rows ``file_name,value`` of a score, decision or ground-truth CSV (no header)."""
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = [row for row in csv.reader(stream) if row]
    except OSError as error:
        raise DataError(f"cannot read {path}: {error}") from error
    bad = [line for line, row in enumerate(rows, start=1) if len(row) < 2]
    if bad:
        raise DataError(f"{path}, line {bad[0]}: expected 'file_name,value'")
    return [(row[0], row[1]) for row in rows]


def read_scores(path: Path) -> list[tuple[str, float]]:
    """``file_name,score`` rows as floats."""
    values = []
    for line, (name, text) in enumerate(read_name_value_csv(path), start=1):
        value = _parse_float(text, path, line)
        if math.isnan(value):
            raise DataError(f"{path}, line {line}: the score of {name} is NaN; re-run the test stage")
        values.append((name, value))
    return values
