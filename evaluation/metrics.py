"""Detection metrics of DCASE Task 2, written out in numpy (the tests compare them with scikit-learn).

AUC (source) uses the source normal clips and every anomaly clip of the section, whatever its domain;
AUC (target) likewise with the target normals. pAUC is the McClish-standardised partial AUC up to
``max_fpr``, as scikit-learn's ``roc_auc_score(max_fpr=...)`` computes it.
"""

from __future__ import annotations

import sys

import numpy as np

EPS = sys.float_info.epsilon

TWO_DOMAIN_COLUMNS = (
    "AUC (source)",
    "AUC (target)",
    "pAUC",
    "pAUC (source)",
    "pAUC (target)",
    "precision (source)",
    "precision (target)",
    "recall (source)",
    "recall (target)",
    "F1 score (source)",
    "F1 score (target)",
)


def roc_curve_points(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) from (0, 0) to (1, 1), at every distinct threshold where
    the curve turns, as scikit-learn's ``roc_curve`` (``drop_intermediate=True``) gives them.

    quirk (kept on purpose): collinear points are dropped, since the trapezoid sum over fewer points rounds
    differently and the baseline's AUC bytes come from scikit-learn's curve.
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_score = np.asarray(y_score, dtype=np.float64)
    order = np.argsort(-y_score, kind="mergesort")
    sorted_scores, sorted_true = y_score[order], y_true[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(sorted_scores) - 1]
    true_positives = np.cumsum(sorted_true, dtype=np.float64)[last_of_each_score]
    false_positives = (last_of_each_score + 1) - true_positives
    if len(false_positives) > 2:
        turns = np.logical_or(np.diff(false_positives, 2), np.diff(true_positives, 2))
        keep = np.flatnonzero(np.r_[True, turns, True])
        false_positives, true_positives = false_positives[keep], true_positives[keep]
    fpr = np.r_[0.0, false_positives / max(false_positives[-1], 1)]
    tpr = np.r_[0.0, true_positives / max(true_positives[-1], 1)]
    return fpr, tpr


def _has_both_classes(y_true: np.ndarray) -> bool:
    y_true = np.asarray(y_true)
    return bool(y_true.any()) and not bool(y_true.all())


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when one class is missing."""
    if not _has_both_classes(y_true):
        return float("nan")
    fpr, tpr = roc_curve_points(y_true, y_score)
    return float(np.trapezoid(tpr, fpr))


def partial_roc_auc(y_true: np.ndarray, y_score: np.ndarray, max_fpr: float) -> float:
    """McClish-standardised area under the ROC curve for false positive rates up to ``max_fpr``."""
    if max_fpr >= 1.0:
        return roc_auc(y_true, y_score)
    if not _has_both_classes(y_true):
        return float("nan")
    fpr, tpr = roc_curve_points(y_true, y_score)
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    tpr_at_limit = np.interp(max_fpr, fpr[stop - 1 : stop + 1], tpr[stop - 1 : stop + 1])
    area = float(np.trapezoid(np.r_[tpr[:stop], tpr_at_limit], np.r_[fpr[:stop], max_fpr]))
    min_area = 0.5 * max_fpr**2
    return 0.5 * (1.0 + (area - min_area) / (max_fpr - min_area))


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of binary decisions, every division guarded by machine epsilon."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    true_positives = float(np.sum(y_true & y_pred))
    false_positives = float(np.sum(~y_true & y_pred))
    false_negatives = float(np.sum(y_true & ~y_pred))
    precision = true_positives / max(true_positives + false_positives, EPS)
    recall = true_positives / max(true_positives + false_negatives, EPS)
    f1 = 2.0 * precision * recall / max(precision + recall, EPS)
    return precision, recall, f1


def harmonic_mean(values: np.ndarray, axis: int | None = 0) -> np.ndarray | float:
    """Harmonic mean of ``values`` floored at machine epsilon, as the baseline and the evaluator do, computed
    as ``scipy.stats.hmean`` computes it (one over the mean of the reciprocals), to the last bit."""
    floored = np.maximum(np.asarray(values, dtype=np.float64), EPS)
    return 1.0 / np.mean(1.0 / floored, axis=axis)


def section_metrics(
    y_true: np.ndarray, y_score: np.ndarray, decisions: np.ndarray, is_target: np.ndarray, max_fpr: float
) -> dict[str, float]:
    """Every figure of one section's row in the result CSV, keyed by column name.

    Two-domain columns when the section has target clips, else the single-domain columns.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_score = np.asarray(y_score, dtype=np.float64)
    decisions = np.asarray(decisions, dtype=int)
    is_target = np.asarray(is_target, dtype=bool)
    anomaly = y_true == 1
    source, target = ~is_target, is_target
    figures = {
        "AUC (source)": roc_auc(y_true[source | anomaly], y_score[source | anomaly]),
        "pAUC": partial_roc_auc(y_true, y_score, max_fpr),
    }
    precision_s, recall_s, f1_s = precision_recall_f1(y_true[source], decisions[source])
    if not target.any():
        return {
            "AUC": figures["AUC (source)"],
            "pAUC": figures["pAUC"],
            "precision": precision_s,
            "recall": recall_s,
            "F1 score": f1_s,
        }
    precision_t, recall_t, f1_t = precision_recall_f1(y_true[target], decisions[target])
    figures.update(
        {
            "AUC (target)": roc_auc(y_true[target | anomaly], y_score[target | anomaly]),
            "pAUC (source)": partial_roc_auc(y_true[source], y_score[source], max_fpr),
            "pAUC (target)": partial_roc_auc(y_true[target], y_score[target], max_fpr),
            "precision (source)": precision_s,
            "precision (target)": precision_t,
            "recall (source)": recall_s,
            "recall (target)": recall_t,
            "F1 score (source)": f1_s,
            "F1 score (target)": f1_t,
        }
    )
    return {column: figures[column] for column in TWO_DOMAIN_COLUMNS}
