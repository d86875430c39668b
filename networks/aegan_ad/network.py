"""AEGAN-AD's two networks (Jiang et al., ICASSP 2023): a DCGAN-style convolutional autoencoder (the generator)
and a convolutional critic (the discriminator) whose grouped-convolution layer gives a clip embedding.

Both see a square log-mel patch, (batch, 1, size, size) with mel bands as rows and frames as columns. Each
stride-2 convolution halves the side until it is 4; a last 4x4 convolution maps it to 1x1. A normalisation
follows every convolution but the last ones: LayerNorm over (channels, side, side) in the critic, and in the
generator the public ``NormLayer`` chosen by ``generator_norm`` (LayerNorm, as the public config.yaml, BatchNorm as
its gearbox configuration, or InstanceNorm).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

ACTIVATIONS = ("relu", "leakyrelu", "tanh")
NORMALISATIONS = ("layer", "batch", "instance")  # the public NormLayer's 'ln', 'bn', 'in'


def activation(name: str) -> nn.Module:
    """The public code's activations: ReLU, LeakyReLU with slope 0.2, tanh."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leakyrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}")


def normalisation(name: str, channels: int, side: int) -> nn.Module:
    """The public ``NormLayer``: LayerNorm over (channels, side, side), BatchNorm2d or InstanceNorm2d."""
    if name == "layer":
        return nn.LayerNorm((channels, side, side))
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"unknown normalisation {name!r}; choose from {', '.join(NORMALISATIONS)}")


def halvings(size: int) -> int:
    """Stride-2 convolutions from ``size`` down to 4 (size must be a power of two, at least 8)."""
    if size < 8 or size & (size - 1):
        raise ValueError(f"the patch side must be a power of two of at least 8, got {size}")
    return size.bit_length() - 3


@dataclass(frozen=True)
class NetworkShape:
    """Everything that fixes the tensors of both networks."""

    size: int = 128  # patch side: mel bands = frames per patch
    latent_dim: int = 256
    encoder_width: int = 32  # channels of the first encoder / discriminator convolution (ndf)
    decoder_width: int = 32  # channels of the last decoder convolution before the output (ngf)
    encoder_first_norm: bool = True
    generator_norm: str = "layer"  # one of NORMALISATIONS; the critic always uses LayerNorm

    def as_dict(self) -> dict:
        return asdict(self)


def downsampling_layers(shape: NetworkShape, first_norm: bool, norm: str) -> tuple[list[nn.Module], int]:
    """Conv-norm-LeakyReLU stages from (1, size, size) to (channels, 4, 4); the layers and ``channels``."""
    channels, side = shape.encoder_width, shape.size // 2
    layers: list[nn.Module] = [nn.Conv2d(1, channels, 4, 2, 1, bias=False)]
    if first_norm:
        layers.append(normalisation(norm, channels, side))
    layers.append(activation("leakyrelu"))
    for _ in range(halvings(shape.size) - 1):
        side //= 2
        layers += [
            nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
            normalisation(norm, channels * 2, side),
            activation("leakyrelu"),
        ]
        channels *= 2
    return layers, channels


class Encoder(nn.Module):
    """(batch, 1, size, size) -> (batch, latent_dim, 1, 1)."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        layers, channels = downsampling_layers(shape, shape.encoder_first_norm, shape.generator_norm)
        self.layers = nn.Sequential(*layers, nn.Conv2d(channels, shape.latent_dim, 4, 1, 0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Decoder(nn.Module):
    """(batch, latent_dim, 1, 1) -> (batch, 1, size, size) in [-1, 1]: transposed convolutions doubling the side."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        channels = shape.decoder_width // 2 * 2 ** halvings(shape.size)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(shape.latent_dim, channels, 4, 1, 0, bias=False),
            normalisation(shape.generator_norm, channels, 4),
            activation("relu"),
        ]
        side = 4
        while side < shape.size // 2:
            side *= 2
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                normalisation(shape.generator_norm, channels // 2, side),
                activation("relu"),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 1, 4, 2, 1, bias=False), activation("tanh")]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class Generator(nn.Module):
    """The autoencoder: ``forward`` reconstructs, ``encode`` gives the latent code."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        self.encoder = Encoder(shape)
        self.decoder = Decoder(shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class Discriminator(nn.Module):
    """The critic: ``forward`` gives (critic value (batch, 1), embedding (batch, channels)). The embedding is a
    depthwise 4x4 convolution of the last feature map (one weight set per channel), flattened."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        layers, channels = downsampling_layers(shape, first_norm=True, norm="layer")
        self.features = nn.Sequential(*layers)
        self.embedding = nn.Sequential(
            nn.Conv2d(channels, channels, 4, 1, 0, bias=False, groups=channels), nn.Flatten()
        )
        self.head = nn.Sequential(nn.LayerNorm(channels), activation("leakyrelu"), nn.Linear(channels, 1))

    @property
    def embedding_dim(self) -> int:
        return self.head[-1].in_features

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.embedding(self.features(x))
        return self.head(embedding), embedding


def initialise_weights(module: nn.Module) -> None:
    """The public initialisation (its ``weights_init``): every (transposed) convolution's weights from N(0, 0.02),
    BatchNorm's scales from N(1, 0.02) and its shifts 0; LayerNorm and the linear layer keep PyTorch's defaults.
    Use with ``network.apply`` (the draws follow the modules' order, as the public code's)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
