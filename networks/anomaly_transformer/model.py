"""Anomaly Transformer on log-mel frame sequences: one model per machine type, trained with the minimax
strategy on fixed windows of a clip's frames, scored per frame by the association-based criterion and per clip
by the mean (first mode, 02a) or the maximum (second mode, 02b) over its frames.

The frames are standardised per mel band with the training frames' mean and standard deviation (the public
code's StandardScaler), saved in the shape beside the weights. Training windows start every
``--at_train_stride`` frames (the last one ends at the clip's last frame); test windows do not overlap, and a
frame covered twice (the last window) keeps its first window's score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from datasets.vector_data import VectorSet, batch_slices
from errors import DataError
from networks.anomaly_transformer.network import AnomalyTransformer, NetworkShape
from networks.anomaly_transformer.options import AnomalyTransformerOptions
from networks.anomaly_transformer.scores import aggregate, frame_scores, minimax_losses, stitch_windows, window_starts
from networks.base import EpochResult, Inputs, Scope, SingleNetworkModel
from networks.precision import autocast, autocast_dtype, precision_name
from progress import progress_bar

SCORING_BATCH = 256  # windows per forward pass at test time
AGGREGATIONS = {"MEAN": "mean", "MAX": "max"}


def learning_rate_at(epoch: int, base: float) -> float:
    """The public code's schedule (``epoch`` is 1-based): 1, 1, 1/2, 1/4, ... of ``base``.

    Its solver sets ``base * 0.5 ** (e - 1)`` after 1-based epoch e has been trained, for the next one, so the
    first two epochs train at ``base`` and each later one at half the rate of the one before.
    """
    return base * 0.5 ** max(0, epoch - 2)


def band_standardiser(frames: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean and standard deviation of every band over the training frames (a constant band gets scale 1)."""
    frames = np.asarray(frames, dtype=np.float64)
    scale = frames.std(axis=0)
    return frames.mean(axis=0).tolist(), np.where(scale > 1e-12, scale, 1.0).tolist()


class FrameWindows:
    """The windows of every clip of a VectorSet: their first frames (rows of ``data.frames``) and clips."""

    def __init__(self, data: VectorSet, window: int, stride: int) -> None:
        bounds = data.clip_frame_bounds()
        short = np.flatnonzero(bounds[:, 1] - bounds[:, 0] < window)
        if len(short):
            clip = int(short[0])
            raise DataError(
                f"{data.names[clip]} has {int(bounds[clip, 1] - bounds[clip, 0])} log-mel frames, fewer "
                f"than a window of --at_window {window} ({len(short)} such clips); use longer clips or a "
                "smaller --at_window"
            )
        per_clip = [window_starts(int(end - first), window, stride) for first, end in bounds]
        self.data, self.window = data, window
        self.clip_starts = per_clip  # starts inside each clip
        self.starts = np.concatenate([starts + first for starts, (first, _) in zip(per_clip, bounds, strict=True)])
        self.n_frames = (bounds[:, 1] - bounds[:, 0]).astype(int)

    def __len__(self) -> int:
        return len(self.starts)

    def gather(self, ids: np.ndarray) -> torch.Tensor:
        """Windows ``ids`` as a (batch, window, n_bands) float32 tensor on the data's device."""
        frames = self.data.frames
        n_bands = frames.shape[1]
        strided = frames.as_strided((frames.shape[0] - self.window + 1, self.window, n_bands), (n_bands, n_bands, 1))
        return strided[torch.from_numpy(self.starts[ids]).to(frames.device)]


class AnomalyTransformerModel(SingleNetworkModel):
    options_class: ClassVar[type[AnomalyTransformerOptions]] = AnomalyTransformerOptions
    scope: ClassVar[Scope] = Scope.MACHINE
    inputs: ClassVar[Inputs] = Inputs.VECTORS
    score_modes: ClassVar[tuple[str, ...]] = ("MEAN", "MAX")
    tiny_test_flags: ClassVar[tuple[str, ...]] = (
        "--config",
        "anomaly_transformer.yaml",
        "--epochs",
        "1",
        "--batch_size",
        "8",
        "--n_mels",
        "32",
        "--at_window",
        "32",
        "--at_train_stride",
        "16",
        "--at_d_model",
        "16",
        "--at_heads",
        "2",
        "--at_layers",
        "2",
        "--at_d_ff",
        "16",
        "--num_workers",
        "1",
    )
    log_columns: ClassVar[tuple[str, ...]] = ("loss", "reconstruction", "discrepancy", "learning_rate")

    def __init__(self, options: AnomalyTransformerOptions, shape: dict[str, Any], device: torch.device) -> None:
        super().__init__(options, shape, device)
        self.network_shape = NetworkShape(**shape["network"])
        self.net = AnomalyTransformer(self.network_shape).to(device)
        self.band_mean = torch.tensor(shape["band_mean"], dtype=torch.float32, device=device)
        self.band_scale = torch.tensor(shape["band_scale"], dtype=torch.float32, device=device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=options.learning_rate)
        self.precision = autocast_dtype(device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == torch.float16)
        self._windows: FrameWindows | None = None

    @classmethod
    def shape_of(cls, options: AnomalyTransformerOptions, training_data: VectorSet) -> dict[str, Any]:
        bounds = training_data.clip_frame_bounds()
        frames = training_data.frames.cpu().numpy()
        band_mean, band_scale = band_standardiser(np.concatenate([frames[first:end] for first, end in bounds]))
        network = NetworkShape(
            n_bands=training_data.params.n_mels,
            window=options.at_window,
            d_model=options.at_d_model,
            heads=options.at_heads,
            layers=options.at_layers,
            d_ff=options.at_d_ff,
        )
        return {"network": network.as_dict(), "band_mean": band_mean, "band_scale": band_scale}

    def describe(self) -> str:
        return f"{self.device} ({precision_name(self.precision)})"

    def _training_windows(self, data: VectorSet) -> FrameWindows:
        if self._windows is None or self._windows.data is not data:
            self._windows = FrameWindows(data, self.options.at_window, self.options.at_train_stride)
        return self._windows

    def standardised(self, windows: torch.Tensor) -> torch.Tensor:
        return (windows - self.band_mean) / self.band_scale

    def train_epoch(self, training_data: VectorSet, epoch: int) -> EpochResult:
        options = self.options
        windows = self._training_windows(training_data)
        rng = np.random.default_rng([options.seed, epoch])  # the same draws whether resumed or not
        order = rng.permutation(len(windows)) if options.shuffle else np.arange(len(windows))
        batches = [order[part] for part in batch_slices(len(windows), options.batch_size)]
        rate = learning_rate_at(epoch, options.learning_rate)
        bar = progress_bar(total=len(batches), desc=f"epoch {epoch}", unit="batch", transient=True)
        sums = np.zeros(3)
        for ids in batches:
            sums += len(ids) * np.array(self.train_step(self.standardised(windows.gather(ids)), rate))
            bar.update()
        bar.close()
        loss, reconstruction, discrepancy = (float(value) for value in sums / len(windows))
        return EpochResult(
            {"loss": loss, "reconstruction": reconstruction, "discrepancy": discrepancy, "learning_rate": rate}
        )

    def train_step(self, frames: torch.Tensor, learning_rate: float) -> tuple[float, float, float]:
        """One optimiser step with the gradients of both minimax phases; returns the maximise-phase loss (the
        public code's training loss), the reconstruction error and the discrepancy of the batch."""
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.precision):
            reconstruction, associations = self.net(frames)
        losses = minimax_losses(frames, reconstruction, associations, self.options.at_lambda)
        self.scaler.scale(losses.maximise + losses.minimise).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(losses.maximise.detach()), float(losses.reconstruction.detach()), float(losses.discrepancy)

    @torch.no_grad()
    def window_scores(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, window) frame scores of standardised windows."""
        self.net.eval()
        with autocast(self.device, self.precision):
            reconstruction, associations = self.net(frames)
        return frame_scores(frames, reconstruction, associations, self.options.at_temperature)

    def _scored_windows(self, windows: FrameWindows, description: str) -> Iterator[np.ndarray]:
        bar = progress_bar(total=len(windows), desc=description, unit="window", transient=True)
        for part in batch_slices(len(windows), SCORING_BATCH):
            yield self.window_scores(self.standardised(windows.gather(np.arange(part.start, part.stop)))).cpu().numpy()
            bar.update(part.stop - part.start)
        bar.close()

    def clip_scores(self, data: VectorSet, description: str) -> dict[str, np.ndarray]:
        """Every clip's score in both modes, from non-overlapping windows (plus one at each clip's end)."""
        windows = FrameWindows(data, self.options.at_window, self.options.at_window)
        all_scores = np.concatenate(list(self._scored_windows(windows, description)))
        scores = {mode: np.zeros(data.n_clips) for mode in self.score_modes}
        first = 0
        for clip, (starts, n_frames) in enumerate(zip(windows.clip_starts, windows.n_frames, strict=True)):
            frames = stitch_windows(all_scores[first : first + len(starts)], starts, int(n_frames))
            first += len(starts)
            for mode, how in AGGREGATIONS.items():
                scores[mode][clip] = aggregate(frames, how)
        return scores

    def fit_reference(self, reference_data: VectorSet) -> dict[str, np.ndarray]:
        """Nothing to fit: the thresholds of both modes are fitted on the training clips' own scores."""
        return self.clip_scores(reference_data, "training clips")

    def score(self, test_data: VectorSet, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        return self.clip_scores(test_data, "test clips")
