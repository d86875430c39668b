"""The model contract (networks/base.py) as the engine reads it: traits checked when a class is defined, every
list of systems taken from the registry, each model's own options parsed and shown, its score modes offered."""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

import pytest

import common
from engine.runner import resolve_score_mode
from errors import ConfigError
from networks import registry
from networks.base import Inputs, Model, Scope, TrainingOptions

CORE = {option.dest for option in (*common.CORE_OPTIONS, *common.LAUNCHER_OPTIONS)}


def own_options(model: str) -> set[str]:
    return {item.name for item in dataclasses.fields(registry.get(model).options_class)} - CORE


def declare(**traits: object) -> type[Model]:
    """A concrete model class with the given class attributes over valid ones (nothing of it is called)."""
    body = {
        "options_class": TrainingOptions,
        "score_modes": ("A",),
        "log_columns": ("loss",),
        "tiny_test_flags": ("--epochs", "1"),
        **{name: staticmethod(lambda *_: None) for name in Model.__abstractmethods__},
        **traits,
    }
    return type("Declared", (Model,), body)


def test_a_valid_declaration_defines_the_class() -> None:
    cls = declare(scope=Scope.FAMILY, inputs=Inputs.WAVEFORMS)
    assert (cls.scope, cls.inputs) == ("family", "waveforms")  # the enums compare as their names


@pytest.mark.parametrize(
    ("traits", "message"),
    [
        ({"scope": "family"}, "scope must be a networks.base.Scope, got 'family'"),
        ({"inputs": "wave"}, "inputs must be a networks.base.Inputs, got 'wave'"),
        ({"score_modes": ()}, "score_modes must name at least one score mode"),
        ({"score_modes": ("A", "A")}, "score_modes repeat a name"),
        ({"score_modes": ["A"]}, "score_modes must be a tuple of non-empty strings"),
        ({"tiny_test_flags": None}, "tiny_test_flags must be a tuple of non-empty strings"),
        ({"options_class": dict}, "options_class must be a networks.base.ModelOptions dataclass"),
    ],
)
def test_a_wrong_trait_is_refused_when_the_class_is_defined(traits: dict, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)) as caught:
        declare(**traits)
    assert "Declared" in str(caught.value)  # names the class


def test_an_abstract_intermediate_base_is_not_checked() -> None:
    class Base(Model):  # declares no traits: its subclasses do
        extra: ClassVar[int] = 1

    assert Base.__abstractmethods__


@pytest.mark.parametrize("model", registry.names())
def test_each_registered_model_declares_tiny_settings_that_parse(model: str) -> None:
    config = common.parse_config(
        ["--model", model, "--dataset", "DCASE2024T2fan", "-d", *registry.get(model).tiny_test_flags]
    )
    assert config.model == model and config.epochs <= 2


@pytest.mark.parametrize("model", registry.names())
def test_help_shows_the_core_options_and_the_models_own_only(model: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        common.parse_config(["--model", model, "--help"])
    assert stopped.value.code == 0
    text = capsys.readouterr().out
    shown = set(re.findall(r"^  (?:-\w+(?: \w+)?, )?--(\w+)", text, flags=re.MULTILINE))
    assert shown == CORE | own_options(model) | {"help", "config"}
    modes = ", ".join(registry.get(model).score_modes)
    assert f"a score mode of {model} ({modes})" in " ".join(text.split())


def test_the_yaml_of_a_system_picks_its_options_for_help(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        common.parse_config(["--config", "stgram_mfn.yaml", "--help"])
    text = capsys.readouterr().out
    assert "options of STgram-MFN:" in text and "--crop_seconds" in text and "--at_window" not in text


def test_another_models_option_is_refused_naming_its_model() -> None:
    owner = next(model for model in registry.names() if own_options(model))
    option = sorted(own_options(owner))[0]
    other = next(model for model in registry.names() if option not in own_options(model))
    argv = ["--model", other, "--dataset", "DCASE2024T2fan", "-d", f"--{option}", "1"]
    with pytest.raises(ConfigError, match=re.escape(f"--{option} is an option of {owner}")):
        common.parse_config(argv)


def test_shared_training_options_are_declared_once() -> None:
    for model, item, _ in registry.option_fields():
        assert not (item.name in CORE and "help" in item.metadata), f"{model} declares the core option {item.name}"


@pytest.mark.parametrize("model", registry.names())
def test_score_mode_errors_offer_only_what_the_model_has(model: str) -> None:
    modes = registry.get(model).score_modes
    assert resolve_score_mode("first", model, modes) == modes[0]
    with pytest.raises(ConfigError) as caught:
        resolve_score_mode("NO_SUCH_MODE", model, modes)
    assert ", ".join(modes) in str(caught.value)
    if len(modes) == 1:
        with pytest.raises(ConfigError) as caught:
            resolve_score_mode("second", model, modes)
        assert "/ second" not in str(caught.value) and "--score first" in str(caught.value)  # not offered again
    else:
        assert resolve_score_mode("second", model, modes) == modes[1]
