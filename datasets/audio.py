"""Read one WAV clip as a mono float32 signal, or fail with a message that names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from errors import DataError


def read_clip(path: Path) -> tuple[np.ndarray, int]:
    """Return ``(signal, sample_rate)``: float32 in [-1, 1), channels averaged to mono as librosa does.

    Raises DataError for a file that is empty, not a readable audio file, has no samples, or holds NaN or
    infinite values.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DataError(f"{path}: cannot be opened ({error.strerror})") from error
    if size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); re-download the dataset or delete the file")
    try:
        samples, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise DataError(f"{path}: not a readable WAV file ({error}); re-download the dataset or delete "
                        "the file") from error
    if samples.shape[0] == 0:
        raise DataError(f"{path}: the file holds no audio samples; re-download the dataset or delete it")
    signal = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    if not np.isfinite(signal).all():
        raise DataError(f"{path}: the audio holds NaN or infinite samples; re-download or delete the file")
    return np.ascontiguousarray(signal), int(sample_rate)
