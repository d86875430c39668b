"""Decision thresholds: a gamma distribution fitted to anomaly scores, cut at a quantile."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import scipy.special


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
