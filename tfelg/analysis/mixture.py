"""A Gaussian mixture's parameters, the checks on its inputs, and its use.

The fitted mixture (:class:`GMMResult`) and a mixture's starting point
(:class:`GMMInit`) follow scikit-learn's conventions (precisions given by
their Cholesky factors, ``reg_covar`` inside the covariances, the same count
of free parameters), so that both libraries can be started from the same
point and compared number for number. Fitting is in :mod:`tfelg.analysis.em`;
:mod:`tfelg.analysis.gmm` gathers the public names.

Prediction (:func:`predict_proba`, :func:`predict`, :func:`score_samples`)
is NumPy float64 with scikit-learn's formulas: one pass, no need to compile,
over blocks of :data:`PREDICT_ROWS` rows (a million galaxies do not make
million-row temporaries).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tfelg.errors import InputError

COVARIANCE_TYPES = ("full", "diag")

_LOG_2PI = math.log(2.0 * math.pi)

# --------------------------------------------------------------------------
# Results and initial parameters


@dataclasses.dataclass(frozen=True)
class GMMResult:
    """A fitted Gaussian mixture.

    Attributes:
      covariance_type: "full" or "diag".
      weights: (K,) mixing weights, summing to 1.
      means: (K, D).
      covariances: (K, D, D) for "full", (K, D) for "diag"; include
        ``reg_covar``.
      precisions_cholesky: upper-triangular U with precision = U U^T
        ((K, D, D)), or 1/sqrt(variance) ((K, D)): scikit-learn's convention.
      log_likelihood: total log-likelihood of the fitted data under the final
        parameters (natural log).
      n_samples: N.
      n_iter: EM iterations run.
      converged: whether the mean log-likelihood changed by less than tol.
    """

    covariance_type: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    log_likelihood: float
    n_samples: int
    n_iter: int
    converged: bool

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])

    @property
    def mean_log_likelihood(self) -> float:
        """Log-likelihood per point (scikit-learn's ``score``)."""
        return self.log_likelihood / self.n_samples

    @property
    def n_parameters(self) -> int:
        """Free parameters, counted as scikit-learn counts them."""
        return n_parameters(self.k, self.n_features, self.covariance_type)

    @property
    def bic(self) -> float:
        """-2 log L + p ln N (lower is better)."""
        return -2.0 * self.log_likelihood + self.n_parameters * math.log(self.n_samples)

    @property
    def aic(self) -> float:
        """-2 log L + 2 p (lower is better)."""
        return -2.0 * self.log_likelihood + 2.0 * self.n_parameters

    def to_dict(self) -> dict:
        """JSON-ready summary (parameters as nested lists)."""
        return {
            "k": self.k,
            "covariance_type": self.covariance_type,
            "log_likelihood": self.log_likelihood,
            "mean_log_likelihood": self.mean_log_likelihood,
            "n_samples": self.n_samples,
            "n_parameters": self.n_parameters,
            "bic": self.bic,
            "aic": self.aic,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "covariances": self.covariances.tolist(),
        }


@dataclasses.dataclass(frozen=True)
class GMMInit:
    """Starting parameters of one mixture (in the data's own coordinates).

    Attributes:
      weights: (K,), summing to 1.
      means: (K, D).
      covariances: (K, D, D) ("full") or (K, D) ("diag"), positive definite.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @property
    def k(self) -> int:
        return int(np.shape(self.weights)[0])

    def to_sklearn(self) -> dict:
        """``weights_init``, ``means_init``, ``precisions_init`` for
        ``sklearn.mixture.GaussianMixture``, to start it at the same point."""
        cov = np.asarray(self.covariances, np.float64)
        if cov.ndim == 3:
            precisions = np.linalg.inv(cov)
            precisions = 0.5 * (precisions + np.swapaxes(precisions, 1, 2))
        else:
            precisions = 1.0 / cov
        return {
            "weights_init": np.asarray(self.weights, np.float64),
            "means_init": np.asarray(self.means, np.float64),
            "precisions_init": precisions,
        }


def n_parameters(k: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of a K-component mixture (scikit-learn's count)."""
    check_covariance_type(covariance_type)
    d = n_features
    cov = k * d * (d + 1) // 2 if covariance_type == "full" else k * d
    return int(cov + k * d + k - 1)


# --------------------------------------------------------------------------
# Input checks


def check_covariance_type(covariance_type):
    """A ValueError unless ``covariance_type`` is one of :data:`COVARIANCE_TYPES`."""
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}"
        )


def check_points(x, name="x") -> np.ndarray:
    """x as a finite (N, D) float64 array, or a ValueError saying what is wrong
    (:class:`tfelg.errors.InputError`, naming the first bad row, for
    non-finite values)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (points, features), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{name} has {rows.size} row(s) with NaN or inf values (the first is shown); "
            "remove or impute them first",
            row=int(rows[0]),
        )
    return x


def check_ks(ks, n_samples) -> tuple[int, ...]:
    """The K of a sweep as a tuple of ints, each in 1..n_samples (else a ValueError)."""
    ks = tuple(int(k) for k in np.atleast_1d(ks))
    if not ks:
        raise ValueError("no K given")
    for k in ks:
        if k < 1:
            raise ValueError(f"K must be >= 1, got {k}")
        if k > n_samples:
            raise ValueError(f"K = {k} components cannot be fitted to only {n_samples} points")
    return ks


# --------------------------------------------------------------------------
# Using a fitted mixture


def _weighted_log_prob(result: GMMResult, x: np.ndarray) -> np.ndarray:
    """log(pi_c N(x | c)) for every point and component (N, K), float64."""
    d = result.n_features
    if x.shape[1] != d:
        raise ValueError(f"x has {x.shape[1]} features, the mixture {d}")
    out = np.empty((x.shape[0], result.k))
    if result.covariance_type == "diag":
        log_det = np.sum(np.log(result.precisions_cholesky), axis=1)
        for j in range(result.k):
            y = (x - result.means[j]) * result.precisions_cholesky[j]
            out[:, j] = np.einsum("nd,nd->n", y, y)
    else:
        log_det = np.sum(np.log(np.diagonal(result.precisions_cholesky, axis1=1, axis2=2)), axis=1)
        for j in range(result.k):
            y = (x - result.means[j]) @ result.precisions_cholesky[j]
            out[:, j] = np.einsum("nd,nd->n", y, y)
    return -0.5 * (d * _LOG_2PI + out) + log_det + np.log(result.weights)


#: Rows a prediction computes at a time: its temporaries are a few (PREDICT_ROWS, K) and
#: (PREDICT_ROWS, D) arrays whatever N (the (N, K) probabilities themselves are the caller's).
PREDICT_ROWS = 65_536


def _row_blocks(n: int):
    return (slice(start, start + PREDICT_ROWS) for start in range(0, n, PREDICT_ROWS))


def score_samples(result: GMMResult, x) -> np.ndarray:
    """Log-density of each point under the mixture (N,)."""
    x = check_points(x)
    out = np.empty(x.shape[0])
    for rows in _row_blocks(x.shape[0]):
        lp = _weighted_log_prob(result, x[rows])
        m = lp.max(axis=1, keepdims=True)
        out[rows] = (m + np.log(np.exp(lp - m).sum(axis=1, keepdims=True)))[:, 0]
    return out


def predict_proba(result: GMMResult, x) -> np.ndarray:
    """Posterior probability of each component for each point (N, K)."""
    x = check_points(x)
    out = np.empty((x.shape[0], result.k))
    for rows in _row_blocks(x.shape[0]):
        lp = _weighted_log_prob(result, x[rows])
        lp -= lp.max(axis=1, keepdims=True)
        p = np.exp(lp, out=lp)
        out[rows] = p / p.sum(axis=1, keepdims=True)
    return out


def predict(result: GMMResult, x) -> np.ndarray:
    """The most probable component of each point (N,) int64."""
    x = check_points(x)
    out = np.empty(x.shape[0], np.int64)
    for rows in _row_blocks(x.shape[0]):
        out[rows] = np.argmax(_weighted_log_prob(result, x[rows]), axis=1)
    return out
