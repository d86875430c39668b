"""The multi-resolution network of ASDKit's ``dis_multispec_scac_trainable`` recipe (Fujimura et al., ICASSP 2025):
one branch on the FFT magnitude of the whole crop and one ResNet branch per STFT resolution, every branch ending
in ``width`` values, concatenated into the embedding. No biases; every BatchNorm without affine parameters.

Ported from the public code (MIT licence), written anew: the layer order, sizes, strides and paddings are
theirs; the only change is that a squeeze-excitation block keeps at least one hidden unit (theirs has
``channels // 16``, zero for the 8-channel stage of a network narrower than theirs; identical at width 128).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

SE_RATIO = 16
FFT_CONVS = ((256, 64), (64, 32), (16, 4))  # (kernel, stride) of the FFT branch's three 1-D convolutions
FFT_HIDDEN_LINEARS = 4  # Linear-BN-ReLU layers after the first one, before the last Linear
FIRST_KERNEL, FIRST_STRIDE, POOL_KERNEL, POOL_STRIDE = 7, 2, 3, 2
MIN_SPECTROGRAM_SIZE = 36  # rows and frames an STFT branch needs (the public code asserts it)


@dataclass(frozen=True)
class NetworkShape:
    """Everything that fixes the network's tensors (saved with the weights, so that they load again)."""

    samples: int  # length of every input crop
    sample_rate: int = 16000
    width: int = 128  # output values of each branch (ASDKit's emb_base_size)
    use_fft: bool = True
    stfts: tuple[tuple[int, int], ...] = ((256, 128), (1024, 512), (4096, 2048))  # (n_fft, hop)
    f_min: float = 200.0
    f_max: float = 8000.0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> NetworkShape:
        return cls(**{**values, "stfts": tuple(tuple(pair) for pair in values["stfts"])})

    @property
    def embedding_dim(self) -> int:
        return self.width * (int(self.use_fft) + len(self.stfts))


def filtered_length(length: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of a convolution or pooling without dilation."""
    return (length + 2 * padding - kernel) // stride + 1


def frequency_range(n_fft: int, sample_rate: int, f_min: float, f_max: float) -> tuple[int, int]:
    """First and one-past-last STFT bin kept: the first bin at or above ``f_min``, the last at or below ``f_max``,
    on the bin frequencies as torch.linspace computes them in float32 (the public code's rule, to the bit)."""
    frequencies = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    return (
        int(torch.searchsorted(frequencies, f_min, right=False)),
        int(torch.searchsorted(frequencies, f_max, right=True)),
    )


def spectrogram_size(
    samples: int, n_fft: int, hop: int, sample_rate: int, f_min: float, f_max: float
) -> tuple[int, int]:
    """(bins, frames) of a centred STFT of ``samples`` samples, bins cut to [f_min, f_max]."""
    first, end = frequency_range(n_fft, sample_rate, f_min, f_max)
    return end - first, samples // hop + 1


def fft_branch_length(samples: int) -> int:
    """Positions left after the FFT branch's three convolutions of the |rfft| of ``samples`` samples."""
    length = samples // 2 + 1
    for kernel, stride in FFT_CONVS:
        length = filtered_length(length, kernel, stride)
    return length


class SqueezeExcite(nn.Module):
    """Channel weights from the mean over every axis after the channels (two bias-free linears)."""

    def __init__(self, channels: int, ratio: int = SE_RATIO) -> None:
        super().__init__()
        hidden = max(1, channels // ratio)
        self.layer1 = nn.Sequential(nn.Linear(channels, hidden, bias=False), nn.ReLU())
        self.layer2 = nn.Sequential(nn.Linear(hidden, channels, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.layer2(self.layer1(x.mean(dim=tuple(range(2, x.dim())))))
        return x * weights.view(*weights.shape, *([1] * (x.dim() - 2)))


def linear_bn_relu(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out, affine=False), nn.ReLU()]


class FftBranch(nn.Module):
    """|rfft| of the whole crop (no log, no normalisation) -> three strided 1-D convolutions with SE -> MLP."""

    def __init__(self, samples: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, length = 1, fft_branch_length(samples)
        for kernel, stride in FFT_CONVS:
            layers += [nn.Conv1d(channels, width, kernel, stride, bias=False), nn.ReLU(), SqueezeExcite(width)]
            channels = width
        if length < 1:
            raise ValueError(f"a crop of {samples} samples is too short for the FFT branch")
        self.convs = nn.Sequential(*layers)
        self.aggregate = nn.Sequential(nn.Flatten(), *linear_bn_relu(length * width, width))
        hidden = [module for _ in range(FFT_HIDDEN_LINEARS) for module in linear_bn_relu(width, width)]
        self.last = nn.Sequential(*hidden, nn.Linear(width, width, bias=False))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        magnitude = torch.abs(torch.fft.rfft(waves.float())).unsqueeze(1)
        return self.last(self.aggregate(self.convs(magnitude)))


class ResidualBlock(nn.Module):
    """y = BN(x); out = SE(conv3x3(ReLU(BN(conv3x3_s(ReLU y))))) + skip(y); skip: identity, or for stride 2
    max-pooling (3, 2, padding 1) and a 1x1 convolution."""

    def __init__(self, n_in: int, n_out: int, stride: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(n_in, affine=False)
        self.skip = (
            None
            if stride == 1
            else nn.Sequential(nn.MaxPool2d(3, stride, padding=1), nn.Conv2d(n_in, n_out, 1, bias=False))
        )
        self.residual = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(n_in, n_out, 3, stride, padding=1, bias=False),
            nn.BatchNorm2d(n_out, affine=False),
            nn.ReLU(),
            nn.Conv2d(n_out, n_out, 3, 1, padding=1, bias=False),
            SqueezeExcite(n_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(x)
        return (x if self.skip is None else self.skip(x)) + self.residual(x)


class StftBranch(nn.Module):
    """Linear STFT magnitude (Hann window, centred, zero padding, divided by the window's L2 norm as torchaudio's
    ``normalized=True``), bins [f_min, f_max] -> per-bin BatchNorm -> 7x7/2 convolution, max-pooling -> four
    stages of two residual blocks (width/8, /4, /2, 1 channels; the last three halve) -> max over time ->
    BatchNorm -> Linear."""

    def __init__(self, shape: NetworkShape, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.bins = frequency_range(n_fft, shape.sample_rate, shape.f_min, shape.f_max)
        rows, frames = spectrogram_size(shape.samples, n_fft, hop, shape.sample_rate, shape.f_min, shape.f_max)
        if min(rows, frames) < MIN_SPECTROGRAM_SIZE:
            raise ValueError(
                f"the {n_fft}/{hop} STFT of {shape.samples} samples has {rows} bins x {frames} "
                f"frames; the branch needs at least {MIN_SPECTROGRAM_SIZE} of each"
            )
        self.bn_freq = nn.BatchNorm1d(rows, affine=False)
        width = shape.width
        stem = width // 8
        self.stem = nn.Sequential(
            nn.Conv2d(1, stem, FIRST_KERNEL, FIRST_STRIDE, bias=False),
            nn.BatchNorm2d(stem, affine=False),
            nn.ReLU(),
            nn.MaxPool2d(POOL_KERNEL, POOL_STRIDE),
        )
        rows = filtered_length(filtered_length(rows, FIRST_KERNEL, FIRST_STRIDE), POOL_KERNEL, POOL_STRIDE)
        stages, channels = [], stem
        for n_out, stride in ((width // 8, 1), (width // 4, 2), (width // 2, 2), (width, 2)):
            stages.append(nn.Sequential(ResidualBlock(channels, n_out, stride), ResidualBlock(n_out, n_out, 1)))
            rows, channels = filtered_length(rows, 3, stride, 1), n_out
        self.stages = nn.Sequential(*stages)
        self.aggregate = nn.Sequential(
            nn.Flatten(), nn.BatchNorm1d(width * rows, affine=False), nn.Linear(width * rows, width, bias=False)
        )

    def spectrogram(self, waves: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            waves.float(),
            self.n_fft,
            self.hop,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        magnitude = spectrum.abs() / self.window.pow(2).sum().sqrt()
        return magnitude[:, self.bins[0] : self.bins[1], :]

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(self.bn_freq(self.spectrogram(waves)).unsqueeze(1)))
        return self.aggregate(x.amax(dim=-1))


class MultiResolutionNet(nn.Module):
    """Waveform crops (batch, samples) -> embeddings (batch, width x branches): FFT branch first, then the STFTs."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        if shape.width % 8:
            raise ValueError(f"the branch width must be a multiple of 8, got {shape.width}")
        self.shape = shape
        self.fft = FftBranch(shape.samples, shape.width) if shape.use_fft else None
        self.stfts = nn.ModuleList(StftBranch(shape, n_fft, hop) for n_fft, hop in shape.stfts)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        parts = [] if self.fft is None else [self.fft(waves)]
        return torch.cat(parts + [branch(waves) for branch in self.stfts], dim=-1)
