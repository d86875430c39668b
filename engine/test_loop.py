"""The test loop: score every section's clips, decide, write the per-section CSVs, the result table and the
pictures, named and laid out as the public baseline's (the official evaluator reads them)."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from common import config_record, save_config
from engine.paths import RunPaths
from errors import DataError
from evaluation.metrics import section_metrics
from evaluation.result_files import result_table_rows, score_rows
from evaluation.thresholds import load_threshold
from safe_io import write_csv


def _require_finite(scores: np.ndarray, names: Sequence[str], section: str, score: str, paths: RunPaths) -> None:
    """Refuse to write NaN or infinite scores (a broken model) into the result files."""
    bad = ~np.isfinite(scores)
    if bad.any():
        raise DataError(
            f"{paths.model_weights} gives a NaN or infinite {score} score for {int(bad.sum())} of "
            f"{len(scores)} clips of section {section} (e.g. {names[int(np.argmax(bad))]}); no result "
            "file of that section was written: train the model again"
        )


class SectionClips(Protocol):
    """What ``evaluate`` needs of a section's test set (engine.inputs.TestSection)."""

    names: list[str]
    labels: np.ndarray
    is_target: np.ndarray
    labelled: bool


SectionScorer = Callable[[Any], np.ndarray]


@dataclass(frozen=True)
class EvaluationSettings:
    """What the test loop needs of a run's settings: the score mode and decision quantile, the pAUC's false
    positive limit, the dataset's name for the summary, and the merged configuration it saves as its args.json."""

    score: str
    decision_threshold: float
    max_fpr: float
    dataset: str
    record: dict[str, Any]

    @classmethod
    def from_config(cls, config: Namespace) -> EvaluationSettings:
        return cls(
            config.score, float(config.decision_threshold), float(config.max_fpr), config.dataset, config_record(config)
        )


def evaluate(
    score_section: SectionScorer,
    sections: Sequence[str],
    load_section: Callable[[str], SectionClips],
    settings: EvaluationSettings,
    paths: RunPaths,
) -> dict[str, float] | None:
    """Score every section, decide, write its CSVs; then the result table and the pictures, the test's
    configuration (only once the results it describes exist) and a one-line summary. Returns the mean
    figures when the clips are labelled, else None."""
    from evaluation.plots import plot_roc_curves, plot_score_distributions

    threshold = load_threshold(paths.score_distribution(settings.score), settings.decision_threshold)
    section_ids, figures, plotted = [], [], []
    for section in sections:
        clip_set = load_section(section)
        scores = np.asarray(score_section(clip_set), dtype=np.float64)
        _require_finite(scores, clip_set.names, section, settings.score, paths)
        decisions = (scores > threshold).astype(int)
        write_csv(paths.anomaly_score_csv(section), score_rows(clip_set.names, scores))
        write_csv(paths.decision_result_csv(section), score_rows(clip_set.names, decisions))
        tqdm.write(f"anomaly scores -> {paths.anomaly_score_csv(section)}")
        if clip_set.labelled:
            section_ids.append(section)
            figures.append(section_metrics(clip_set.labels, scores, decisions, clip_set.is_target, settings.max_fpr))
            plotted.append((section, scores, clip_set.labels, clip_set.is_target))
    if not figures:
        save_config(paths.test_args_json(settings.score), settings.record)
        print(f"tested {settings.dataset} ({settings.score}): scores and decisions -> {paths.result_dir}")
        return None
    rows = result_table_rows(section_ids, figures)
    write_csv(paths.result_csv, rows)
    tqdm.write(f"results -> {paths.result_csv}")
    title = f"{paths.base_name} ({settings.score})"
    plot_score_distributions(paths.score_plot, plotted, threshold, title)
    plot_roc_curves(paths.roc_plot, plotted, title, max_fpr=settings.max_fpr)
    means = dict(zip(rows[0][1:], rows[-3][1:], strict=True))
    save_config(paths.test_args_json(settings.score), settings.record)
    summary = ", ".join(f"{name} {value:.4f}" for name, value in means.items() if "AUC" in name)
    print(f"tested {settings.dataset} ({settings.score}): {summary} -> {paths.result_csv}")
    return means
