"""Shared scoring back-ends: small pure functions and classes any model can score its outputs with.

mahalanobis: the baseline's selective Mahalanobis maths on reconstruction errors (torch).
knn, gmm, lof: per-domain detectors on clip embeddings (numpy / scikit-learn), each normalised by its own
domain's training scores and combined by the selective rule (the smaller domain score) of ``selective``.
"""
