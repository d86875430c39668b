"""evaluation.ground_truth on hand-made score, decision and ground-truth CSVs with known figures (the helpers
are shared with the command line's tests in tests/tools)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from errors import DataError
from evaluation import ground_truth as gt

MACHINE = "ToyCircuit"
DATASET = f"DCASE2024T2{MACHINE}"
SUFFIX = "seed13711_id(0_)_Eval"

# (label, domain, score, decision) of twelve clips, named section_00_0000 ... in a shuffled order.
# Descending scores: A1 0.95 (source anomaly), N1 0.9 (source normal, decided anomalous), A2 0.85 (target
# anomaly), then four more source and five target normals, all decided normal.
CLIPS = [
    (1, "source", 0.95, 1),
    (0, "source", 0.90, 1),
    (1, "target", 0.85, 1),
    (0, "target", 0.60, 0),
    (0, "target", 0.55, 0),
    (0, "source", 0.50, 0),
    (0, "target", 0.45, 0),
    (0, "source", 0.40, 0),
    (0, "target", 0.35, 0),
    (0, "source", 0.30, 0),
    (0, "target", 0.25, 0),
    (0, "source", 0.20, 0),
]
# Worked out by hand:
# AUC (source): anomalies vs the 5 source normals: 0.95 beats 5, 0.85 beats 4 -> 9/10.
# AUC (target): both anomalies beat the 5 target normals -> 1.
# pAUC (all 12 clips, 10 normals): ROC (0,0) -> (0,.5) -> (.1,.5) -> (.1,1): area to FPR .1 is .05;
#   McClish: 0.5 * (1 + (.05 - .005) / (.1 - .005)) = 14/19.
# pAUC (source) and pAUC (target): the domain's anomaly scores highest -> 1.
# Decisions: source tp 1, fp 1, fn 0 -> precision 1/2, recall 1, F1 2/3; target tp 1 -> 1, 1, 1.
EXPECTED = {
    "AUC (source)": 0.9,
    "AUC (target)": 1.0,
    "pAUC": 14 / 19,
    "pAUC (source)": 1.0,
    "pAUC (target)": 1.0,
    "precision (source)": 0.5,
    "precision (target)": 1.0,
    "recall (source)": 1.0,
    "recall (target)": 1.0,
    "F1 score (source)": 2 / 3,
    "F1 score (target)": 1.0,
}
ORDER = [7, 2, 11, 0, 5, 9, 3, 10, 1, 8, 6, 4]  # clip i is named section_00_{ORDER[i]:04d}.wav


def short_name(index: int) -> str:
    return f"section_00_{ORDER[index]:04d}.wav"


def labelled_name(index: int) -> str:
    label, domain, _, _ = CLIPS[index]
    return f"section_00_{domain}_test_{'anomaly' if label else 'normal'}_{index:04d}_noAttribute.wav"


def write_rows(path: Path, rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)


def write_ground_truth(folder: Path, with_attributes: bool = True) -> None:
    order = sorted(range(len(CLIPS)), key=short_name)
    write_rows(gt.ground_truth_path(folder, "data", MACHINE, "00"), [[short_name(i), CLIPS[i][0]] for i in order])
    write_rows(
        gt.ground_truth_path(folder, "domain", MACHINE, "00"),
        [[short_name(i), int(CLIPS[i][1] == "target")] for i in order],
    )
    if with_attributes:
        write_rows(
            gt.ground_truth_path(folder, "attributes", MACHINE, "00"),
            [[short_name(i), labelled_name(i).removesuffix(".wav")] for i in order],
        )


def write_scores(folder: Path, name=short_name, indices: list[int] | None = None) -> None:
    indices = list(reversed(range(len(CLIPS)))) if indices is None else indices  # any order will do
    write_rows(
        folder / f"anomaly_score_{DATASET}_section_00_test_{SUFFIX}.csv", [[name(i), CLIPS[i][2]] for i in indices]
    )
    write_rows(
        folder / f"decision_result_{DATASET}_section_00_test_{SUFFIX}.csv", [[name(i), CLIPS[i][3]] for i in indices]
    )


def read_result(path: Path) -> dict[str, float]:
    with open(path, newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0][0] == "section" and rows[1][0] == "00"
    assert [row[0] for row in rows[2:4]] == ["arithmetic mean", "harmonic mean"] and rows[4] == []
    return {column: float(value) for column, value in zip(rows[0][1:], rows[1][1:], strict=True)}


def test_hand_computed_figures_agree_with_scikit_learn() -> None:
    labels = np.array([c[0] for c in CLIPS])
    target = np.array([c[1] == "target" for c in CLIPS])
    scores = np.array([c[2] for c in CLIPS])
    source_set = ~target | (labels == 1)
    assert roc_auc_score(labels[source_set], scores[source_set]) == pytest.approx(EXPECTED["AUC (source)"])
    assert roc_auc_score(labels, scores, max_fpr=0.1) == pytest.approx(EXPECTED["pAUC"])


def test_a_clip_unknown_to_the_ground_truth_is_an_error(tmp_path: Path) -> None:
    write_ground_truth(tmp_path / "gt", with_attributes=False)
    truth = gt.load_section_truth(tmp_path / "gt", MACHINE, "00")
    with pytest.raises(DataError, match="does not list"):
        gt.align_to_truth(truth, [(labelled_name(0), 0.5)], Path("scores.csv"))


def test_missing_ground_truth_says_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"ground_truth_data.*--ground_truth_dir"):
        gt.load_section_truth(tmp_path / "nowhere", MACHINE, "00")


def test_threshold_from_decisions_lies_between_the_two_groups() -> None:
    section = gt.ScoredSection(
        "00", np.array([0.1, 0.4, 0.9, 0.7]), np.zeros(4, int), np.array([0, 0, 1, 1]), np.zeros(4, bool), {}
    )
    assert gt.threshold_from_decisions([section]) == pytest.approx(0.55)
    crossed = gt.ScoredSection("00", np.array([0.8, 0.7]), np.zeros(2, int), np.array([0, 1]), np.zeros(2, bool), {})
    assert gt.threshold_from_decisions([crossed]) is None
