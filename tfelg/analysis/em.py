"""Gaussian mixtures fitted by EM in TensorFlow, many K at once.

The fit runs every K of a sweep in the same passes over the data (the
passes and the host-side M-step: :mod:`tfelg.analysis.em_statistics`).
Models that have converged are dropped from the pass when a smaller pass,
compiled anew, is expected to cost less than carrying them
(:func:`tfelg.analysis.compiled.should_compact`). For large N the passes are
compiled with XLA (``jit_compile``), which fuses the feature construction
and the exponentials.

Precision. With ``precision="auto"`` each pass runs in float32 only while
the cancellation bound max_c kappa_c <= ``FLOAT32_KAPPA_MAX`` holds (see
:mod:`tfelg.analysis.em_statistics`) and otherwise in float64 (about 2-3
times slower on a CPU, exact to eps64 * kappa_c). Sums over rows are
float64 across chunks in both cases. Tests hold the results to
scikit-learn's within 0.1% in log-likelihood and BIC from the same start in
float32, and to 1e-9 in float64.

Semantics follow scikit-learn so that the two can be compared exactly:
``reg_covar`` is added to the diagonal of every covariance; an iteration is
an E-step then an M-step, and the fit stops when the mean log-likelihood
(computed in the E-step) changes by less than ``tol``; the weights are
sum_n r_nc (+10 eps) normalised. Unlike scikit-learn, the reported
log-likelihood is that of the *final* parameters (what ``score`` gives), and
with ``n_init > 1`` the best start is the one with the highest final
log-likelihood.

Initialisation. ``init="kmeans"`` does what scikit-learn does (hard k-means
labels turned into a first M-step, :mod:`tfelg.analysis.gmm_init`) with
this package's own k-means (:func:`tfelg.analysis.kmeans.kmeans_sweep`). Or
pass :class:`GMMInit` objects, e.g. from
:func:`tfelg.analysis.gmm_init.init_from_labels`, and give scikit-learn the
same start with :meth:`GMMInit.to_sklearn`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfelg.analysis import compiled, em_statistics
from tfelg.analysis.em_statistics import FLOAT32_KAPPA_MAX, IllDefinedCovariance
from tfelg.analysis.gmm_init import kmeans_inits
from tfelg.analysis.mixture import (
    GMMInit,
    GMMResult,
    check_covariance_type,
    check_ks,
    check_points,
)

PRECISIONS = ("auto", "float32", "float64")


class _Model:
    """Mutable EM state of one mixture (in centred coordinates)."""

    def __init__(self, k, weights, means, cov, covariance_type):
        self.k = k
        self.weights = weights
        self.means = means
        self.cov = cov
        self.prec_chol = em_statistics.precision_cholesky(cov, covariance_type)
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
            data[dtype] = compiled.pad_rows(x64, chunk, dtype)
        return data[dtype]

    def dtype_for(group):
        if precision != "auto":
            return np.dtype(precision).type
        means = np.concatenate([m.means for m in group])
        prec_chol = np.concatenate([m.prec_chol for m in group])
        kappa = em_statistics.kappa(means, prec_chol, covariance_type).max()
        return np.float32 if kappa <= FLOAT32_KAPPA_MAX else np.float64

    def run_pass(group):
        layout = compiled.Layout.of([m.k for m in group])
        means = np.concatenate([m.means for m in group])
        prec_chol = np.concatenate([m.prec_chol for m in group])
        logw = np.log(np.concatenate([m.weights for m in group]))
        dtype = dtype_for(group)
        w, bias = em_statistics.weights_for(means, prec_chol, logw, covariance_type)
        ll, stats = compiled.function(em_statistics.gmm_pass, jit_compile)(
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
            nk, means, cov = em_statistics.parameters_from_stats(
                stats_of[g], d, covariance_type, reg_covar
            )
            try:
                prec_chol = em_statistics.precision_cholesky(cov, covariance_type)
            except IllDefinedCovariance:
                raise ValueError(em_statistics.ill_defined_message(m.k)) from None
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
        if compiled.should_compact(
            work,
            sum(m.k for m in remaining),
            seconds_per_work=n
            * em_statistics.num_features(d, covariance_type)
            * compiled.EM_SECONDS_PER_UNIT,
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
      init: "kmeans" (scikit-learn's default start, with this package's
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
    check_covariance_type(covariance_type)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    if max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")
    x = check_points(x)
    n, d = x.shape
    ks = check_ks(ks, n)
    chunk = compiled.chunk_rows(n, chunk_size)
    jit_compile = compiled.use_jit(jit_compile, n)
    centre = x.mean(axis=0)
    x64 = x - centre

    if isinstance(init, str):
        if init != "kmeans":
            raise ValueError(f"init must be 'kmeans' or a sequence of GMMInit, got {init!r}")
        starts = [
            kmeans_inits(
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
            except IllDefinedCovariance:
                raise ValueError(em_statistics.ill_defined_message(k)) from None
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
