"""Weights one training serves to several runs of the per-machine (or per-section) scripts.

Two kinds of model share their weights:
- a family model (``scope = Scope.FAMILY``): ``train.py --dataset DCASE2024T2fan --train_only`` trains it on
  the training clips of ALL machine types of the family (``<model>_DCASE2024T2<_tag><_Eval>_seed<seed>.pth``), and
  the other machine types reuse it;
- a model that sees every section of its machine type (``sees_all_sections``: a section classifier) in the
  legacy per-section runs of a multi-section dataset (DCASE2020-2022): the section runs would each train the same
  network on the same clips, so the first trains it (tag ``id(all_)``) and the others reuse it.
The weights are trained unless current ones exist (same settings, epochs and data), under a lock, so that
parallel runs train them once. The per-run step (reference, thresholds) is the runner's; for a model of all
sections it is the same in every section run (the same weights, the same clips of every section), so the first
section run fits it and the others reuse it (``shared_reference``).
"""

from __future__ import annotations

import json
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from datasets.registry import DatasetSpec
from datasets.waveforms import family_listing_digest
from engine import inputs
from engine.checkpoint import read_model_info, run_fingerprint
from engine.paths import RunPaths
from engine.saved_model import (
    check_description,
    file_sha256,
    how_to_train,
    load_model,
    load_reference,
    not_found,
    save_reference,
)
from engine.train_loop import TrainingSettings, build_and_train, save_trained
from errors import ConfigError, DataError
from networks.base import Model, ModelOptions, Scope
from safe_io import file_lock

ALL_SECTIONS_TAG = "id(all_)"
CALIBRATION_PREFIX = "calibration__"  # threshold samples of each score mode, stored beside the reference arrays
REFERENCE_KEY = "fitted_for"  # the weights and settings a stored reference was fitted with


def shares_sections(model_class: type[Model], config: Namespace, spec: DatasetSpec) -> bool:
    """Whether this section run (DCASE2020-2022) uses the weights and reference of all sections of its machine
    type (``sees_all_sections``) instead of its own."""
    return model_class.sees_all_sections and bool(config.use_ids) and len(spec.sections) > 1


def all_sections_run(config: Namespace) -> Namespace:
    """The run of every section of the machine type: what a model of all sections is stored under."""
    return Namespace(**{**vars(config), "use_ids": [], "model_name_suffix": ALL_SECTIONS_TAG})


def shared_run(model_class: type[Model], config: Namespace, spec: DatasetSpec) -> Namespace | None:
    """The configuration of the run that trains the weights this run uses, or None when it trains its own: the
    family's run (its dataset is the family, ``DCASE2024T2``, or ``DCASE2024T2+dev`` when it also trains on the
    development types; of all sections where the model sees them), or the run of all sections of the machine
    type."""
    if config.eval_adds_dev and model_class.scope != Scope.FAMILY:
        raise ConfigError(
            f"--eval_adds_dev True: {config.model} trains one model per machine type on that type's clips; the "
            "option is for family models (one model for every machine type): leave it out"
        )
    sections = all_sections_run(config) if shares_sections(model_class, config, spec) else config
    if model_class.scope == Scope.FAMILY:
        adds_dev = inputs.adds_dev_clips(model_class, inputs.DataSettings.from_config(config))
        return Namespace(**{**vars(sections), "dataset": spec.family + ("+dev" if adds_dev else "")})
    return sections if sections is not config else None


def applied_run_options(model_class: type[Model], config: Namespace) -> dict[str, Any]:
    """Run-level options that change what a model is trained on where they apply (``--eval_adds_dev`` for a
    family model in an -e run), for its fingerprints; empty elsewhere, so that every other fingerprint stays."""
    adds_dev = inputs.adds_dev_clips(model_class, inputs.DataSettings.from_config(config))
    return {"eval_adds_dev": True} if adds_dev else {}


def _expected_fingerprint(
    model_class: type[Model], shared: Namespace, options: ModelOptions, data: str | None
) -> dict[str, Any]:
    """The shared weights' settings: the shared run's, its applied run-level options, and the digest of the clips
    they are trained on."""
    extra = applied_run_options(model_class, shared)
    return run_fingerprint(shared, options, dataset=shared.dataset, data=data, **extra)


def _fingerprint(
    model_class: type[Model], shared: Namespace, options: ModelOptions, spec: DatasetSpec
) -> dict[str, Any]:
    """What shared weights depend on: the shared run's settings and the clips it trains on."""
    listing = inputs.family_training_listing(model_class, spec, inputs.DataSettings.from_config(shared))
    return _expected_fingerprint(model_class, shared, options, family_listing_digest(listing))


def _is_current(paths: RunPaths, fingerprint: dict[str, Any], epochs: int) -> bool:
    info = read_model_info(paths.model_info)
    if info is None or not paths.model_weights.is_file():
        return False
    return (
        info.get("fingerprint") == fingerprint
        and info.get("epochs") == epochs
        and info.get("weights_sha256") == file_sha256(paths.model_weights)
    )


def load_shared_model(
    model_class: type[Model],
    options: ModelOptions,
    config: Namespace,
    spec: DatasetSpec,
    shared: Namespace,
    device: torch.device,
) -> tuple[Model, dict[str, Any]]:
    """The trained shared model and its description, or a DataError saying how to train it."""
    paths = RunPaths.from_config(shared)
    info = read_model_info(paths.model_info)
    again = how_to_train(config, spec)
    missing = not_found(f"trained shared model ({_kind(model_class)})", paths.model_weights, config, spec)
    saved = dict((info or {}).get("fingerprint") or {})
    expected = _expected_fingerprint(model_class, shared, options, saved.get("data"))
    check_description(info, paths.model_info, expected, missing, again)
    return load_model(model_class, options, info, paths.model_weights, device, again, config.model), info


def _kind(model_class: type[Model]) -> str:
    return "family model" if model_class.scope == "family" else "model of all sections"


def ensure_shared_model(
    model_class: type[Model],
    options: ModelOptions,
    config: Namespace,
    spec: DatasetSpec,
    shared: Namespace,
    device: torch.device,
) -> None:
    """Train the shared model unless a current one exists; parallel runs wait for the one that trains it."""
    paths = RunPaths.from_config(shared)
    fingerprint = _fingerprint(model_class, shared, options, spec)
    kind, user = _kind(model_class), f"{spec.name} {config.model_name_suffix or ''}".strip()
    if _is_current(paths, fingerprint, config.epochs):
        tqdm.write(f"{kind} {paths.model_weights} is trained: reused for {user}")
        return

    def say_waiting() -> None:
        tqdm.write(f"waiting for another process that is training the {kind} {paths.model_weights} ...")

    with file_lock(paths.model_dir / f"{paths.base_name}.lock", on_wait=say_waiting):
        if _is_current(paths, fingerprint, config.epochs):
            tqdm.write(f"{kind} {paths.model_weights} was trained meanwhile: reused for {user}")
            return
        if paths.model_info.is_file():
            tqdm.write(
                f"{kind} {paths.model_weights} was trained with other settings, epochs or data: training it again"
            )
            paths.model_info.unlink()  # the weights are no longer described: never served half-replaced
        data, sample_rate = inputs.training_data(model_class, spec, inputs.DataSettings.from_config(config), device)
        model, run = build_and_train(
            model_class, options, data, TrainingSettings.from_config(config), paths, fingerprint, device
        )
        save_trained(
            model, run, paths, {"fingerprint": fingerprint, "epochs": config.epochs, "sample_rate": sample_rate}
        )


def _stored_reference(path: Path, key: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """The reference arrays and threshold samples stored at ``path`` for ``key``; None when absent or for others."""
    try:
        arrays = load_reference(path, "it is fitted again")
    except DataError:
        return None
    if str(arrays.pop(REFERENCE_KEY, "")) != key:
        return None
    calibration = {
        name[len(CALIBRATION_PREFIX) :]: arrays.pop(name)
        for name in list(arrays)
        if name.startswith(CALIBRATION_PREFIX)
    }
    return arrays, calibration


def shared_reference(
    model: Model,
    fit: Callable[[], dict[str, np.ndarray]],
    options: ModelOptions,
    shared: Namespace,
    weights_info: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Fit the reference of a model of all sections once (``fit``: its threshold samples per score mode), store it
    beside the shared weights and give the later section runs the stored one, under a lock."""
    paths = RunPaths.from_config(shared)
    key = json.dumps(
        {
            "weights_sha256": weights_info.get("weights_sha256"),
            "settings": run_fingerprint(shared, options, with_reference=True),
        },
        sort_keys=True,
        default=str,
    )
    with file_lock(paths.model_dir / f"{paths.base_name}_reference.lock"):
        stored = _stored_reference(paths.reference, key)
        if stored is not None:
            reference, calibration = stored
            model.load_reference_state(reference)
            tqdm.write(f"reference of {paths.model_weights} is fitted: reused from {paths.reference}")
            return calibration
        calibration = fit()
        arrays = {
            **model.reference_state(),
            REFERENCE_KEY: np.array(key),
            **{CALIBRATION_PREFIX + mode: samples for mode, samples in calibration.items()},
        }
        save_reference(paths.reference, arrays)
        return calibration
