"""datasets.synthetic.monitor_demo: recorder-style names one step apart, the day's fault after its normal part."""

from __future__ import annotations

import datetime
from pathlib import Path

import soundfile

from datasets.synthetic.monitor_demo import day_order, recorder_name


def test_recorder_names_are_time_stamps_a_step_apart() -> None:
    start = datetime.datetime(2026, 11, 30)
    assert [recorder_name(start, index, 600) for index in (0, 1, 7)] == [
        "2026-11-30T00-00-00.wav",
        "2026-11-30T00-10-00.wav",
        "2026-11-30T01-10-00.wav",
    ]


def test_day_order_puts_anomalies_among_the_last_normals() -> None:
    normals, anomalies = [Path(f"n{i}") for i in range(10)], [Path(f"a{i}") for i in range(3)]
    order = day_order(normals, anomalies, 0.6)
    assert [p.name for p in order] == ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "a0", "n7", "a1", "n8", "a2", "n9"]


def test_demo_folders(recordings: Path) -> None:
    names = sorted(path.name for path in (recordings / "normal").glob("*.wav"))
    assert len(names) == 20 and names[0] == "2026-11-29T15-40-00.wav"  # 20 recordings 25 minutes apart
    assert names[-1] == "2026-11-29T23-35-00.wav"
    assert (recordings / "domains.csv").read_text() == "file,domain\n"  # the fixture's set has no target clips
    day = sorted(path.name for path in (recordings / "day").glob("*.wav"))
    assert len(day) == 11 and day[-1] == "2026-11-30T04-10-00.wav"
    truth = (recordings / "day_truth.csv").read_text().splitlines()
    assert truth[0] == "file,label" and [line.split(",")[0] for line in truth[1:]] == day
    assert [line.split(",")[1] for line in truth[1:]].count("anomaly") == 3
    [long] = (recordings / "long").glob("*.wav")
    assert long.name == "2026-12-01T00-00-00.wav" and soundfile.info(str(long)).duration == 20.0
