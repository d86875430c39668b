"""Every registered model through the one runner: one tiny epoch trained and tested in both of its first two
score modes, resumed with --restart, and refused by --test_only for every setting its saved files depend on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import common
from networks import registry
from tests.conftest import REPO_ROOT, run_train

# the smallest settings each model trains with in a few seconds; a newly registered model needs a line here
TINY = {
    "AEGAN-AD": ["--config", str(REPO_ROOT / "aegan_ad_demo.yaml"), "--epochs", "1", "--batch_size", "16",
                 "--aegan_latent_dim", "8", "--aegan_encoder_width", "4", "--aegan_decoder_width", "4",
                 "--num_workers", "1"],
    "Anomaly-Transformer": ["--config", str(REPO_ROOT / "anomaly_transformer.yaml"), "--epochs", "1", "--batch_size",
                            "8", "--n_mels", "32", "--at_window", "32", "--at_train_stride", "16", "--at_d_model", "16",
                            "--at_heads", "2", "--at_layers", "2", "--at_d_ff", "16", "--num_workers", "1"],
    "DCASE2023T2-AE": ["--epochs", "1", "--batch_size", "64", "--num_workers", "1"],
    "SCAC-MultiRes": ["--config", str(REPO_ROOT / "configs/scac_multires_demo.yaml"), "--epochs", "1", "--batch_size",
                      "8", "--scac_width", "16", "--scac_stfts", "256:128,512:256", "--scac_crop_seconds", "1.0",
                      "--scac_fft_branch", "False", "--scac_smote_neighbors", "1"],
    "STgram-MFN": ["--config", str(REPO_ROOT / "stgram_mfn.yaml"), "--epochs", "1", "--batch_size", "16",
                   "--crop_seconds", "0.5", "--network_width", "0.125", "--embedding_dim", "16", "--n_mels", "32",
                   "--knn_k", "2"],
    "level-stats-kNN": ["--config", str(REPO_ROOT / "level_stats_knn.yaml"), "--num_workers", "1"],
    "two-stage-OE": ["--config", str(REPO_ROOT / "two_stage_oe_demo.yaml"), "--epochs", "1", "--batch_size", "8",
                     "--n_fft", "512", "--hop_length", "256", "--n_mels", "32", "--oe_crop_seconds", "0.5",
                     "--oe_test_crops", "2"],
}
IDENTITY = ("model", "dataset", "dev", "eval", "seed")  # they name the files: another value finds no model
NEEDS = {"channel": ["--mono", "False"]}  # a setting valid only together with another
# another value a model accepts where the generic one is invalid
VALID_CHANGE = {("AEGAN-AD", "n_mels"): "64", ("SCAC-MultiRes", "scac_width"): "24",
                ("SCAC-MultiRes", "scac_stfts"): "256:128,512:128"}


def args_for(model: str, data_dir: Path, *extra: str) -> list[str]:
    return ["--model", model, "--dataset", "DCASE2024T2fan", "-d", "--dataset_directory", str(data_dir), "-tag",
            "id(0_)", "--use_ids", "0", "--export_dir", "tiny", *TINY[model], *extra]


def changed_value(option: common.Option, value: object) -> str | None:
    """A valid value other than ``value`` for ``option``, as a flag argument; None for a plain flag."""
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


def test_every_registered_model_has_tiny_settings() -> None:
    assert sorted(TINY) == registry.names()


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
    other = run_train(work, *args_for(model, data_dir, "--train_only", "--restart", "--epochs", "3", "-lr", "0.5"),
                      check=False)
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
        value = VALID_CHANGE.get((model, option.dest)) or changed_value(option, getattr(config, option.dest))
        if value is None:
            continue
        result = run_train(work, *args_for(model, data_dir, "--test_only", f"--{option.dest}", *value.split(),
                                           *NEEDS.get(option.dest, [])), check=False)
        assert result.returncode == 2, option.dest
        assert option.dest in result.stderr and "other settings" in result.stderr, (option.dest, result.stderr)
        checked.append(option.dest)
    assert {"learning_rate", "n_mels", "batch_size"} <= set(checked)
    assert own - {option.dest for option in common.CORE_OPTIONS} <= set(checked)  # every option of its own
