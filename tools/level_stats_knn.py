"""The level-statistics kNN: a learning-free reference score for any data in the DCASE layout.

    python -m tools.level_stats_knn DCASE2024T2 -d [--dataset_directory data] [--machines fan valve]

Every clip becomes the mean and the standard deviation of each log-mel band over time (the features of
``baseline.yaml``: 128 bands, 1024-point frames, hop 512); a test clip scores its distance to the ``k``
nearest training clips of each domain divided by that domain's typical spacing, the smaller kept
(``evaluation.level_statistics``). It writes the standard per-section CSVs under
``<result_directory>/<dev|eval>_data/<export_dir>_KNN/`` (default ``levelstats_KNN``), so that
``python -m tools.summarize DCASE2024T2 -d --systems baseline_MSE levelstats_KNN`` puts it beside trained
systems. A trained system that does not beat it has learnt little more than level and spectral envelope.
Decisions: a score above the 0.9 quantile of the training clips' leave-one-out scores.
"""

from __future__ import annotations

import argparse
import sys
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datasets.clip_features import ClipFeatures, extract_features
from datasets.features import FeatureParams
from datasets.file_list import list_test_clips, list_train_clips
from datasets.registry import families, machine_types, resolve_dataset
from engine.paths import RunPaths
from errors import ASDError
from evaluation.level_statistics import level_statistics_scores
from evaluation.metrics import section_metrics
from evaluation.result_files import result_table_rows, score_rows, write_csv_rows

SCORE = "KNN"
DECISION_QUANTILE = 0.9


def _frames(features: ClipFeatures) -> list[np.ndarray]:
    return [features.clip_frames(index) for index in range(len(features.offsets) - 1)]


def score_machine(args: Namespace, machine: str, params: FeatureParams) -> Path:
    """Score one machine type's test clips and write its CSVs; returns the result CSV's path."""
    split = "eval" if args.eval else "dev"
    spec = resolve_dataset(f"{args.family}{machine}", split)
    config = Namespace(model="levelstats", dataset=spec.name, model_name_suffix="", eval=args.eval,
                       seed=args.seed, export_dir=args.export_dir, result_directory=args.result_directory,
                       score=SCORE)
    paths = RunPaths.from_config(config)
    train = list_train_clips(spec, args.dataset_directory, [])
    train_frames = _frames(extract_features([clip.path for clip in train], params, args.workers,
                                            f"{machine} train"))
    train_is_target = np.array([clip.domain == "target" for clip in train])
    section_ids, figures = [], []
    for section in spec.sections:
        clips, labelled = list_test_clips(spec, args.dataset_directory, section)
        test_frames = _frames(extract_features([clip.path for clip in clips], params, args.workers,
                                               f"{machine} test"))
        scores, train_scores = level_statistics_scores(train_frames, train_is_target, test_frames, args.k)
        decisions = (scores > np.quantile(train_scores, DECISION_QUANTILE)).astype(int)
        names = [clip.name for clip in clips]
        write_csv_rows(paths.anomaly_score_csv(section), score_rows(names, scores))
        write_csv_rows(paths.decision_result_csv(section), score_rows(names, decisions))
        if labelled:
            section_ids.append(section)
            figures.append(section_metrics(np.array([clip.label for clip in clips]), scores, decisions,
                                           np.array([clip.domain == "target" for clip in clips]), args.max_fpr))
    if figures:
        write_csv_rows(paths.result_csv, result_table_rows(section_ids, figures))
    return paths.result_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.level_stats_knn", description=__doc__.split("\n")[0])
    parser.add_argument("family", choices=families(), metavar="DATASET", help="e.g. DCASE2024T2")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-d", "--dev", action="store_true", help="development data (labelled test clips)")
    mode.add_argument("-e", "--eval", action="store_true", help="evaluation data (scores only)")
    parser.add_argument("--dataset_directory", type=Path, default=Path("data"))
    parser.add_argument("--result_directory", type=Path, default=Path("results"))
    parser.add_argument("--export_dir", default="levelstats", help="result folder <export_dir>_KNN")
    parser.add_argument("--machines", nargs="+", default=None, help="default: every machine type of the split")
    parser.add_argument("--k", type=int, default=2, help="neighbours per domain (default 2)")
    parser.add_argument("--seed", type=int, default=13711, help="only names the files (seed<seed>), as runs do")
    parser.add_argument("--max_fpr", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=0, help="feature extraction processes (0: auto)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        machines = args.machines or machine_types(args.family, "eval" if args.eval else "dev")
        for machine in machines:
            print(f"{args.family}{machine}: level-statistics kNN -> {score_machine(args, machine, FeatureParams())}")
        return 0
    except ASDError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
