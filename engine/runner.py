"""The one path of every model: train -> fit the reference -> thresholds -> test, for one machine type.

``train.py`` parses the configuration and calls ``run``; the numbered scripts call ``train.py`` once per
machine type. Which data a model reads, and whether it is trained per machine type or once per dataset
family, follows from what the model declares (networks/base.py).
"""

from __future__ import annotations

import os
import random
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

import common
from datasets.registry import DatasetSpec, machine_types, resolve_dataset
from engine import inputs, shared_model
from engine.checkpoint import read_model_info, run_fingerprint
from engine.paths import RunPaths
from engine.saved_model import (
    check_description,
    describe_shared_weights,
    how_to_train,
    load_model,
    load_reference,
    not_found,
    save_reference,
)
from engine.test_loop import EvaluationSettings, evaluate
from engine.train_loop import TrainingRun, TrainingSettings, build_and_train, save_trained
from errors import ConfigError, DataError
from evaluation.thresholds import save_score_distribution
from networks import registry
from networks.base import Model, ModelOptions


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch, and ask PyTorch for deterministic algorithms (for real)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    # torch.use_deterministic_algorithms would also import torch._inductor (about 2 s per process) only to set a
    # flag for torch.compile, which is not used here: set the same runtime flag directly when torch has it
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        set_flag(True, warn_only=True)


def select_device(config: Namespace) -> torch.device:
    """CUDA when asked for and present; the CPU otherwise, with a one-line notice if CUDA was asked for."""
    if config.use_cuda and torch.cuda.is_available():
        return torch.device("cuda", config.gpu_id[0])
    if config.use_cuda:
        print("CUDA is not available: running on the CPU")
    return torch.device("cpu")


def start(config: Namespace) -> torch.device:
    """The first step of every run that trains or scores, before any data is read: seed, then pick the device."""
    seed_everything(config.seed)
    return select_device(config)


SCORE_ALIASES = ("first", "second")  # what 02a and 02b ask for: the model's first and second score modes


def resolve_score_mode(score: str, model: str, modes: tuple[str, ...]) -> str:
    """``first``/``second`` (what 02a/02b ask for) -> the model's own mode name; others must be valid."""
    aliases = dict(zip(SCORE_ALIASES, modes, strict=False))  # only the aliases the model has a mode for
    if score in aliases:
        return aliases[score]
    if score not in modes:
        offered = " / ".join(aliases)
        if score in SCORE_ALIASES:  # a one-mode model asked for its second mode (02b_test)
            raise ConfigError(
                f"--score {score}: {model} has one score mode, {modes[0]} (--score first, what 02a_test runs); "
                "it has no second score to test"
            )
        raise ConfigError(
            f"--score {score} is not a score mode of {model}; choose from {', '.join(modes)}, or {offered}"
        )
    return score


def save_thresholds(paths: RunPaths, calibration: dict[str, np.ndarray]) -> None:
    for mode, samples in calibration.items():
        try:
            save_score_distribution(paths.score_distribution(mode), samples)
        except ValueError as error:
            raise DataError(
                f"cannot fit the decision threshold of the {mode} score ({error}); the machine type "
                "needs at least two training clips with different scores"
            ) from error


def machine_fingerprint(model_class: type[Model], config: Namespace, options: ModelOptions) -> dict[str, Any]:
    """What a machine type's trained model and reference depend on, as ``--test_only`` checks it."""
    extra = shared_model.applied_run_options(model_class, config)
    return run_fingerprint(config, options, with_reference=True, **extra)


def train_machine(
    model_class: type[Model],
    options: ModelOptions,
    spec: DatasetSpec,
    config: Namespace,
    paths: RunPaths,
    device: torch.device,
) -> tuple[Model, int]:
    """Train (or, for weights several runs share, train once and reuse), fit this machine type's reference, save
    the thresholds and the description that ``--test_only`` checks."""
    fingerprint = run_fingerprint(config, options)
    shared = shared_model.shared_run(model_class, config, spec)
    if shared is not None:
        shared_model.ensure_shared_model(model_class, options, config, spec, shared, device)
        model, weights_info = shared_model.load_shared_model(model_class, options, config, spec, shared, device)
        run, trained_on, sample_rate = TrainingRun(), None, int(weights_info["sample_rate"])
        common.save_config(paths.args_json, config)
    else:
        trained_on, sample_rate = inputs.training_data(
            model_class, spec, inputs.DataSettings.from_config(config), device
        )
        model, run = build_and_train(
            model_class, options, trained_on, TrainingSettings.from_config(config), paths, fingerprint, device
        )
        weights_info = None
    calibration = dict(run.calibration)

    def fit_reference() -> dict[str, np.ndarray]:
        return model.fit_reference(
            inputs.reference_data(model_class, spec, inputs.DataSettings.from_config(config), device, trained_on)
        )

    if weights_info is not None and shared_model.shares_sections(model_class, config, spec):
        reference_run = shared_model.all_sections_run(config)  # one per machine type, also under a family model
        calibration.update(shared_model.shared_reference(model, fit_reference, options, reference_run, weights_info))
    else:
        calibration.update(fit_reference())
    save_thresholds(paths, calibration)
    reference = model.reference_state()
    if reference:
        save_reference(paths.reference, reference)
    record = {
        "fingerprint": machine_fingerprint(model_class, config, options),
        "epochs": config.epochs,
        "sample_rate": sample_rate,
        "has_reference": bool(reference),
    }
    if weights_info is None:
        save_trained(model, run, paths, record)
    else:
        describe_shared_weights(paths.model_info, record, weights_info)
        tqdm.write(
            f"{spec.name}: reference and thresholds of {', '.join(model.score_modes)} fitted -> {paths.model_info}"
        )
    return model, sample_rate


def load_machine_model(
    model_class: type[Model],
    options: ModelOptions,
    config: Namespace,
    spec: DatasetSpec,
    paths: RunPaths,
    device: torch.device,
) -> tuple[Model, int]:
    """The trained model of this machine type with its reference, checked against this run's settings."""
    again = how_to_train(config, spec)
    info = read_model_info(paths.model_info)
    foreign_shape = model_class.default_shape(options)
    if info is None and paths.model_weights.is_file() and foreign_shape is not None:
        tqdm.write(
            f"{paths.model_weights} has no description {paths.model_info} (weights of another program?): "
            "loaded without checking its settings"
        )
        return load_model(
            model_class,
            options,
            {"shape": foreign_shape, "weights_sha256": None},
            paths.model_weights,
            device,
            again,
            config.model,
        ), 0
    missing = not_found("trained model", paths.model_weights, config, spec)
    info = check_description(info, paths.model_info, machine_fingerprint(model_class, config, options), missing, again)
    model = load_model(
        model_class,
        options,
        info,
        Path(info.get("weights", paths.model_weights)),
        device,
        again,
        config.model,
        str(paths.model_info),
    )
    if info.get("has_reference"):
        model.load_reference_state(load_reference(paths.reference, again))
    return model, int(info.get("sample_rate") or 0)


def test_machine(
    model: Model,
    model_class: type[Model],
    spec: DatasetSpec,
    config: Namespace,
    paths: RunPaths,
    device: torch.device,
    trained_rate: int,
) -> None:
    def load_section(section: str) -> inputs.TestSection:
        test_set = inputs.test_section(model_class, spec, inputs.DataSettings.from_config(config), section, device)
        if trained_rate and test_set.sample_rate != trained_rate:
            raise DataError(
                f"the test clips of {config.dataset} section {section} are sampled at "
                f"{test_set.sample_rate} Hz but the model was trained on {trained_rate} Hz clips (e.g. "
                f"{test_set.clips[0].path}); resample them or train on clips of their rate"
            )
        return test_set

    def score_section(section: inputs.TestSection) -> np.ndarray:
        return model.score(section.model_input, (config.score,))[config.score]

    evaluate(score_section, spec.sections, load_section, EvaluationSettings.from_config(config), paths)


def run(config: Namespace) -> None:
    """Train and/or test one machine type, as ``config`` says."""
    spec = resolve_dataset(config.dataset, "eval" if config.eval else "dev")
    model_class = registry.get(config.model)
    config.score = resolve_score_mode(config.score, config.model, model_class.score_modes)
    options = model_class.options_class.from_config(config)
    device = start(config)
    if config.is_auto_download:
        from datasets.download import ensure_machine_data

        family_wide = inputs.reads_family(model_class) and not config.test_only
        for machine in machine_types(spec.family, spec.split) if family_wide else [spec.machine]:
            ensure_machine_data(Path(config.dataset_directory), spec.family, machine, spec.split)
    paths = RunPaths.from_config(config)
    if config.test_only:
        model, trained_rate = load_machine_model(model_class, options, config, spec, paths, device)
    else:
        model, trained_rate = train_machine(model_class, options, spec, config, paths, device)
    if not config.train_only:
        test_machine(model, model_class, spec, config, paths, device, trained_rate)
