"""Scoring evaluation-set anomaly scores against ground-truth CSVs in the official evaluator's format.

The evaluation test clips are unlabelled, so testing in eval mode writes only anomaly scores and
decisions. Once the ground truth is known (the organisers publish it; the synthetic demo data writes it),
``evaluate_system`` gives them the same per-section result CSV as dev mode, next to the scores (the command
line is ``python -m tools.evaluate_with_ground_truth``).

Ground truth folder, as in the official evaluator's repository:

    ground_truth_data/ground_truth_<machine>_section_<id>_test.csv        file name,1 anomaly|0 normal
    ground_truth_domain/ground_truth_<machine>_section_<id>_test.csv      file name,1 target|0 source
    ground_truth_attributes/ground_truth_<machine>_section_<id>_test.csv  optional: file name,labelled name

Scores may name clips by their evaluation names (``section_00_0001.wav``) or by their labelled names
(a ``test_rename`` run), which the attributes table maps back, as the official evaluator does.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from errors import DataError
from evaluation import result_names
from evaluation.metrics import section_metrics
from evaluation.result_files import result_table_rows
from evaluation.run_results import (
    ANY_RUN,
    MachineDataset,
    RunFilter,
    ScoreFiles,
    find_score_csvs,
    read_name_value_csv,
    read_scores,
)
from safe_io import write_csv


def default_ground_truth_dir(dataset_directory: Path, family: str) -> Path:
    """Where the synthetic demo data writes the evaluation ground truth."""
    return Path(dataset_directory) / family.lower() / "eval_data" / "ground_truth"


def ground_truth_path(ground_truth_dir: Path, kind: str, machine: str, section: str) -> Path:
    return Path(ground_truth_dir) / f"ground_truth_{kind}" / f"ground_truth_{machine}_section_{section}_test.csv"


@dataclass(frozen=True)
class SectionTruth:
    """Labels and domains of one section's test clips, sorted by file name."""

    names: tuple[str, ...]
    labels: np.ndarray  # 1 anomaly, 0 normal
    is_target: np.ndarray
    aliases: dict[str, str] = field(default_factory=dict)  # labelled name -> evaluation name


def _binary_column(path: Path) -> dict[str, int]:
    table = {}
    for line, (name, text) in enumerate(read_name_value_csv(path), start=1):
        if text.strip() not in ("0", "1"):
            raise DataError(f"{path}, line {line}: expected 0 or 1 after the file name, found {text!r}")
        if name in table:
            raise DataError(f"{path}, line {line}: {name} is listed twice")
        table[name] = int(text)
    return table


def load_section_truth(ground_truth_dir: Path, machine: str, section: str) -> SectionTruth:
    """Read one section's ground truth; the attributes table is optional."""
    data_path = ground_truth_path(ground_truth_dir, "data", machine, section)
    domain_path = ground_truth_path(ground_truth_dir, "domain", machine, section)
    for path in (data_path, domain_path):
        if not path.is_file():
            raise DataError(
                f"ground truth {path} not found; pass --ground_truth_dir, the folder holding "
                "ground_truth_data/ and ground_truth_domain/ (as the official evaluator has them)"
            )
    labels = _binary_column(data_path)
    domains = _binary_column(domain_path)
    if set(labels) != set(domains):
        only = sorted(set(labels) ^ set(domains))
        raise DataError(f"{data_path} and {domain_path} list different clips (e.g. {only[0]}); fix the ground truth")
    names = tuple(sorted(labels))
    aliases = {}
    attributes_path = ground_truth_path(ground_truth_dir, "attributes", machine, section)
    if attributes_path.is_file():
        for name, *others in _attribute_rows(attributes_path):
            for other in others:
                if other and other != name:
                    aliases[other if other.endswith(".wav") else f"{other}.wav"] = name
    return SectionTruth(
        names,
        np.array([labels[n] for n in names], dtype=int),
        np.array([domains[n] == 1 for n in names], dtype=bool),
        aliases,
    )


def _attribute_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return [row for row in csv.reader(stream) if row]


def align_to_truth(truth: SectionTruth, rows: Sequence[tuple[str, float]], path: Path) -> np.ndarray:
    """The values of ``rows`` in the ground truth's clip order; a DataError when the clips differ."""
    position = {name: index for index, name in enumerate(truth.names)}
    values = np.full(len(truth.names), np.nan)
    seen = np.zeros(len(truth.names), dtype=bool)
    unknown = []
    for name, value in rows:
        index = position.get(name, position.get(truth.aliases.get(name, ""), -1))
        if index < 0:
            unknown.append(name)
            continue
        if seen[index]:
            raise DataError(f"{path}: clip {truth.names[index]} is listed twice")
        seen[index], values[index] = True, value
    if unknown:
        raise DataError(
            f"{path} holds {len(unknown)} clip(s) that the ground truth does not list (e.g. "
            f"{unknown[0]}): is it the right ground truth for this machine type and section?"
        )
    if not seen.all():
        missing = [name for name, found in zip(truth.names, seen, strict=True) if not found]
        raise DataError(
            f"{path} lacks {len(missing)} of the {len(truth.names)} clips of the ground truth "
            f"(e.g. {missing[0]}); re-run the test stage for this machine type"
        )
    return values


@dataclass(frozen=True)
class ScoredSection:
    section: str
    scores: np.ndarray
    labels: np.ndarray
    decisions: np.ndarray
    is_target: np.ndarray
    figures: dict[str, float]

    def plot_tuple(self) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
        return self.section, self.scores, self.labels, self.is_target


def score_section(
    truth: SectionTruth, scores_path: Path, decisions_path: Path, section: str, max_fpr: float
) -> ScoredSection:
    """Every figure of one section's result row, from its score and decision CSVs and its ground truth."""
    scores = align_to_truth(truth, read_scores(scores_path), scores_path)
    decisions = align_to_truth(truth, read_scores(decisions_path), decisions_path)
    if not np.isin(decisions, (0, 1)).all():
        raise DataError(f"{decisions_path}: decisions must be 0 or 1")
    decisions = decisions.astype(int)
    figures = section_metrics(truth.labels, scores, decisions, truth.is_target, max_fpr)
    return ScoredSection(section, scores, truth.labels, decisions, truth.is_target, figures)


def threshold_from_decisions(sections: Sequence[ScoredSection]) -> float | None:
    """A score between the highest one decided normal and the lowest decided anomalous, if they separate."""
    scores = np.concatenate([section.scores for section in sections])
    decisions = np.concatenate([section.decisions for section in sections])
    below, above = scores[decisions == 0], scores[decisions == 1]
    if below.size and above.size:
        return float((below.max() + above.min()) / 2) if below.max() < above.min() else None
    return float(below.max()) if below.size else float(above.min()) if above.size else None


@dataclass(frozen=True)
class MachineEvaluation:
    dataset: str
    result_csv: Path
    sections: list[ScoredSection]


def result_csv_path(folder: Path, dataset: str, suffix: str) -> Path:
    """``result_<dataset>_test_<suffix>_roc.csv``, the name ``engine.paths.RunPaths.result_csv`` uses."""
    return Path(folder) / result_names.result_csv_name(dataset, suffix)


def picture_paths(folder: Path, dataset: str, suffix: str) -> tuple[Path, Path]:
    """(score distributions, ROC curves) pictures written next to the result CSV."""
    stem = result_names.result_stem(dataset, suffix)
    return (Path(folder) / result_names.score_picture_name(stem), Path(folder) / result_names.roc_picture_name(stem))


def evaluate_machine(
    folder: Path,
    dataset: str,
    sections: Sequence[str],
    files: ScoreFiles,
    ground_truth_dir: Path,
    machine: str,
    max_fpr: float,
    plots: bool,
) -> MachineEvaluation:
    """Score one machine type's run in ``folder`` and write its result CSV (and pictures)."""
    scored = []
    for section in sections:
        scores_path = files.anomaly_scores.get(section)
        decisions_path = files.decisions.get(section)
        if scores_path is None or decisions_path is None:
            kind = "anomaly_score" if scores_path is None else "decision_result"
            name = result_names.score_csv_name(kind, dataset, section, files.suffix)
            raise DataError(f"{folder}/{name} not found; re-run the test stage for {dataset} in eval mode")
        truth = load_section_truth(ground_truth_dir, machine, section)
        scored.append(score_section(truth, scores_path, decisions_path, section, max_fpr))
    path = result_csv_path(folder, dataset, files.suffix)
    write_csv(path, result_table_rows([s.section for s in scored], [s.figures for s in scored]))
    if plots:
        from evaluation.plots import plot_roc_curves, plot_score_distributions

        distribution_png, roc_png = picture_paths(folder, dataset, files.suffix)
        title = f"{dataset} ({folder.name}, {files.suffix})"
        plot_score_distributions(
            distribution_png,
            [s.plot_tuple() for s in scored],
            threshold_from_decisions(scored),
            title,
            threshold_label="decision boundary (from the decision CSV)",
        )
        plot_roc_curves(roc_png, [s.plot_tuple() for s in scored], title, max_fpr=max_fpr)
    return MachineEvaluation(dataset, path, scored)


@dataclass
class SystemEvaluation:
    folder: Path
    evaluated: list[MachineEvaluation] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # machine types without anomaly scores
    without_truth: list[str] = field(default_factory=list)  # skipped for want of ground truth (strict=False)


def evaluate_system(
    folder: Path,
    machines: Sequence[MachineDataset],
    ground_truth_dir: Path,
    run_filter: RunFilter = ANY_RUN,
    max_fpr: float = 0.1,
    plots: bool = True,
    strict: bool = True,
) -> SystemEvaluation:
    """Score every machine type's eval-mode run found in ``folder``; machine types without scores are listed.

    With ``strict`` False, a machine type whose ground truth is absent is skipped (and listed) instead of
    being an error: used when the ground truth folder was found rather than named by the user.
    """
    report = SystemEvaluation(Path(folder))
    for spec in machines:
        files = find_score_csvs(Path(folder), spec.name, True, run_filter)
        if files is None:
            report.missing.append(spec.machine)
            continue
        if not strict and not all(
            ground_truth_path(ground_truth_dir, "data", spec.machine, section).is_file() for section in spec.sections
        ):
            report.without_truth.append(spec.machine)
            continue
        report.evaluated.append(
            evaluate_machine(
                Path(folder), spec.name, spec.sections, files, ground_truth_dir, spec.machine, max_fpr, plots
            )
        )
    return report
