"""Speed and memory of the pipeline on generated data, in one run.

    python -m tools.benchmark                      # 1000 training clips of 10 s, scaling 250/500/1000
    python -m tools.benchmark --clips 200 --scaling 100 200 --epochs 2   # a quick look
    python -m tools.benchmark --part monitor       # tools.monitor: load, 1-core latency, clips/s, memory

Prints (and writes as JSON next to the data):
- training throughput of the project's loop (vectors/s) and of a bare PyTorch loop of the same network on
  random tensors of the same shape already in memory (the compute floor), and their ratio;
- feature extraction: clips/s from WAV files (cold cache) and the time to load a cached set;
- peak resident memory of a full train + test run of one machine type (``train.py`` in a subprocess);
- how time per epoch and peak memory grow with the number of training clips;
- with ``--part monitor``: the figures of tools/benchmark_monitor.py (monitoring one machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from datasets.clip_features import load_or_extract  # noqa: E402
from datasets.features import FeatureParams  # noqa: E402
from datasets.file_list import list_train_clips  # noqa: E402
from datasets.registry import resolve_dataset  # noqa: E402
from datasets.synthetic import generate_dataset  # noqa: E402
from datasets.vector_data import VectorSet, batch_slices, epoch_order  # noqa: E402
from networks.dcase2023t2_ae.model import AutoencoderModel, VectorSplit  # noqa: E402
from networks.dcase2023t2_ae.network import AENet  # noqa: E402
from networks.dcase2023t2_ae.options import AutoencoderOptions  # noqa: E402
from tools.measured_run import PEAK_MEMORY_WRAPPER, measured_run  # noqa: E402

MACHINE = "fan"
BATCH_SIZE = 256


def make_data(root: Path, n_train: int, seed: int) -> Path:
    """A DCASE2024-layout fan set with ``n_train`` training clips (1 % target) and 50 clips per test group."""
    folder = root / f"train{n_train}"
    n_target = max(1, n_train // 100)
    generate_dataset(
        folder,
        [MACHINE],
        n_train_source=n_train - n_target,
        n_train_target=n_target,
        n_test_per_group=50,
        duration=10.0,
        seed=seed,
    )
    return folder


def train_paths(data_dir: Path) -> list[Path]:
    spec = resolve_dataset(f"DCASE2024T2{MACHINE}", "dev")
    return [clip.path for clip in list_train_clips(spec, data_dir, use_ids=[])]


def measure_extraction(data_dir: Path, workers: int) -> dict[str, float]:
    """Feature extraction without a cache from WAV files already in the OS page cache ("warm"), then the load
    of the cache it wrote."""
    paths = train_paths(data_dir)
    for path in paths:  # read every file once: the timing is of the extraction, not of the disk
        path.read_bytes()
    cache_dir = data_dir / "benchmark_cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    params = FeatureParams()
    started = time.perf_counter()
    load_or_extract(paths, params, cache_dir, "train", workers=workers)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    features, cached = load_or_extract(paths, params, cache_dir, "train", workers=workers)
    VectorSet.from_features(features, params, np.zeros(len(paths), dtype=bool), torch.device("cpu"))
    hit = time.perf_counter() - started
    assert cached
    return {"clips": len(paths), "cold_seconds": cold, "clips_per_second": len(paths) / cold, "cache_hit_seconds": hit}


def project_loop_throughput(data_dir: Path, epochs: int) -> dict[str, float]:
    """The project's own training epoch (gather from log-mel frames, the autoencoder's batch loop) over every
    vector, without the validation pass."""
    params = FeatureParams()
    paths = train_paths(data_dir)
    features, _ = load_or_extract(paths, params, data_dir / "benchmark_cache", "train")
    data = VectorSet.from_features(features, params, np.array(["target" in p.name for p in paths]), torch.device("cpu"))
    torch.manual_seed(0)
    options = AutoencoderOptions(
        batch_size=BATCH_SIZE,
        learning_rate=1e-3,
        shuffle=True,
        validation_split=0.1,
        seed=0,
        log_interval=100,
        n_mels=params.n_mels,
        frames=params.frames,
    )
    model = AutoencoderModel(options, AutoencoderModel.shape_of(options, data), torch.device("cpu"))
    split = VectorSplit(data, options, torch.device("cpu"))
    every_vector = torch.arange(data.n_vectors)
    n_batches = len(batch_slices(data.n_vectors, BATCH_SIZE))
    seconds = []
    for _ in range(epochs + 1):  # the first epoch warms up
        started = time.perf_counter()
        model.train_batches(split.batches(every_vector, epoch_order(data.n_vectors, True)), n_batches, iter(()), 0)
        seconds.append(time.perf_counter() - started)
    per_epoch = float(np.median(seconds[1:]))
    return {"vectors": data.n_vectors, "seconds_per_epoch": per_epoch, "vectors_per_second": data.n_vectors / per_epoch}


def bare_loop_throughput(n_vectors: int, epochs: int) -> dict[str, float]:
    """The compute floor: the same network, Adam and MSE on a random in-memory tensor, no bookkeeping."""
    torch.manual_seed(0)
    x_all = torch.randn(n_vectors, 640)
    net = AENet(640, 128)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    seconds = []
    for _ in range(epochs + 1):
        order = torch.randperm(n_vectors)
        started = time.perf_counter()
        for part in batch_slices(n_vectors, BATCH_SIZE):
            x = x_all[order[part]]
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(net(x)[0], x)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - started)
    per_epoch = float(np.median(seconds[1:]))
    return {"seconds_per_epoch": per_epoch, "vectors_per_second": n_vectors / per_epoch}


def full_run(data_dir: Path, work_dir: Path, epochs: int) -> dict[str, float]:
    """``train.py`` train + test (MSE) of one machine type in a fresh process: wall time, training time (from
    its summary line) and the peak resident memory of its largest process (extraction workers included)."""
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    command = [
        sys.executable,
        "-c",
        PEAK_MEMORY_WRAPPER,
        sys.executable,
        str(REPO_ROOT / "train.py"),
        "--dataset",
        f"DCASE2024T2{MACHINE}",
        "-d",
        "--dataset_directory",
        str(data_dir),
        "--epochs",
        str(epochs),
        "--use_cuda",
        "False",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    seconds, output, peak_mib = measured_run(command, work_dir, env, work_dir / "train.log", "train.py")
    training = re.search(r"vectors in ([0-9.]+) s", output)
    return {
        "seconds": seconds,
        "training_seconds": float(training.group(1)) if training else float("nan"),
        "peak_rss_mib": peak_mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=1000, help="training clips of the main measurement")
    parser.add_argument("--scaling", type=int, nargs="*", default=[250, 500, 1000], help="clip counts to compare")
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per measurement")
    parser.add_argument("--workers", type=int, default=2, help="feature extraction processes")
    parser.add_argument("--root", type=Path, default=REPO_ROOT / "benchmarks/data", help="where data are generated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--part",
        choices=("pipeline", "monitor"),
        default="pipeline",
        help="pipeline: training and testing (the default); monitor: tools.monitor",
    )
    parser.add_argument("--score_clips", type=int, default=1000, help="monitor: clips of the folder scored")
    args = parser.parse_args()
    if args.part == "monitor":
        main_monitor(args)
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    report: dict = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "epochs": args.epochs}

    main_dir = make_data(args.root, args.clips, args.seed)
    report["extraction"] = measure_extraction(main_dir, args.workers)
    project = project_loop_throughput(main_dir, args.epochs)
    bare = bare_loop_throughput(project["vectors"], args.epochs)
    report["training"] = {
        "project": project,
        "bare_loop": bare,
        "ratio": project["vectors_per_second"] / bare["vectors_per_second"],
    }
    report["scaling"] = []
    for n_clips in sorted(set(args.scaling)):
        data_dir = make_data(args.root, n_clips, args.seed)
        run = full_run(data_dir, args.root / f"run{n_clips}", args.epochs)
        report["scaling"].append({"clips": n_clips, **run})
    out = args.root / "benchmark.json"
    out.write_text(json.dumps(report, indent=2) + "\n")

    extraction, training = report["extraction"], report["training"]
    print()
    print(f"| measurement ({args.clips} training clips of 10 s, {report['torch_threads']} threads) | value |")
    print("|---|---|")
    print(f"| training, project loop | {project['vectors_per_second']:,.0f} vectors/s |")
    print(f"| training, bare loop on random tensors (floor) | {bare['vectors_per_second']:,.0f} vectors/s |")
    print(f"| ratio project / floor | {training['ratio']:.2f} |")
    print(
        f"| feature extraction, no cache (files warm), {args.workers} workers | "
        f"{extraction['clips_per_second']:.0f} clips/s ({extraction['cold_seconds']:.1f} s for "
        f"{extraction['clips']} clips) |"
    )
    print(f"| feature cache hit (load + tensor) | {extraction['cache_hit_seconds']:.2f} s |")
    print()
    print(f"| training clips | train + test, {args.epochs} epochs (s) | of which training (s) | peak memory (MiB) |")
    print("|---|---|---|---|")
    for row in report["scaling"]:
        print(f"| {row['clips']} | {row['seconds']:.1f} | {row['training_seconds']:.1f} | {row['peak_rss_mib']:.0f} |")
    print(f"\nbenchmark finished; figures in {out}")


def main_monitor(args: argparse.Namespace) -> None:
    from tools.benchmark_monitor import measure_monitor, print_monitor

    report = measure_monitor(
        args.root, n_train=min(args.clips, 200), n_score=args.score_clips, epochs=args.epochs, seed=args.seed
    )
    out = args.root / "benchmark_monitor.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_monitor(report)
    print(f"\nbenchmark finished; figures in {out}")


if __name__ == "__main__":
    main()
