"""Feature extraction of clip lists: parallel = serial, the cache key, stale and half-written caches,
and one clear error per kind of bad clip."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from datasets.audio import ChannelRule, read_clip
from datasets.clip_features import cache_key, extract_features, load_or_extract
from datasets.features import FeatureParams, log_mel_spectrogram
from errors import DataError
from safe_io import PAUSE_AT_VARIABLE, PAUSE_FLAG_VARIABLE
from tests.conftest import REPO_ROOT

PARAMS = FeatureParams(n_mels=32, n_fft=512, hop_length=256)


def write_clips(folder: Path, count: int, seconds: float = 0.5, sample_rate: int = 16000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    paths = []
    for index in range(count):
        path = folder / f"section_00_source_train_normal_{index:04d}_x.wav"
        soundfile.write(path, 0.1 * rng.standard_normal(int(seconds * sample_rate)), sample_rate, subtype="PCM_16")
        paths.append(path)
    return paths


def test_frames_of_each_clip_equal_the_single_clip_features(tmp_path: Path) -> None:
    paths = write_clips(tmp_path, 3, seconds=0.7)
    features = extract_features(paths, PARAMS, workers=1)
    for index, path in enumerate(paths):
        signal, rate = read_clip(path)
        np.testing.assert_array_equal(features.clip_frames(index), log_mel_spectrogram(signal, rate, PARAMS))
    assert features.names == [path.name for path in paths] and features.sample_rate == 16000


def test_parallel_extraction_equals_serial(tmp_path: Path) -> None:
    paths = write_clips(tmp_path, 20, seconds=0.3)
    serial = extract_features(paths, PARAMS, workers=1)
    parallel = extract_features(paths, PARAMS, workers=2)
    np.testing.assert_array_equal(serial.log_mel, parallel.log_mel)
    np.testing.assert_array_equal(serial.offsets, parallel.offsets)


def test_stereo_is_averaged_with_channel_mean_and_refused_as_mono(tmp_path: Path) -> None:
    left, right = np.full(1000, 0.25), np.full(1000, -0.125)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    signal, _ = read_clip(path, ChannelRule(mono=False, channel="mean"))
    np.testing.assert_allclose(signal, 0.0625)
    with pytest.raises(DataError, match="has 2 channels"):  # the public baseline v5: --mono True needs mono
        read_clip(path)


def test_every_feature_parameter_changes_the_cache_key() -> None:
    base = FeatureParams()
    changed = [
        FeatureParams(n_mels=64),
        FeatureParams(frames=4),
        FeatureParams(frame_hop_length=2),
        FeatureParams(n_fft=2048),
        FeatureParams(hop_length=256),
        FeatureParams(power=1.0),
        FeatureParams(fmin=10.0),
        FeatureParams(fmax=7000.0),
        FeatureParams(win_length=512),
        FeatureParams(mono=False),
        FeatureParams(mono=False, channel="1"),
    ]
    keys = {cache_key(params) for params in changed}
    assert len(keys) == len(changed) and cache_key(base) not in keys


def test_cache_is_reused_then_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "wav", 2)
    cache = tmp_path / "cache"
    first, cached = load_or_extract(paths, PARAMS, cache, "train")
    assert not cached
    again, cached = load_or_extract(paths, PARAMS, cache, "train")
    assert cached
    np.testing.assert_array_equal(first.log_mel, again.log_mel)
    soundfile.write(paths[0], np.zeros(8000), 16000, subtype="PCM_16")  # the dataset changed
    rebuilt, cached = load_or_extract(paths, PARAMS, cache, "train")
    assert not cached and np.all(rebuilt.clip_frames(0) == rebuilt.clip_frames(0).min())


def test_other_parameters_never_reuse_an_old_cache(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "wav", 2)
    load_or_extract(paths, PARAMS, tmp_path / "cache", "train")
    other = FeatureParams(n_mels=32, n_fft=512, hop_length=256, power=1.0)
    features, cached = load_or_extract(paths, other, tmp_path / "cache", "train")
    assert not cached
    signal, rate = read_clip(paths[0])
    np.testing.assert_array_equal(features.clip_frames(0), log_mel_spectrogram(signal, rate, other))


@pytest.mark.parametrize("damage", ["truncate_npy", "garbage_manifest", "manifest_missing", "shape_mismatch"])
def test_half_written_or_damaged_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    paths = write_clips(tmp_path / "wav", 2)
    cache = tmp_path / "cache"
    good, _ = load_or_extract(paths, PARAMS, cache, "train")
    npy = next(cache.glob("*.npy"))
    manifest = npy.with_suffix(".json")
    if damage == "truncate_npy":
        npy.write_bytes(npy.read_bytes()[:200])
    elif damage == "garbage_manifest":
        manifest.write_text("{not json")
    elif damage == "manifest_missing":
        manifest.unlink()
    else:
        record = json.loads(manifest.read_text())
        record["offsets"][-1] += 1
        manifest.write_text(json.dumps(record))
    rebuilt, cached = load_or_extract(paths, PARAMS, cache, "train")
    assert not cached
    np.testing.assert_array_equal(rebuilt.log_mel, good.log_mel)


def write_raw(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_raw(p, b""), "the file is empty"),
        (lambda p: write_raw(p, np.random.default_rng(0).bytes(5000)), "not a readable WAV file"),
        (lambda p: write_raw(p, b"RIFF\x24\x00\x00\x00WAVEfmt "), "not a readable WAV file"),
    ],
)
def test_corrupt_clips_name_the_file(tmp_path: Path, make, message: str) -> None:
    paths = write_clips(tmp_path, 2)
    bad = make(tmp_path / "section_00_source_train_normal_0099_bad.wav")
    with pytest.raises(DataError, match=message) as raised:
        extract_features([*paths, bad], PARAMS, workers=1)
    assert str(bad) in str(raised.value)


def test_truncated_wav_data_is_an_error_or_a_shorter_clip(tmp_path: Path) -> None:
    path = write_clips(tmp_path, 1, seconds=1.0)[0]
    path.write_bytes(path.read_bytes()[:-20000])  # header intact, data cut
    signal, _ = read_clip(path)
    assert 0 < len(signal) < 16000


def test_nan_samples_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "section_00_source_train_normal_0000_nan.wav"
    samples = np.zeros(4000, dtype=np.float32)
    samples[100] = np.nan
    soundfile.write(path, samples, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match="NaN or infinite") as raised:
        extract_features([path], PARAMS, workers=1)
    assert str(path) in str(raised.value)


def test_clip_too_short_for_one_vector_is_rejected(tmp_path: Path) -> None:
    paths = write_clips(tmp_path, 1, seconds=0.5)
    short = tmp_path / "section_00_source_train_normal_0001_short.wav"
    soundfile.write(short, np.zeros(300), 16000, subtype="PCM_16")
    with pytest.raises(DataError, match="clip too short") as raised:
        extract_features([*paths, short], PARAMS, workers=1)
    assert str(short) in str(raised.value)


def test_a_different_sample_rate_is_rejected(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "a", 2)
    odd = write_clips(tmp_path / "b", 1, sample_rate=22050)[0]
    with pytest.raises(DataError, match="sample rate 22050 Hz differs from 16000 Hz") as raised:
        extract_features([*paths, odd], PARAMS, workers=1)
    assert str(odd) in str(raised.value)


def test_infinite_samples_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "section_00_source_train_normal_0000_inf.wav"
    samples = np.zeros(4000, dtype=np.float32)
    samples[7] = -np.inf
    soundfile.write(path, samples, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=f"{re.escape(str(path))}: the audio holds NaN or infinite samples"):
        extract_features([path], PARAMS, workers=1)


def test_the_odd_sample_rate_is_named_even_when_it_comes_first(tmp_path: Path) -> None:
    odd = write_clips(tmp_path / "a", 1, sample_rate=22050)[0]
    paths = write_clips(tmp_path / "b", 2)
    with pytest.raises(DataError, match="sample rate 22050 Hz differs from 16000 Hz of 2 other clip") as raised:
        extract_features([odd, *paths], PARAMS, workers=1)
    assert str(raised.value).startswith(f"{odd}:")


def test_a_corrupt_clip_in_a_worker_process_is_the_same_clear_error(tmp_path: Path) -> None:
    paths = write_clips(tmp_path, 20, seconds=0.2)
    bad = tmp_path / "section_00_source_train_normal_0010_bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    with pytest.raises(DataError, match="not a readable WAV file") as raised:
        extract_features([*paths[:10], bad, *paths[10:]], PARAMS, workers=2)
    assert str(raised.value).startswith(f"{bad}:")


def test_a_rebuild_clears_temporary_files_of_a_killed_writer(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "wav", 2)
    cache = tmp_path / "cache"
    load_or_extract(paths, PARAMS, cache, "train")
    npy = next(cache.glob("*.npy"))
    stale = [cache / f".{npy.name}.k1ll3d.tmp", cache / f".{npy.with_suffix('.json').name}.k1ll3d.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    other = cache / ".unrelated.npy.x.tmp"
    other.write_bytes(b"not ours")
    npy.with_suffix(".json").unlink()  # as if killed before the manifest was renamed
    _, cached = load_or_extract(paths, PARAMS, cache, "train")
    assert not cached and not any(path.exists() for path in stale) and other.exists()


EXTRACT_SCRIPT = """
import sys
from pathlib import Path
from datasets.clip_features import load_or_extract
from datasets.features import FeatureParams
paths = sorted(Path(sys.argv[1]).glob("*.wav"))
load_or_extract(paths, FeatureParams(n_mels=32, n_fft=512, hop_length=256), Path(sys.argv[2]), "train", workers=2)
"""


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PR_SET_PDEATHSIG")
def test_workers_die_with_a_killed_parent_and_free_the_cache_lock(tmp_path: Path) -> None:
    paths = write_clips(tmp_path / "wav", 20, seconds=0.2)
    cache, flag = tmp_path / "cache", tmp_path / "paused"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        PAUSE_AT_VARIABLE: f"extract:{paths[10].name}",
        PAUSE_FLAG_VARIABLE: str(flag),
    }
    parent = subprocess.Popen([sys.executable, "-c", EXTRACT_SCRIPT, str(tmp_path / "wav"), str(cache)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():  # a worker is paused inside clip 10; the parent holds the cache lock
            assert parent.poll() is None and time.monotonic() < deadline, "the extraction never paused"
            time.sleep(0.05)
        workers = _children(parent.pid)
        assert len(workers) == 2
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=60)
    deadline = time.monotonic() + 20
    try:
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "pool workers outlived their killed parent"
            time.sleep(0.05)
    finally:
        for pid in filter(_alive, workers):  # only when the test fails: leave no orphan behind
            os.kill(pid, signal.SIGKILL)
    lock = next(cache.glob("*.lock"))
    with lock.open("a+b") as stream:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
    rebuilt, cached = load_or_extract(paths, PARAMS, cache, "train", workers=1)
    assert not cached
    np.testing.assert_array_equal(rebuilt.log_mel, extract_features(paths, PARAMS, workers=1).log_mel)
