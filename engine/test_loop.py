"""The test loop: score every section's clips, decide, write the CSVs of SPEC §6 and the picture."""

from __future__ import annotations

import json
from argparse import Namespace
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from common import save_config
from datasets.dcase_data import ClipSet
from datasets.features import FeatureParams
from datasets.vector_data import VectorSet, batch_slices
from engine.paths import RunPaths
from errors import DataError
from evaluation.metrics import section_metrics
from evaluation.result_files import result_table_rows, score_rows, write_csv_rows
from evaluation.thresholds import GammaFit
from networks.base import Detector

SCORING_CHUNK = 16384  # vectors per forward pass at test time


def load_threshold(paths: RunPaths, score: str, quantile: float) -> float:
    path = paths.score_distribution(score)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return GammaFit(record["shape"], record["loc"], record["scale"]).threshold(quantile)
    except FileNotFoundError as error:
        raise DataError(f"score distribution {path} not found: train the model again (it is written after "
                        "the last epoch)") from error
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path} is not a valid score distribution ({error}); train the model again") from error


def _require_finite(scores: np.ndarray, names: Sequence[str], section: str, score: str, paths: RunPaths) -> None:
    """Refuse to write NaN or infinite scores (a broken model) into the result files."""
    bad = ~np.isfinite(scores)
    if bad.any():
        raise DataError(f"{paths.model_weights} gives a NaN or infinite {score} score for {int(bad.sum())} of "
                        f"{len(scores)} clips of section {section} (e.g. {names[int(np.argmax(bad))]}); no result "
                        "file of that section was written: train the model again")


def _vector_chunks(data: VectorSet) -> Iterator[torch.Tensor]:
    device = data.frames.device
    for part in batch_slices(data.n_vectors, SCORING_CHUNK):
        yield data.gather(torch.arange(part.start, part.stop, device=device))


SectionScorer = Callable[[ClipSet], np.ndarray]


def vector_scorer(detector: Detector, params: FeatureParams, device: torch.device, score: str) -> SectionScorer:
    """Scores of a section's clips by a detector of feature vectors (the autoencoder)."""

    def score_section(clip_set: ClipSet) -> np.ndarray:
        data = VectorSet.from_features(clip_set.features, params, clip_set.is_target, device)
        return detector.score_clips(_vector_chunks(data), data.clip_bounds())[score]

    return score_section


def evaluate(score_section: SectionScorer, sections: Sequence[str], load_section: Callable[[str], ClipSet],
             config: Namespace, paths: RunPaths) -> dict[str, float] | None:
    """Score every section, decide, write its CSVs; then the result table and the pictures, the test's
    configuration (only once the results it describes exist) and a one-line summary. Returns the mean
    figures when the clips are labelled, else None. ``load_section`` may return any object with the
    ``names``, ``labels``, ``is_target`` and ``labelled`` of a ClipSet."""
    from evaluation.plots import plot_roc_curves, plot_score_distributions

    threshold = load_threshold(paths, config.score, config.decision_threshold)
    section_ids, figures, plotted = [], [], []
    for section in sections:
        clip_set = load_section(section)
        scores = np.asarray(score_section(clip_set), dtype=np.float64)
        _require_finite(scores, clip_set.names, section, config.score, paths)
        decisions = (scores > threshold).astype(int)
        write_csv_rows(paths.anomaly_score_csv(section), score_rows(clip_set.names, scores))
        write_csv_rows(paths.decision_result_csv(section), score_rows(clip_set.names, decisions))
        tqdm.write(f"anomaly scores -> {paths.anomaly_score_csv(section)}")
        if clip_set.labelled:
            section_ids.append(section)
            figures.append(section_metrics(clip_set.labels, scores, decisions, clip_set.is_target,
                                           config.max_fpr))
            plotted.append((section, scores, clip_set.labels, clip_set.is_target))
    if not figures:
        save_config(paths.test_args_json(config.score), config)
        print(f"tested {config.dataset} ({config.score}): scores and decisions -> {paths.result_dir}")
        return None
    rows = result_table_rows(section_ids, figures)
    write_csv_rows(paths.result_csv, rows)
    tqdm.write(f"results -> {paths.result_csv}")
    title = f"{paths.base_name} ({config.score})"
    plot_score_distributions(paths.score_plot, plotted, threshold, title)
    plot_roc_curves(paths.roc_plot, plotted, title, max_fpr=config.max_fpr)
    means = dict(zip(rows[0][1:], rows[-3][1:], strict=True))
    save_config(paths.test_args_json(config.score), config)
    summary = ", ".join(f"{name} {value:.4f}" for name, value in means.items() if "AUC" in name)
    print(f"tested {config.dataset} ({config.score}): {summary} -> {paths.result_csv}")
    return means
