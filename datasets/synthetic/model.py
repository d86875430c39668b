"""What a synthetic machine type is: its operating attributes, its anomaly kinds and its sound model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from datasets.synthetic.components import db_to_gain, rms


@dataclass(frozen=True)
class Fault:
    """The anomaly of a clip: its kind, its severity (0 subtle .. 1 obvious) and its own random generator.

    Models draw everything about the fault from ``rng`` and everything about the normal machine from
    theirs, so a clip rendered with and without its fault differs only by the fault.
    """

    kind: str
    severity: float
    rng: np.random.Generator


# rng (normal parts), attributes (key -> value), fault or None, samples, sample rate -> dry signal
Synthesiser = Callable[[np.random.Generator, Mapping[str, str], "Fault | None", int, int], np.ndarray]

NOMINAL_RMS = 0.05  # level every model aims at for its typical operating point


@dataclass(frozen=True)
class Attribute:
    """One operating attribute: the values the source domain uses and the unseen ones of the target."""

    key: str
    source: tuple[str, ...]
    target: tuple[str, ...]


@dataclass(frozen=True)
class MachineModel:
    name: str
    attributes: tuple[Attribute, ...]
    anomalies: tuple[str, ...]
    synthesise: Synthesiser
    headroom_db: float = 0.0  # recording gain below nominal (machine and background alike) for peaky sounds

    def combinations(self, domain: str) -> list[tuple[tuple[str, str], ...]]:
        """Every attribute combination of ``domain`` ("source" or "target"), in a fixed order."""
        combos: list[tuple[tuple[str, str], ...]] = [()]
        for attribute in self.attributes:
            values = attribute.source if domain == "source" else attribute.target
            combos = [(*combo, (attribute.key, value)) for combo in combos for value in values]
        return combos


def stable_hash(text: str) -> int:
    """64-bit hash of ``text`` that is the same in every process and Python run (unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def number(attrs: Mapping[str, str], key: str) -> float:
    """Numeric part of an attribute value such as "28V" or "0.03"."""
    text = attrs[key]
    digits = "".join(ch for ch in text if ch.isdigit() or ch in ".-")
    return float(digits)


def anomaly_gain(severity: float, quiet_db: float, loud_db: float) -> float:
    """Linear gain of an anomaly: ``quiet_db`` at severity 0 up to ``loud_db`` at severity 1 (log scale)."""
    return float(10.0 ** ((quiet_db + (loud_db - quiet_db) * severity) / 20.0))


def finish(body: np.ndarray, extra: np.ndarray | None, loudness_db: float) -> np.ndarray:
    """Scale the normal ``body`` to the nominal level (+ ``loudness_db``).

    ``extra`` (the added anomaly parts) is given relative to the body's RMS and scaled along with it, so
    an anomaly's level is set in dB against the machine, whatever the attributes.
    """
    gain = NOMINAL_RMS * db_to_gain(loudness_db) / rms(body)
    return gain * (body if extra is None else body + extra * rms(body))


def unpack(fault: Fault | None) -> tuple[str | None, float, np.random.Generator]:
    """(kind, severity, generator) of a fault; (None, 0.0, an unused generator) for a normal clip."""
    if fault is None:
        return None, 0.0, np.random.default_rng(0)
    return fault.kind, fault.severity, fault.rng
