"""evaluation.official_score against independent numpy/scipy/pandas computations and published numbers."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.official_score import (
    machine_means,
    official_score,
    summary_table,
    total_arithmetic_mean,
    total_standard_deviation,
)

EPS = sys.float_info.epsilon
MACHINES_2024_EVAL = (
    "3DPrinter",
    "AirCompressor",
    "Scanner",
    "ToyCircuit",
    "HoveringDrone",
    "HairDryer",
    "ToothBrush",
    "RoboticArm",
    "BrushlessMotor",
)

# The official evaluator's README (DCASE2024 Task 2, evaluation set) lists, per machine type, the
# baseline's AUC (source), AUC (target) and pAUC, and the resulting h-mean/a-mean of each row.
PUBLISHED = {
    "MSE": {
        "AUC (source)": [
            0.7912,
            0.65,
            0.6916,
            0.7658,
            0.8601999999999999,
            0.6224000000000001,
            0.7504000000000001,
            0.6596,
            0.7070000000000001,
        ],
        "AUC (target)": [
            0.47959999999999997,
            0.4824,
            0.5374000000000001,
            0.5266000000000001,
            0.43879999999999997,
            0.4598,
            0.6948,
            0.4152,
            0.6352,
        ],
        "pAUC": [
            0.4942105263157895,
            0.5547368421052632,
            0.5010526315789474,
            0.5,
            0.5021052631578947,
            0.5163157894736842,
            0.5273684210526316,
            0.511578947368421,
            0.5557894736842105,
        ],
        "expected": {
            "AUC (source)": (0.7150555228086642, 0.7220222222222223),
            "AUC (target)": (0.5057977147441246, 0.5188666666666667),
            "pAUC (source, target)": (0.5172271108149132, 0.5181286549707603),
            "TOTAL score": (0.5650830191796572, 0.5863391812865497),
        },
    },
    "MAHALA": {
        "AUC (source)": [0.7544, 0.6609999999999999, 0.5684, 0.6794, 0.8387999999999999, 0.606, 0.6556, 0.5834, 0.8032],
        "AUC (target)": [
            0.42399999999999993,
            0.555,
            0.5549999999999999,
            0.4464,
            0.46399999999999997,
            0.5898,
            0.579,
            0.42499999999999993,
            0.7338,
        ],
        "pAUC": [
            0.508421052631579,
            0.6078947368421053,
            0.4926315789473684,
            0.4921052631578947,
            0.5800000000000001,
            0.5510526315789473,
            0.48368421052631577,
            0.5178947368421053,
            0.5905263157894737,
        ],
        "expected": {
            "AUC (source)": (0.6718221907158789, 0.6833555555555556),
            "AUC (target)": (0.5144113485475758, 0.5302222222222222),
            "pAUC (source, target)": (0.5324024369331867, 0.5360233918128655),
            "TOTAL score": (0.5648933421610234, 0.5832003898635478),
        },
    },
}


def random_sections(rng: np.random.Generator, n_sections: int) -> list[dict[str, float]]:
    return [
        {
            "AUC (source)": rng.uniform(0.3, 1.0),
            "AUC (target)": rng.uniform(0.3, 1.0),
            "pAUC": rng.uniform(0.45, 0.9),
            "precision (source)": rng.uniform(),
            "F1 score (target)": rng.uniform(),
        }
        for _ in range(n_sections)
    ]


@pytest.mark.parametrize("system", ["MSE", "MAHALA"])
def test_summary_table_reproduces_the_published_baseline_scores(system: str) -> None:
    published = PUBLISHED[system]
    machine_sections = {
        machine: [
            {
                "AUC (source)": published["AUC (source)"][i],
                "AUC (target)": published["AUC (target)"][i],
                "pAUC": published["pAUC"][i],
            }
        ]
        for i, machine in enumerate(MACHINES_2024_EVAL)
    }
    table = summary_table(machine_sections)
    assert list(table) == ["AUC (source)", "AUC (target)", "pAUC (source, target)", "TOTAL score"]
    for metric, (h_mean, a_mean) in published["expected"].items():
        assert table[metric]["h-mean"] == pytest.approx(h_mean, rel=1e-12)
        assert table[metric]["a-mean"] == pytest.approx(a_mean, rel=1e-12)
    for i, machine in enumerate(MACHINES_2024_EVAL):
        assert table["AUC (source)"][machine] == published["AUC (source)"][i]
        assert table["pAUC (source, target)"][machine] == published["pAUC"][i]
        assert np.isnan(table["TOTAL score"][machine])


def test_official_score_is_the_floored_harmonic_mean_of_every_auc_and_pauc() -> None:
    rng = np.random.default_rng(1)
    sections = random_sections(rng, 11)
    values = np.array([[s["AUC (source)"], s["AUC (target)"], s["pAUC"]] for s in sections]).ravel()
    assert official_score(sections) == pytest.approx(stats.hmean(values), rel=1e-13)
    assert total_arithmetic_mean(sections) == pytest.approx(values.mean(), rel=1e-13)
    assert total_standard_deviation(sections) == pytest.approx(values.std(ddof=0), rel=1e-12)


def test_a_zero_auc_is_floored_at_machine_epsilon() -> None:
    sections = [{"AUC (source)": 0.0, "AUC (target)": 0.8, "pAUC": 0.6}]
    expected = 3 / (1 / EPS + 1 / 0.8 + 1 / 0.6)
    assert official_score(sections) == pytest.approx(expected, rel=1e-12)
    assert official_score(sections) > 0.0


def test_single_domain_sections_score_auc_and_pauc() -> None:
    sections = [{"AUC": 0.7, "pAUC": 0.55, "precision": 0.1}, {"AUC": 0.9, "pAUC": 0.6, "precision": 0.2}]
    assert official_score(sections) == pytest.approx(stats.hmean([0.7, 0.55, 0.9, 0.6]), rel=1e-13)
    table = summary_table({"fan": sections})
    assert list(table) == ["AUC", "pAUC", "TOTAL score"]


def test_machine_columns_are_means_over_sections_and_the_means_pool_every_section() -> None:
    rng = np.random.default_rng(2)
    machine_sections = {
        "fan": random_sections(rng, 3),
        "valve": random_sections(rng, 1),
        "pump": random_sections(rng, 2),
    }
    frame = pd.DataFrame(
        [{"machine": machine, **section} for machine, sections in machine_sections.items() for section in sections]
    )
    table = summary_table(machine_sections, total_label="TOTAL score (partial)")
    for metric, column in (
        ("AUC (source)", "AUC (source)"),
        ("AUC (target)", "AUC (target)"),
        ("pAUC (source, target)", "pAUC"),
    ):
        per_machine = frame.groupby("machine")[column].mean()
        for machine in machine_sections:
            assert table[metric][machine] == pytest.approx(per_machine[machine], rel=1e-13)
        assert table[metric]["a-mean"] == pytest.approx(frame[column].mean(), rel=1e-13)
        assert table[metric]["h-mean"] == pytest.approx(stats.hmean(frame[column]), rel=1e-13)
    pooled = frame[["AUC (source)", "AUC (target)", "pAUC"]].to_numpy().ravel()
    assert table["TOTAL score (partial)"]["h-mean"] == pytest.approx(stats.hmean(pooled), rel=1e-13)
    assert table["TOTAL score (partial)"]["a-mean"] == pytest.approx(pooled.mean(), rel=1e-13)


def test_machine_means_floor_the_harmonic_mean() -> None:
    sections = [{"AUC (source)": 0.5, "precision (target)": 0.0}, {"AUC (source)": 1.0, "precision (target)": 0.5}]
    arithmetic, harmonic = machine_means(sections)
    assert arithmetic == {"AUC (source)": 0.75, "precision (target)": 0.25}
    assert harmonic["AUC (source)"] == pytest.approx(stats.hmean([0.5, 1.0]), rel=1e-13)
    assert harmonic["precision (target)"] == pytest.approx(stats.hmean([EPS, 0.5]), rel=1e-12)


def test_nothing_to_score_is_an_error() -> None:
    with pytest.raises(ValueError):
        official_score([])
    with pytest.raises(ValueError):
        summary_table({"fan": []})
