"""Decision thresholds: a gamma distribution fitted to anomaly scores, cut at a quantile, saved as JSON."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.special

from errors import DataError
from safe_io import atomic_write_text


@dataclass(frozen=True)
class GammaFit:
    """Parameters of ``scipy.stats.gamma`` (shape a, loc, scale)."""

    shape: float
    loc: float
    scale: float

    def threshold(self, quantile: float) -> float:
        """Score above which a clip is decided anomalous: the gamma quantile, as ``scipy.stats.gamma.ppf``."""
        return float(self.loc + self.scale * scipy.special.gammaincinv(self.shape, quantile))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_gamma(samples: np.ndarray) -> GammaFit:
    """Maximum-likelihood gamma fit (shape, loc, scale all free), as the baseline does with scipy."""
    import scipy.stats  # slow to import (about a second); only training needs it

    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if samples.size < 2 or np.ptp(samples) == 0:
        raise ValueError(f"cannot fit a gamma distribution to {samples.size} sample(s) without spread")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's optimiser probes invalid regions
        shape, loc, scale = scipy.stats.gamma.fit(samples)
    return GammaFit(float(shape), float(loc), float(scale))


def save_score_distribution(path: Path, samples: np.ndarray) -> None:
    """Fit the gamma distribution of a score's training samples and save it as JSON (the decision threshold
    is its ``decision_threshold`` quantile). ValueError if it cannot be fitted."""
    gamma = fit_gamma(samples)
    record = {"distribution": "gamma", **gamma.as_dict(), "n_samples": len(samples)}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def load_threshold(path: Path, quantile: float) -> float:
    """The decision threshold saved by ``save_score_distribution``; DataError when missing or damaged."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return GammaFit(record["shape"], record["loc"], record["scale"]).threshold(quantile)
    except FileNotFoundError as error:
        raise DataError(
            f"score distribution {path} not found: train the model again (it is written after the last epoch)"
        ) from error
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path} is not a valid score distribution ({error}); train the model again") from error
