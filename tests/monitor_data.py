"""Fixtures of the monitoring tests (registered in tests/conftest.py): a machine's recordings as a recorder leaves
them (datasets.synthetic.monitor_demo on a small synthetic fan set) and bundles fitted on them once per session.
Shared: copy a bundle before changing it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from datasets.synthetic import generate_dataset
from datasets.synthetic.monitor_demo import write_monitor_demo
from engine.monitor.fit import fit_bundle

TINY_FIT = ["--epochs", "2", "--batch_size", "64", "--num_workers", "1", "--use_cuda", "False"]
CLIP_SECONDS = 2.0
SAMPLE_RATE = 16000
REPO_ROOT = Path(__file__).resolve().parents[1]


def synthetic_machine(root: Path, machine: str, n_train: int, n_test_per_group: int, seed: int) -> Path:
    """A synthetic DCASE2024 machine type of 2 s clips, source domain only; its folder."""
    generate_dataset(
        root,
        [machine],
        n_train_source=n_train,
        n_train_target=0,
        n_test_per_group=n_test_per_group,
        duration=CLIP_SECONDS,
        seed=seed,
        workers=1,
    )
    return root / "dcase2024t2/dev_data/raw" / machine


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``normal/`` (20 clips of 2 s named by time), ``day/`` (12 clips, 3 anomalous), ``long/`` (one 20 s file)."""
    root = tmp_path_factory.mktemp("monitor")
    fan = synthetic_machine(root / "dcase", "fan", n_train=20, n_test_per_group=8, seed=3)
    write_monitor_demo(fan, root / "demo", n_anomalies=3, long_clips=(7, 3))
    return root / "demo"


@pytest.fixture(scope="session")
def other_machine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another machine's normal recordings (12 synthetic valve clips of 2 s, DCASE names): a family classifier's
    second machine type."""
    valve = synthetic_machine(tmp_path_factory.mktemp("other"), "valve", n_train=12, n_test_per_group=1, seed=5)
    return valve / "train"


@pytest.fixture(scope="session")
def ae_bundle(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "fan_ae"
    fit_bundle(recordings / "normal", out, "DCASE2023T2-AE", flags=TINY_FIT)
    return out


@pytest.fixture(scope="session")
def knn_bundle(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "fan_knn"
    fit_bundle(
        recordings / "normal",
        out,
        "level-stats-kNN",
        [str(REPO_ROOT / "configs" / "level_stats_knn.yaml")],
        flags=TINY_FIT,
    )
    return out


def copy_bundle(bundle: Path, folder: Path) -> Path:
    copy = folder / bundle.name
    shutil.copytree(bundle, copy)
    return copy


def write_wav(
    path: Path, seconds: float = CLIP_SECONDS, rate: int = SAMPLE_RATE, channels: int = 1, seed: int = 0
) -> Path:
    """A noise recording of the given length, rate and channel count."""
    signal = np.random.default_rng(seed).normal(0, 0.1, (round(seconds * rate), channels)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), signal, rate, subtype="PCM_16")
    return path
