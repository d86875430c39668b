"""Model registry: ``--model NAME`` -> the class that implements it, imported only when asked for.

One line per model: the name users type, then ``module:class``. Nothing registers itself on import, so
importing a model never imports the registry and there is no cycle.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing

from errors import ConfigError
from networks.base import Model, ModelOptions, option_kind

MODELS: dict[str, str] = {
    "AEGAN-AD": "networks.aegan_ad.model:AeganModel",
    "Anomaly-Transformer": "networks.anomaly_transformer.model:AnomalyTransformerModel",
    "DCASE2023T2-AE": "networks.dcase2023t2_ae.model:AutoencoderModel",
    "SCAC-MultiRes": "networks.scac_multires.model:ScacMultiResModel",
    "STgram-MFN": "networks.stgram_mfn.model:STgramMFNModel",
    "two-stage-OE": "networks.two_stage_oe.model:TwoStageOEModel",
    "level-stats-kNN": "networks.level_stats.model:LevelStatsModel",
}


def names() -> list[str]:
    """Every registered model name."""
    return sorted(MODELS)


def get(name: str) -> type[Model]:
    """The model class registered as ``name``; the error lists the valid names."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; valid names: {', '.join(names())}")
    module_name, class_name = MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def option_fields() -> list[tuple[str, dataclasses.Field, str]]:
    """``(model name, field, kind)`` of every option of every registered model, in registry order."""
    found = []
    for name in MODELS:
        options: type[ModelOptions] = get(name).options_class
        hints = typing.get_type_hints(options)
        found += [(name, item, option_kind(hints[item.name])) for item in dataclasses.fields(options)]
    return found


def score_modes() -> list[str]:
    """Every score mode of every registered model, each once, in registry order."""
    return list(dict.fromkeys(mode for name in MODELS for mode in get(name).score_modes))
