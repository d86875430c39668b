"""ImageNet weights for the EfficientNet-B0 backbone (``--oe_pretrained``): a weights file, or a timm model name.

A file holds a timm state dict of ``tf_efficientnet_b0`` (``torch.save(model.state_dict(), path)``, possibly
wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``); the classifier is ignored. A name is handed to timm,
which downloads and caches the weights itself (``timm.create_model(name, pretrained=True)``); machines without
the internet or without timm use a file. Every tensor is checked against the backbone's before anything is copied.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from errors import ConfigError, DataError

WRAPPER_KEYS = ("state_dict", "model")


def _from_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for a file that is not a state dict
        raise DataError(
            f"--oe_pretrained {path}: not a readable PyTorch weights file ({error}); save the timm "
            "model's state_dict() with torch.save and pass that file"
        ) from error
    for key in WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise DataError(f"--oe_pretrained {path}: holds a {type(state).__name__}, not a state dict")
    return state


def _from_timm(name: str) -> dict[str, torch.Tensor]:
    try:
        import timm
    except Exception as error:  # ImportError, or timm's own imports failing (a torchvision built for CUDA)
        raise ConfigError(
            f"--oe_pretrained {name}: not a file, and timm cannot be imported to download it "
            f"({error}); on a machine with timm and the internet run torch.save(timm.create_model("
            f"'{name}', pretrained=True).state_dict(), 'b0.pth') and pass --oe_pretrained b0.pth"
        ) from error
    try:
        return timm.create_model(name, pretrained=True).state_dict()
    except Exception as error:  # unknown name, no network, a broken download
        raise ConfigError(
            f"--oe_pretrained {name}: timm cannot provide these weights ({error}); pass the path "
            "of a weights file instead"
        ) from error


def pretrained_state(source: str) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict named by ``--oe_pretrained`` and a few words on where it came from."""
    path = Path(source).expanduser()
    if path.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return _from_file(path), f"{path} (sha256 {digest}...)"
    if any(sign in source for sign in ("/", "\\")) or path.suffix in (".pth", ".pt", ".bin"):
        raise DataError(
            f"--oe_pretrained {source}: no such file; give the path of an existing weights file, a timm "
            "model name, or nothing for random initialisation"
        )
    return _from_timm(source), f"timm {source}"


def load_backbone_weights(backbone: nn.Module, source: str) -> str:
    """Copy the backbone's tensors from ``source`` (every one must be there with its shape); a description."""
    state, origin = pretrained_state(source)
    own = backbone.state_dict()
    missing = [key for key in own if key not in state]
    wrong = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(own[key].shape)})"
        for key in own
        if key in state and state[key].shape != own[key].shape
    ]
    if missing or wrong:
        problems = (
            (f"{len(missing)} tensors missing (e.g. {missing[0]})" if missing else "")
            + ("; " if missing and wrong else "")
            + (f"shape mismatch: {wrong[0]}" if wrong else "")
        )
        raise DataError(f"--oe_pretrained {origin}: not the weights of timm's tf_efficientnet_b0 ({problems})")
    backbone.load_state_dict({key: state[key] for key in own})
    return origin
