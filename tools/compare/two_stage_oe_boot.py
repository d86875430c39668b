"""Lets the recipe's ``timm`` (1.0.31), ``torchvision`` (0.29.1) and ``torchaudio`` (2.11.1) import on a CPU-only
PyTorch 2.13 whose ABI their compiled libraries do not match (installed ``--no-deps`` into a side virtual
environment, never into the project's): import this module before any of them.

Two modules are replaced by empty stand-ins, and only these: ``torchvision._meta_registrations`` (it registers
meta kernels for torchvision's compiled operators such as ``nms``, which do not exist when its library cannot
load: the import stops with "operator torchvision::nms does not exist") and ``torchaudio._extension`` (it loads
``_torchaudio.so``, which fails; the stand-in says the extension is absent, as torchaudio's own fallback does).
What the comparison uses (timm's EfficientNet, torchaudio's ``MelSpectrogram``) is plain Python on torch.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable


def _fail_if_no_align(function: Callable) -> Callable:
    def unavailable(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"{function.__name__}: torchaudio's compiled alignment extension is not loaded")

    return unavailable


def install() -> None:
    """Put the two stand-ins into sys.modules (idempotent)."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    extension = types.ModuleType("torchaudio._extension")
    extension._IS_TORCHAUDIO_EXT_AVAILABLE = False
    extension._IS_ALIGN_AVAILABLE = False
    extension.fail_if_no_align = _fail_if_no_align
    sys.modules.setdefault("torchaudio._extension", extension)
