"""Pictures of a run, written as PNG without a display (matplotlib's Agg backend), atomically.

``sections`` arguments are sequences of ``(section id, scores, labels, is_target)``: per clip, the anomaly
score, the label (1 anomaly, 0 normal, -1 unknown) and whether the clip is from the target domain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.metrics import roc_auc, roc_curve_points
from safe_io import atomic_write

SectionScores = tuple[str, np.ndarray, np.ndarray, np.ndarray]

DPI = 100
LABEL_NAMES = {0: "normal", 1: "anomaly", -1: "unlabelled"}
LABEL_COLOURS = {0: "tab:blue", 1: "tab:orange", -1: "tab:gray"}
DOMAIN_COLOURS = {"source": "tab:blue", "target": "tab:green"}
LOSS_LABELS = {
    "loss": "training loss",
    "val_loss": "validation loss",
    "recon_loss": "training reconstruction loss",
    "recon_loss_source": "training reconstruction loss, source clips",
    "recon_loss_target": "training reconstruction loss, target clips",
}


def _figure_module():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    """Write the figure as PNG (atomically) and release it."""
    atomic_write(Path(path), lambda stream: figure.savefig(stream, format="png", dpi=DPI))
    _figure_module().close(figure)


def _finish_section_grid(figure, axes, n_sections: int, title: str, path: Path) -> None:
    """Hide the grid's unused panels, add the title and save."""
    for axis in list(axes.flat)[n_sections:]:
        axis.set_visible(False)
    figure.suptitle(title, fontsize=12, wrap=True)
    figure.tight_layout()
    _save(figure, path)


def _grid(n_panels: int, max_columns: int = 3) -> tuple[int, int]:
    columns = min(max(n_panels, 1), max_columns)
    return math.ceil(max(n_panels, 1) / columns), columns


def _wide_range(values: np.ndarray, ratio: float) -> bool:
    """True when positive values span more than ``ratio`` (a log axis reads better)."""
    values = values[np.isfinite(values)]
    return values.size > 1 and values.min() > 0 and values.max() / values.min() > ratio


def _as_arrays(section: SectionScores) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    name, scores, labels, is_target = section
    return (
        str(name),
        np.asarray(scores, dtype=np.float64),
        np.asarray(labels, dtype=int),
        np.asarray(is_target, dtype=bool),
    )


def _horizontal_box_options(tick_labels: list[str]) -> dict:
    """Keyword names of a horizontal labelled box plot; matplotlib renamed them in 3.9 and 3.10."""
    import matplotlib

    version = tuple(int(part) for part in matplotlib.__version__.split(".")[:2])
    options: dict = {"orientation": "horizontal"} if version >= (3, 10) else {"vert": False}
    options["tick_labels" if version >= (3, 9) else "labels"] = tick_labels
    return options


def plot_score_distributions(
    path: Path,
    sections: Sequence[SectionScores],
    threshold: float | None,
    title: str,
    threshold_label: str = "decision threshold",
) -> None:
    """Per section, the anomaly scores of each (domain, label) group: box plot plus every clip as a dot.

    The decision threshold is drawn as a dashed red line (none when ``threshold`` is None).
    """
    plt = _figure_module()
    n_rows, n_columns = _grid(len(sections), max_columns=2)
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(7.5 * n_columns, 4.2 * n_rows), squeeze=False)
    jitter = np.random.default_rng(0)
    for axis, section in zip(axes.flat, sections, strict=False):
        name, scores, labels, is_target = _as_arrays(section)
        groups, tick_labels, colours = [], [], []
        for domain, in_domain in (("source", ~is_target), ("target", is_target)):
            for label in (0, 1, -1):
                chosen = scores[in_domain & (labels == label)]
                if chosen.size:
                    groups.append(chosen)
                    tick_labels.append(f"{domain} {LABEL_NAMES[label]}\n(n={chosen.size})")
                    colours.append(LABEL_COLOURS[label])
        positions = np.arange(1, len(groups) + 1)
        if groups:
            boxes = axis.boxplot(
                groups,
                positions=positions,
                widths=0.6,
                showmeans=True,
                showfliers=False,
                patch_artist=True,
                **_horizontal_box_options(tick_labels),
            )
            for box, colour in zip(boxes["boxes"], colours, strict=True):
                box.set(facecolor=colour, alpha=0.25)
            for position, group, colour in zip(positions, groups, colours, strict=True):
                axis.scatter(
                    group,
                    position + jitter.uniform(-0.18, 0.18, group.size),
                    s=9,
                    color=colour,
                    alpha=0.7,
                    linewidths=0,
                    zorder=3,
                )
        if threshold is not None and math.isfinite(threshold):
            axis.axvline(
                threshold, color="tab:red", linestyle="--", linewidth=1.5, label=f"{threshold_label}: {threshold:.4g}"
            )
            axis.legend(loc="best", fontsize=8)
        if _wide_range(np.r_[scores, threshold if threshold is not None else np.nan], 100.0):
            axis.set_xscale("log")
        axis.set_title(f"section {name}", fontsize=11)
        axis.set_xlabel("anomaly score (higher = more anomalous)")
        axis.grid(axis="x", alpha=0.3)
        axis.invert_yaxis()  # source groups on top
    _finish_section_grid(figure, axes, len(sections), title, path)


def plot_loss_curve(
    path: Path, columns: Sequence[str], rows: Sequence[Sequence[float]], title: str, ylabel: str = "mean squared error"
) -> None:
    """Training, validation and per-domain reconstruction losses per epoch (columns as in log.csv)."""
    plt = _figure_module()
    values = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(columns))
    figure, axis = plt.subplots(figsize=(8, 4.8))
    epochs = np.arange(1, len(values) + 1)
    plotted = []
    for index, column in enumerate(columns):
        curve = values[:, index]
        if (
            column == "recon_loss"
            and "loss" in columns
            and np.allclose(curve, values[:, columns.index("loss")], equal_nan=True)
        ):
            continue  # the autoencoder's reconstruction loss is its training loss: one line is enough
        style = "--" if column.startswith("recon_loss_") else "-"
        axis.plot(
            epochs,
            curve,
            style,
            label=LOSS_LABELS.get(column, column),
            marker="o" if len(values) < 30 else None,
            markersize=4,
        )
        plotted.append(curve)
    if not len(values):
        axis.text(0.5, 0.5, "no epoch finished yet", ha="center", va="center", transform=axis.transAxes)
    elif plotted and _wide_range(np.concatenate(plotted), 30.0):
        axis.set_yscale("log")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.set_xlabel("epoch")
    axis.set_ylabel(ylabel)
    axis.set_title(title, fontsize=11)
    axis.grid(alpha=0.3)
    if plotted:
        axis.legend(fontsize=9)
    figure.tight_layout()
    _save(figure, path)


def domain_roc_inputs(labels: np.ndarray, is_target: np.ndarray, domain: str) -> np.ndarray:
    """Mask of the clips of one domain's ROC: that domain's normal clips and every anomaly clip."""
    in_domain = is_target if domain == "target" else ~is_target
    return (in_domain & (labels == 0)) | (labels == 1)


def plot_roc_curves(path: Path, sections: Sequence[SectionScores], title: str, max_fpr: float = 0.1) -> None:
    """Per section, the ROC curves of the source and target domains (each: its normals + all anomalies).

    The legend gives each curve's AUC; the shaded band marks the false positive rates pAUC covers.
    """
    plt = _figure_module()
    n_rows, n_columns = _grid(len(sections))
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(max(5.6 * n_columns, 7.0), 6.2 * n_rows), squeeze=False)
    for axis, section in zip(axes.flat, sections, strict=False):
        name, scores, labels, is_target = _as_arrays(section)
        for domain in ("source", "target"):
            chosen = domain_roc_inputs(labels, is_target, domain)
            y_true = labels[chosen] == 1
            if not y_true.any() or y_true.all():
                continue  # no normal clip of this domain (or no anomaly): no curve
            fpr, tpr = roc_curve_points(y_true, scores[chosen])
            auc = roc_auc(y_true, scores[chosen])
            n_normal = int((~y_true).sum())
            axis.plot(
                fpr,
                tpr,
                color=DOMAIN_COLOURS[domain],
                linewidth=2,
                drawstyle="default",
                label=f"{domain}: AUC {auc:.3f} ({n_normal} normal, {int(y_true.sum())} anomalous)",
            )
        axis.plot([0, 1], [0, 1], color="gray", linestyle=":", linewidth=1, label="chance")
        axis.axvspan(0, max_fpr, color="tab:red", alpha=0.07, label=f"pAUC range (FPR ≤ {max_fpr:g})")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.01)
        axis.set_aspect("equal")
        axis.set_xlabel("false positive rate")
        axis.set_ylabel("true positive rate")
        axis.set_title(f"section {name}", fontsize=11)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=1, frameon=False)
    _finish_section_grid(figure, axes, len(sections), title, path)


def plot_summary_table(
    path: Path, row_labels: Sequence[str], column_labels: Sequence[str], values: np.ndarray, title: str
) -> None:
    """The compact summary table as a heat map: red below chance (0.5), green towards 1, figures printed."""
    plt = _figure_module()
    values = np.asarray(values, dtype=np.float64)
    n_rows, n_columns = values.shape
    figure, axis = plt.subplots(figsize=(max(6.0, 1.0 * n_columns + 3.5), max(2.5, 0.42 * n_rows + 1.6)))
    image = axis.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for row in range(n_rows):
        for column in range(n_columns):
            value = values[row, column]
            if math.isfinite(value):
                colour = "white" if value < 0.15 or value > 0.85 else "black"  # readable on the dark ends
                axis.text(column, row, f"{value:.3f}", ha="center", va="center", fontsize=8, color=colour)
    axis.set_xticks(range(n_columns), labels=list(column_labels), rotation=35, ha="right", fontsize=9)
    axis.set_yticks(range(n_rows), labels=list(row_labels), fontsize=9)
    axis.set_xticks(np.arange(-0.5, n_columns), minor=True)
    axis.set_yticks(np.arange(-0.5, n_rows), minor=True)
    axis.grid(which="minor", color="white", linewidth=1)
    axis.tick_params(which="minor", length=0)
    figure.colorbar(image, ax=axis, fraction=0.03, pad=0.02, label="AUC / pAUC")
    figure.suptitle(title, fontsize=11, wrap=True)
    figure.tight_layout()
    _save(figure, path)


def plot_score_timeline(
    path: Path, times: Sequence, scores: np.ndarray, threshold: float, title: str, xlabel: str
) -> None:
    """Anomaly score over time (clock times or seconds), windows above the threshold marked, the threshold line."""
    plt = _figure_module()
    scores = np.asarray(scores, dtype=np.float64)
    above = scores > threshold
    figure, axis = plt.subplots(figsize=(10, 4.2))
    axis.plot(times, scores, "-", color="tab:blue", linewidth=1, label="score")
    axis.plot(
        [t for t, high in zip(times, above, strict=True) if not high],
        scores[~above],
        "o",
        color="tab:blue",
        markersize=3,
    )
    axis.plot(
        [t for t, high in zip(times, above, strict=True) if high],
        scores[above],
        "o",
        color="tab:red",
        markersize=5,
        label=f"above the threshold ({int(above.sum())} of {len(scores)})",
    )
    axis.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"threshold {threshold:.4g}")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("anomaly score (higher = more anomalous)")
    axis.set_title(title, fontsize=11)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=9, loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    _save(figure, path)
