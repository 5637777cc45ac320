"""Gaussian mixtures fitted by EM in TensorFlow, many K at once: the public names.

This module gathers what callers use; the work is split by idea, each part
readable at one sitting:

* :mod:`tfelg.analysis.mixture`: the fitted mixture (:class:`GMMResult`),
  a starting point (:class:`GMMInit`), input checks, and prediction
  (:func:`predict_proba`, :func:`predict`, :func:`score_samples`: NumPy
  float64 with scikit-learn's formulas).
* :mod:`tfelg.analysis.em`: the EM (:func:`fit_gmm_sweep`,
  :func:`fit_gmm`): every K of a sweep in the same passes over the data,
  scikit-learn's semantics, float32 or float64 chosen per pass.
* :mod:`tfelg.analysis.em_statistics`: why one pass serves every component
  (the log-density as a quadratic form in features of x), the compiled
  E-step / sufficient-statistics passes, the host-side float64 M-step, and
  the float32 cancellation bound.
* :mod:`tfelg.analysis.gmm_init`: starting points from hard labels, as
  scikit-learn starts (:func:`init_from_labels`,
  :func:`inits_from_label_matrix`).
* :mod:`tfelg.analysis.kmeans`: Lloyd's k-means for many K on many data
  sets (:func:`kmeans_sweep`): the mixtures' initialiser and the gap
  statistic's clustering; k-means++ seeding.
* :mod:`tfelg.analysis.lloyd_passes`: the compiled Lloyd passes (one data
  set at a time on large data, one batched pass on small data).
* :mod:`tfelg.analysis.compiled`: the plumbing the passes share (one
  ``tf.function`` per static setting, when to use XLA, when to compile a
  smaller pass, padding and layout).

Why not scikit-learn's ``GaussianMixture``: it loops over components in
NumPy float64 and reaches a few percent of the CPU's arithmetic peak, so a
K = 1..15 full-covariance sweep over 10^6 galaxies takes many minutes
(``benchmarks/model_selection.py`` compares the two).
"""

from __future__ import annotations

from tfelg.analysis.compiled import JIT_MIN_ROWS
from tfelg.analysis.em import PRECISIONS, fit_gmm, fit_gmm_sweep
from tfelg.analysis.em_statistics import FLOAT32_KAPPA_MAX
from tfelg.analysis.gmm_init import init_from_labels, inits_from_label_matrix
from tfelg.analysis.kmeans import KMeansSweep, kmeans_sweep
from tfelg.analysis.mixture import (
    COVARIANCE_TYPES,
    GMMInit,
    GMMResult,
    check_points,
    n_parameters,
    predict,
    predict_proba,
    score_samples,
)

__all__ = [
    "COVARIANCE_TYPES",
    "FLOAT32_KAPPA_MAX",
    "JIT_MIN_ROWS",
    "PRECISIONS",
    "GMMInit",
    "GMMResult",
    "KMeansSweep",
    "check_points",
    "fit_gmm",
    "fit_gmm_sweep",
    "init_from_labels",
    "inits_from_label_matrix",
    "kmeans_sweep",
    "n_parameters",
    "predict",
    "predict_proba",
    "score_samples",
]
