"""Score recordings with a bundle: a clip as long as the training clips whole, a longer one in windows; each window
through the shared feature code and the model's own ``score``, then the bundle's threshold and percentile."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from datasets.audio import read_clip
from datasets.clip_features import ClipFeatures
from datasets.features import count_stft_frames, log_mel_spectrogram
from datasets.folder_clips import clips_in_memory
from datasets.vector_data import VectorSet
from engine.monitor.bundle import Bundle
from errors import ConfigError, DataError
from networks.base import Inputs

FILES_PER_PASS = 32  # files whose vectors go through the model together
TIMESTAMP = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[T_ ]?(\d{2})[-:_]?(\d{2})[-:_]?(\d{2})")
CSV_COLUMNS = ("file", "window", "windows", "start_s", "end_s", "time", "score", "threshold", "decision", "percentile")


@dataclass(frozen=True)
class ScoreRow:
    """The score of one window of one file (a short file is one window) and what it means."""

    file: str
    window: int  # 1-based
    windows: int
    start_s: float
    end_s: float
    time: datetime.datetime | None  # the window's start, when the file name holds the recording's start
    score: float
    threshold: float
    percentile: float

    @property
    def decision(self) -> int:
        """1: anomalous (the score is above the threshold), 0: normal, as the baseline's decision CSVs."""
        return int(self.score > self.threshold)

    def csv_values(self) -> list[str]:
        stamp = self.time.isoformat() if self.time else ""
        return [
            self.file,
            str(self.window),
            str(self.windows),
            f"{self.start_s:.3f}",
            f"{self.end_s:.3f}",
            stamp,
            repr(self.score),
            repr(self.threshold),
            str(self.decision),
            f"{self.percentile:.2f}",
        ]

    def as_dict(self) -> dict[str, object]:
        values = dict(zip(CSV_COLUMNS, self.csv_values(), strict=True))
        return {
            **values,
            "window": self.window,
            "windows": self.windows,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "score": self.score,
            "threshold": self.threshold,
            "decision": self.decision,
            "percentile": self.percentile,
        }


def recording_start(name: str) -> datetime.datetime | None:
    """The start time a recorder wrote into a file name (``2026-11-30T08-15-00.wav``, ``20261130_081500``)."""
    found = TIMESTAMP.search(Path(name).stem)
    if not found:
        return None
    try:
        return datetime.datetime(*map(int, found.groups()))
    except ValueError:
        return None


def window_bounds(n_samples: int, sample_rate: int, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """Sample ranges to score: the whole signal when it is at most one window and one hop long, else windows of
    ``window_s`` every ``hop_s`` seconds, the last one ending at the signal's end so that every sample is seen."""
    window, hop = round(window_s * sample_rate), round(hop_s * sample_rate)
    if n_samples <= window + hop:
        return [(0, n_samples)]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return [(start, start + window) for start in starts]


def _check_channels(path: Path, bundle: Bundle) -> None:
    try:
        channels = soundfile.info(str(path)).channels
    except (soundfile.LibsndfileError, RuntimeError, ValueError):
        return  # read_clip names what is wrong with the file
    rule = bundle.params.channel_rule
    if rule.mono and channels != 1:
        raise DataError(
            f"{path} has {channels} channels but the bundle {bundle.path} was fitted on mono recordings; "
            "give mono files, or fit a bundle on recordings like this one (fit ... --mono False)"
        )
    if not rule.mono and channels < 2:
        raise DataError(
            f"{path} is mono but the bundle {bundle.path} was fitted on stereo recordings "
            f"({rule.describe()}); give stereo files or fit a bundle on mono recordings"
        )


def file_windows(
    path: Path, bundle: Bundle, window_s: float, hop_s: float
) -> tuple[list[tuple[float, float]], list[np.ndarray]]:
    """``((start_s, end_s) of each window, the model's input of each window)`` of one recording, after checking
    its channels, sample rate and length against the bundle's: log-mel frames, or the samples for a model that
    reads waveforms."""
    _check_channels(path, bundle)
    signal, rate = read_clip(path, bundle.params.channel_rule)
    if rate != bundle.sample_rate:
        raise DataError(
            f"{path} is sampled at {rate} Hz but the bundle {bundle.path} was fitted on "
            f"{bundle.sample_rate} Hz recordings; resample the file or fit a bundle on recordings of that "
            "rate"
        )
    params = bundle.params
    reads_vectors = bundle.model.inputs == Inputs.VECTORS
    if reads_vectors and count_stft_frames(len(signal), params.n_fft, params.hop_length) < params.frames:
        needed = (params.frames - 1) * params.hop_length / rate
        raise DataError(
            f"{path} is too short ({len(signal) / rate:.3f} s) to score: recordings need at least {needed:.3f} s"
        )
    bounds = window_bounds(len(signal), rate, window_s, hop_s)
    if reads_vectors:
        inputs = [log_mel_spectrogram(signal[start:end], rate, params) for start, end in bounds]
    else:
        inputs = [signal[start:end] for start, end in bounds]
    return [(start / rate, end / rate) for start, end in bounds], inputs


def check_windowing(window_s: float, hop_s: float) -> None:
    if not window_s > 0 or not hop_s > 0:
        raise ConfigError(f"--window ({window_s}) and --hop ({hop_s}) must be positive numbers of seconds")


def model_input(bundle: Bundle, windows: Sequence[np.ndarray], names: Sequence[str]) -> Any:
    """What the model scores the windows (``file_windows``'s inputs) in: the engine's vector set, or clips."""
    if bundle.model.inputs != Inputs.VECTORS:
        return clips_in_memory(str(bundle.manifest["trained_on"]), names, windows, bundle.sample_rate)
    offsets = np.concatenate([[0], np.cumsum([len(block) for block in windows])])
    features = ClipFeatures(
        offsets=offsets,
        names=list(names),
        sample_rate=bundle.sample_rate,
        log_mel=np.concatenate(windows).astype(np.float32, copy=False),
    )
    return VectorSet.from_features(features, bundle.params, np.zeros(len(windows), dtype=bool), bundle.model.device)


def score_windows(bundle: Bundle, mode: str, windows: Sequence[np.ndarray], names: Sequence[str]) -> np.ndarray:
    """The model's ``mode`` score of each window (``file_windows``'s inputs)."""
    data = model_input(bundle, windows, names)
    scores = np.asarray(bundle.model.score(data, (mode,))[mode], dtype=np.float64)
    bad = ~np.isfinite(scores)
    if bad.any():
        raise DataError(
            f"the bundle {bundle.path} gives a NaN or infinite score for {names[int(np.argmax(bad))]}; "
            "fit the bundle again"
        )
    return scores


def resolve_mode(bundle: Bundle, mode: str | None) -> str:
    if mode is None:
        return bundle.default_mode
    if mode not in bundle.manifest["score_modes"]:
        raise ConfigError(
            f"--score {mode} is not a score of this bundle; choose from {', '.join(bundle.manifest['score_modes'])}"
        )
    return mode


def resolve_threshold(bundle: Bundle, mode: str, text: str | None) -> float | None:
    """``--threshold``: None (the bundle's gamma threshold), a score, or ``pNN``: the NN-th percentile (linear
    interpolation) of the training clips' scores."""
    if text is None:
        return None
    try:
        if text.lower().startswith("p"):
            percentile = float(text[1:])
            if not 0 <= percentile <= 100:
                raise ValueError(text)
            return float(np.percentile(bundle.training_scores[mode], percentile))
        value = float(text)
        if not np.isfinite(value):
            raise ValueError(text)
        return value
    except ValueError as error:
        raise ConfigError(
            f"--threshold {text}: give a score (e.g. 9.5) or a percentile of the training clips' scores (e.g. p99)"
        ) from error


def score_files(
    bundle: Bundle,
    paths: Iterable[Path],
    mode: str,
    window_s: float,
    hop_s: float,
    threshold: float | None = None,
    labels: Sequence[str] | None = None,
) -> Iterator[list[ScoreRow]]:
    """The rows of each file of ``paths`` in turn (one per window), scored ``FILES_PER_PASS`` files at a time;
    ``labels``: how each file is named in the rows (default: its path as given)."""
    check_windowing(window_s, hop_s)
    cut = bundle.thresholds[mode] if threshold is None else threshold
    paths = list(paths)
    labels = [str(path) for path in paths] if labels is None else list(labels)
    for first in range(0, len(paths), FILES_PER_PASS):
        batch = list(zip(paths[first : first + FILES_PER_PASS], labels[first : first + FILES_PER_PASS], strict=True))
        windows = [(label, file_windows(path, bundle, window_s, hop_s)) for path, label in batch]
        inputs = [block for _, (_, blocks) in windows for block in blocks]
        names = [label for label, (bounds, _) in windows for _ in bounds]
        scores = iter(score_windows(bundle, mode, inputs, names))
        for label, (bounds, _) in windows:
            start = recording_start(label)
            rows = []
            for number, (start_s, end_s) in enumerate(bounds, start=1):
                score = float(next(scores))
                when = start + datetime.timedelta(seconds=start_s) if start else None
                rows.append(
                    ScoreRow(
                        label,
                        number,
                        len(bounds),
                        start_s,
                        end_s,
                        when,
                        score,
                        cut,
                        float(bundle.percentile(mode, np.array([score]))[0]),
                    )
                )
            yield rows


def timeline(rows: Sequence[ScoreRow]) -> tuple[list[datetime.datetime] | np.ndarray, str]:
    """x values of the score-over-time picture (each window's middle) and their axis label: clock time when every
    file name holds its start, else seconds of recording, file after file in the order scored."""
    if rows and all(row.time is not None for row in rows):
        return [row.time + datetime.timedelta(seconds=(row.end_s - row.start_s) / 2) for row in rows], "time"
    elapsed, offset, current = [], 0.0, None
    for row in rows:
        if row.file != current and current is not None:
            offset = elapsed[-1][1]
        current = row.file
        elapsed.append((offset + (row.start_s + row.end_s) / 2, offset + row.end_s))
    return np.array([middle for middle, _ in elapsed]), "seconds of recording (files in the order scored)"
