"""Pictures of a run, written as PNG without a display (matplotlib's Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from safe_io import atomic_write


def _figure_module():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=100))


def plot_score_distributions(path: Path, sections: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                             threshold: float, title: str) -> None:
    """Box plots of the anomaly scores per section, domain and label, with the decision threshold."""
    plt = _figure_module()
    figure, axes = plt.subplots(1, len(sections), figsize=(6 * len(sections), 4.5), squeeze=False)
    for axis, (section, scores, labels, is_target) in zip(axes[0], sections, strict=True):
        groups, names = [], []
        for domain_name, in_domain in (("source", ~is_target), ("target", is_target)):
            for label_name, label in (("normal", 0), ("anomaly", 1)):
                chosen = scores[in_domain & (labels == label)]
                if chosen.size:
                    groups.append(chosen)
                    names.append(f"{domain_name}\n{label_name}")
        axis.boxplot(groups, tick_labels=names)
        axis.axhline(threshold, color="tab:red", linestyle="--", label=f"threshold {threshold:.3g}")
        axis.set_title(f"section {section}")
        axis.set_ylabel("anomaly score")
        axis.legend(loc="upper left")
    figure.suptitle(title)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)


def plot_loss_curve(path: Path, columns: Sequence[str], rows: Sequence[Sequence[float]], title: str) -> None:
    """Training and validation loss per epoch."""
    plt = _figure_module()
    values = np.asarray(rows, dtype=np.float64)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    epochs = np.arange(1, len(values) + 1)
    for index, column in enumerate(columns):
        if column != "recon_loss":  # equal to loss for the autoencoder
            axis.plot(epochs, values[:, index], label=column, marker="." if len(values) < 30 else None)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
