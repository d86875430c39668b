"""python -m tools.monitor: each command end to end, and bad input as one ``error:`` line, exit 2, nothing written."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from engine.monitor.bundle import load_bundle
from engine.monitor.scoring import file_windows
from networks import registry
from tests.monitor_data import TINY_FIT, copy_bundle, write_wav
from tools import monitor

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = monitor.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fit_then_score_a_day(capsys: pytest.CaptureFixture, recordings: Path, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "fit", recordings / "normal", "--out", tmp_path / "bundle", *TINY_FIT, "--seed", "7")
    assert code == 0 and out.startswith("fitted DCASE2023T2-AE on 20 clips (2.0 s, 16000 Hz)")
    assert load_bundle(tmp_path / "bundle").manifest["seed"] == 7  # a train.py option passed through
    code, out, _ = run(capsys, "score", tmp_path / "bundle", recordings / "day", "--csv", tmp_path / "day.csv")
    assert code == 0
    with open(tmp_path / "day.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [Path(row["file"]).name for row in rows] == sorted(p.name for p in (recordings / "day").glob("*.wav"))
    assert all(row["decision"] == str(int(float(row["score"]) > float(row["threshold"]))) for row in rows)
    assert rows[0]["time"] == "2026-11-30T00:00:00"
    assert (tmp_path / "day.png").read_bytes()[:8] == PNG_SIGNATURE
    anomalous = sum(row["decision"] == "1" for row in rows)
    assert (
        out.splitlines()[-1] == f"scored 11 files (11 windows): {anomalous} anomalous -> {tmp_path / 'day.csv'}, "
        f"{tmp_path / 'day.png'}"
    )


def test_score_json_threshold_and_windows(capsys: pytest.CaptureFixture, ae_bundle: Path, recordings: Path) -> None:
    [long] = (recordings / "long").glob("*.wav")
    code, out, err = run(
        capsys,
        "score",
        ae_bundle,
        long,
        "--json",
        "--window",
        "4",
        "--hop",
        "2",
        "--threshold",
        "1e9",
        "--score",
        "MAHALA",
    )
    assert code == 0 and "scored 1 files (9 windows): 0 anomalous" in err
    rows = json.loads(out)
    assert [(row["start_s"], row["end_s"]) for row in rows[:2]] == [(0.0, 4.0), (2.0, 6.0)]
    assert rows[-1]["end_s"] == pytest.approx(20.0)
    assert all(row["threshold"] == 1e9 and row["decision"] == 0 for row in rows)


def test_export_writes_a_graph_onnxruntime_scores_with(
    capsys: pytest.CaptureFixture, ae_bundle: Path, recordings: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "export", ae_bundle, "--onnx", tmp_path / "fan.onnx")
    assert code == 0 and out.startswith("exported DCASE2023T2-AE (MSE, MAHALA) ->")
    clip = sorted((recordings / "day").glob("*.wav"))[0]
    frames = file_windows(clip, load_bundle(ae_bundle), 2.0, 1.0)[1][0]
    session = onnxruntime.InferenceSession(str(tmp_path / "fan.onnx"), providers=["CPUExecutionProvider"])
    mse, _ = session.run(None, {"log_mel": frames})
    code, out, _ = run(capsys, "score", ae_bundle, clip, "--json")
    assert float(mse) == pytest.approx(json.loads(out)[0]["score"], rel=1e-4)


def test_watch_once(capsys: pytest.CaptureFixture, ae_bundle: Path, recordings: Path, tmp_path: Path) -> None:
    shutil.copytree(recordings / "day", tmp_path / "day")
    code, out, _ = run(capsys, "watch", ae_bundle, tmp_path / "day", "--once", "--interval", "0.05", "--settle", "0")
    assert code == 0 and out.splitlines()[-1].startswith("watch stopped: 11 files scored (")
    code, out, _ = run(capsys, "watch", ae_bundle, tmp_path / "day", "--once", "--interval", "0.05", "--settle", "0")
    assert code == 0 and "(11 files already in" in out and "watch stopped: 0 files scored" in out
    with open(tmp_path / "day" / "monitor_scores.csv", newline="") as stream:
        assert len(list(csv.DictReader(stream))) == 11


def damage(bundle: Path) -> Path:
    weights = bytearray((bundle / "model.pth").read_bytes())
    weights[100] ^= 1
    (bundle / "model.pth").write_bytes(bytes(weights))
    return bundle


def other_version(bundle: Path) -> Path:
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    return bundle


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no wavs", "holds no WAV files"),
        ("other rate", "is sampled at 22050 Hz but the bundle"),
        ("stereo", "has 2 channels but the bundle"),
        ("empty", "the file is empty (0 bytes)"),
        ("damaged bundle", "model.pth does not match its checksum"),
        ("other version", "is a bundle of format version 99; this program reads version 2"),
        ("bad flag", "unknown argument '--windw'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture, ae_bundle: Path, recordings: Path, tmp_path: Path, case: str, expected: str
) -> None:
    bundle, inputs = copy_bundle(ae_bundle, tmp_path), tmp_path / "in"
    shutil.copytree(recordings / "day", inputs)
    extra: list[str] = []
    if case == "no wavs":
        shutil.rmtree(inputs)
        (inputs / "sub").mkdir(parents=True)
    elif case in ("other rate", "stereo", "empty"):
        odd = inputs / "2026-11-30T23-59-00.wav"
        if case == "empty":
            odd.write_bytes(b"")
        else:
            write_wav(odd, rate=22050 if case == "other rate" else 16000, channels=2 if case == "stereo" else 1)
    elif case == "bad flag":
        extra = ["--windw", "3"]
    else:
        (damage if case == "damaged bundle" else other_version)(bundle)
    code, out, err = run(capsys, "score", bundle, inputs, "--csv", tmp_path / "out.csv", *extra)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.png").exists()


def test_fit_refuses_a_folder_without_wavs_and_keeps_nothing(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "fit", tmp_path / "empty", "--out", tmp_path / "b", *TINY_FIT)
    assert code == 2 and "holds no WAV files" in err and err.count("\n") == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]


def test_fit_refuses_an_unknown_train_option(capsys: pytest.CaptureFixture, recordings: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "fit", recordings / "normal", "--out", tmp_path / "b", "--epochz", "2")
    assert code == 2 and "unknown argument '--epochz' (did you mean --epochs?)" in err


def test_watch_of_a_missing_folder(capsys: pytest.CaptureFixture, ae_bundle: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "watch", ae_bundle, tmp_path / "nothing", "--once")
    assert code == 2 and "is not a folder" in err
    assert not (tmp_path / "nothing").exists()


def test_score_stereo_bundle_reads_its_channel(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """A bundle fitted with --mono False on stereo recordings scores stereo files (channel 0) and refuses mono."""
    rng = np.random.default_rng(0)
    for index in range(4):
        write_wav(tmp_path / "normal" / f"{index}.wav", 1.0, channels=2, seed=index)
    code, _, err = run(capsys, "fit", tmp_path / "normal", "--out", tmp_path / "b", *TINY_FIT, "--mono", "False")
    assert code == 0, err
    code, out, _ = run(capsys, "score", tmp_path / "b", tmp_path / "normal" / "0.wav")
    assert code == 0 and "0.wav: " in out
    mono = write_wav(tmp_path / "mono.wav", 1.0, seed=int(rng.integers(100)))
    code, _, err = run(capsys, "score", tmp_path / "b", mono)
    assert code == 2 and "is mono but the bundle" in err


def test_a_misspelt_option_gets_the_closest_one(capsys: pytest.CaptureFixture, ae_bundle: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "score", ae_bundle, tmp_path, "--treshold", "p90")
    assert code == 2 and err.count("\n") == 1
    assert "unknown argument '--treshold' (did you mean --threshold?)" in err


def test_export_without_onnx_says_how_to_install_it(
    capsys: pytest.CaptureFixture, ae_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = monitor.importlib.util.find_spec
    monkeypatch.setattr(
        monitor.importlib.util, "find_spec", lambda name, *rest: None if name == "onnx" else real_find_spec(name, *rest)
    )
    code, out, err = run(capsys, "export", ae_bundle, "--onnx", tmp_path / "fan.onnx")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "ONNX export needs the onnx package" in err and "pip install -r requirements.txt" in err
    assert not (tmp_path / "fan.onnx").exists()


def test_the_documented_set_up_installs_what_export_needs() -> None:
    # demo.sh and run_tests.sh install requirements.txt (tools/python_env.sh); export must work after that
    requirements = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text().splitlines()
    assert any(line.split(">=")[0].strip() == "onnx" for line in requirements)


def test_the_advice_for_a_damaged_bundle_works_as_written(
    capsys: pytest.CaptureFixture, ae_bundle: Path, recordings: Path, tmp_path: Path
) -> None:
    bundle = copy_bundle(ae_bundle, tmp_path)
    damage(bundle)
    code, _, err = run(capsys, "score", bundle, recordings / "day", "--csv", tmp_path / "out.csv")
    assert code == 2 and "--out NEW_FOLDER" in err and f"delete {bundle} and fit it again" in err
    code, _, _ = run(capsys, "fit", recordings / "normal", "--out", tmp_path / "new", *TINY_FIT)
    assert code == 0  # a new name, as advised
    shutil.rmtree(bundle)
    code, _, _ = run(capsys, "fit", recordings / "normal", "--out", bundle, *TINY_FIT)
    assert code == 0 and load_bundle(bundle).manifest["model"] == "DCASE2023T2-AE"  # or the old name, deleted first


def test_an_unreadable_recording_gets_no_dataset_advice(
    capsys: pytest.CaptureFixture, ae_bundle: Path, recordings: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(recordings / "day", inputs)
    (inputs / "2026-11-30T23-59-00.wav").write_bytes(b"not a wav file")
    code, _, err = run(capsys, "score", ae_bundle, inputs, "--csv", tmp_path / "out.csv")
    assert code == 2 and "not a readable WAV file" in err
    assert "download" not in err and "dataset" not in err and "replace it with an intact copy or delete it" in err


def test_a_bundle_folder_gets_the_mode_mkdir_gives(ae_bundle: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    assert ae_bundle.stat().st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's private 0700


def test_a_family_classifier_fits_with_other_machines_watches_and_is_not_exported(
    capsys: pytest.CaptureFixture, recordings: Path, other_machine: Path, tmp_path: Path
) -> None:
    flags = ["--model", "SCAC-MultiRes", *registry.get("SCAC-MultiRes").tiny_test_flags, "--use_cuda", "False"]
    code, out, _ = run(capsys, "fit", recordings / "normal", "--out", tmp_path / "b", *flags, "--others", other_machine)
    assert code == 0 and out.splitlines()[-1].startswith(
        "fitted SCAC-MultiRes on 20 clips (+ 12 of 1 other machine) (2.0 s"
    )
    shutil.copytree(recordings / "day", tmp_path / "day")
    code, out, _ = run(
        capsys, "watch", tmp_path / "b", tmp_path / "day", "--once", "--interval", "0.05", "--settle", "0"
    )
    with open(tmp_path / "day" / "monitor_scores.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert code == 0 and len(rows) == 11 and all(np.isfinite(float(row["score"])) for row in rows)
    code, _, err = run(capsys, "export", tmp_path / "b", "--onnx", tmp_path / "b.onnx")
    assert code == 2 and err == (
        "error: SCAC-MultiRes has no scoring graph to export; ONNX export works for DCASE2023T2-AE\n"
    )
    assert not (tmp_path / "b.onnx").exists()
