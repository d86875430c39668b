"""EfficientNet-B0 as timm builds ``tf_efficientnet_b0`` (the recipe's ``tf_efficientnet_b0_ns``), features only.

Written here rather than imported from timm because timm needs torchvision, and CPU-only installations from
PyPI get a torchvision built for CUDA that cannot be imported. The module tree and parameter names are timm's
(``conv_stem``, ``bn1``, ``blocks.<stage>.<block>.{conv_pw,bn1,conv_dw,bn2,se,conv_pwl,bn3}``, ``conv_head``,
``bn2``), so a timm state dict of that model (ImageNet weights) loads into it unchanged (networks/two_stage_oe/
pretrained.py); the README shows its outputs equal timm's for the same weights.

The TensorFlow port's details: batch norm eps 1e-3, and TensorFlow "SAME" padding, computed from the input size
for strided convolutions (``same_padding``) and fixed for the others.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
SE_RATIO = 0.25
# per stage: block kind ("ds": depthwise-separable, "ir": inverted residual), repeats, kernel, first stride,
# expansion, output channels (timm's "ds_r1_k3_s1_e1_c16_se0.25", "ir_r2_k3_s2_e6_c24_se0.25", ...)
STAGES: tuple[tuple[str, int, int, int, int, int], ...] = (
    ("ds", 1, 3, 1, 1, 16),
    ("ir", 2, 3, 2, 6, 24),
    ("ir", 2, 5, 2, 6, 40),
    ("ir", 3, 3, 2, 6, 80),
    ("ir", 3, 5, 1, 6, 112),
    ("ir", 4, 5, 2, 6, 192),
    ("ir", 1, 3, 1, 6, 320),
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one dimension: ``(before, after)``, the odd sample after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow "SAME" padding (static when the stride is 1, else from the input size)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False
    ) -> None:
        static = (kernel - 1) // 2 if stride == 1 else 0
        super().__init__(in_channels, out_channels, kernel, stride, static, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        kernel, stride = self.kernel_size[0], self.stride[0]
        top, bottom = same_padding(x.shape[-2], kernel, stride)
        left, right = same_padding(x.shape[-1], kernel, stride)
        return super().forward(F.pad(x, (left, right, top, bottom)))


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, reduced, 1)
        self.conv_expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(F.silu(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(scale)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class DepthwiseSeparable(nn.Module):
    """Depthwise convolution, squeeze-excite, pointwise projection (the first stage)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv_dw = SameConv2d(in_channels, in_channels, kernel, stride, groups=in_channels)
        self.bn1 = batch_norm(in_channels)
        self.se = SqueezeExcite(in_channels, max(1, int(in_channels * SE_RATIO)))
        self.conv_pw = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = batch_norm(out_channels)
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.se(F.silu(self.bn1(self.conv_dw(x))))))
        return out + x if self.skip else out


class InvertedResidual(nn.Module):
    """Pointwise expansion, depthwise convolution, squeeze-excite, pointwise projection (MBConv)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        wide = in_channels * expansion
        self.conv_pw = nn.Conv2d(in_channels, wide, 1, bias=False)
        self.bn1 = batch_norm(wide)
        self.conv_dw = SameConv2d(wide, wide, kernel, stride, groups=wide)
        self.bn2 = batch_norm(wide)
        self.se = SqueezeExcite(wide, max(1, int(in_channels * SE_RATIO)))
        self.conv_pwl = nn.Conv2d(wide, out_channels, 1, bias=False)
        self.bn3 = batch_norm(out_channels)
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.silu(self.bn1(self.conv_pw(x)))
        out = self.se(F.silu(self.bn2(self.conv_dw(out))))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.skip else out


class EfficientNetB0(nn.Module):
    """The feature extractor: (batch, in_channels, height, width) -> (batch, 1280, height / 32, width / 32)."""

    out_features = HEAD_CHANNELS

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv_stem = SameConv2d(in_channels, STEM_CHANNELS, 3, 2)
        self.bn1 = batch_norm(STEM_CHANNELS)
        stages, channels = [], STEM_CHANNELS
        for kind, repeats, kernel, stride, expansion, out_channels in STAGES:
            blocks = []
            for number in range(repeats):
                first_stride = stride if number == 0 else 1
                blocks.append(
                    DepthwiseSeparable(channels, out_channels, kernel, first_stride)
                    if kind == "ds"
                    else InvertedResidual(channels, out_channels, kernel, first_stride, expansion)
                )
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.blocks = nn.Sequential(*stages)
        self.conv_head = nn.Conv2d(channels, HEAD_CHANNELS, 1, bias=False)
        self.bn2 = batch_norm(HEAD_CHANNELS)
        self.apply(_initialise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.bn1(self.conv_stem(x)))
        x = self.blocks(x)
        return F.silu(self.bn2(self.conv_head(x)))


def _initialise(module: nn.Module) -> None:
    """timm's initialisation of EfficientNets (after the TensorFlow original): normal convolutions scaled by
    their fan-out, unit batch norms."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
