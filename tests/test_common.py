"""Configuration: yaml defaults, overlays and flags, with strict types and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import common
from errors import ConfigError

BASE = ["--dataset", "DCASE2024T2fan", "-d"]


def test_defaults_are_the_spec_values() -> None:
    config = common.parse_config(BASE)
    expected = {
        "dataset_directory": "./data",
        "result_directory": "./results",
        "export_dir": "baseline",
        "use_cuda": True,
        "log_interval": 100,
        "model": "DCASE2023T2-AE",
        "score": "MSE",
        "seed": 13711,
        "is_auto_download": False,
        "max_fpr": 0.1,
        "decision_threshold": 0.9,
        "n_mels": 128,
        "frames": 5,
        "frame_hop_length": 1,
        "n_fft": 1024,
        "hop_length": 512,
        "power": 2.0,
        "fmin": 0.0,
        "fmax": None,
        "win_length": None,
        "batch_size": 256,
        "epochs": 100,
        "learning_rate": 0.001,
        "shuffle": True,
        "validation_split": 0.1,
        "model_name_suffix": "",
        "use_ids": [],
        "restart": False,
        "checkpoint_path": "",
        "gpu_id": [0],
        "train_only": False,
        "test_only": False,
    }
    assert {key: getattr(config, key) for key in expected} == expected


def test_baseline_yaml_lists_every_spec_default_with_the_public_spelling() -> None:
    keys = set(yaml.safe_load(common.DEFAULT_CONFIG.read_text()))
    assert {"-lr", "--epochs", "--fmax", "--win_length", "--shuffle", "--validation_split"} <= keys


def test_flags_override_yaml_and_overlays_apply_in_order(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text("--epochs: 7\n--batch_size: 64\n-lr: 0.01\n")
    second = tmp_path / "second.yaml"
    second.write_text("--epochs: 9\n")
    config = common.parse_config([*BASE, "--config", str(first), "--config", str(second), "--batch_size", "32"])
    assert (config.epochs, config.batch_size, config.learning_rate) == (9, 32, 0.01)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epoch", "3"], "did you mean --epochs"),
        (["--epochs", "three"], "invalid int value"),
        (["--use_cuda", "maybe"], "invalid True/False value"),
        (["--train_only", "--test_only"], "cannot be used together"),
        (["-e"], "-d/--dev and -e/--eval cannot be used together"),
        (["--validation_split", "1.5"], "--validation_split"),
        (["--win_length", "4096"], "--win_length"),
        (["--fmax", "10", "--fmin", "20"], "--fmax"),
        (["--checkpoint_path", "x.tar"], "only used with --restart"),
    ],
)
def test_bad_flags_are_one_clear_error(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        common.parse_config([*BASE, *argv])


def test_missing_mode_and_dataset_are_explained() -> None:
    with pytest.raises(ConfigError, match="give -d/--dev"):
        common.parse_config(["--dataset", "DCASE2024T2fan"])
    with pytest.raises(ConfigError, match="--dataset is required"):
        common.parse_config(["-d"])


def test_null_values_parse_for_optional_numbers() -> None:
    config = common.parse_config([*BASE, "--fmax", "null", "--win_length", "None", "--fmin", "50"])
    assert config.fmax is None and config.win_length is None and config.fmin == 50.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("--epochs: ten\n", "--epochs must be an integer"),
        ("--epochs: 1.5\n", "--epochs must be an integer"),
        ("--use_cuda: 1\n", "must be True or False"),
        ("--n_mel: 64\n", "unknown key '--n_mel' \\(did you mean --n_mels\\?\\)"),
        ("--epochs: [1, 2\n", "not valid yaml"),
        ("- just a list\n", "must hold '--flag: value' pairs"),
    ],
)
def test_bad_yaml_files_are_rejected_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as raised:
        common.parse_config([*BASE, "--config", str(path)])
    assert str(path) in str(raised.value)


def test_integer_is_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("--power: 1\n--fmax: 8000\n")
    config = common.parse_config([*BASE, "--config", str(path)])
    assert config.power == 1.0 and isinstance(config.power, float) and config.fmax == 8000.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("--epochs: [1, 2\n", "is not valid yaml"),
        ("--epochs 100\n", "must hold '--flag: value' pairs"),
        ("--batch_sise: 256\n", "unknown key '--batch_sise' \\(did you mean --batch_size\\?\\)"),
        ("--epochs: 100\n--shuffle: maybe\n", "--shuffle must be True or False, got 'maybe'"),
    ],
)
def test_a_broken_baseline_yaml_is_one_line_naming_it(tmp_path: Path, content: str, message: str) -> None:
    base = tmp_path / "baseline.yaml"
    base.write_text(content)
    with pytest.raises(ConfigError, match=message) as raised:
        common.parse_config(BASE, base_config=base)
    assert str(raised.value).startswith(str(base)) and "\n" not in str(raised.value)


def test_a_missing_baseline_yaml_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"config file {tmp_path / 'baseline.yaml'} does not exist"):
        common.parse_config(BASE, base_config=tmp_path / "baseline.yaml")


def test_config_names_find_the_yamls_in_configs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--config demo.yaml`` reads configs/demo.yaml from any folder, and the root path it had before the move
    still works; a file that exists where it is given wins over the stored one."""
    stored = yaml.safe_load((common.CONFIG_DIR / "demo.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    for given in ("demo.yaml", str(common.PROJECT_ROOT / "demo.yaml")):
        config = common.parse_config(["--dataset", "DCASE2024T2fan", "-d", "--config", given])
        assert config.epochs == stored["--epochs"], given
    (tmp_path / "demo.yaml").write_text("--epochs: 3\n")
    assert common.parse_config(["--dataset", "DCASE2024T2fan", "-d", "--config", "demo.yaml"]).epochs == 3
    with pytest.raises(ConfigError, match=r"no_such\.yaml does not exist.*configs/: .*demo\.yaml"):
        common.parse_config(["--dataset", "DCASE2024T2fan", "-d", "--config", "no_such.yaml"])
    with pytest.raises(ConfigError, match="does not exist"):  # another folder's path is never redirected
        common.parse_config(
            ["--dataset", "DCASE2024T2fan", "-d", "--config", str(tmp_path / "sub" / "stgram_mfn.yaml")]
        )


def test_the_options_page_is_generated_from_the_declarations() -> None:
    from tools import options_doc

    assert options_doc.PAGE.read_text(encoding="utf-8") == options_doc.page_text(), "run python -m tools.options_doc"
    for option in common.all_options():  # every option, core and of every model, has its row
        assert (
            f"| `{option.flags[-1]}` |" in options_doc.page_text()
            or f", `{option.flags[-1]}` |" in options_doc.page_text()
        )
