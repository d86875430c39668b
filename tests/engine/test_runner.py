"""Every registered model through the one runner: one tiny epoch trained and tested in both of its first two
score modes, resumed with --restart, and refused by --test_only for every setting its saved files depend on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import common
from errors import ConfigError
from networks import registry
from tests.conftest import run_train

# the smallest settings each model trains with in a few seconds: each model declares its own
TINY = {name: list(registry.get(name).tiny_test_flags) for name in registry.names()}
IDENTITY = ("model", "dataset", "dev", "eval", "seed")  # they name the files: another value finds no model
NEEDS = {"channel": ["--mono", "False"]}  # a setting valid only together with another


def args_for(model: str, data_dir: Path, *extra: str) -> list[str]:
    return [
        "--model",
        model,
        "--dataset",
        "DCASE2024T2fan",
        "-d",
        "--dataset_directory",
        str(data_dir),
        "-tag",
        "id(0_)",
        "--use_ids",
        "0",
        "--export_dir",
        "tiny",
        *TINY[model],
        *extra,
    ]


def changed_value(option: common.Option, value: object) -> str | None:
    """Another value than ``value`` for ``option``, as a flag argument; None for a plain flag."""
    if option.choices:
        return next(choice for choice in option.choices if choice != value)
    if option.kind == "bool":
        return str(not value)
    if option.kind in ("int", "int?"):
        return str((value or 0) + 1) if option.dest != "win_length" else "256"
    if option.kind in ("float", "float?"):
        return str(value * 1.5 if value else 4000.0 if option.dest == "fmax" else 1.0)
    if option.kind == "int*":
        return "0 1"
    return None if option.kind == "flag" else f"{value}x"


def valid_change(model: str, option: common.Option, config: object) -> str | None:
    """A value other than the configured one that ``model``'s options accept (the generic change first, then
    the value doubled: a model may need, e.g., a power of two; a comma-separated list without its first item)."""
    value = getattr(config, option.dest)
    candidates = [changed_value(option, value)]
    if option.kind == "int" and value:
        candidates.append(str(value * 2))
    if option.kind == "str" and "," in str(value):  # a list in one string: a shorter list
        candidates.append(str(value).split(",", 1)[1])
    options_class = registry.get(model).options_class
    for candidate in candidates:
        if candidate is None or option.dest not in {item.name for item in dataclasses.fields(options_class)}:
            return candidate
        parsed = common.parse_config([*args_for(model, Path("data")), f"--{option.dest}", *candidate.split()])
        try:
            options_class.from_config(parsed)
        except ConfigError:
            continue
        return candidate
    raise AssertionError(f"no other valid value of --{option.dest} for {model}")


@pytest.fixture(scope="module", params=registry.names())
def trained(request: pytest.FixtureRequest, tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    model = request.param
    work = tmp_path_factory.mktemp(f"runner_{model}")
    run_train(work, *args_for(model, tiny_data_dir))
    if len(registry.get(model).score_modes) > 1:
        run_train(work, *args_for(model, tiny_data_dir, "--test_only", "--score", "second"))
    return model, work, tiny_data_dir


def test_one_epoch_trains_and_tests_in_both_modes(trained: tuple) -> None:
    model, work, _ = trained
    modes = registry.get(model).score_modes[:2]
    for mode in modes:
        result = work / "results/dev_data" / f"tiny_{mode}" / "result_DCASE2024T2fan_test_seed13711_id(0_)_roc.csv"
        assert result.read_text().startswith("section,AUC (source),AUC (target)")
    log = next((work / "logs/tiny").glob("*/log.csv")).read_text().splitlines()
    assert log[0] == ",".join(registry.get(model).log_columns) and len(log) == 2


def test_restart_resumes_to_more_epochs(trained: tuple) -> None:
    model, work, data_dir = trained
    resumed = run_train(work, *args_for(model, data_dir, "--train_only", "--restart", "--epochs", "2"))
    assert "resuming" in resumed.stdout
    assert any(len(log.read_text().splitlines()) == 3 for log in (work / "logs/tiny").glob("*/log.csv"))
    other = run_train(
        work, *args_for(model, data_dir, "--train_only", "--restart", "--epochs", "3", "-lr", "0.5"), check=False
    )
    assert other.returncode == 2 and "learning_rate" in other.stderr


def test_test_only_refuses_every_setting_the_model_depends_on(trained: tuple) -> None:
    model, work, data_dir = trained
    config = common.parse_config(args_for(model, data_dir))
    own = {item.name for item in dataclasses.fields(registry.get(model).options_class)}
    core = {option.dest for option in common.CORE_OPTIONS}
    checked = []
    for option in common.all_options():
        if option.fingerprint == common.RUN or option.dest in IDENTITY or option.dest not in core | own:
            continue
        value = valid_change(model, option, config)
        if value is None:
            continue
        result = run_train(
            work,
            *args_for(model, data_dir, "--test_only", f"--{option.dest}", *value.split(), *NEEDS.get(option.dest, [])),
            check=False,
        )
        assert result.returncode == 2, option.dest
        assert option.dest in result.stderr and "other settings" in result.stderr, (option.dest, result.stderr)
        checked.append(option.dest)
    assert {"learning_rate", "n_mels", "batch_size"} <= set(checked)
    assert own - {option.dest for option in common.CORE_OPTIONS} <= set(checked)  # every option of its own
