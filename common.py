"""Configuration: defaults from ``baseline.yaml``, overridden by yaml overlays, overridden by flags.

Every option is declared once with its type: the shared ones in ``CORE_OPTIONS`` below, each model's own
in its options dataclass (networks/<model>/options.py); ``all_options()`` is the table of both, and a run
parses (and its ``--help`` shows) the core options and its own model's only (``model_options``). A yaml key
that is not an option, a yaml value of the wrong type, an unknown flag or a flag value that does not parse is
a ``ConfigError`` that names the key and, for typos, the closest valid name. Nothing is executed from the
files.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from datasets.audio import CHANNEL_CHOICES
from errors import ConfigError
from safe_io import atomic_write_text

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_CONFIG = PROJECT_ROOT / "baseline.yaml"
CONFIG_DIR = PROJECT_ROOT / "configs"  # every system's yaml; baseline.yaml stays at the root where users expect it


def parse_bool(text: str) -> bool:
    """Parse a boolean flag value written as True/False, true/false, yes/no or 1/0."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError(f"expected True or False, got {text!r}")


def _named(parse: Callable[[str], Any], name: str, allow_null: bool = False) -> Callable[[str], Any]:
    """Wrap a parser so argparse's "invalid <name> value" message uses a readable type name."""

    def parse_value(text: str) -> Any:
        if allow_null and text.strip().lower() in ("none", "null"):
            return None
        return parse(text)

    parse_value.__name__ = name
    return parse_value


@dataclass(frozen=True)
class Option:
    """One configuration option: its flags, its type and its built-in default."""

    dest: str
    flags: tuple[str, ...]
    kind: str  # str | int | float | bool | int? | float? | int* | flag
    default: Any
    help: str
    choices: tuple[str, ...] | None = None
    # what depends on it: "weights" (--restart and --test_only refuse another value), "reference" (only the
    # per-machine reference and thresholds fitted after training: --test_only refuses another value), "" nothing
    fingerprint: str = "weights"


RUN = ""  # Option.fingerprint of the options no saved file depends on (where results go, what to run)


CORE_OPTIONS: tuple[Option, ...] = (
    # data and outputs
    Option("dataset", ("--dataset",), "str", None, "dataset name, e.g. DCASE2024T2fan"),
    Option("dev", ("-d", "--dev"), "flag", False, "use the development dataset"),
    Option("eval", ("-e", "--eval"), "flag", False, "use the additional training and evaluation dataset"),
    Option(
        "dataset_directory", ("--dataset_directory",), "str", "./data", "parent folder of the datasets", fingerprint=RUN
    ),
    Option(
        "result_directory",
        ("--result_directory",),
        "str",
        "./results",
        "where result CSVs are written",
        fingerprint=RUN,
    ),
    Option(
        "export_dir", ("--export_dir",), "str", "baseline", "name of this experiment's output folders", fingerprint=RUN
    ),
    Option(
        "model_name_suffix",
        ("-tag", "--model_name_suffix"),
        "str",
        "",
        "word added to every file name",
        fingerprint=RUN,
    ),
    Option("use_ids", ("--use_ids",), "int*", [], "section ids whose clips are used for training"),
    Option(
        "eval_adds_dev",
        ("--eval_adds_dev",),
        "bool",
        False,
        "with -e, a family model (one model for every machine type) also trains on the development machine "
        "types' training clips, as ASDKit trains for its evaluation scores; its weights are named <family>+dev",
        fingerprint=RUN,  # added to the family model's fingerprint only where it applies: other weights keep theirs
    ),
    Option("is_auto_download", ("--is_auto_download",), "bool", False, "download a missing dataset", fingerprint=RUN),
    Option(
        "mono",
        ("--mono",),
        "bool",
        True,
        "True: every clip must be mono (DCASE2020-2025); False: every clip "
        "must have two or more channels (DCASE2026: near microphone left, far right), --channel picks the input",
    ),
    Option(
        "channel",
        ("--channel",),
        "str",
        "0",
        "with --mono False, the input: 0 (left channel), 1 (right) or mean (their average)",
        choices=CHANNEL_CHOICES,
    ),
    # what to run
    # no default in code: baseline.yaml names the baseline's model, so no file outside a system's folder names it
    Option("model", ("--model",), "str", None, "model name in the registry (default: baseline.yaml's)"),
    Option(
        "score",
        ("--score",),
        "str",
        "MSE",
        "anomaly score: a score mode of the model (its --help lists them), or first / second for the model's "
        "first or second mode",
        fingerprint=RUN,
    ),
    Option("train_only", ("--train_only",), "flag", False, "train, do not test", fingerprint=RUN),
    Option("test_only", ("--test_only",), "flag", False, "test a trained model, do not train", fingerprint=RUN),
    Option("restart", ("--restart",), "flag", False, "resume training from the last checkpoint", fingerprint=RUN),
    Option(
        "checkpoint_path", ("--checkpoint_path",), "str", "", "checkpoint to resume from (--restart)", fingerprint=RUN
    ),
    Option("seed", ("--seed",), "int", 13711, "random seed"),
    Option("use_cuda", ("--use_cuda",), "bool", True, "use CUDA when available", fingerprint=RUN),
    Option("gpu_id", ("--gpu_id",), "int*", [0], "GPU index (the first one is used)", fingerprint=RUN),
    Option("log_interval", ("--log_interval",), "int", 100, "batches between progress updates", fingerprint=RUN),
    Option(
        "num_workers", ("--num_workers",), "int", 0, "feature extraction processes (0: one per core)", fingerprint=RUN
    ),
    # decisions and metrics
    Option("max_fpr", ("--max_fpr",), "float", 0.1, "false positive rate limit of the pAUC", fingerprint=RUN),
    Option(
        "decision_threshold", ("--decision_threshold",), "float", 0.9, "quantile of the fitted gamma", fingerprint=RUN
    ),
    # features
    Option("n_mels", ("--n_mels",), "int", 128, "number of mel bands"),
    Option("frames", ("--frames",), "int", 5, "consecutive frames in one feature vector"),
    Option("frame_hop_length", ("--frame_hop_length",), "int", 1, "keep every n-th feature vector"),
    Option("n_fft", ("--n_fft",), "int", 1024, "FFT length in samples"),
    Option("hop_length", ("--hop_length",), "int", 512, "samples between STFT frames"),
    Option("power", ("--power",), "float", 2.0, "exponent of the magnitude spectrogram"),
    Option("fmin", ("--fmin",), "float", 0.0, "lowest mel frequency in Hz"),
    Option("fmax", ("--fmax",), "float?", None, "highest mel frequency in Hz (null: sample rate / 2)"),
    Option("win_length", ("--win_length",), "int?", None, "window length in samples (null: n_fft)"),
    # training
    Option("batch_size", ("--batch_size",), "int", 256, "vectors per batch"),
    Option("epochs", ("--epochs",), "int", 100, "training epochs", fingerprint=RUN),
    Option("learning_rate", ("-lr", "--learning_rate"), "float", 0.001, "Adam learning rate"),
    Option("shuffle", ("--shuffle",), "bool", True, "shuffle training vectors every epoch"),
    Option("validation_split", ("--validation_split",), "float", 0.1, "share of vectors held out"),
)

# Settings of the stage scripts' Slurm launcher (--launcher slurm, engine/launch): read from the same yaml files and
# flags, never by train.py's runs, and left out of their args.json
LAUNCHER_OPTIONS: tuple[Option, ...] = (
    Option(
        "slurm_partition",
        ("--slurm_partition",),
        "str",
        "",
        "Slurm: partition of the job arrays (sbatch --partition; empty: the cluster's default)",
        fingerprint=RUN,
    ),
    Option(
        "slurm_time",
        ("--slurm_time",),
        "str",
        "",
        "Slurm: time limit of one task, e.g. 04:00:00 (sbatch --time)",
        fingerprint=RUN,
    ),
    Option(
        "slurm_cpus_per_task",
        ("--slurm_cpus_per_task",),
        "int",
        0,
        "Slurm: CPUs per task (sbatch --cpus-per-task; 0: not given)",
        fingerprint=RUN,
    ),
    Option(
        "slurm_mem", ("--slurm_mem",), "str", "", "Slurm: memory per task, e.g. 16G (sbatch --mem)", fingerprint=RUN
    ),
    Option(
        "slurm_gres",
        ("--slurm_gres",),
        "str",
        "",
        "Slurm: generic resources per task, e.g. gpu:1 (sbatch --gres)",
        fingerprint=RUN,
    ),
    Option(
        "slurm_account", ("--slurm_account",), "str", "", "Slurm: account charged (sbatch --account)", fingerprint=RUN
    ),
    Option(
        "slurm_options",
        ("--slurm_options",),
        "str",
        "",
        "Slurm: further sbatch options, one string, e.g. '--qos=long --constraint=a100'",
        fingerprint=RUN,
    ),
    Option(
        "slurm_wait",
        ("--slurm_wait",),
        "bool",
        True,
        "Slurm: wait for the array, then print the end line (False: submit and return)",
        fingerprint=RUN,
    ),
)


@functools.cache
def all_options() -> tuple[Option, ...]:
    """The core options, then every registered model's own options (one entry per name: two models that
    declare the same option must agree on its type and default)."""
    from networks import registry  # the models import nothing from here; importing them here makes no cycle

    options = {option.dest: option for option in (*CORE_OPTIONS, *LAUNCHER_OPTIONS)}
    for model, item, kind in registry.option_fields():
        declared = Option(
            item.name,
            (f"--{item.name}",),
            kind,
            item.default,
            item.metadata.get("help", ""),
            choices=item.metadata.get("choices"),
            fingerprint=item.metadata.get("fingerprint", "weights"),
        )
        known = options.get(item.name)
        if "help" not in item.metadata:  # a shared option the model reads: it must be a core option
            if known is None or known.kind != kind:
                raise TypeError(
                    f"{model}: option {item.name} ({kind}) is not a core option of that type; give it "
                    "a default and help with networks.base.option()"
                )
            continue
        if known is not None and (known.kind, known.default) != (kind, item.default):
            raise TypeError(f"{model}: option {item.name} is declared by another model with another type or default")
        options.setdefault(item.name, declared)
    return tuple(options.values())


def _by_flag() -> dict[str, Option]:
    return {flag: option for option in all_options() for flag in option.flags}


def owners(dest: str) -> list[str]:
    """The registered models whose own options (not the core ones) include ``dest``."""
    from networks import registry

    core = {option.dest for option in (*CORE_OPTIONS, *LAUNCHER_OPTIONS)}
    return [] if dest in core else sorted({model for model, item, _ in registry.option_fields() if item.name == dest})


def model_options(model: str) -> tuple[Option, ...]:
    """What a run of ``model`` parses: the core and launcher options, then the model's own; ``--score``'s help
    lists the model's score modes. ConfigError for a model the registry does not hold."""
    from networks import registry

    model_class = registry.get(model)
    own = {item.name for item in dataclasses.fields(model_class.options_class)}
    core = (*CORE_OPTIONS, *LAUNCHER_OPTIONS)
    modes = ", ".join(model_class.score_modes)
    score_help = f"anomaly score: a score mode of {model} ({modes}), or first / second for its first or second mode"
    helps = {"score": score_help, "model": f"model name in the registry: {', '.join(registry.names())}"}
    chosen = [
        dataclasses.replace(option, help=helps[option.dest]) if option.dest in helps else option for option in core
    ]
    core_names = {option.dest for option in core}
    return (*chosen, *(option for option in all_options() if option.dest in own and option.dest not in core_names))


def fingerprint_keys(model_options: Sequence[str], with_reference: bool) -> tuple[str, ...]:
    """The options a model's weights depend on (``Option.fingerprint``): the core ones and its own
    (``model_options``, the names of its options dataclass); with those that only the reference fitted after
    training depends on when ``with_reference``."""
    levels = ("weights", "reference") if with_reference else ("weights",)
    core = {option.dest for option in CORE_OPTIONS}
    return tuple(
        option.dest
        for option in all_options()
        if option.fingerprint in levels and (option.dest in core or option.dest in model_options)
    )


_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _named(parse_bool, "True/False"),
    "int?": _named(int, "integer-or-null", allow_null=True),
    "float?": _named(float, "number-or-null", allow_null=True),
    "int*": int,
}


def _check_yaml_value(option: Option, value: Any, source: str) -> Any:
    """Return ``value`` if its type matches the option's, else raise a ConfigError naming both."""
    kind = option.kind
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "flag": isinstance(value, bool),
        "int?": value is None or (isinstance(value, int) and not isinstance(value, bool)),
        "float?": value is None or (isinstance(value, int | float) and not isinstance(value, bool)),
        "int*": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value),
    }[kind]
    if not ok:
        expected = {
            "int*": "a list of integers",
            "int?": "an integer or null",
            "float?": "a number or null",
            "flag": "True or False",
            "bool": "True or False",
            "float": "a number",
            "int": "an integer",
            "str": "a string",
        }[kind]
        raise ConfigError(f"{source}: {option.flags[-1]} must be {expected}, got {value!r}")
    if kind in ("float", "float?") and value is not None:
        return float(value)
    return value


def _suggest(name: str, options: Sequence[Option] | None = None) -> str:
    flags = [flag for option in options for flag in option.flags] if options is not None else list(_by_flag())
    close = difflib.get_close_matches(name, flags, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _foreign(dest: str, model: str) -> str:
    """Why a valid option of other models is refused for ``model``, and what to do."""
    others = owners(dest)
    return f"--{dest} is an option of {', '.join(others)}, not of {model}: give --model {others[0]} or leave it out"


def resolve_config_file(path: Path) -> Path:
    """The yaml file ``--config path`` means: the path itself when it exists, else the file of that name in
    ``configs/`` (``--config demo.yaml`` works from any folder, and so do the root paths the yamls had before
    they moved there)."""
    path = Path(path)
    if path.is_file():
        return path
    stored = CONFIG_DIR / path.name
    if stored.is_file() and path.parent.resolve() in (Path.cwd().resolve(), PROJECT_ROOT):
        return stored
    return path


def load_yaml_overrides(path: Path) -> dict[str, Any]:
    """Read a ``--flag: value`` yaml file and return ``{dest: value}`` with every value type-checked."""
    path = resolve_config_file(path)
    if not path.is_file():
        known = ", ".join(sorted(item.name for item in CONFIG_DIR.glob("*.yaml")))
        raise ConfigError(f"config file {path} does not exist; give a path, or the name of one in configs/: {known}")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid yaml: {error}".replace("\n", " ")) from error
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path} must hold '--flag: value' pairs, one per line")
    values: dict[str, Any] = {}
    for key, value in content.items():
        option = _by_flag().get(str(key))
        if option is None:
            raise ConfigError(f"{path}: unknown key {key!r}{_suggest(str(key))}")
        values[option.dest] = _check_yaml_value(option, value, str(path))
    return values


class _RaisingParser(argparse.ArgumentParser):
    """An ArgumentParser that raises ConfigError instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(f"{message} (see python train.py --help)")


def build_parser(defaults: dict[str, Any], options: Sequence[Option] | None = None) -> argparse.ArgumentParser:
    """train.py's parser of ``options`` (default: every option of every model) with ``defaults``."""
    parser = _RaisingParser(
        prog="train.py",
        description="Train and test anomalous sound detectors on DCASE Task 2 data.",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="YAML",
        help="yaml file applied on top of baseline.yaml (may be repeated)",
    )
    core = {option.dest for option in (*CORE_OPTIONS, *LAUNCHER_OPTIONS)}
    own_group = None
    for option in all_options() if options is None else options:
        target: Any = parser
        if options is not None and option.dest not in core:
            own_group = own_group or parser.add_argument_group(f"options of {defaults.get('model')}")
            target = own_group
        default = defaults.get(option.dest, option.default)
        help_text = f"{option.help} (default: {default})"
        if option.kind == "flag":
            target.add_argument(*option.flags, dest=option.dest, action="store_true", default=default, help=help_text)
            continue
        target.add_argument(
            *option.flags,
            dest=option.dest,
            type=_PARSERS[option.kind],
            default=default,
            nargs="*" if option.kind == "int*" else None,
            choices=option.choices,
            metavar=option.dest.upper(),
            help=help_text,
        )
    return parser


def _config_files(argv: Sequence[str]) -> list[Path]:
    """The --config files named on the command line, in order."""
    files = []
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            files.append(Path(argv[index + 1]))
        elif arg.startswith("--config="):
            files.append(Path(arg.split("=", 1)[1]))
    return files


def parse_config(argv: Sequence[str], base_config: Path = DEFAULT_CONFIG) -> argparse.Namespace:
    """Merge ``base_config``, any ``--config`` overlays and the flags in ``argv``; validate the result."""
    defaults = {option.dest: option.default for option in all_options()}
    from_files: dict[str, Path] = {}
    for path in (base_config, *_config_files(argv)):
        overrides = load_yaml_overrides(path)
        defaults.update(overrides)
        from_files.update(dict.fromkeys(overrides, resolve_config_file(path)))
    model = _chosen_model(argv, defaults["model"])
    options = model_options(model)
    allowed = {option.dest for option in options}
    for dest, path in from_files.items():
        if dest not in allowed:
            raise ConfigError(f"{path}: {_foreign(dest, model)}")
    parser = build_parser({**{dest: defaults[dest] for dest in allowed}, "model": model}, options)
    config, unknown = parser.parse_known_args(list(argv))
    if unknown:
        first = unknown[0].split("=", 1)[0]
        if first.startswith("--") and owners(first[2:]):
            raise ConfigError(_foreign(first[2:], model))
        hint = _suggest(first, options) or _suggest(first).replace("?)", "? an option of another model)")
        raise ConfigError(f"unknown argument {unknown[0]!r}{hint} (see python train.py --help)")
    validate_config(config)
    return config


def _chosen_model(argv: Sequence[str], default: str | None) -> str:
    """The ``--model`` of the command line (the last one given), else ``default`` (the yaml files')."""
    chosen = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    chosen.add_argument("--model", default=default)
    known, _ = chosen.parse_known_args(list(argv))
    if known.model is None:
        raise ConfigError("no model chosen (baseline.yaml sets --model): give --model NAME (python train.py --help)")
    return str(known.model)


def validate_config(config: argparse.Namespace) -> None:
    """Raise ConfigError for values that cannot work, naming the flag and the allowed range."""

    def require(condition: bool, message: str) -> None:
        if not condition:
            raise ConfigError(message)

    require(
        not (config.train_only and config.test_only),
        "--train_only and --test_only cannot be used together: give one, or neither to train and test",
    )
    require(not (config.dev and config.eval), "-d/--dev and -e/--eval cannot be used together")
    require(config.dev or config.eval, "give -d/--dev (development data) or -e/--eval (evaluation data)")
    require(bool(config.dataset), "--dataset is required, e.g. --dataset DCASE2024T2fan")
    require(config.epochs >= 1, f"--epochs must be at least 1, got {config.epochs}")
    require(config.batch_size >= 2, f"--batch_size must be at least 2, got {config.batch_size}")
    require(
        0.0 < config.validation_split < 1.0,
        f"--validation_split must be between 0 and 1 (exclusive), got {config.validation_split}",
    )
    require(
        0.0 < config.decision_threshold < 1.0,
        f"--decision_threshold is a quantile between 0 and 1 (exclusive), got {config.decision_threshold}",
    )
    require(0.0 < config.max_fpr <= 1.0, f"--max_fpr must be in (0, 1], got {config.max_fpr}")
    require(
        config.learning_rate > 0 and math.isfinite(config.learning_rate),
        f"-lr must be a positive number, got {config.learning_rate}",
    )
    for name in ("n_mels", "frames", "frame_hop_length", "n_fft", "hop_length"):
        value = getattr(config, name)
        require(value >= 1, f"--{name} must be a positive integer, got {value}")
    require(config.power > 0, f"--power must be positive, got {config.power}")
    require(config.fmin >= 0, f"--fmin must be at least 0 Hz, got {config.fmin}")
    require(
        config.fmax is None or config.fmax > config.fmin, f"--fmax ({config.fmax}) must be above --fmin ({config.fmin})"
    )
    require(
        config.win_length is None or 1 <= config.win_length <= config.n_fft,
        f"--win_length must be between 1 and --n_fft ({config.n_fft}), got {config.win_length}",
    )
    require(
        config.channel in CHANNEL_CHOICES,
        f"--channel must be one of {', '.join(CHANNEL_CHOICES)}, got {config.channel!r}",
    )
    require(
        config.mono is False or config.channel == "0",
        f"--channel {config.channel} picks a channel of stereo clips: it needs --mono False",
    )
    require(config.num_workers >= 0, f"--num_workers must be 0 (auto) or more, got {config.num_workers}")
    require(config.log_interval >= 1, f"--log_interval must be at least 1, got {config.log_interval}")
    require(len(config.gpu_id) >= 1, "--gpu_id needs at least one GPU index")
    require(not config.checkpoint_path or config.restart, "--checkpoint_path is only used with --restart")


def config_record(config: argparse.Namespace) -> dict[str, Any]:
    """A run's merged configuration as args.json holds it: every setting but the launcher's."""
    launcher = {option.dest for option in LAUNCHER_OPTIONS}
    return {name: value for name, value in vars(config).items() if name not in launcher}


def save_config(path: Path, config: argparse.Namespace | dict[str, Any]) -> None:
    """Write a run's merged configuration (or its ``config_record``) as JSON next to its outputs (args.json)."""
    settings = config if isinstance(config, dict) else config_record(config)
    atomic_write_text(Path(path), json.dumps(settings, indent=2, ensure_ascii=False) + "\n")


def split_flag(config: argparse.Namespace) -> str:
    """The script flag of a run's split, for messages that tell the user what to run: -e or -d."""
    return "-e" if config.eval else "-d"
