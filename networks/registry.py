"""Model registry: ``--model NAME`` -> the detector class that implements it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from errors import ConfigError

_MODELS: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator adding a detector to the registry under ``name``."""

    def add(cls: T) -> T:
        if name in _MODELS:
            raise ValueError(f"model name {name!r} is registered twice")
        _MODELS[name] = cls
        return cls

    return add


def _load_builtin_models() -> None:
    # importing a model's module registers it; keep this list in step with networks/
    import networks.dcase2023t2_ae.detector
    import networks.stgram_mfn.detector  # noqa: F401


def names() -> list[str]:
    """Every registered model name."""
    _load_builtin_models()
    return sorted(_MODELS)


def get(name: str) -> type:
    """The detector class registered as ``name``; the error lists the valid names."""
    _load_builtin_models()
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]
