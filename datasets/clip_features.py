"""Log-mel frames of a list of clips: extracted in parallel worker processes, cached on disk.

The frames of all clips are stored once, time-major and back to back in one float32 array of shape
(total frames, n_mels); ``offsets[i]:offsets[i + 1]`` are clip i's rows. Feature vectors are formed
from these rows later, as views, which holds a clip in a fifth of the memory of stored vectors.

The cache is one ``.npy`` (memory-mapped on load) plus a JSON manifest written after it, keyed by every
feature parameter; the manifest also records each input file's name, size and modification time, so
a changed parameter or a changed dataset is never served from an old cache.
"""

from __future__ import annotations

import collections
import ctypes
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from datasets.audio import read_clip
from datasets.features import FeatureParams, count_stft_frames, log_mel_spectrogram
from datasets.stacked_clips import StackedClips, file_fingerprint, load_stacked_rows
from errors import DataError
from progress import progress_bar
from safe_io import load_or_build_cache, pause_point

CACHE_FORMAT_VERSION = 2  # 2: the channel rule is a parameter; scipy's Hann window
SERIAL_BELOW = 16  # fewer clips than this are extracted in-process: a pool would cost more than it saves


@dataclass
class ClipFeatures(StackedClips):
    """Log-mel frames of several clips, stacked; see the module docstring."""

    log_mel: np.ndarray  # (total frames, n_mels) float32, possibly memory-mapped

    def clip_frames(self, index: int) -> np.ndarray:
        return self.log_mel[self.offsets[index] : self.offsets[index + 1]]


def _extract_one(path: str, params: FeatureParams) -> tuple[np.ndarray, int]:
    pause_point(f"extract:{Path(path).name}")
    samples, sample_rate = read_clip(Path(path), params.channel_rule)
    n_frames = count_stft_frames(len(samples), params.n_fft, params.hop_length)
    if n_frames < params.frames:
        seconds = len(samples) / sample_rate
        needed = (params.frames - 1) * params.hop_length / sample_rate
        raise DataError(
            f"{path}: clip too short ({seconds:.3f} s) to give one feature vector of "
            f"{params.frames} frames; clips need at least {needed:.3f} s. Remove the file"
        )
    return log_mel_spectrogram(samples, sample_rate, params), sample_rate


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent(parent_pid: int) -> None:
    """Pool worker initializer: end this worker when its parent dies, even by kill -9. Otherwise the
    workers would wait forever for more clips and, sharing the parent's descriptors through fork, keep its
    cache lock held, so that the next run waiting for that lock would hang."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


def _default_workers(n_clips: int) -> int:
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(available, n_clips // SERIAL_BELOW))


def extract_features(
    paths: Sequence[Path], params: FeatureParams, workers: int = 0, description: str = "features"
) -> ClipFeatures:
    """Compute the log-mel frames of ``paths`` (in that order) with ``workers`` processes (0: auto).

    Every clip must have the sample rate of the others; a clip too short for one vector, or one that
    cannot be read, is a DataError naming the file.
    """
    if not paths:
        raise DataError(f"no clips to extract features from ({description})")
    workers = workers or _default_workers(len(paths))
    names = [str(path) for path in paths]
    progress = progress_bar(total=len(names), desc=description, unit="clip", transient=True)
    if workers <= 1 or len(names) < SERIAL_BELOW:
        results = []
        for name in names:
            results.append(_extract_one(name, params))
            progress.update()
    else:
        # fork: workers need only numpy and the parent's already-imported modules; nothing re-imported
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),)
        )
        chunk = max(1, min(32, len(names) // (workers * 8)))
        results = []
        try:
            for result in pool.map(_extract_one, names, [params] * len(names), chunksize=chunk):
                results.append(result)
                progress.update()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # on an error, do not finish the other clips
    progress.close()
    rates = collections.Counter(rate for _, rate in results)
    common_rate, n_common = rates.most_common(1)[0]
    for path, (_, rate) in zip(paths, results, strict=True):
        if rate != common_rate:  # name the odd one out, not the first clip
            raise DataError(
                f"{path}: sample rate {rate} Hz differs from {common_rate} Hz of {n_common} other "
                "clip(s) of this set; all clips of a dataset must share one rate (resample the odd "
                "file or remove it)"
            )
    counts = np.array([len(log_mel) for log_mel, _ in results], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    log_mel = np.concatenate([log_mel for log_mel, _ in results]).astype(np.float32, copy=False)
    return ClipFeatures(offsets=offsets, names=[Path(p).name for p in paths], sample_rate=common_rate, log_mel=log_mel)


def cache_key(params: FeatureParams) -> str:
    """Short hash of every feature parameter and the cache format."""
    text = json.dumps({"version": CACHE_FORMAT_VERSION, **params.as_dict()}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _load_cached(
    npy_path: Path, manifest_path: Path, params: FeatureParams, fingerprint: list[list]
) -> ClipFeatures | None:
    """The cached features if the manifest matches the parameters and files, else None."""
    expected = {"version": CACHE_FORMAT_VERSION, "params": params.as_dict(), "files": fingerprint}
    loaded = load_stacked_rows(npy_path, manifest_path, expected, (params.n_mels,), np.dtype(np.float32))
    if loaded is None:
        return None
    log_mel, offsets, sample_rate = loaded
    return ClipFeatures(
        offsets=offsets, names=[entry[0] for entry in fingerprint], sample_rate=sample_rate, log_mel=log_mel
    )


def load_or_extract(
    paths: Sequence[Path],
    params: FeatureParams,
    cache_dir: Path,
    cache_name: str,
    workers: int = 0,
    description: str = "features",
) -> tuple[ClipFeatures, bool]:
    """Features of ``paths`` from ``cache_dir`` if valid, else extracted and cached. Returns
    ``(features, was_cached)``. Two processes asking for the same cache build it once: the second
    waits for the first's lock, then loads its result."""
    stem = f"{cache_name}_logmel_{cache_key(params)}"
    npy_path = Path(cache_dir) / f"{stem}.npy"
    manifest_path = Path(cache_dir) / f"{stem}.json"
    fingerprint = file_fingerprint(paths)

    def extract() -> tuple[Callable[[IO[bytes]], None], dict, ClipFeatures]:
        started = time.perf_counter()
        features = extract_features(paths, params, workers, description)
        manifest = {
            "version": CACHE_FORMAT_VERSION,
            "params": params.as_dict(),
            "files": fingerprint,
            "offsets": features.offsets.tolist(),
            "sample_rate": features.sample_rate,
            "seconds_to_extract": round(time.perf_counter() - started, 3),
        }
        return lambda stream: np.save(stream, features.log_mel, allow_pickle=False), manifest, features

    return load_or_build_cache(
        npy_path, manifest_path, lambda: _load_cached(npy_path, manifest_path, params, fingerprint), extract, "feature"
    )
