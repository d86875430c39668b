"""Figures of ``tools.monitor`` (``python -m tools.benchmark --part monitor``): what scoring one machine costs.

- bundle load time (every checksum verified) in a running process, and a whole ``score`` command on one clip
  (Python, torch and the bundle loaded from nothing);
- latency to score one 10 s clip on 1 CPU core once the bundle is loaded (read + log-mel + network + score),
  for each score mode, and how it splits between features and the model;
- clips per second of the engine's scoring and of the ``score`` command over a folder of 1000 clips of 10 s;
- peak resident memory of those commands.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.synthetic import generate_dataset
from engine.monitor.bundle import load_bundle
from engine.monitor.fit import fit_bundle
from engine.monitor.scoring import file_windows, score_files, score_windows
from tools.measured_run import PEAK_MEMORY_WRAPPER, measured_run

REPO_ROOT = Path(__file__).resolve().parents[1]
MACHINE = "fan"


def make_recordings(root: Path, n_train: int, n_score: int, seed: int) -> tuple[Path, Path]:
    """``(training folder, scoring folder)`` of 10 s synthetic fan clips; the scoring folder holds ``n_score``."""
    generate_dataset(
        root,
        [MACHINE],
        n_train_source=n_train,
        n_train_target=0,
        n_test_per_group=max(1, n_score // 4),
        duration=10.0,
        seed=seed,
    )
    machine = root / f"dcase2024t2/dev_data/raw/{MACHINE}"
    return machine / "train", machine / "test"


def median_seconds(action: Any, repeats: int, warm_up: int = 3, clock: Any = time.perf_counter) -> float:
    """Median duration of ``action`` by ``clock``: wall time, or ``time.process_time`` (the CPU time of this
    process, which other processes on a shared machine do not inflate)."""
    for _ in range(warm_up):
        action()
    times = []
    for _ in range(repeats):
        started = clock()
        action()
        times.append(clock() - started)
    return float(np.median(times))


def one_clip_latency(bundle_path: Path, clip: Path, repeats: int) -> dict[str, float]:
    """Milliseconds to score one clip in each mode with one thread, and the features' and the model's shares."""
    bundle = load_bundle(bundle_path)
    window = bundle.clip_seconds
    figures = {}
    for mode in bundle.manifest["score_modes"]:
        figures[f"{mode}_ms"] = 1000 * median_seconds(
            lambda mode=mode: next(score_files(bundle, [clip], mode, window, window / 2)), repeats
        )
        figures[f"{mode}_cpu_ms"] = 1000 * median_seconds(
            lambda mode=mode: next(score_files(bundle, [clip], mode, window, window / 2)),
            repeats,
            clock=time.process_time,
        )
    _, frames = file_windows(clip, bundle, window, window / 2)
    figures["features_ms"] = 1000 * median_seconds(lambda: file_windows(clip, bundle, window, window / 2), repeats)
    for mode in bundle.manifest["score_modes"]:
        figures[f"{mode}_model_ms"] = 1000 * median_seconds(
            lambda mode=mode: score_windows(bundle, mode, frames, [clip.name]), repeats
        )
    return figures


def run_command(arguments: list[str], log: Path) -> dict[str, float]:
    """A ``tools.monitor`` command in a fresh process on one thread: wall seconds and peak memory."""
    command = [sys.executable, "-c", PEAK_MEMORY_WRAPPER, sys.executable, "-m", "tools.monitor", *arguments]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    seconds, _, peak_mib = measured_run(command, REPO_ROOT, env, log, f"tools.monitor {' '.join(arguments)}")
    return {"seconds": seconds, "peak_rss_mib": peak_mib}


def measure_monitor(root: Path, n_train: int, n_score: int, epochs: int, seed: int) -> dict[str, Any]:
    """Every figure of the module text, for a bundle fitted on ``n_train`` clips and a folder of ``n_score``."""
    torch.set_num_threads(1)
    train_dir, score_dir = make_recordings(root / "monitor_data", n_train, n_score, seed)
    clips = sorted(score_dir.glob("*.wav"))[:n_score]
    folder = root / "monitor_score"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for clip in clips:
        os.link(clip, folder / clip.name)
    bundle_path = root / "monitor.bundle"
    shutil.rmtree(bundle_path, ignore_errors=True)
    fit_bundle(train_dir, bundle_path, flags=["--epochs", str(epochs), "--use_cuda", "False", "--num_workers", "1"])
    report: dict[str, Any] = {"train_clips": n_train, "score_clips": len(clips), "epochs": epochs}
    report["bundle_mib"] = sum(path.stat().st_size for path in bundle_path.iterdir()) / 2**20
    report["load_seconds"] = median_seconds(lambda: load_bundle(bundle_path), 5, warm_up=1)
    report["latency"] = one_clip_latency(bundle_path, clips[0], repeats=30)
    bundle = load_bundle(bundle_path)
    started = time.perf_counter()
    for _ in score_files(bundle, clips, bundle.default_mode, bundle.clip_seconds, bundle.clip_seconds / 2):
        pass
    report["engine_clips_per_second"] = len(clips) / (time.perf_counter() - started)
    report["one_clip_command"] = run_command(
        ["score", str(bundle_path), str(clips[0]), "--use_cuda", "False"], root / "monitor_one.log"
    )
    folder_run = run_command(
        ["score", str(bundle_path), str(folder), "--csv", str(root / "monitor_scores.csv"), "--use_cuda", "False"],
        root / "monitor_folder.log",
    )
    report["folder_command"] = {**folder_run, "clips_per_second": len(clips) / folder_run["seconds"]}
    return report


def print_monitor(report: dict[str, Any]) -> None:
    latency, folder = report["latency"], report["folder_command"]
    modes = [key[:-7] for key in latency if key.endswith("_cpu_ms")]
    print()
    print(
        f"| tools.monitor, 1 CPU thread (bundle: {report['train_clips']} clips, {report['bundle_mib']:.1f} MiB) "
        "| value |"
    )
    print("|---|---|")
    print(f"| bundle load, every checksum verified | {1000 * report['load_seconds']:.0f} ms |")
    for mode in modes:
        print(
            f"| one 10 s clip, {mode}: read + log-mel + network + score | {latency[mode + '_ms']:.1f} ms wall, "
            f"{latency[mode + '_cpu_ms']:.1f} ms CPU (wall: features {latency['features_ms']:.1f} ms, model "
            f"{latency[mode + '_model_ms']:.1f} ms) |"
        )
    print(f"| engine scoring of {report['score_clips']} clips | {report['engine_clips_per_second']:.0f} clips/s |")
    print(
        f"| `score` command on a folder of {report['score_clips']} clips (start-up included) | "
        f"{folder['clips_per_second']:.0f} clips/s ({folder['seconds']:.1f} s), peak memory "
        f"{folder['peak_rss_mib']:.0f} MiB |"
    )
    one = report["one_clip_command"]
    print(
        f"| `score` command on one clip (Python, torch, bundle from nothing) | {one['seconds']:.2f} s, peak memory "
        f"{one['peak_rss_mib']:.0f} MiB |"
    )
