"""STgram-MFN: a log-mel branch and a learned temporal branch ("Tgram") from the waveform, stacked as two
channels into a MobileFaceNet backbone that ends in an embedding; an ArcFace head classifies it.

After Liu et al., "Anomalous sound detection using spectral-temporal information fusion" (ICASSP 2022).
Changes that make the network independent of the clip length (training on random crops, testing on whole
clips): the Tgram blocks normalise each frame over its channels instead of over a fixed number of frames,
and the global depthwise convolution spans the frequency axis only and is followed by a mean over time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

# (expansion t, output channels c, repeats n, first stride s) of the bottlenecks, as in the DCASE2022 Task 2
# winner's MobileFaceNet; channels are multiplied by the width
BOTTLENECKS = ((2, 128, 2, 2), (4, 128, 2, 2), (4, 128, 2, 2))
STEM_CHANNELS = 64
HEAD_CHANNELS = 512


@dataclass(frozen=True)
class NetworkShape:
    """Everything that fixes the network's tensors (saved with the weights, so that they load again)."""

    n_classes: int
    n_mels: int = 128
    n_fft: int = 1024
    hop_length: int = 512
    win_length: int | None = None
    power: float = 2.0
    width: float = 1.0
    embedding_dim: int = 128
    tgram_layers: int = 3

    def as_dict(self) -> dict:
        return asdict(self)


def scaled(channels: int, width: float) -> int:
    """Channels times the width, at least 8 and a multiple of 8 (fast kernels; depthwise groups divide)."""
    return max(8, round(channels * width / 8) * 8)


def frequency_bins_after(n_mels: int, n_halvings: int) -> int:
    """Rows left of ``n_mels`` after ``n_halvings`` convolutions with kernel 3, padding 1 and stride 2."""
    for _ in range(n_halvings):
        n_mels = (n_mels - 1) // 2 + 1
    return n_mels


def hann_window(n_fft: int, win_length: int | None) -> torch.Tensor:
    """Periodic Hann window of ``win_length`` samples centred in ``n_fft`` (librosa's STFT window)."""
    length = n_fft if win_length is None else win_length
    window = torch.zeros(n_fft, dtype=torch.float64)
    start = (n_fft - length) // 2
    window[start : start + length] = torch.hann_window(length, periodic=True, dtype=torch.float64)
    return window.float()


class LogMel(nn.Module):
    """``20 / power * log10(max(mel, eps))`` of a batch of waveforms, (batch, samples) -> (batch, n_mels, frames),
    the project's log-mel (centred, zero-padded frames) computed in float32 whatever the autocast state."""

    def __init__(
        self, mel_filters: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None, power: float
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.power = n_fft, hop_length, power
        self.register_buffer("mel_filters", mel_filters.float())  # (n_mels, n_fft // 2 + 1)
        self.register_buffer("window", hann_window(n_fft, win_length))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            spectrum = torch.stft(
                waveform.float(),
                self.n_fft,
                self.hop_length,
                window=self.window,
                center=True,
                pad_mode="constant",
                return_complex=True,
            )
            power = spectrum.abs().pow(self.power)
            mel = torch.matmul(self.mel_filters, power)
            return (20.0 / self.power) * torch.log10(mel.clamp_min(torch.finfo(torch.float64).eps))


class FrameNorm(nn.Module):
    """LayerNorm of every frame over its channels: (batch, channels, frames), any number of frames."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class TgramNet(nn.Module):
    """The temporal branch: a strided Conv1d on the waveform with one output frame per STFT frame (kernel
    n_fft, stride hop, padding n_fft / 2, like the centred STFT), then blocks of norm, LeakyReLU, Conv1d."""

    def __init__(self, channels: int, n_fft: int, hop_length: int, n_layers: int) -> None:
        super().__init__()
        self.extract = nn.Conv1d(1, channels, n_fft, hop_length, padding=n_fft // 2, bias=False)
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(
                    FrameNorm(channels), nn.LeakyReLU(0.2), nn.Conv1d(channels, channels, 3, 1, 1, bias=False)
                )
                for _ in range(n_layers)
            ]
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.extract(waveform.unsqueeze(1)))


class ConvUnit(nn.Module):
    """Conv2d, BatchNorm and (unless ``linear``) PReLU; ``depthwise`` makes one group per channel."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
        depthwise: bool = False,
        linear: bool = False,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, kernel, stride, padding, groups=n_in if depthwise else 1, bias=False)
        self.norm = nn.BatchNorm2d(n_out)
        self.activation = nn.Identity() if linear else nn.PReLU(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norm(self.conv(x)))


class Bottleneck(nn.Module):
    """Inverted residual: 1x1 expansion, 3x3 depthwise (strided), 1x1 linear projection; a shortcut when the
    shape is kept."""

    def __init__(self, n_in: int, n_out: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = n_in * expansion
        self.residual = stride == 1 and n_in == n_out
        self.body = nn.Sequential(
            ConvUnit(n_in, hidden, 1),
            ConvUnit(hidden, hidden, 3, stride, 1, depthwise=True),
            ConvUnit(hidden, n_out, 1, linear=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileFaceNet(nn.Module):
    """(batch, 2, n_mels, frames) -> (batch, embedding_dim)."""

    def __init__(self, n_mels: int, width: float, embedding_dim: int) -> None:
        super().__init__()
        stem = scaled(STEM_CHANNELS, width)
        layers: list[nn.Module] = [ConvUnit(2, stem, 3, 2, 1), ConvUnit(stem, stem, 3, 1, 1, depthwise=True)]
        channels, halvings = stem, 1
        for expansion, n_out, repeats, stride in BOTTLENECKS:
            n_out = scaled(n_out, width)
            for repeat in range(repeats):
                layers.append(Bottleneck(channels, n_out, stride if repeat == 0 else 1, expansion))
                channels = n_out
            halvings += stride == 2
        head = scaled(HEAD_CHANNELS, width)
        layers.append(ConvUnit(channels, head, 1))
        self.features = nn.Sequential(*layers)
        rows = frequency_bins_after(n_mels, halvings)
        self.frequency_pool = ConvUnit(head, head, (rows, 1), depthwise=True, linear=True)  # global depthwise conv
        self.embed = nn.Linear(head, embedding_dim, bias=False)
        self.embed_norm = nn.BatchNorm1d(embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.frequency_pool(self.features(x)).mean(dim=(2, 3))
        return self.embed_norm(self.embed(pooled))


class ArcFaceHead(nn.Module):
    """Cosine classifier with an additive angular margin (ArcFace, Deng et al. 2019).

    ``logits(e)`` is ``scale * cos(angle between e and each class centre)``, used to score; in training,
    ``margin_logits`` moves the true class's angle by ``margin`` first, which pulls each class together."""

    def __init__(self, embedding_dim: int, n_classes: int, margin: float, scale: float) -> None:
        super().__init__()
        self.margin, self.scale = margin, scale
        self.centres = nn.Parameter(torch.empty(n_classes, embedding_dim))
        nn.init.xavier_uniform_(self.centres)

    def cosines(self, embedding: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(embedding.float(), dim=1), F.normalize(self.centres.float(), dim=1))

    def logits(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.scale * self.cosines(embedding)

    def margin_logits(self, embedding: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cosine = self.cosines(embedding)
        true_cosine = cosine.gather(1, labels[:, None]).clamp(-1.0, 1.0)
        angle = torch.acos(true_cosine.clamp(-1.0 + 1e-6, 1.0 - 1e-6))
        # cos(angle + margin) decreases only while angle + margin <= pi; beyond, continue linearly (a
        # penalty of margin * sin(margin)) so that a larger angle never gives a larger logit
        with_margin = torch.where(
            angle + self.margin <= math.pi,
            torch.cos(angle + self.margin),
            true_cosine - self.margin * math.sin(self.margin),
        )
        return self.scale * cosine.scatter(1, labels[:, None], with_margin)


class STgramMFN(nn.Module):
    """Waveforms (batch, samples) -> embeddings (batch, embedding_dim); ``head`` classifies embeddings."""

    def __init__(
        self, shape: NetworkShape, mel_filters: torch.Tensor, margin: float = 0.5, scale: float = 30.0
    ) -> None:
        super().__init__()
        self.shape = shape
        self.log_mel = LogMel(mel_filters, shape.n_fft, shape.hop_length, shape.win_length, shape.power)
        self.mel_norm = nn.BatchNorm1d(shape.n_mels)  # per mel band: puts the dB values on the Tgram's scale
        self.tgram = TgramNet(shape.n_mels, shape.n_fft, shape.hop_length, shape.tgram_layers)
        self.backbone = MobileFaceNet(shape.n_mels, shape.width, shape.embedding_dim)
        self.head = ArcFaceHead(shape.embedding_dim, shape.n_classes, margin, scale)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        mel = self.mel_norm(self.log_mel(waveform))
        tgram = self.tgram(waveform)
        frames = min(mel.shape[-1], tgram.shape[-1])  # equal by construction; guards odd sizes
        stacked = torch.stack((mel[..., :frames].to(tgram.dtype), tgram[..., :frames]), dim=1)
        return self.backbone(stacked)
