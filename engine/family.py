"""Models trained once per dataset family (``scope = "family"``: STgram-MFN) behind the per-machine scripts.

``train.py --dataset DCASE2024T2fan --train_only`` with such a model trains the family model on the training
clips of ALL machine types of the family, unless a current one exists (``<model>_DCASE2024T2<_tag><_Eval>
_seed<seed>.pth`` with the same settings, epochs and data); under a lock, so that parallel per-machine runs
train it once and later machine types reuse it. The per-machine step (reference, thresholds) is the runner's.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import common
from datasets.registry import DatasetSpec
from datasets.waveforms import family_listing_digest, list_family_training_clips
from engine import inputs
from engine.checkpoint import read_model_info, run_fingerprint
from engine.paths import RunPaths
from engine.saved_model import check_description, file_sha256, how_to_train, load_model, not_found
from engine.train_loop import save_trained, train
from networks.base import Model, ModelOptions
from safe_io import file_lock


def family_paths(config: Namespace, spec: DatasetSpec) -> RunPaths:
    """The family model's paths: those of a run whose dataset is the family (``DCASE2024T2``)."""
    return RunPaths.from_config(Namespace(**{**vars(config), "dataset": spec.family}))


def family_fingerprint(config: Namespace, options: ModelOptions, spec: DatasetSpec) -> dict[str, Any]:
    """What a family model depends on: the run's settings with the family for the dataset, and its data."""
    listing = list_family_training_clips(spec.family, spec.split, Path(config.dataset_directory), config.use_ids,
                                         required=spec.machine)
    return run_fingerprint(config, options, dataset=spec.family, data=family_listing_digest(listing))


def _is_current(paths: RunPaths, fingerprint: dict[str, Any], epochs: int) -> bool:
    info = read_model_info(paths.model_info)
    if info is None or not paths.model_weights.is_file():
        return False
    return info.get("fingerprint") == fingerprint and info.get("epochs") == epochs and \
        info.get("weights_sha256") == file_sha256(paths.model_weights)


def load_family_model(model_class: type[Model], options: ModelOptions, config: Namespace, spec: DatasetSpec,
                      device: torch.device) -> tuple[Model, dict[str, Any]]:
    """The trained family model and its description, or a DataError saying how to train it."""
    paths = family_paths(config, spec)
    info = read_model_info(paths.model_info)
    again = how_to_train(config, spec)
    missing = not_found("trained family model", paths.model_weights, config, spec)
    saved = dict((info or {}).get("fingerprint") or {})
    expected = run_fingerprint(config, options, dataset=spec.family, data=saved.get("data"))
    check_description(info, paths.model_info, expected, missing, again)
    return load_model(model_class, options, info, paths.model_weights, device, again, config.model), info


def ensure_family_model(model_class: type[Model], options: ModelOptions, config: Namespace, spec: DatasetSpec,
                        device: torch.device) -> None:
    """Train the family model unless a current one exists; parallel runs wait for the one that trains it."""
    paths = family_paths(config, spec)
    fingerprint = family_fingerprint(config, options, spec)
    if _is_current(paths, fingerprint, config.epochs):
        tqdm.write(f"family model {paths.model_weights} is trained: reused for {spec.machine}")
        return

    def say_waiting() -> None:
        tqdm.write(f"waiting for another process that is training the family model {paths.model_weights} ...")

    with file_lock(paths.model_dir / f"{paths.base_name}.lock", on_wait=say_waiting):
        if _is_current(paths, fingerprint, config.epochs):
            tqdm.write(f"family model {paths.model_weights} was trained meanwhile: reused for {spec.machine}")
            return
        if paths.model_info.is_file():
            tqdm.write(f"family model {paths.model_weights} was trained with other settings, epochs or data: "
                       "training it again")
            paths.model_info.unlink()  # the weights are no longer described: never served half-replaced
        data, sample_rate = inputs.training_data(model_class, spec, config, device)
        common.save_config(paths.args_json, config)
        model = model_class(options, model_class.shape_of(options, data), device)
        run = train(model, data, config, paths, fingerprint)
        save_trained(model, run, paths, {"fingerprint": fingerprint, "epochs": config.epochs,
                                         "sample_rate": sample_rate})
