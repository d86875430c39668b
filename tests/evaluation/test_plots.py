"""evaluation.plots: every picture is a valid PNG of the expected pixel size, written without leftovers."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from evaluation import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sections(n_sections: int, labelled: bool = True) -> list[tuple]:
    rng = np.random.default_rng(n_sections)
    result = []
    for index in range(n_sections):
        labels = np.repeat([0, 1, 0, 1], 10) if labelled else np.full(40, -1)
        is_target = np.repeat([False, False, True, True], 10)
        scores = rng.gamma(2.0, 1.0, 40) + 2.0 * (labels == 1)
        result.append((f"{index:02d}", scores, labels, is_target))
    return result


def image_shape(path: Path) -> tuple[int, ...]:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
    return matplotlib.image.imread(path).shape


@pytest.mark.parametrize(("n_sections", "expected"), [(1, (420, 750, 4)), (2, (420, 1500, 4)), (3, (840, 1500, 4))])
def test_score_distributions(tmp_path: Path, n_sections: int, expected: tuple[int, ...]) -> None:
    path = tmp_path / "scores.png"
    plots.plot_score_distributions(path, sections(n_sections), 3.5, "DCASE2024T2fan (MSE)")
    assert image_shape(path) == expected


def test_score_distributions_without_labels_or_threshold(tmp_path: Path) -> None:
    path = tmp_path / "scores.png"
    plots.plot_score_distributions(path, sections(1, labelled=False), None, "eval data")
    assert image_shape(path) == (420, 750, 4)


def test_loss_curve(tmp_path: Path) -> None:
    path = tmp_path / "log.png"
    columns = ("loss", "val_loss", "recon_loss", "recon_loss_source", "recon_loss_target")
    rows = [[str(v) for v in (10 / epoch, 11 / epoch, 10 / epoch, 9.5 / epoch, 14 / epoch)] for epoch in range(1, 6)]
    plots.plot_loss_curve(path, columns, rows, "DCASE2023T2-AE_DCASE2024T2fan_seed13711")
    assert image_shape(path) == (480, 800, 4)


def test_loss_curve_before_the_first_epoch(tmp_path: Path) -> None:
    path = tmp_path / "log.png"
    plots.plot_loss_curve(path, ("loss", "val_loss"), [], "no epochs")
    assert image_shape(path) == (480, 800, 4)


@pytest.mark.parametrize(("n_sections", "expected"), [(1, (620, 700, 4)), (2, (620, 1120, 4)), (4, (1240, 1680, 4))])
def test_roc_curves(tmp_path: Path, n_sections: int, expected: tuple[int, ...]) -> None:
    path = tmp_path / "roc.png"
    plots.plot_roc_curves(path, sections(n_sections), "DCASE2024T2fan (MSE)")
    assert image_shape(path) == expected


def test_domain_roc_inputs_take_that_domains_normals_and_every_anomaly() -> None:
    labels = np.array([0, 1, 0, 1])
    is_target = np.array([False, False, True, True])
    assert plots.domain_roc_inputs(labels, is_target, "source").tolist() == [True, True, False, True]
    assert plots.domain_roc_inputs(labels, is_target, "target").tolist() == [False, True, True, True]


def test_summary_table(tmp_path: Path) -> None:
    path = tmp_path / "summary.png"
    values = np.array([[0.7, 0.72, 0.8, np.nan], [0.05, 0.5, 0.95, 0.6]])
    plots.plot_summary_table(
        path,
        ["MSE | AUC (source)", "MSE | TOTAL score"],
        ["h-mean", "a-mean", "fan", "valve"],
        values,
        "DCASE2024T2 dev data summary",
    )
    height, width, channels = image_shape(path)
    assert (height, width, channels) == (250, 750, 4)


def test_score_timeline(tmp_path: Path) -> None:
    import datetime

    times = [datetime.datetime(2026, 11, 30) + datetime.timedelta(minutes=10 * index) for index in range(30)]
    plots.plot_score_timeline(tmp_path / "timeline.png", times, np.linspace(1.0, 3.0, 30), 2.5, "fan", "time")
    assert image_shape(tmp_path / "timeline.png") == (420, 1000, 4)
