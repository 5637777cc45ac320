"""The sufficient statistics of EM, for every component of every K at once.

Why not scikit-learn's ``GaussianMixture``: it loops over components in
NumPy float64 and reaches a few percent of the CPU's arithmetic peak, so a
K = 1..15 full-covariance sweep over 10^6 galaxies takes many minutes. Here
one pass over the data serves every component of every K of the sweep:

* The E-step is one matrix product per chunk of rows. The log-density of
  component c at x is a quadratic form, written as a dot product between
  features of x, f(x) = [x_i x_j (i <= j), x_i] (``diag``: [x_i^2, x_i]),
  and weights built from (mean, precision) of c (:func:`weights_for`); all
  components of all K are rows of one (C, F) weight matrix. Responsibilities
  are normalised per model (a log-sum-exp over each model's own rows,
  vectorised across the chunk's points).
* The M-step needs only the sufficient statistics sum_n r_nc [1, f(x_n)]
  (counts, first and second moments): a second matrix product,
  accumulated in float64 across chunks (:func:`gmm_pass`; with hard labels,
  :func:`label_moments_pass`). Means, covariances, Cholesky factors and
  precisions are then computed on the host in float64 (C matrices of
  D x D: microseconds), with scikit-learn's formulas
  (:func:`parameters_from_stats`, :func:`precision_cholesky`).

Numerics. The quadratic-form expansion cancels: near a component's mean its
terms are of size kappa_c = (|mu_c|_Lambda + sqrt(D))^2 (:func:`kappa`, the
Mahalanobis distance of the mean from the data centre), and float32 loses
about eps32 * kappa_c of the log-density and of the covariance (in units of
itself). The data are centred first (free, the likelihood is translation
invariant), and the EM (:mod:`tfelg.analysis.em`) runs a pass in float32
only while max_c kappa_c <= :data:`FLOAT32_KAPPA_MAX`, otherwise in float64.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

# float32 is used while max_c kappa_c stays below this (see module doc):
# the log-density then loses at most about 8 * eps32 * 2e3 ~ 2e-3 nats.
FLOAT32_KAPPA_MAX = 2.0e3

_LOG_2PI = math.log(2.0 * math.pi)
EPS64 = float(np.finfo(np.float64).eps)

# --------------------------------------------------------------------------
# Features of the quadratic form


def _triu(d):
    return np.triu_indices(d)


def features(x, covariance_type):
    """f(x): [x_i x_j for i <= j, x_i] ("full") or [x_i^2, x_i] ("diag")."""
    if covariance_type == "diag":
        return tf.concat([x * x, x], axis=-1)
    d = x.shape[-1]
    parts = [x[..., i : i + 1] * x[..., i:] for i in range(d)]
    return tf.concat(parts + [x], axis=-1)


def num_features(d, covariance_type):
    """F, the length of f(x)."""
    return 2 * d if covariance_type == "diag" else d * (d + 1) // 2 + d


def weights_for(means, prec_chol, log_weights, covariance_type):
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


def kappa(means, prec_chol, covariance_type):
    """(|mu_c|_Lambda + sqrt(D))^2 per component: the scale of cancellation."""
    d = means.shape[1]
    if covariance_type == "diag":
        z = means * prec_chol
    else:
        z = np.einsum("ci,cij->cj", means, prec_chol)
    return (np.sqrt(np.sum(z * z, axis=1)) + math.sqrt(d)) ** 2


# --------------------------------------------------------------------------
# The compiled passes (see tfelg.analysis.compiled)


def gmm_pass(x, n_valid, w, bias, *, chunk, covariance_type, ks):
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
        f = features(xc, covariance_type)  # (n, F)
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


def label_moments_pass(x, n_valid, labels, *, chunk, covariance_type, kmax):
    """sum_n [1, f(x_n)] over the points of each cluster, in padded slots.

    labels: (Npad, G) hard labels. Returns (G * Kmax, 1 + F) float64.
    """
    dtype = x.dtype
    npad, d = x.shape
    num_chunks = npad // chunk
    g = labels.shape[1]
    nf = num_features(d, covariance_type)

    def body(i, stats):
        start = i * chunk
        xc = tf.slice(x, [start, 0], [chunk, d])
        lc = tf.slice(labels, [start, 0], [chunk, g])
        valid = tf.cast(start + tf.range(chunk) < n_valid, dtype)
        r = tf.one_hot(tf.transpose(lc), kmax, axis=1, dtype=dtype) * valid  # (G, Kmax, n)
        r = tf.reshape(r, [g * kmax, chunk])
        f = features(xc, covariance_type)
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


def parameters_from_stats(stats, d, covariance_type, reg_covar):
    """(counts, means, covariances) from sum_n r_nc [1, f(x_n)], as scikit-learn
    computes them (nk + 10 eps; covariance about the new mean; + reg_covar)."""
    counts = stats[:, 0]
    nk = counts + 10.0 * EPS64
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


class IllDefinedCovariance(ValueError):
    """A covariance that is not positive definite; ``components`` are its indices."""

    def __init__(self, components):
        self.components = components
        super().__init__("ill-defined covariance")


def precision_cholesky(cov, covariance_type):
    """scikit-learn's precisions_cholesky_ (upper U, precision = U U^T)."""
    if covariance_type == "diag":
        bad = np.flatnonzero(~(cov > 0).all(axis=1))
        if bad.size:
            raise IllDefinedCovariance(bad)
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
        raise IllDefinedCovariance(np.array(bad)) from None
    eye = np.broadcast_to(np.eye(cov.shape[1]), cov.shape)
    return np.swapaxes(np.linalg.solve(chol, eye), 1, 2)


def ill_defined_message(k):
    """What to tell a user whose K-component fit lost a positive definite covariance."""
    return (
        f"fitting the {k}-component mixture failed: a component's covariance is not positive "
        "definite (a collapsed or near-empty component). Try fewer components, a larger "
        "reg_covar, or scaled data."
    )
