"""Gaussian mixtures fitted by EM in TensorFlow, many K at once.

Why not scikit-learn's ``GaussianMixture``: it loops over components in
NumPy float64 and reaches a few percent of the CPU's arithmetic peak, so a
K = 1..15 full-covariance sweep over 10^6 galaxies takes many minutes. Here
one pass over the data serves every component of every K of the sweep:

* The E-step is one matrix product per chunk of rows. The log-density of
  component c at x is a quadratic form, written as a dot product between
  features of x, f(x) = [x_i x_j (i <= j), x_i] (``diag``: [x_i^2, x_i]),
  and weights built from (mean, precision) of c; all components of all K
  are rows of one (C, F) weight matrix. Responsibilities are normalised
  per model (a log-sum-exp over each model's own rows, vectorised across
  the chunk's points).
* The M-step needs only the sufficient statistics sum_n r_nc [1, f(x_n)]
  (counts, first and second moments): a second matrix product,
  accumulated in float64 across chunks. Means, covariances, Cholesky
  factors and precisions are then computed on the host in float64
  (C matrices of D x D: microseconds), with scikit-learn's formulas.
* The pass is a while-loop over fixed-size chunks, so memory stays bounded
  at any N; for large N it is compiled with XLA (``jit_compile``), which
  fuses the feature construction and the exponentials. Models that have
  converged are dropped from the pass when a smaller pass, compiled anew,
  is expected to cost less than carrying them (``_should_compact``).

Numerics. The quadratic-form expansion cancels: near a component's mean its
terms are of size kappa_c = (|mu_c|_Lambda + sqrt(D))^2 (the Mahalanobis
distance of the mean from the data centre), and float32 loses about
eps32 * kappa_c of the log-density and of the covariance (in units of
itself). The data are centred first (free, the likelihood is translation
invariant), and with ``precision="auto"`` each pass runs in float32 only
while max_c kappa_c <= ``FLOAT32_KAPPA_MAX`` and otherwise in float64
(about 2-3 times slower on a CPU, exact to eps64 * kappa_c). Sums over rows
are float64 across chunks in both cases. Tests hold the results to
scikit-learn's within 0.1% in log-likelihood and BIC from the same start.

Semantics follow scikit-learn so that the two can be compared exactly:
``reg_covar`` is added to the diagonal of every covariance; an iteration is
an E-step then an M-step, and the fit stops when the mean log-likelihood
(computed in the E-step) changes by less than ``tol``; the weights are
sum_n r_nc (+10 eps) normalised. Unlike scikit-learn, the reported
log-likelihood is that of the *final* parameters (what ``score`` gives), and
with ``n_init > 1`` the best start is the one with the highest final
log-likelihood.

Initialisation. ``init="kmeans"`` does what scikit-learn does (hard k-means
labels turned into a first M-step) with this module's own k-means
(:func:`kmeans_sweep`: k-means++ seeding, then Lloyd iterations, all K of
the sweep and several data sets at once). One k-means++ sequence of Kmax
centres serves every K (the K-run starts from its first K centres; greedy
k-means++ picks centre j without knowing the final K, so this is exact with
2 + floor(ln Kmax) local trials for every K). Or pass :class:`GMMInit`
objects, e.g. from :func:`init_from_labels`, and give scikit-learn the same
start with :meth:`GMMInit.to_sklearn`.

k-means is here, not in a module of its own, because it is this module's
initialiser; :mod:`tfelg.analysis.model_selection` also uses it as the
clustering of the gap statistic, on the data and B reference sets at once.
Lloyd iterations need many more passes than EM (uniform reference sets
converge slowly), and the runs finish at very different iterations (from 2
to 200 on a gap statistic's 11 data sets at 10^5 x 16). So on large data
each data set gets a pass of its own whose per-model work sits in
conditionals on which of its runs are unfinished: a converged run costs
nothing more, and one compiled pass serves every data set and iteration.
Per chunk it computes each unfinished model's distances (a matrix
product), nearest centres and per-cluster sums (a segment sum, O(N D) per
model rather than a one-hot product). A pass over one data set keeps about
one core busy, so a few run at once in threads. On small data, where the
per-call overhead sets the time, one batched pass over all data sets per
iteration is faster, and finished runs are dropped as in EM. The final
within-cluster sums of squares are accumulated in float64 (they cancel for
tight clusters far from the origin).

Prediction (:func:`predict_proba`, :func:`predict`, :func:`score_samples`)
is NumPy float64 with scikit-learn's formulas: one pass, no need to compile.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import threading
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfelg.errors import InputError

COVARIANCE_TYPES = ("full", "diag")
PRECISIONS = ("auto", "float32", "float64")

# float32 is used while max_c kappa_c stays below this (see module doc):
# the log-density then loses at most about 8 * eps32 * 2e3 ~ 2e-3 nats.
FLOAT32_KAPPA_MAX = 2.0e3

_LOG_2PI = math.log(2.0 * math.pi)
_EPS64 = float(np.finfo(np.float64).eps)
_DEFAULT_CHUNK = 4096


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
    _check_covariance_type(covariance_type)
    d = n_features
    cov = k * d * (d + 1) // 2 if covariance_type == "full" else k * d
    return int(cov + k * d + k - 1)


# --------------------------------------------------------------------------
# Input checks


def _check_covariance_type(covariance_type):
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


def _check_ks(ks, n_samples) -> tuple[int, ...]:
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
# Component layout: every component of every model as one flat axis


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Where the components of several mixtures sit on one flat axis of C.

    Model g owns rows offsets[g] .. offsets[g + 1]; ``slot_of`` (C) gives
    each component's slot g * Kmax + j in the padded (G, Kmax) layout.
    """

    ks: tuple[int, ...]
    offsets: np.ndarray
    slot_of: np.ndarray

    @property
    def num_models(self) -> int:
        return len(self.ks)

    @property
    def kmax(self) -> int:
        return max(self.ks)

    @property
    def num_components(self) -> int:
        return int(sum(self.ks))

    @classmethod
    def of(cls, ks):
        ks = tuple(int(k) for k in ks)
        kmax = max(ks)
        offsets = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
        slot_of = np.concatenate([g * kmax + np.arange(k) for g, k in enumerate(ks)])
        return cls(ks, offsets, slot_of.astype(np.int64))

    def split(self, flat):
        """Per-model slices of an array whose leading axis is C."""
        return [flat[self.offsets[g] : self.offsets[g + 1]] for g in range(self.num_models)]


def _pad_rows(x: np.ndarray, chunk: int, dtype) -> tf.Tensor:
    """x (.., N, D) zero-padded to a multiple of ``chunk`` rows, as a tensor."""
    n = x.shape[-2]
    npad = -(-n // chunk) * chunk
    pad = [(0, 0)] * x.ndim
    pad[-2] = (0, npad - n)
    return tf.constant(np.pad(x, pad).astype(dtype))


def _chunk_size(n, chunk_size):
    if chunk_size is None:
        chunk_size = _DEFAULT_CHUNK
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return int(min(chunk_size, n))


# --------------------------------------------------------------------------
# Features of the quadratic form


def _triu(d):
    return np.triu_indices(d)


def _features(x, covariance_type):
    """f(x): [x_i x_j for i <= j, x_i] ("full") or [x_i^2, x_i] ("diag")."""
    if covariance_type == "diag":
        return tf.concat([x * x, x], axis=-1)
    d = x.shape[-1]
    parts = [x[..., i : i + 1] * x[..., i:] for i in range(d)]
    return tf.concat(parts + [x], axis=-1)


def _num_features(d, covariance_type):
    return 2 * d if covariance_type == "diag" else d * (d + 1) // 2 + d


def _weights_for(means, prec_chol, log_weights, covariance_type):
    """The (C, F) weights and (C,) bias giving log(pi_c N(x | c)) = W f(x) + b."""
    c, d = means.shape
    if covariance_type == "diag":
        prec = prec_chol**2  # (C, D)
        lin = prec * means
        w = np.concatenate([-0.5 * prec, lin], axis=1)
        quad_mean = np.sum(prec * means**2, axis=1)
        log_det = np.sum(np.log(prec_chol), axis=1)
    else:
        prec = prec_chol @ np.swapaxes(prec_chol, 1, 2)  # (C, D, D)
        iu, ju = _triu(d)
        scale = np.where(iu == ju, 1.0, 2.0)
        lin = np.einsum("cij,cj->ci", prec, means)
        w = np.concatenate([-0.5 * prec[:, iu, ju] * scale, lin], axis=1)
        quad_mean = np.einsum("ci,ci->c", lin, means)
        log_det = np.sum(np.log(np.diagonal(prec_chol, axis1=1, axis2=2)), axis=1)
    bias = log_weights + log_det - 0.5 * d * _LOG_2PI - 0.5 * quad_mean
    return w, bias


def _kappa(means, prec_chol, covariance_type):
    """(|mu_c|_Lambda + sqrt(D))^2 per component: the scale of cancellation."""
    d = means.shape[1]
    if covariance_type == "diag":
        z = means * prec_chol
    else:
        z = np.einsum("ci,cij->cj", means, prec_chol)
    return (np.sqrt(np.sum(z * z, axis=1)) + math.sqrt(d)) ** 2


# --------------------------------------------------------------------------
# The compiled passes

# Below this many rows (times data sets) the passes run as plain graphs:
# XLA's compile (seconds per shape on a small CPU) would cost more than it
# saves.
JIT_MIN_ROWS = 50_000

_COMPILED: dict = {}
_COMPILED_LOCK = threading.Lock()
# Distinct static configurations kept compiled (a sweep uses a few dozen;
# the bound only stops a long-lived process from growing without end).
_COMPILED_MAX = 256


def _use_jit(jit_compile, rows):
    return rows >= JIT_MIN_ROWS if jit_compile is None else bool(jit_compile)


class _Bound:
    """``fn`` with its static keywords bound, called with positional tensors only.

    An object rather than a closure: TensorFlow's retracing detector keys a
    ``tf.function`` by its Python function's ``__code__``, which every
    closure of one ``def`` shares, so the single trace of each static
    setting was counted as retracing of one function and logged a warning.
    """

    def __init__(self, fn, static):
        self.fn, self.static = fn, static
        self.__name__ = fn.__name__

    def __call__(self, *tensors):
        return self.fn(*tensors, **self.static)


def _compiled(fn, jit_compile: bool):
    """``fn`` as a ``tf.function`` (XLA-compiled or not), one per static setting.

    The returned callable takes the tensors positionally and the static
    settings (``chunk``, ``plan``, ``ks``, ...) as keywords. Each distinct
    static setting gets its own ``tf.function`` over a :class:`_Bound`
    object that binds it (not ``functools.partial``, whose keywords
    TensorFlow would still canonicalise as defaults), so a call passes only
    tensors: handing the nested ``plan`` tuple to one shared ``tf.function``
    made TensorFlow canonicalise it into a trace type on every call (~5 ms a
    call, ~1 s of a 10^5-point gap statistic), and made that one function
    retrace, with warnings, for every new setting.
    """

    def call(*tensors, **static):
        key = (fn.__name__, bool(jit_compile), tuple(sorted(static.items())))
        # Locked: k-means calls passes from several threads, and two
        # tf.functions made for one key would compile twice.
        with _COMPILED_LOCK:
            compiled = _COMPILED.get(key)
            if compiled is None:
                if len(_COMPILED) >= _COMPILED_MAX:
                    _COMPILED.pop(next(iter(_COMPILED)))
                # No autograph: the passes use tf.while_loop and only static
                # Python control flow (autograph would also re-read this source).
                compiled = tf.function(
                    _Bound(fn, static),
                    jit_compile=bool(jit_compile),
                    reduce_retracing=False,
                    autograph=False,
                )
                _COMPILED[key] = compiled
        return compiled(*tensors)

    return call


def _gmm_pass(x, n_valid, w, bias, *, chunk, covariance_type, ks):
    """One pass: E-step log-likelihoods and M-step statistics of every model.

    All components of all models are rows of one weight matrix, so the
    E-step and the M-step are one matrix product each per chunk; each model's
    log-sum-exp reduces over its own (static) rows, across whole rows of the
    chunk (vectorised), never over a short innermost axis.

    Args:
      x: (Npad, D) centred points, rows >= n_valid are padding.
      w: (C, F) weights and bias: (C,), components of model g in rows
        sum(ks[:g]) .. sum(ks[:g + 1]).
      ks: static tuple of the models' K.

    Returns:
      (per-model total log-likelihood (G,), statistics (C, 1 + F)), float64;
      statistics are sum_n r_nc [1, f(x_n)].
    """
    dtype = x.dtype
    npad, d = x.shape
    num_chunks = npad // chunk
    c, nf = w.shape
    offsets = np.concatenate([[0], np.cumsum(ks)]).tolist()

    def body(i, ll, stats):
        start = i * chunk
        xc = tf.slice(x, [start, 0], [chunk, d])
        valid = tf.cast(start + tf.range(chunk) < n_valid, dtype)
        f = _features(xc, covariance_type)  # (n, F)
        lp = tf.matmul(w, f, transpose_b=True) + bias[:, None]  # (C, n)
        lses, resps = [], []
        for g in range(len(ks)):
            part = lp[offsets[g] : offsets[g + 1]]
            top = tf.reduce_max(part, axis=0, keepdims=True)
            e = tf.exp(part - top)
            total = tf.reduce_sum(e, axis=0, keepdims=True)
            lses.append(top + tf.math.log(total))
            resps.append(e * (valid / total))
        lse = tf.concat(lses, axis=0)  # (G, n)
        r = tf.concat(resps, axis=0)  # (C, n)
        part = tf.concat([tf.reduce_sum(r, axis=1, keepdims=True), tf.matmul(r, f)], axis=1)
        ll += tf.cast(tf.reduce_sum(lse * valid, axis=1), tf.float64)
        return i + 1, ll, stats + tf.cast(part, tf.float64)

    _, ll, stats = tf.while_loop(
        lambda i, *_: i < num_chunks,
        body,
        [tf.constant(0), tf.zeros([len(ks)], tf.float64), tf.zeros([c, nf + 1], tf.float64)],
    )
    return ll, stats


def _label_moments_pass(x, n_valid, labels, *, chunk, covariance_type, kmax):
    """sum_n [1, f(x_n)] over the points of each cluster, in padded slots.

    labels: (Npad, G) hard labels. Returns (G * Kmax, 1 + F) float64.
    """
    dtype = x.dtype
    npad, d = x.shape
    num_chunks = npad // chunk
    g = labels.shape[1]
    nf = _num_features(d, covariance_type)

    def body(i, stats):
        start = i * chunk
        xc = tf.slice(x, [start, 0], [chunk, d])
        lc = tf.slice(labels, [start, 0], [chunk, g])
        valid = tf.cast(start + tf.range(chunk) < n_valid, dtype)
        r = tf.one_hot(tf.transpose(lc), kmax, axis=1, dtype=dtype) * valid  # (G, Kmax, n)
        r = tf.reshape(r, [g * kmax, chunk])
        f = _features(xc, covariance_type)
        part = tf.concat([tf.reduce_sum(r, axis=1, keepdims=True), tf.matmul(r, f)], axis=1)
        return i + 1, stats + tf.cast(part, tf.float64)

    _, stats = tf.while_loop(
        lambda i, *_: i < num_chunks,
        body,
        [tf.constant(0), tf.zeros([g * kmax, nf + 1], tf.float64)],
    )
    return stats


# --------------------------------------------------------------------------
# Host-side M-step (float64)


def _parameters_from_stats(stats, d, covariance_type, reg_covar):
    """(counts, means, covariances) from sum_n r_nc [1, f(x_n)], as scikit-learn
    computes them (nk + 10 eps; covariance about the new mean; + reg_covar)."""
    counts = stats[:, 0]
    nk = counts + 10.0 * _EPS64
    sx = stats[:, -d:]
    means = sx / nk[:, None]
    if covariance_type == "diag":
        sxx = stats[:, 1 : 1 + d]
        cov = (sxx - 2.0 * means * sx + counts[:, None] * means**2) / nk[:, None]
        cov = np.maximum(cov, 0.0) + reg_covar
    else:
        c = stats.shape[0]
        iu, ju = _triu(d)
        sxx = np.zeros((c, d, d))
        sxx[:, iu, ju] = stats[:, 1 : 1 + iu.size]
        sxx[:, ju, iu] = stats[:, 1 : 1 + iu.size]
        outer = np.einsum("ci,cj->cij", means, sx)
        cov = (sxx - outer - np.swapaxes(outer, 1, 2)) / nk[:, None, None]
        cov += counts[:, None, None] / nk[:, None, None] * np.einsum("ci,cj->cij", means, means)
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        cov[:, np.arange(d), np.arange(d)] += reg_covar
    return nk, means, cov


class _IllDefinedCovariance(ValueError):
    def __init__(self, components):
        self.components = components
        super().__init__("ill-defined covariance")


def _precision_cholesky(cov, covariance_type):
    """scikit-learn's precisions_cholesky_ (upper U, precision = U U^T)."""
    if covariance_type == "diag":
        bad = np.flatnonzero(~(cov > 0).all(axis=1))
        if bad.size:
            raise _IllDefinedCovariance(bad)
        return 1.0 / np.sqrt(cov)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        bad = []
        for i, m in enumerate(cov):
            try:
                np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                bad.append(i)
        raise _IllDefinedCovariance(np.array(bad)) from None
    eye = np.broadcast_to(np.eye(cov.shape[1]), cov.shape)
    return np.swapaxes(np.linalg.solve(chol, eye), 1, 2)


def _ill_defined_message(k):
    return (
        f"fitting the {k}-component mixture failed: a component's covariance is not positive "
        "definite (a collapsed or near-empty component). Try fewer components, a larger "
        "reg_covar, or scaled data."
    )


# --------------------------------------------------------------------------
# k-means (the initialiser, and the clustering of the gap statistic)


@dataclasses.dataclass(frozen=True)
class KMeansSweep:
    """k-means for several K on several data sets.

    Attributes:
      ks: the K of each model (G).
      centres: ``centres[b][g]``: (K, D) final centres, data set b, K = ks[g].
      within_ss: (B, G) float64, sum over points of the squared distance to
        the mean of the point's final cluster (W_K of the gap statistic, which
        equals sum_r D_r / (2 n_r) of Tibshirani et al.).
      n_iter: (B, G) Lloyd iterations.
      converged: (B, G).
      labels: (N, G) int32 final labels of data set 0 (points to the nearest
        final centre), or None if not asked for.
      seed_centres: (B, Kmax, D) the k-means++ sequence of each data set;
        the K-run started from its first K rows (so another implementation
        can be started from exactly the same centres).
    """

    ks: tuple[int, ...]
    centres: list
    within_ss: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    labels: np.ndarray | None
    seed_centres: np.ndarray | None = dataclasses.field(default=None, repr=False)


def _sample_plus_plus(d2, trials, seed, n_valid):
    """Indices (B, T) < n_valid drawn with probability proportional to d2 (B, N)."""
    cum = tf.math.cumsum(tf.cast(d2, tf.float64), axis=1)
    total = cum[:, -1:]
    u = tf.random.stateless_uniform([d2.shape[0], trials], seed, dtype=tf.float64) * total
    idx = tf.searchsorted(cum, u, side="right")
    return tf.minimum(idx, n_valid - 1)


def _plus_plus_step(x, d2, seed, n_valid, *, trials):
    """One greedy k-means++ step on each data set: the chosen point (B,), new d2."""
    idx = _sample_plus_plus(d2, trials, seed, n_valid)
    cand = tf.gather(x, idx, axis=1, batch_dims=1)  # (B, T, D)
    dist = (
        tf.reduce_sum(x * x, -1)[:, :, None]
        - 2.0 * tf.matmul(x, cand, transpose_b=True)
        + tf.reduce_sum(cand * cand, -1)[:, None, :]
    )
    m = tf.minimum(d2[:, :, None], tf.maximum(dist, 0.0))  # (B, N, T)
    potential = tf.reduce_sum(tf.cast(m, tf.float64), axis=1)  # (B, T)
    best = tf.argmin(potential, axis=1, output_type=tf.int32)
    new_d2 = tf.gather(tf.transpose(m, [0, 2, 1]), best, axis=1, batch_dims=1)
    return tf.gather(idx, best, axis=1, batch_dims=1), new_d2


def _kmeans_plus_plus(xt, n_valid, kmax, seed, jit_compile):
    """Greedy k-means++ (scikit-learn's algorithm): (B, Kmax) point indices.

    xt: (B, Npad, D) tensor whose rows >= n_valid are padding (never drawn).
    """
    b, npad, _ = xt.shape
    trials = 2 + int(math.log(kmax))
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_valid, size=b)
    chosen = [first]
    cand = tf.gather(xt, first[:, None], axis=1, batch_dims=1)
    valid = tf.cast(tf.range(npad) < n_valid, xt.dtype)
    d2 = tf.reduce_sum(tf.square(xt - cand), -1) * valid
    step = _compiled(_plus_plus_step, jit_compile)
    for _ in range(1, kmax):
        step_seed = tf.constant(rng.integers(0, 2**31 - 1, size=2), tf.int64)
        idx, d2 = step(xt, d2, step_seed, tf.constant(n_valid), trials=trials)
        chosen.append(idx.numpy())
    return np.stack(chosen, axis=1)


def _lloyd_pass(x, n_valid, centres, *, chunk, plan, final):
    """One Lloyd pass for several k-means models on several data sets.

    Args:
      x: (B, Npad, D) data sets, rows >= n_valid are padding.
      centres: (T, D): for each entry (k, data sets) of ``plan`` in turn,
        the k centres of each of its data sets.
      plan: static tuple of (k, tuple of data-set indices).
      final: accumulate in float64 and add |x|^2, for W_K (the sums of x and
        |x|^2 cancel when clusters are tight and far from the origin;
        float64 keeps W_K exact to ~eps64 * |c|^2 / sigma^2), and return the
        labels of the first data set of each entry.

    Returns:
      (sums (T, 1 + D (+ 1)) float64 of [1, x (, |x|^2)] per cluster,
      labels (Npad, len(plan)) int32, or (0, len(plan))).
    """
    b, npad, d = x.shape
    num_chunks = npad // chunk
    t = centres.shape[0]
    acc_dtype = tf.float64 if final else x.dtype
    nf = d + 2 if final else d + 1
    # XLA's CPU scatter-add is several times slower for some row widths
    # (9 floats: 4x slower than 16): pad the summed features to a multiple of 8.
    nf_pad = -(-nf // 8) * 8
    offsets = np.concatenate([[0], np.cumsum([k * len(ds) for k, ds in plan])]).tolist()
    num_labels = len(plan) if final else 0
    groups = {}
    for e, (_, ds) in enumerate(plan):
        groups.setdefault(tuple(ds), []).append(e)

    def body(i, sums, labels_ta):
        start = i * chunk
        xc = tf.slice(x, [0, start, 0], [b, chunk, d])
        valid = tf.cast(start + tf.range(chunk) < n_valid, acc_dtype)[None, :, None]
        xa = tf.cast(xc, acc_dtype)
        feats = [tf.ones([b, chunk, 1], acc_dtype), xa]
        if final:
            feats.append(tf.reduce_sum(xa * xa, -1, keepdims=True))
        feats.append(tf.zeros([b, chunk, nf_pad - nf], acc_dtype))
        feats = tf.concat(feats, -1) * valid  # (B, n, nf_pad)
        parts, firsts = [None] * len(plan), [None] * len(plan)
        # Entries over the same data sets share one matrix product.
        for ds, entries in groups.items():
            a = len(ds)
            whole = ds == tuple(range(b))
            xg = xc if whole else tf.gather(xc, list(ds))
            fg = feats if whole else tf.gather(feats, list(ds))
            cen = tf.concat(
                [
                    tf.reshape(centres[offsets[e] : offsets[e + 1]], [a, plan[e][0], d])
                    for e in entries
                ],
                axis=1,
            )
            norms = tf.reduce_sum(cen * cen, axis=-1, keepdims=True)
            dist = norms - 2.0 * tf.matmul(cen, xg, transpose_b=True)  # (A, sum k, n)
            row = 0
            for e in entries:
                k = plan[e][0]
                labels = tf.argmin(dist[:, row : row + k], axis=1, output_type=tf.int32)
                row += k
                segments = labels + (tf.range(a) * k)[:, None]
                parts[e] = tf.math.unsorted_segment_sum(
                    tf.reshape(fg, [a * chunk, nf_pad]), tf.reshape(segments, [-1]), a * k
                )
                firsts[e] = labels[0]
        if final:
            labels_ta = labels_ta.write(i, tf.transpose(tf.stack(firsts)))
        part = tf.concat(parts, axis=0)
        return i + 1, sums + tf.cast(part, tf.float64), labels_ta

    ta = tf.TensorArray(
        tf.int32, size=num_chunks if final else 0, element_shape=[chunk, num_labels]
    )
    _, sums, ta = tf.while_loop(
        lambda i, *_: i < num_chunks,
        body,
        [tf.constant(0), tf.zeros([t, nf_pad], tf.float64), ta],
    )
    sums = sums[:, :nf]
    if final:
        return sums, tf.reshape(ta.stack(), [-1, num_labels])
    return sums, tf.zeros([0, num_labels], tf.int32)


def _lloyd_set_pass(x, n_valid, dataset, centres, active, *, chunk, ks):
    """One Lloyd pass of the unfinished k-means models on one data set of ``x``.

    The fast path of :func:`kmeans_sweep` on large data. Each model's
    distances, labels and cluster sums sit in a conditional on its entry of
    ``active``, so a (data set, K) run that has converged costs nothing more,
    without a new compiled pass: one compiled pass per tuple of K serves
    every data set and every iteration. (The batched :func:`_lloyd_pass`
    must carry finished runs until their whole row and column of the
    rectangular plan are done, or compile a smaller plan.)

    Args:
      x: (B, Npad, D) data sets, rows >= n_valid are padding; Npad is a
        multiple of ``chunk``.
      dataset: int32 scalar tensor, the data set to run on.
      centres: (sum ks, D): the centres of each model in turn.
      active: (len(ks),) bool tensor, the models to run; the sums of the
        others are returned as zeros.
      chunk: rows per step.
      ks: static tuple, the K of each model.

    Returns:
      (sum ks, 1 + D) float64 sums of [1, x] per cluster.
    """
    _, npad, d = x.shape
    num_chunks = npad // chunk
    nf = d + 1
    nf_pad = -(-nf // 8) * 8  # see _lloyd_pass
    offsets = np.concatenate([[0], np.cumsum(ks)]).tolist()
    norms = tf.reduce_sum(centres * centres, axis=-1, keepdims=True)
    rows = tf.reshape(x, [-1, d])

    def body(i, sums):
        # The loop runs over this data set's chunks of all rows: an argument
        # in a slice's start would be compiled in as a constant (one XLA
        # compile per data set), a loop counter is not.
        row_in_set = (i % num_chunks) * chunk
        xc = tf.slice(rows, [i * chunk, 0], [chunk, d])
        valid = tf.cast(row_in_set + tf.range(chunk) < n_valid, x.dtype)[:, None]
        feats = tf.concat(
            [tf.ones([chunk, 1], x.dtype), xc, tf.zeros([chunk, nf_pad - nf], x.dtype)], -1
        )
        feats = feats * valid
        parts = []
        for m, k in enumerate(ks):
            cen = centres[offsets[m] : offsets[m + 1]]

            def model_sums(cen=cen, k=k, m=m):
                dist = norms[offsets[m] : offsets[m + 1]] - 2.0 * tf.matmul(
                    cen, xc, transpose_b=True
                )
                labels = tf.argmin(dist, axis=0, output_type=tf.int32)
                return tf.math.unsorted_segment_sum(feats, labels, k)

            parts.append(tf.cond(active[m], model_sums, lambda k=k: tf.zeros([k, nf_pad], x.dtype)))
        return i + 1, sums + tf.cast(tf.concat(parts, axis=0), tf.float64)

    first = dataset * num_chunks
    _, sums = tf.while_loop(
        lambda i, *_: i < first + num_chunks,
        body,
        [first, tf.zeros([sum(ks), nf_pad], tf.float64)],
    )
    return sums[:, :nf]


def _should_compact(work_now, work_left, *, seconds_per_work, iterations, jit_compile):
    """Whether to drop finished models from a pass (a new, smaller pass).

    The new pass must be traced and, with XLA, compiled: about
    ``_COMPILE_SECONDS`` on a small CPU. Dropping pays off when the time
    saved per pass (the finished work times ``seconds_per_work``, a cost
    model of the pass, not a measurement), times the iterations still
    expected (assumed as many as run so far, at least 5), exceeds that; and
    at least ``_MIN_COMPACT_SHARE`` of the work must be finished, so that
    a fit compiles only a few shapes. The rule uses no timings, so a fit
    takes the same path (and gives the same numbers) on every run.
    """
    done = work_now - work_left
    if done < _MIN_COMPACT_SHARE * work_now:
        return False
    compile_s = _COMPILE_SECONDS[bool(jit_compile)]
    return done * seconds_per_work * max(iterations, 5) > compile_s


# Calibrated on a 2-core AVX-512 CPU (TF 2.21): XLA compile of one pass, and
# seconds per (point x component x feature) of the EM and k-means passes.
# Only their ratios matter, and only for when to recompile.
_COMPILE_SECONDS = {True: 2.0, False: 0.3}
_EM_SECONDS_PER_UNIT = 4e-11
_KMEANS_SECONDS_PER_UNIT = 4e-11
_MIN_COMPACT_SHARE = 0.1
# Single-data-set k-means passes run at once (each keeps about one CPU core
# busy; on 2 cores, 2 threads ran 11 of them 1.8 times faster than 1).
_SET_PASS_THREADS = min(4, os.cpu_count() or 1)


def kmeans_sweep(
    x,
    ks: Sequence[int],
    *,
    seed: int = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
    return_labels: bool = False,
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
    per_data_set: bool | None = None,
) -> KMeansSweep:
    """Lloyd's k-means for every K in ``ks`` on one or several data sets at once.

    Seeding is greedy k-means++ (scikit-learn's algorithm; one Kmax-long
    sequence per data set whose first K centres start the K-run). A run
    stops when the total squared shift of its centres is <= tol times the
    mean per-feature variance of its data set (scikit-learn's rule). An
    empty cluster keeps its centre. Distances are float32; the final
    within-cluster sums of squares are accumulated in float64 about the
    final cluster means.

    Two ways to run the iterations, with the same result: one pass per data
    set over its own unfinished runs, a few data sets at once in threads
    (:func:`_lloyd_set_pass`), the default with XLA (large data); or one
    batched pass over all data sets per iteration (:func:`_lloyd_pass`), the
    default without (small data, where the per-call overhead sets the
    time). The final pass, for W_K and the labels, is always the batched one.

    Args:
      x: (N, D) or (B, N, D) points (B data sets of the same size).
      ks: the numbers of clusters.
      seed: seeds the k-means++ draws.
      max_iter: Lloyd iterations at most.
      tol: relative tolerance on the centre shift.
      return_labels: also return the final labels of data set 0, (N, G).
      chunk_size: rows per step of the compiled pass.
      jit_compile: compile the passes with XLA (default: only for large
        data, see :func:`_use_jit`).
      per_data_set: iterate with one pass per data set (default: when
        compiled with XLA).

    Returns:
      A :class:`KMeansSweep`.
    """
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"x must be (N, D) or (B, N, D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"x must be numeric, got dtype {x.dtype}")
    nb, n, d = x.shape
    if n == 0 or d == 0:
        raise ValueError(f"x is empty (shape {x.shape})")
    ks = _check_ks(ks, n)
    layout = _Layout.of(ks)
    chunk = _chunk_size(n, chunk_size)
    npad = -(-n // chunk) * chunk

    # Centred float32 copies, zero-padded to whole chunks (one copy in all:
    # at 10^6 points and 11 data sets this is the largest allocation).
    xc32 = np.zeros((nb, npad, d), np.float32)
    centre_of_data = np.zeros((nb, 1, d))
    tol_b = np.zeros(nb)
    for b in range(nb):
        bad = ~np.isfinite(x[b]).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            where = "x" if nb == 1 else f"data set {b}"
            raise InputError(
                f"{where} has {rows.size} row(s) with NaN or inf values (the first is shown)",
                row=int(rows[0]),
            )
        centre_of_data[b, 0] = x[b].mean(axis=0, dtype=np.float64)
        xc32[b, :n] = x[b] - centre_of_data[b]
        tol_b[b] = tol * np.mean(np.var(xc32[b, :n], axis=0, dtype=np.float64))

    jit = _use_jit(jit_compile, nb * n)
    lloyd = _compiled(_lloyd_pass, jit)
    xt = tf.constant(xc32)
    seeds = _kmeans_plus_plus(xt, n, layout.kmax, seed, jit)  # (B, Kmax)
    centres = np.zeros((nb, layout.num_components, d))
    seed_centres = np.zeros((nb, layout.kmax, d))
    for b in range(nb):
        first = xc32[b, seeds[b]].astype(np.float64)
        seed_centres[b] = first + centre_of_data[b, 0]
        for g, k in enumerate(ks):
            centres[b, layout.offsets[g] : layout.offsets[g + 1]] = first[:k]
    del xc32

    # State of every model (data set b, model g), centres padded to Kmax.
    num_models = layout.num_models
    k_of = np.asarray(ks)
    centres_pad = np.zeros((nb, num_models, layout.kmax, d))
    for g, k in enumerate(ks):
        centres_pad[:, g, :k] = centres[:, layout.offsets[g] : layout.offsets[g + 1]]
    converged = np.zeros((nb, num_models), bool)
    n_iter = np.zeros((nb, num_models), np.int64)
    n_t = tf.constant(n)

    def plan_of(active):
        """(model, k, data sets): every model still running on some data set,
        on every data set still running some model.

        The batched pass of small data, where one call per iteration beats
        eleven: its per-call overhead, not its work, sets the time.
        Rectangular on purpose: a pass over per-model subsets of the data
        sets must copy the points of each subset, and measured 2-2.5 times
        slower per unit of work than one product over the same data sets.
        """
        models = [g for g in range(num_models) if active[:, g].any()]
        datasets = tuple(int(b) for b in np.flatnonzero(active.any(axis=1)))
        return tuple((g, int(k_of[g]), datasets) for g in models)

    def work(plan):
        return sum(k * len(ds) for _, k, ds in plan)

    def run(plan, final=False):
        cen = np.concatenate([centres_pad[list(ds), g, :k].reshape(-1, d) for g, k, ds in plan])
        sums, labels = lloyd(
            xt,
            n_t,
            tf.constant(cen.astype(np.float32)),
            chunk=chunk,
            plan=tuple((k, ds) for _, k, ds in plan),
            final=final,
        )
        return cen, sums.numpy(), labels

    def update(b, g, it, block, old):
        """Lloyd's update of model g on data set b from its cluster sums."""
        counts = block[:, 0]
        new = np.where(counts[:, None] > 0, block[:, 1:] / np.maximum(counts, 1)[:, None], old)
        shift = np.sum((new - old) ** 2)
        centres_pad[b, g, : k_of[g]] = new
        n_iter[b, g] = it
        converged[b, g] = shift <= tol_b[b]

    seconds_per_work = n * (d + 8) * _KMEANS_SECONDS_PER_UNIT
    full_plan = plan_of(np.ones_like(converged))
    use_set_passes = jit if per_data_set is None else bool(per_data_set)
    if use_set_passes:
        # Large data: one pass per data set over its own unfinished models
        # (see _lloyd_set_pass); on a gap statistic's 11 data sets about 1.7
        # times fewer (point, model) visits than the rectangular plan. A pass
        # over one data set keeps about one core busy, so a few run at once.
        set_pass = _compiled(_lloyd_set_pass, jit)
        ks_static = tuple(int(k) for k in k_of)

        def one_set(args):
            b, cen, active = args
            return set_pass(
                xt,
                n_t,
                tf.constant(b, tf.int32),
                tf.constant(cen.astype(np.float32)),
                tf.constant(active),
                chunk=chunk,
                ks=ks_static,
            ).numpy()

        with concurrent.futures.ThreadPoolExecutor(_SET_PASS_THREADS) as pool:
            for it in range(1, max_iter + 1):
                jobs = [
                    (b, np.concatenate([centres_pad[b, g, :k] for g, k in enumerate(ks)]), ~done)
                    for b, done in enumerate(converged)
                    if not done.all()
                ]
                for (b, cen, active), sums in zip(jobs, pool.map(one_set, jobs), strict=True):
                    for g in np.flatnonzero(active):
                        o, k = layout.offsets[g], k_of[g]
                        update(b, g, it, sums[o : o + k], cen[o : o + k].astype(np.float64))
                if converged.all():
                    break
    else:
        plan = full_plan
        for it in range(1, max_iter + 1):
            cen, sums, _ = run(plan)
            o = 0
            for g, k, ds in plan:
                for b in ds:
                    if not converged[b, g]:
                        update(b, g, it, sums[o : o + k], cen[o : o + k].astype(np.float64))
                    o += k
            if converged.all():
                break
            remaining = plan_of(~converged)
            if _should_compact(
                work(plan),
                work(remaining),
                seconds_per_work=seconds_per_work,
                iterations=it,
                jit_compile=jit,
            ):
                plan = remaining

    # The final labels and W_K: one more pass with the final centres.
    _, sums, labels = run(full_plan, final=True)
    within_ss = np.zeros((nb, num_models))
    o = 0
    for g, k, ds in full_plan:
        for b in ds:
            block = sums[o : o + k]
            o += k
            sx = block[:, 1 : 1 + d]
            within = block[:, -1] - np.sum(sx * sx, axis=1) / np.maximum(block[:, 0], 1)
            within_ss[b, g] = np.maximum(within, 0.0).sum()
    out_centres = [
        [centres_pad[b, g, :k] + centre_of_data[b, 0] for g, k in enumerate(ks)] for b in range(nb)
    ]
    return KMeansSweep(
        ks=ks,
        centres=out_centres,
        within_ss=within_ss,
        n_iter=n_iter,
        converged=converged,
        labels=labels.numpy()[:n] if return_labels else None,
        seed_centres=seed_centres,
    )


# --------------------------------------------------------------------------
# Initial parameters


def _init_from_stats(stats, n, d, covariance_type, reg_covar):
    """scikit-learn's ``_initialize`` from one-hot responsibilities."""
    nk, means, cov = _parameters_from_stats(stats, d, covariance_type, reg_covar)
    return nk / n, means, cov


def init_from_labels(
    x,
    labels,
    k: int | None = None,
    *,
    covariance_type: str = "full",
    reg_covar: float = 1e-6,
) -> GMMInit:
    """Starting parameters from hard labels, exactly as scikit-learn's
    ``GaussianMixture`` starts from its k-means labels (a first M-step with
    one-hot responsibilities; a cluster without points gets a zero weight,
    which scikit-learn would also produce).

    Args:
      x: (N, D) points.
      labels: (N,) integer labels in [0, k).
      k: number of components (default: max label + 1).
    """
    _check_covariance_type(covariance_type)
    x = check_points(x)
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), got {labels.shape}")
    k = int(labels.max()) + 1 if k is None else int(k)
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in [0, {k})")
    n, d = x.shape
    resp = np.zeros((n, k))
    resp[np.arange(n), labels] = 1.0
    nk = resp.sum(0) + 10.0 * _EPS64
    means = resp.T @ x / nk[:, None]
    if covariance_type == "full":
        cov = np.empty((k, d, d))
        for j in range(k):
            diff = x - means[j]
            cov[j] = (resp[:, j] * diff.T) @ diff / nk[j]
            cov[j].flat[:: d + 1] += reg_covar
    else:
        avg_x2 = resp.T @ (x * x) / nk[:, None]
        avg_means2 = means**2
        avg_x_means = means * (resp.T @ x) / nk[:, None]
        cov = avg_x2 - 2 * avg_x_means + avg_means2 + reg_covar
    return GMMInit(weights=nk / n, means=means, covariances=cov)


# --------------------------------------------------------------------------
# EM


class _Model:
    """Mutable EM state of one mixture (in centred coordinates)."""

    def __init__(self, k, weights, means, cov, covariance_type):
        self.k = k
        self.weights = weights
        self.means = means
        self.cov = cov
        self.prec_chol = _precision_cholesky(cov, covariance_type)
        self.lower_bound = -np.inf
        self.n_iter = 0
        self.converged = False
        self.final_ll = None  # LL of the final parameters, once known


def _run_em(
    x64, models, *, covariance_type, max_iter, tol, reg_covar, precision, chunk, jit_compile
):
    """EM on all models at once; fills each model's state in place."""
    n, d = x64.shape
    data = {}

    def tensor(dtype):
        if dtype not in data:
            data[dtype] = _pad_rows(x64, chunk, dtype)
        return data[dtype]

    def dtype_for(group):
        if precision != "auto":
            return np.dtype(precision).type
        means = np.concatenate([m.means for m in group])
        prec_chol = np.concatenate([m.prec_chol for m in group])
        kappa = _kappa(means, prec_chol, covariance_type).max()
        return np.float32 if kappa <= FLOAT32_KAPPA_MAX else np.float64

    def run_pass(group):
        layout = _Layout.of([m.k for m in group])
        means = np.concatenate([m.means for m in group])
        prec_chol = np.concatenate([m.prec_chol for m in group])
        logw = np.log(np.concatenate([m.weights for m in group]))
        dtype = dtype_for(group)
        w, bias = _weights_for(means, prec_chol, logw, covariance_type)
        ll, stats = _compiled(_gmm_pass, jit_compile)(
            tensor(dtype),
            tf.constant(n),
            tf.constant(w, dtype),
            tf.constant(bias, dtype),
            chunk=chunk,
            covariance_type=covariance_type,
            ks=layout.ks,
        )
        return layout, ll.numpy(), stats.numpy()

    group = list(models)
    while group:
        layout, ll, stats = run_pass(group)
        stats_of = layout.split(stats)
        for g, m in enumerate(group):
            if m.converged or m.n_iter >= max_iter:
                m.final_ll = float(ll[g])
                continue
            # E-step done with the current parameters: ll[g]; now the M-step.
            prev = m.lower_bound
            m.lower_bound = float(ll[g]) / n
            nk, means, cov = _parameters_from_stats(stats_of[g], d, covariance_type, reg_covar)
            try:
                prec_chol = _precision_cholesky(cov, covariance_type)
            except _IllDefinedCovariance:
                raise ValueError(_ill_defined_message(m.k)) from None
            m.weights, m.means, m.cov, m.prec_chol = nk / nk.sum(), means, cov, prec_chol
            m.n_iter += 1
            if abs(m.lower_bound - prev) < tol:
                m.converged = True
        remaining = [m for m in group if m.final_ll is None]
        if not remaining:
            break
        # The pass costs about (points) x (components) x (features).
        work = sum(m.k for m in group)
        iterations = max(m.n_iter for m in group)
        if _should_compact(
            work,
            sum(m.k for m in remaining),
            seconds_per_work=n * _num_features(d, covariance_type) * _EM_SECONDS_PER_UNIT,
            iterations=iterations,
            jit_compile=jit_compile,
        ):
            group = remaining


def _to_result(m, centre, n, covariance_type):
    return GMMResult(
        covariance_type=covariance_type,
        weights=m.weights,
        means=m.means + centre,
        covariances=m.cov,
        precisions_cholesky=m.prec_chol,
        log_likelihood=float(m.final_ll),
        n_samples=n,
        n_iter=int(m.n_iter),
        converged=bool(m.converged),
    )


def _kmeans_inits(x64, ks, *, seed, covariance_type, reg_covar, chunk, jit_compile):
    """scikit-learn-style starts from k-means labels for every K (centred coords)."""
    sweep = kmeans_sweep(
        x64, ks, seed=seed, return_labels=True, chunk_size=chunk, jit_compile=jit_compile
    )
    return inits_from_label_matrix(
        x64,
        sweep.labels,
        ks,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        chunk_size=chunk,
        jit_compile=jit_compile,
    )


def inits_from_label_matrix(
    x,
    labels,
    ks: Sequence[int],
    *,
    covariance_type: str = "full",
    reg_covar: float = 1e-6,
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
) -> list[GMMInit]:
    """:func:`init_from_labels` for several K at once, in one TensorFlow pass.

    Args:
      x: (N, D) points.
      labels: (N, G) integer labels, column g in [0, ks[g]) (e.g.
        ``KMeansSweep.labels``).
      ks: the K of each column.

    Returns:
      One :class:`GMMInit` per K (moments accumulated in float64).
    """
    _check_covariance_type(covariance_type)
    x64 = check_points(x)
    centre = x64.mean(axis=0)
    x64 = x64 - centre
    n, d = x64.shape
    ks = _check_ks(ks, n)
    labels = np.asarray(labels)
    if labels.shape != (n, len(ks)):
        raise ValueError(f"labels must have shape ({n}, {len(ks)}), got {labels.shape}")
    if (labels < 0).any() or (labels >= np.asarray(ks)[None, :]).any():
        raise ValueError("labels of column g must lie in [0, ks[g])")
    chunk = _chunk_size(n, chunk_size)
    jit_compile = _use_jit(jit_compile, n)
    n, d = x64.shape
    layout = _Layout.of(ks)
    npad = -(-n // chunk) * chunk
    labels = np.pad(labels.astype(np.int32), [(0, npad - n), (0, 0)])
    stats = _compiled(_label_moments_pass, jit_compile)(
        _pad_rows(x64, chunk, np.float64),
        tf.constant(n),
        tf.constant(labels),
        chunk=chunk,
        covariance_type=covariance_type,
        kmax=layout.kmax,
    ).numpy()[layout.slot_of]
    out = []
    for s in layout.split(stats):
        w, mu, cov = _init_from_stats(s, n, d, covariance_type, reg_covar)
        out.append(GMMInit(weights=w, means=mu + centre, covariances=cov))
    return out


def _check_init(init, k, d, covariance_type):
    w = np.asarray(init.weights, np.float64)
    mu = np.asarray(init.means, np.float64)
    cov = np.asarray(init.covariances, np.float64)
    want_cov = (k, d, d) if covariance_type == "full" else (k, d)
    if w.shape != (k,) or mu.shape != (k, d) or cov.shape != want_cov:
        raise ValueError(
            f"initial parameters for K = {k} must have shapes ({k},), ({k}, {d}), {want_cov}; "
            f"got {w.shape}, {mu.shape}, {cov.shape}"
        )
    if not (np.all(w >= 0) and abs(w.sum() - 1.0) < 1e-6):
        raise ValueError(f"initial weights for K = {k} must be >= 0 and sum to 1")
    return w, mu, cov


def fit_gmm_sweep(
    x,
    ks: Sequence[int],
    *,
    covariance_type: str = "full",
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    n_init: int = 1,
    init: str | Sequence[GMMInit] = "kmeans",
    precision: str = "auto",
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
) -> list[GMMResult]:
    """Fit a Gaussian mixture for every K in ``ks``, all in the same passes.

    Args:
      x: (N, D) points.
      ks: the numbers of components (each K fitted once per start).
      covariance_type: "full" or "diag".
      seed: seeds the k-means initialisation (start i uses seed + i).
      max_iter: EM iterations at most.
      tol: stop when the mean log-likelihood changes by less than this.
      reg_covar: added to the diagonal of every covariance.
      n_init: starts per K; the one with the highest final log-likelihood
        is kept.
      init: "kmeans" (scikit-learn's default start, with this module's
        k-means) or one :class:`GMMInit` per K (then n_init must be 1).
      precision: "auto" (float32 unless the cancellation bound says
        otherwise, see the module doc), "float32" or "float64".
      chunk_size: rows per step of the compiled pass (memory is
        O(chunk_size * (F + C))).
      jit_compile: compile the passes with XLA; default: only when N is
        large enough for the compile time (seconds per shape) to pay off.

    Returns:
      One :class:`GMMResult` per K, in the order of ``ks``.

    Raises:
      ValueError: bad arguments, non-finite points, K > N, or a component
        whose covariance stops being positive definite.
    """
    _check_covariance_type(covariance_type)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    x = check_points(x)
    n, d = x.shape
    ks = _check_ks(ks, n)
    chunk = _chunk_size(n, chunk_size)
    jit_compile = _use_jit(jit_compile, n)
    centre = x.mean(axis=0)
    x64 = x - centre

    if isinstance(init, str):
        if init != "kmeans":
            raise ValueError(f"init must be 'kmeans' or a sequence of GMMInit, got {init!r}")
        starts = [
            _kmeans_inits(
                x64,
                ks,
                seed=seed + i,
                covariance_type=covariance_type,
                reg_covar=reg_covar,
                chunk=chunk,
                jit_compile=jit_compile,
            )
            for i in range(n_init)
        ]
    else:
        init = list(init)
        if len(init) != len(ks):
            raise ValueError(f"init must give one GMMInit per K ({len(ks)}), got {len(init)}")
        if n_init != 1:
            raise ValueError("n_init must be 1 when initial parameters are given")
        start = []
        for s, k in zip(init, ks, strict=True):
            w, mu, cov = _check_init(s, k, d, covariance_type)
            start.append(GMMInit(weights=w, means=mu - centre, covariances=cov))
        starts = [start]

    best: list[_Model | None] = [None] * len(ks)
    for start in starts:
        models = []
        for k, s in zip(ks, start, strict=True):
            try:
                models.append(_Model(k, s.weights, s.means, s.covariances, covariance_type))
            except _IllDefinedCovariance:
                raise ValueError(_ill_defined_message(k)) from None
        _run_em(
            x64,
            models,
            covariance_type=covariance_type,
            max_iter=max_iter,
            tol=tol,
            reg_covar=reg_covar,
            precision=precision,
            chunk=chunk,
            jit_compile=jit_compile,
        )
        for i, m in enumerate(models):
            if best[i] is None or m.final_ll > best[i].final_ll:
                best[i] = m
    return [_to_result(m, centre, n, covariance_type) for m in best]


def fit_gmm(
    x,
    k: int,
    *,
    covariance_type: str = "full",
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    n_init: int = 1,
    init: str | GMMInit = "kmeans",
    precision: str = "auto",
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
) -> GMMResult:
    """Fit one K-component Gaussian mixture (see :func:`fit_gmm_sweep`)."""
    return fit_gmm_sweep(
        x,
        [k],
        covariance_type=covariance_type,
        seed=seed,
        max_iter=max_iter,
        tol=tol,
        reg_covar=reg_covar,
        n_init=n_init,
        init=init if isinstance(init, str) else [init],
        precision=precision,
        chunk_size=chunk_size,
        jit_compile=jit_compile,
    )[0]


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


def score_samples(result: GMMResult, x) -> np.ndarray:
    """Log-density of each point under the mixture (N,)."""
    lp = _weighted_log_prob(result, check_points(x))
    m = lp.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(lp - m).sum(axis=1, keepdims=True)))[:, 0]


def predict_proba(result: GMMResult, x) -> np.ndarray:
    """Posterior probability of each component for each point (N, K)."""
    lp = _weighted_log_prob(result, check_points(x))
    lp -= lp.max(axis=1, keepdims=True)
    p = np.exp(lp)
    return p / p.sum(axis=1, keepdims=True)


def predict(result: GMMResult, x) -> np.ndarray:
    """The most probable component of each point (N,) int64."""
    return np.argmax(_weighted_log_prob(result, check_points(x)), axis=1)
