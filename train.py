"""Train and/or test one machine type: configuration -> dataset -> model -> training loop -> test loop.

    python train.py --dataset DCASE2024T2fan -d                  # train, then test (MSE)
    python train.py --dataset DCASE2024T2fan -d --test_only --score MAHALA
"""

from __future__ import annotations

import os
import random
import sys
from argparse import Namespace
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

import common
from datasets.dcase_data import ClipSet, load_test_set, load_train_set
from datasets.features import FeatureParams
from datasets.registry import DatasetSpec, resolve_dataset, stage_script
from datasets.vector_data import VectorSet
from engine.checkpoint import load_torch, read_model_info
from engine.paths import RunPaths
from engine.test_loop import evaluate, vector_scorer
from engine.train_loop import fit, training_fingerprint
from errors import ConfigError, DataError, exit_code_of
from evaluation.plots import plot_loss_curve
from networks import registry
from networks.base import Detector

TESTED_FEATURE_KEYS = ("model", "dataset", "n_mels", "frames", "frame_hop_length", "n_fft", "hop_length",
                       "power", "fmin", "fmax", "win_length")


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


def resolve_score_mode(score: str, model: str, modes: tuple[str, ...]) -> str:
    """``first``/``second`` (what 02a/02b ask for) -> the model's own mode name; others must be valid."""
    aliases = {"first": 0, "second": 1}
    if score in aliases and aliases[score] < len(modes):
        return modes[aliases[score]]
    if score not in modes:
        raise ConfigError(f"--score {score} is not a score mode of {model}; choose from {', '.join(modes)}, "
                          "or first / second")
    return score


def train_model(detector: Detector, spec: DatasetSpec, params: FeatureParams, config: Namespace,
                paths: RunPaths, device: torch.device) -> None:
    train_set = load_train_set(spec, Path(config.dataset_directory), params, config.use_ids, config.num_workers)
    data = VectorSet.from_features(train_set.features, params, train_set.is_target, device)
    common.save_config(paths.args_json, config)
    summary = fit(detector, data, config, paths, sample_rate=train_set.features.sample_rate)
    rows = [line.split(",") for line in paths.log_csv.read_text(encoding="utf-8").splitlines()[1:]]
    plot_loss_curve(paths.loss_plot, detector.log_columns, rows, paths.base_name)
    speed = summary["epochs_run"] * summary["vectors_per_epoch"] / max(summary["seconds"], 1e-9)
    print(f"trained {config.dataset}: {summary['epochs_run']} epochs x {summary['vectors_per_epoch']} vectors "
          f"in {summary['seconds']:.1f} s ({speed:,.0f} vectors/s), loss {summary['final_loss']:.4f}, "
          f"validation {summary['final_val_loss']:.4f} -> {paths.model_weights}")


def load_trained_model(detector: Detector, config: Namespace, paths: RunPaths) -> None:
    """Load the saved weights after checking they exist and match this run's feature settings."""
    if not paths.model_weights.is_file():
        split = common.split_flag(config)
        script = f"{stage_script(config.dataset[:11], '01_train')} {split}"
        raise DataError(f"trained model {paths.model_weights} not found. Train it first: python train.py "
                        f"--dataset {config.dataset} {split} --train_only (or bash {script}), with the same "
                        "--export_dir, -tag and --seed")
    info = read_model_info(paths.model_info)
    if info is not None:
        try:
            saved = info["fingerprint"]
        except KeyError as error:
            raise DataError(f"{paths.model_info} is damaged ({type(error).__name__}: {error}); train the model "
                            "again") from error
        current = training_fingerprint(config)
        differing = [f"--{key} {saved.get(key)!r} (this run: {current[key]!r})" for key in TESTED_FEATURE_KEYS
                     if saved.get(key) != current[key]]
        if differing:
            raise DataError(f"{paths.model_weights} was trained with {', '.join(differing)}; test with the "
                            "same settings or train again")
    state = load_torch(paths.model_weights, "trained model")
    if isinstance(state, dict) and any(isinstance(value, torch.Tensor) and value.is_floating_point()
                                       and not torch.isfinite(value).all() for value in state.values()):
        raise DataError(f"{paths.model_weights} holds NaN or infinite values (a diverged or damaged model); "
                        "train it again")
    try:
        detector.load_model_state(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        raise DataError(f"{paths.model_weights} does not fit {config.model} with these settings ({reason}); "
                        "train it again with this program and these settings") from error


def test_model(detector: Detector, spec: DatasetSpec, params: FeatureParams, config: Namespace,
               paths: RunPaths, device: torch.device) -> None:
    dataset_directory = Path(config.dataset_directory)

    trained_rate = (read_model_info(paths.model_info) or {}).get("sample_rate")

    def load_section(section: str) -> ClipSet:
        clip_set = load_test_set(spec, dataset_directory, params, section, config.num_workers)
        if trained_rate is not None and clip_set.features.sample_rate != trained_rate:
            raise DataError(f"the test clips of {config.dataset} section {section} are sampled at "
                            f"{clip_set.features.sample_rate} Hz but the model was trained on {trained_rate} Hz "
                            f"clips (e.g. {clip_set.clips[0].path}); resample them or train on clips of their rate")
        return clip_set

    scorer = vector_scorer(detector, params, device, config.score)
    evaluate(scorer, spec.sections, load_section, config, paths)


def run(config: Namespace) -> None:
    spec = resolve_dataset(config.dataset, "eval" if config.eval else "dev")
    detector_class = registry.get(config.model)
    config.score = resolve_score_mode(config.score, config.model, detector_class.score_modes)
    seed_everything(config.seed)
    device = select_device(config)
    if getattr(detector_class, "scope", "machine") == "family":  # one model for all machine types: STgram-MFN
        from engine.family_runner import run_family_model

        run_family_model(config, spec, device)
        return
    paths = RunPaths.from_config(config)
    params = FeatureParams.from_config(config)
    if config.is_auto_download:
        from datasets.download import ensure_machine_data

        ensure_machine_data(Path(config.dataset_directory), spec.family, spec.machine, spec.split)
    if not config.test_only:
        detector = detector_class(params.vector_dim, params.n_mels, config, device)
        train_model(detector, spec, params, config, paths, device)
    if not config.train_only:
        if config.test_only:
            detector = detector_class(params.vector_dim, params.n_mels, config, device)
            load_trained_model(detector, config, paths)
        test_model(detector, spec, params, config, paths, device)


def main(argv: Sequence[str] | None = None) -> int:
    return exit_code_of(lambda: run(common.parse_config(sys.argv[1:] if argv is None else argv)), error_code=2,
                        on_interrupt="interrupted; completed epochs are kept (resume with --restart)")


if __name__ == "__main__":
    sys.exit(main())
