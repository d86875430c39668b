"""The one interface every anomaly detector implements, whatever its input and scope.

A model is a folder under ``networks/`` holding its network, its options (a dataclass, below) and its scores,
plus a line in ``networks/registry.py`` and a yaml file. The engine (engine/runner.py) does everything else in
the same order for every model:

    options = Model.options_class.from_config(config)
    model = Model(options, Model.shape_of(options, training_data), device)
    for epoch in 1..E: model.train_epoch(training_data, epoch)      # log.csv, checkpoint after each
    calibration = model.fit_reference(reference_data)               # covariances, memory bank, GMM, ...
    thresholds <- gamma fits of the calibration scores, per score mode
    model.score(test_section) -> {mode: per-clip scores}             # per-section CSVs

A model sees only arrays and tensors: what the engine read for it (``inputs``: "vectors", the baseline's
stacked log-mel frames, or "waveforms") and its own options. It never reads or writes files.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np
import torch

from errors import ConfigError


def option(default: Any, help: str, *, fingerprint: str = "weights", choices: tuple[str, ...] | None = None) -> Any:
    """A model option: a dataclass field with its help text. ``fingerprint``: what depends on its value,
    "weights" (training), "reference" (only the reference fitted after training) or "" (nothing saved);
    ``choices``: the valid values of a str option (argparse refuses others)."""
    return field(default=default, metadata={"help": help, "fingerprint": fingerprint, "choices": choices})


@dataclass(frozen=True)
class ModelOptions:
    """Base of a model's options. Each field is a ``--<name>`` flag and yaml key, with its default and help;
    the option table (common.all_options), a run's parser and --help (common.model_options), args.json, the
    trained-model fingerprint and docs/options.md (python -m tools.options_doc) are all built from these
    declarations."""

    @classmethod
    def from_config(cls, config: Any) -> ModelOptions:
        """The options out of a run's merged configuration, checked (ConfigError names the flag)."""
        options = cls(**{item.name: getattr(config, item.name) for item in dataclasses.fields(cls)})
        options.validate()
        return options

    def validate(self) -> None:
        """Raise ConfigError for a value that cannot work; the default accepts everything."""

    @staticmethod
    def require(condition: bool, message: str) -> None:
        if not condition:
            raise ConfigError(message)


@dataclass(frozen=True)
class TrainingOptions(ModelOptions):
    """The shared flags (common.CORE_OPTIONS, declared there once) of a network trained for some epochs on log-mel
    input; a model's options derive from it and add their own flags (``option``) and any other shared flag they
    read."""

    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    n_mels: int


@dataclass(frozen=True)
class SpectrogramOptions(TrainingOptions):
    """``TrainingOptions`` plus the log-mel front end's shared flags, for a model that computes its own
    spectrogram from waveforms."""

    n_fft: int
    hop_length: int
    power: float
    fmin: float
    fmax: float | None


def option_kind(annotation: Any) -> str:
    """The common.Option kind of a resolved field type (``typing.get_type_hints``): ``int``, ``float``,
    ``bool``, ``str``, or ``int?`` / ``float?`` for ``X | None``."""
    optional = isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)
    if optional:
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    name = {int: "int", float: "float", bool: "bool", str: "str"}.get(annotation)
    if name is None or (optional and name not in ("int", "float")):
        raise TypeError(f"unsupported option type {annotation!r}")
    return f"{name}?" if optional else name


@dataclass
class EpochResult:
    """One training epoch's log.csv values and, per score mode, samples to fit the decision threshold."""

    log: dict[str, float]
    calibration: dict[str, np.ndarray] = field(default_factory=dict)


class Scope(StrEnum):
    """How many models the engine trains: one per machine type, or one per dataset family shared by its types."""

    MACHINE = "machine"
    FAMILY = "family"


class Inputs(StrEnum):
    """What the engine reads for a model: stacked log-mel frame windows (``VectorSet``) or the clips' waveforms."""

    VECTORS = "vectors"
    WAVEFORMS = "waveforms"


def _check_declaration(cls: type) -> None:
    """Raise TypeError naming ``cls`` when a concrete model's class attributes are not what the engine reads."""

    def require(condition: bool, what: str) -> None:
        if not condition:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__}: {what}")

    require(isinstance(cls.scope, Scope), f"scope must be a networks.base.Scope, got {cls.scope!r}")
    require(isinstance(cls.inputs, Inputs), f"inputs must be a networks.base.Inputs, got {cls.inputs!r}")
    require(isinstance(cls.sees_all_sections, bool), "sees_all_sections must be True or False")
    for name in ("score_modes", "log_columns", "tiny_test_flags"):
        value = getattr(cls, name, None)
        require(
            isinstance(value, tuple) and all(isinstance(item, str) and item for item in value),
            f"{name} must be a tuple of non-empty strings, got {value!r}",
        )
    require(len(cls.score_modes) >= 1, "score_modes must name at least one score mode")
    require(len(set(cls.score_modes)) == len(cls.score_modes), f"score_modes repeat a name: {cls.score_modes}")
    require(
        isinstance(getattr(cls, "options_class", None), type) and issubclass(cls.options_class, ModelOptions),
        "options_class must be a networks.base.ModelOptions dataclass",
    )


class Model(ABC):
    """Base class of every registered model (see the module text for the order the engine calls it in).

    A concrete subclass's declarations are checked when the class is defined (``TypeError`` naming it)."""

    options_class: ClassVar[type[ModelOptions]]
    scope: ClassVar[Scope] = Scope.MACHINE
    inputs: ClassVar[Inputs] = Inputs.VECTORS
    # True: trained and fitted on every section of its machine type even in a one-section run (--use_ids, the
    # legacy per-section scripts), as a section classifier must be; each run then tests every section anyway
    sees_all_sections: ClassVar[bool] = False
    score_modes: ClassVar[tuple[str, ...]]  # the first and second are what 02a and 02b test with
    log_columns: ClassVar[tuple[str, ...]]  # log.csv's header; the first column is the training loss
    # train.py flags that make a run of seconds on a few short clips (the test suite's settings of this model;
    # a yaml is named by its name in configs/)
    tiny_test_flags: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # ABCMeta computes __abstractmethods__ only after this hook: a class that still leaves one of the base's
        # abstract methods abstract is an intermediate base (SingleNetworkModel), checked in its subclasses
        if not any(getattr(getattr(cls, name), "__isabstractmethod__", False) for name in _ABSTRACT):
            _check_declaration(cls)

    def __init__(self, options: ModelOptions, shape: dict[str, Any], device: torch.device) -> None:
        self.options, self.shape, self.device = options, dict(shape), device

    @classmethod
    @abstractmethod
    def shape_of(cls, options: ModelOptions, training_data: Any) -> dict[str, Any]:
        """Everything that fixes the network's tensors, taken from the training data (JSON-serialisable:
        saved beside the weights, so that ``Model(options, shape, device)`` rebuilds it to load them)."""

    @classmethod
    def default_shape(cls, options: ModelOptions) -> dict[str, Any] | None:
        """The shape of weights saved without a description (another program's, e.g. the public baseline's
        ``.pth``), when the options alone fix it; None: such weights are refused."""
        return None

    @abstractmethod
    def train_epoch(self, training_data: Any, epoch: int) -> EpochResult:
        """Draw epoch ``epoch`` (1-based) from the training data and train on it; the log.csv values."""

    @abstractmethod
    def fit_reference(self, reference_data: Any) -> dict[str, np.ndarray]:
        """After the last epoch: fit what the scores compare with (covariances, a memory bank, a GMM) on
        one machine type's training data; return per score mode the samples its threshold is fitted on."""

    @abstractmethod
    def score(self, test_data: Any, modes: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Anomaly score of every clip of a test section in the score modes ``modes`` (None: every mode; a
        model may return more modes than asked for when they cost nothing extra). Higher: more anomalous."""

    def reference_state(self) -> dict[str, np.ndarray]:
        """The fitted reference as arrays, saved per machine type (nothing when it lives in the weights)."""
        return {}

    def load_reference_state(self, arrays: dict[str, np.ndarray]) -> None:  # noqa: B027 (optional hook)
        """Restore what ``reference_state`` returned (nothing to do when it returns nothing)."""

    @abstractmethod
    def model_state(self) -> dict[str, torch.Tensor]:
        """Weights and buffers needed to score (the saved ``.pth``)."""

    @abstractmethod
    def load_model_state(self, state: dict[str, torch.Tensor]) -> None: ...

    @abstractmethod
    def optimizer_state(self) -> dict[str, Any]: ...

    @abstractmethod
    def load_optimizer_state(self, state: dict[str, Any]) -> None: ...

    def scoring_graph(self, frame_hop: int) -> torch.nn.Module | None:
        """A torch module from one clip's log-mel frames (frames, n_mels) to its score in every mode (one output
        per mode, in ``score_modes`` order; vectors every ``frame_hop`` frames), built from operations ONNX can
        export; None: the model's scoring is no such graph."""
        return None

    def describe(self) -> str:
        """A few words for the training log line (device, precision)."""
        return str(self.device)


_ABSTRACT = tuple(sorted(Model.__abstractmethods__))


class SingleNetworkModel(Model):
    """A model with one network ``net``, one ``optimizer`` and a mixed-precision gradient ``scaler``: the weights and
    optimizer state as such models save them (a checkpoint without a scaler state loads too)."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: Any  # torch.amp.GradScaler

    def model_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_model_state(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)

    def optimizer_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict()}

    def load_optimizer_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
