"""The stage-1 network of the two-stage outlier-exposure system: mel front end, EfficientNet-B0, neck, two heads.

As the recipe's ``ASDModel`` (``tf_efficientnet_b0_ns``, neck "option-F", no positional channel): the linear
(not log) magnitude mel spectrogram of a window-normalised STFT, copied to three channels, the backbone, global
average pooling, a neck to the embedding, a machine head (one weight and a bias on the embedding's mean square:
target machine type or not) and a section head (a linear map without bias to the section classes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from networks.two_stage_oe.efficientnet import EfficientNetB0

NECK_DROPOUT = 0.3


def hz_to_htk_mel(frequency: float) -> float:
    return 2595.0 * math.log10(1.0 + frequency / 700.0)


def htk_mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def htk_mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """Triangular HTK-scale filters without area normalisation, computed in float32 as torchaudio's
    ``melscale_fbanks`` (its defaults) computes them: (n_fft // 2 + 1, n_mels)."""
    bins = torch.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)
    corners = htk_mel_to_hz(torch.linspace(hz_to_htk_mel(fmin), hz_to_htk_mel(fmax), n_mels + 2))
    widths = corners[1:] - corners[:-1]
    slopes = corners.unsqueeze(0) - bins.unsqueeze(1)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


@dataclass(frozen=True)
class NetworkShape:
    """Everything that fixes the network's tensors."""

    n_classes: int
    sample_rate: int
    n_fft: int = 2048
    hop_length: int = 256
    n_mels: int = 224
    fmin: float = 50.0
    fmax: float = 7800.0
    power: float = 1.0
    embedding_dim: int = 128

    def as_dict(self) -> dict:
        return asdict(self)


class MelFrontEnd(nn.Module):
    """``|STFT| ** power`` (Hann window, centred with reflection, divided by the window's L2 norm) -> mel."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.power = shape.n_fft, shape.hop_length, shape.power
        self.register_buffer("window", torch.hann_window(shape.n_fft), persistent=False)
        filters = htk_mel_filterbank(shape.sample_rate, shape.n_fft, shape.n_mels, shape.fmin, shape.fmax)
        self.register_buffer("filters", filters, persistent=False)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, n_mels, frames)."""
        spectrum = torch.stft(
            waveforms.float(),
            self.n_fft,
            self.hop_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )
        magnitude = (spectrum / self.window.pow(2).sum().sqrt()).abs().pow(self.power)
        return torch.matmul(magnitude.transpose(1, 2), self.filters).transpose(1, 2)


class OutlierExposureNet(nn.Module):
    """waveforms -> ``{"embedding", "machine", "section"}`` (the recipe's output names)."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        self.embedding_dim = shape.embedding_dim
        self.front_end = MelFrontEnd(shape)
        self.backbone = EfficientNetB0(in_channels=3)
        self.neck = nn.Sequential(
            nn.Dropout(NECK_DROPOUT),
            nn.Linear(self.backbone.out_features, shape.embedding_dim, bias=True),
            nn.BatchNorm1d(shape.embedding_dim),
            nn.PReLU(),
            nn.Linear(shape.embedding_dim, shape.embedding_dim, bias=True),
        )
        self.machine_head = nn.Linear(1, 1, bias=True)
        self.section_head = nn.Linear(shape.embedding_dim, shape.n_classes, bias=False)

    def forward(self, waveforms: torch.Tensor) -> dict[str, torch.Tensor]:
        image = self.front_end(waveforms).unsqueeze(1).expand(-1, 3, -1, -1)
        pooled = self.backbone(image).mean(dim=(2, 3))
        embedding = self.neck(pooled)
        machine = self.machine_head(embedding.pow(2).sum(dim=1, keepdim=True) / self.embedding_dim)
        return {"embedding": embedding, "machine": machine, "section": self.section_head(embedding)}
