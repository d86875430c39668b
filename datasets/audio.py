"""Read one WAV clip as a float32 signal of one channel, or fail with a message that names the file.

Which channel: DCASE2020-2025 clips are mono; DCASE2026 clips are stereo, the near microphone in the left
channel and the far microphone in the right. As in the public baseline (``--mono``, v5), ``mono=True``
requires one channel and ``mono=False`` requires two or more; ``channel`` then picks the left ("0", the
baseline's choice), the right ("1") or their average ("mean").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from errors import DataError

CHANNEL_CHOICES = ("0", "1", "mean")


@dataclass(frozen=True)
class ChannelRule:
    """How many channels a clip must have and which one becomes the model's input."""

    mono: bool = True
    channel: str = "0"  # with mono=False: "0", "1" or "mean"

    def __post_init__(self) -> None:
        if self.channel not in CHANNEL_CHOICES:
            raise DataError(f"channel {self.channel!r} is not one of {', '.join(CHANNEL_CHOICES)}")

    def describe(self) -> str:
        return "mono" if self.mono else f"channel {self.channel} of multi-channel clips"

    def pick(self, samples: np.ndarray, path: Path) -> np.ndarray:
        """The input signal from ``samples`` (frames, channels); a DataError if the channel count is wrong."""
        n_channels = samples.shape[1]
        if self.mono and n_channels != 1:
            raise DataError(
                f"{path} has {n_channels} channels; DCASE2026 clips are stereo: use --mono False [--channel 0|1|mean]"
            )
        if not self.mono and n_channels < 2:
            raise DataError(
                f"{path} has 1 channel but --mono False expects stereo clips (DCASE2026); use "
                "--mono True for mono data (DCASE2020-2025)"
            )
        if self.mono or self.channel == "0":
            return samples[:, 0]
        if self.channel == "1":
            return samples[:, 1]
        return samples.mean(axis=1, dtype=np.float32)


MONO = ChannelRule()


def read_clip(path: Path, rule: ChannelRule = MONO) -> tuple[np.ndarray, int]:
    """Return ``(signal, sample_rate)``: float32 in [-1, 1), the channel ``rule`` picks.

    Raises DataError for a file that is empty, not a readable audio file, has no samples, has a channel
    count ``rule`` does not accept, or holds NaN or infinite values.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise DataError(f"{path}: cannot be opened ({error.strerror})") from error
    if size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes); replace it with an intact copy or delete it")
    try:
        samples, sample_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise DataError(
            f"{path}: not a readable WAV file ({error}); replace it with an intact copy or delete it"
        ) from error
    if samples.shape[0] == 0:
        raise DataError(f"{path}: the file holds no audio samples; replace it with an intact copy or delete it")
    signal = rule.pick(samples, path)
    if not np.isfinite(signal).all():
        raise DataError(f"{path}: the audio holds NaN or infinite samples; replace it with an intact copy or delete it")
    return np.ascontiguousarray(signal), int(sample_rate)
