"""The result CSV layout the public baseline writes (and the summary and the official evaluator read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.stats

from evaluation.result_files import result_table_rows, score_rows
from safe_io import write_csv


def test_result_table_has_header_sections_means_and_an_empty_line(tmp_path: Path) -> None:
    figures = [{"AUC": 0.5, "pAUC": 0.25}, {"AUC": 1.0, "pAUC": 0.0}]
    path = tmp_path / "result.csv"
    write_csv(path, result_table_rows(["00", "01"], figures))
    lines = path.read_text().split("\n")
    assert lines[0] == "section,AUC,pAUC"
    assert lines[1] == "00,0.5,0.25" and lines[2] == "01,1.0,0.0"
    assert lines[3] == "arithmetic mean,0.75,0.125"
    name, auc, pauc = lines[4].split(",")
    assert name == "harmonic mean"
    assert float(auc) == scipy.stats.hmean([0.5, 1.0])
    assert float(pauc) == scipy.stats.hmean(np.maximum([0.25, 0.0], np.finfo(float).eps))
    assert lines[5:] == ["", ""]  # the empty row, then the final newline


def test_score_rows_keep_full_precision_and_integers(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    write_csv(path, score_rows(["a.wav", "b.wav"], np.array([1 / 3, 2.0])))
    assert path.read_text() == f"a.wav,{1 / 3!r}\nb.wav,2.0\n"
    write_csv(path, score_rows(["a.wav"], np.array([1])))
    assert path.read_text() == "a.wav,1\n"
