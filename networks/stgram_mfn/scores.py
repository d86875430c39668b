"""STgram-MFN's own score: the classifier's negative log-probability of a clip's section (numpy, float64).

NLL: negative log-probability that the clip belongs to its own machine type and section, i.e. the softmax
mass of all of that section's classes (attributes are not needed at test time, where names are anonymous).
The KNN score is the shared back-end's (networks/backends/knn.py).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


def section_nll(logits: np.ndarray, in_section: np.ndarray) -> np.ndarray:
    """``-log sum_{c in section} softmax(logits)_c`` for every row: (n_clips,)."""
    logits = np.asarray(logits, dtype=np.float64)
    in_section = np.asarray(in_section, dtype=bool)
    if not in_section.any():
        raise ValueError("no class of the section among the logits")
    return logsumexp(logits, axis=1) - logsumexp(logits[:, in_section], axis=1)
