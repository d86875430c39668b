"""Recordings as a recorder on one machine would leave them, made from a machine type of the synthetic DCASE data:

<out>/normal/2026-11-29T15-40-00.wav ...   the training clips, one every ``step`` seconds the days before
<out>/domains.csv                          which of them are target-domain clips (tools.monitor fit --domains)
<out>/day/2026-11-30T00-00-00.wav ...      the source-domain test clips of a day: normal ones, then, from
                                           ``fault_after`` of the day on, 12 anomalies among the other normals
                                           (a fault that comes and goes)
<out>/day_truth.csv                        which of the day's recordings are anomalous (to check the scores)
<out>/long/2026-12-01T00-00-00.wav         one long recording: normal test clips, then anomalous ones

python -m datasets.synthetic.monitor_demo data/dcase2024t2/dev_data/raw/fan --out monitor_demo
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile

from datasets.labels import clip_domain, name_label
from errors import DataError, exit_code_of
from safe_io import write_csv

NAME_FORMAT = "%Y-%m-%dT%H-%M-%S"
DAY_START = datetime.datetime(2026, 11, 30)


def recorder_name(start: datetime.datetime, index: int, step_s: float) -> str:
    return (start + datetime.timedelta(seconds=index * step_s)).strftime(NAME_FORMAT) + ".wav"


def day_order(normals: list[Path], anomalies: list[Path], fault_after: float) -> list[Path]:
    """Normal clips until ``fault_after`` of the day, then the anomalies spread among the remaining normals."""
    n_before = round(fault_after * len(normals))
    rest = normals[n_before:]
    mixed: list[Path] = []
    for index in range(max(len(rest), len(anomalies))):
        mixed += rest[index : index + 1] + anomalies[index : index + 1]
    return normals[:n_before] + mixed


def write_long_recording(path: Path, clips: list[Path]) -> None:
    signals = [soundfile.read(str(clip), dtype="float32")[0] for clip in clips]
    rate = soundfile.info(str(clips[0])).samplerate
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.concatenate(signals), rate, subtype="PCM_16")


def write_monitor_demo(
    machine_dir: Path,
    out: Path,
    step_s: float = 1500.0,
    fault_after: float = 0.6,
    n_anomalies: int = 12,
    long_clips: tuple[int, int] = (8, 3),
) -> dict[str, int]:
    """Write the three folders (see the module text) from ``machine_dir``'s ``train`` and ``test`` clips."""
    machine_dir, out = Path(machine_dir), Path(out)
    train = sorted((machine_dir / "train").glob("*.wav"))
    test = sorted((machine_dir / "test").glob("*.wav"))
    normals = [path for path in test if name_label(path.name) == 0 and clip_domain(path.name) == "source"]
    anomalies = [path for path in test if name_label(path.name) == 1 and clip_domain(path.name) == "source"]
    if not train or len(normals) < long_clips[0] or len(anomalies) < max(n_anomalies, long_clips[1]):
        raise DataError(
            f"{machine_dir} needs train/ clips and, in test/, at least {long_clips[0]} normal and "
            f"{max(n_anomalies, long_clips[1])} anomalous source clips; generate more with "
            "python -m datasets.synthetic"
        )
    normal_start = DAY_START - datetime.timedelta(seconds=len(train) * step_s)
    day = day_order(normals, anomalies[:n_anomalies], fault_after)
    for folder, clips, start in (("normal", train, normal_start), ("day", day, DAY_START)):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for index, clip in enumerate(clips):
            shutil.copyfile(clip, out / folder / recorder_name(start, index, step_s))
    truth = [
        [recorder_name(DAY_START, index, step_s), "normal" if clip in normals else "anomaly"]
        for index, clip in enumerate(day)
    ]
    write_csv(out / "day_truth.csv", [["file", "label"], *truth])
    targets = [
        recorder_name(normal_start, index, step_s)
        for index, clip in enumerate(train)
        if clip_domain(clip.name) == "target"
    ]
    write_csv(out / "domains.csv", [["file", "domain"], *([name, "target"] for name in targets)])
    long_name = recorder_name(DAY_START + datetime.timedelta(days=1), 0, 0)
    write_long_recording(out / "long" / long_name, normals[: long_clips[0]] + anomalies[-long_clips[1] :])
    return {"normal": len(train), "target": len(targets), "day": len(normals) + n_anomalies, "long": sum(long_clips)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.synthetic.monitor_demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("machine_dir", type=Path, help="a machine folder of the synthetic data (train/ and test/)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write normal/, day/ and long/ into")
    parser.add_argument("--step", type=float, default=1500.0, help="seconds between two recordings")
    args = parser.parse_args(argv)

    def write() -> None:
        counts = write_monitor_demo(args.machine_dir, args.out, args.step)
        print(
            f"monitor demo: {counts['normal']} normal recordings ({counts['target']} of the target domain), a day "
            f"of {counts['day']}, one long recording of {counts['long']} clips -> {args.out}"
        )

    return exit_code_of(write, on_interrupt="interrupted", error_code=2)


if __name__ == "__main__":
    sys.exit(main())
