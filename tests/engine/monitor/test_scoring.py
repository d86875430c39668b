"""engine.monitor.scoring: a recording's score against an independent computation (librosa's log-mel, numpy's
vectors and MSE), windows of long recordings, time stamps, and one clear error per bad recording."""

from __future__ import annotations

import datetime
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile
import torch

from engine.monitor.bundle import load_bundle
from engine.monitor.scoring import recording_start, resolve_threshold, score_files, timeline, window_bounds
from errors import ConfigError, DataError
from tests.monitor_data import write_wav


def independent_mse(bundle_path: Path, signal: np.ndarray, rate: int) -> float:
    """The baseline's MSE score of one clip: librosa log-mel, 5-frame vectors, the network, numpy's mean."""
    bundle = load_bundle(bundle_path)
    params = bundle.params
    mel = librosa.feature.melspectrogram(
        y=signal, sr=rate, n_fft=params.n_fft, hop_length=params.hop_length, n_mels=params.n_mels, power=params.power
    )
    log_mel = (20.0 / params.power * np.log10(np.maximum(mel, np.finfo(float).eps))).T
    n_vectors = len(log_mel) - params.frames + 1
    vectors = np.stack([log_mel[t : t + params.frames].reshape(-1) for t in range(n_vectors)]).astype(np.float32)
    with torch.no_grad():
        recon = bundle.model.net.eval()(torch.from_numpy(vectors))[0].numpy()
    return float(np.mean((recon.astype(np.float64) - vectors) ** 2))


def test_a_clip_scores_as_the_baseline_computes_it(ae_bundle: Path, recordings: Path) -> None:
    clip = sorted((recordings / "day").glob("*.wav"))[-1]
    signal, rate = soundfile.read(str(clip), dtype="float32")
    [rows] = list(score_files(load_bundle(ae_bundle), [clip], "MSE", window_s=2.0, hop_s=1.0))
    assert len(rows) == 1 and (rows[0].start_s, rows[0].end_s) == (0.0, 2.0)
    assert rows[0].score == pytest.approx(independent_mse(ae_bundle, signal, rate), rel=1e-4)


def test_each_window_of_a_long_recording_scores_as_that_stretch_alone(
    ae_bundle: Path, recordings: Path, tmp_path: Path
) -> None:
    [long] = (recordings / "long").glob("*.wav")
    signal, rate = soundfile.read(str(long), dtype="float32")
    bundle = load_bundle(ae_bundle)
    [rows] = list(score_files(bundle, [long], "MAHALA", window_s=2.0, hop_s=1.5))
    assert [row.window for row in rows] == list(range(1, len(rows) + 1)) and rows[0].windows == len(rows)
    assert rows[-1].end_s == pytest.approx(len(signal) / rate)  # the last window ends with the recording
    for row in rows[::4] + rows[-1:]:
        stretch = write_wav(tmp_path / f"stretch{row.window}.wav", 0.1)
        soundfile.write(
            str(stretch), signal[round(row.start_s * rate) : round(row.end_s * rate)], rate, subtype="PCM_16"
        )
        [alone] = list(score_files(bundle, [stretch], "MAHALA", window_s=2.0, hop_s=1.5))
        assert alone[0].score == pytest.approx(row.score, rel=1e-4)
    start = datetime.datetime(2026, 12, 1)
    assert [row.time for row in rows[:2]] == [start, start + datetime.timedelta(seconds=1.5)]


def test_the_anomalous_end_of_the_long_recording_scores_higher(ae_bundle: Path, recordings: Path) -> None:
    [long] = (recordings / "long").glob("*.wav")  # 7 normal clips of 2 s, then 3 anomalous ones
    [rows] = list(score_files(load_bundle(ae_bundle), [long], "MSE", window_s=2.0, hop_s=2.0))
    scores = np.array([row.score for row in rows])
    assert len(scores) == 10 and scores[7:].mean() > scores[:7].mean()


@pytest.mark.parametrize(
    ("n_samples", "window", "hop", "expected"),
    [
        (32000, 2.0, 1.0, [(0, 32000)]),  # a clip of the training length: whole
        (48000, 2.0, 1.0, [(0, 48000)]),  # up to a window and a hop longer: still whole
        (48001, 2.0, 1.0, [(0, 32000), (16000, 48000), (16001, 48001)]),
        (80000, 2.0, 1.5, [(0, 32000), (24000, 56000), (48000, 80000)]),
        (90000, 2.0, 2.0, [(0, 32000), (32000, 64000), (58000, 90000)]),
    ],
)
def test_window_bounds(n_samples: int, window: float, hop: float, expected: list) -> None:
    assert window_bounds(n_samples, 16000, window, hop) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2026-11-30T08-15-00.wav", datetime.datetime(2026, 11, 30, 8, 15)),
        ("pump3_20261130_081502.wav", datetime.datetime(2026, 11, 30, 8, 15, 2)),
        ("2026-11-30 08:15:00.wav", datetime.datetime(2026, 11, 30, 8, 15)),
        ("recording_0001.wav", None),
        ("2026-13-45T08-15-00.wav", None),
    ],
)
def test_recording_start_from_file_names(name: str, expected: datetime.datetime | None) -> None:
    assert recording_start(name) == expected


def test_timeline_without_time_stamps_counts_seconds_file_after_file(ae_bundle: Path, tmp_path: Path) -> None:
    first, second = write_wav(tmp_path / "a.wav", 5.0), write_wav(tmp_path / "b.wav", 2.0, seed=1)
    rows = [row for rows in score_files(load_bundle(ae_bundle), [first, second], "MSE", 2.0, 1.0) for row in rows]
    x, label = timeline(rows)
    np.testing.assert_allclose(x, [1.0, 2.0, 3.0, 4.0, 6.0])  # windows 0-2, 1-3, 2-4, 3-5 of a; then b whole
    assert label.startswith("seconds")


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: write_wav(folder / "r.wav", rate=8000), "sampled at 8000 Hz but the bundle .* 16000 Hz"),
        (lambda folder: write_wav(folder / "r.wav", channels=2), "has 2 channels but the bundle .* mono recordings"),
        (lambda folder: write_bytes(folder / "r.wav", b""), "the file is empty"),
        (lambda folder: write_bytes(folder / "r.wav", b"RIFF not a wave"), "not a readable WAV"),
        (lambda folder: write_wav(folder / "r.wav", seconds=0.05), "too short .* to score"),
    ],
)
def test_bad_recordings_are_refused_in_one_line(ae_bundle: Path, tmp_path: Path, make, expected: str) -> None:
    path = make(tmp_path)
    with pytest.raises(DataError, match=expected) as caught:
        list(score_files(load_bundle(ae_bundle), [path], "MSE", 2.0, 1.0))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_window_and_hop_must_be_positive(ae_bundle: Path, recordings: Path) -> None:
    with pytest.raises(ConfigError, match="--window"):
        list(score_files(load_bundle(ae_bundle), [], "MSE", 0.0, 1.0))


def test_threshold_override_changes_the_decision_only(ae_bundle: Path, recordings: Path) -> None:
    bundle = load_bundle(ae_bundle)
    clips = sorted((recordings / "day").glob("*.wav"))
    default = [rows[0] for rows in score_files(bundle, clips, "MSE", 2.0, 1.0)]
    low = [rows[0] for rows in score_files(bundle, clips, "MSE", 2.0, 1.0, threshold=-1.0)]
    assert [row.score for row in low] == [row.score for row in default]
    assert all(row.threshold == bundle.thresholds["MSE"] for row in default)
    assert all(row.decision == 1 for row in low)
    assert [row.decision for row in default] == [int(row.score > bundle.thresholds["MSE"]) for row in default]


def test_threshold_as_a_percentile_of_the_training_scores(ae_bundle: Path) -> None:
    bundle = load_bundle(ae_bundle)
    scores = bundle.training_scores["MAHALA"]
    assert resolve_threshold(bundle, "MAHALA", None) is None
    assert resolve_threshold(bundle, "MAHALA", "p100") == scores.max()
    assert resolve_threshold(bundle, "MAHALA", "p50") == pytest.approx(np.median(scores))
    assert resolve_threshold(bundle, "MAHALA", "12.5") == 12.5
    for bad in ("p101", "pxx", "nan", "high"):
        with pytest.raises(ConfigError, match=f"--threshold {bad}: give a score"):
            resolve_threshold(bundle, "MAHALA", bad)
