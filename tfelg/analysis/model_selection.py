"""How many classes? BIC, AIC, the gap statistic and the silhouette, side by side.

No single criterion is trusted: BIC (and AIC) judge the Gaussian mixtures
themselves, the gap statistic judges how much tighter the clusters are than
in structureless data, and the silhouette judges how well separated the
hard clusters are. :func:`select_k` fits K = 1..Kmax once and reports every
criterion's curve and choice; a disagreement between them is information.

The gap statistic is computed exactly as Tibshirani, Walther & Hastie
(2001, JRSS B 63, 411) define it:

* W_K = sum_r D_r / (2 n_r), the pooled within-cluster sum of squared
  distances to the cluster means, for the clustering of the data into K
  clusters. The clustering is k-means (as in the paper), run by
  :func:`tfelg.analysis.gmm.kmeans_sweep` on the data and on every
  reference set at once, from ``n_init`` k-means++ starts per K and data
  set (default :data:`GAP_N_INIT` = 10), keeping the lowest W_K: k-means
  finds local optima, and a W_K above the optimum adds noise to log W*_Kb
  (so to s_K) and bias to Gap(K). The kept k-means labels of the data also
  start the mixtures.
  (GMM hard assignments would make the statistic depend on the covariance
  model; k-means keeps it the paper's.)
* B reference sets, each drawn uniformly in the box aligned with the
  principal axes of the centred data (the paper's method (b)): rotate onto
  the right singular vectors, draw uniform in each coordinate's range,
  rotate back.
* Gap(K) = mean_b log W*_Kb - log W_K; sd_K the standard deviation of the
  log W*_Kb over b (with 1/B, as in the paper); s_K = sd_K sqrt(1 + 1/B).
* The choice is the smallest K with Gap(K) >= Gap(K + 1) - s_{K+1} (the
  1-standard-error rule). If no K < Kmax satisfies it, Kmax is reported
  (the rule cannot be checked at Kmax; the curve says whether to look
  further).

BIC and AIC are minimised over K. The silhouette (Rousseeuw 1987) of the
GMM hard labels is computed on a random subsample (``silhouette_sample``
points, the same for every K, since the exact score is O(N^2)) and
maximised over K >= 2.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import tensorflow as tf

from tfelg.analysis import gmm

CRITERIA = ("bic", "aic", "gap", "silhouette")

# k-means++ starts per K and data set in the gap statistic (the lowest W_K
# is kept): scikit-learn's KMeans before 1.4 and the gap-stat package use
# 10. One start leaves log W_K up to ~0.05 above the best of 10, which
# inflates s_K and can move the 1-standard-error choice.
GAP_N_INIT = 10


# --------------------------------------------------------------------------
# The gap statistic


def reference_sets(x, num_sets: int, *, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """B reference data sets uniform in the principal-axes box of ``x``.

    Tibshirani et al.'s method (b): with X centred and X = U D V^T, draw
    Z' uniform over the ranges of the columns of X V, and return
    Z = Z' V^T + mean(X).

    Args:
      x: (N, D) data.
      num_sets: B.
      seed: seeds the draws.
      dtype: of the result.

    Returns:
      (B, N, D) array.
    """
    x = gmm.check_points(x)
    if num_sets < 1:
        raise ValueError(f"the number of reference sets must be >= 1, got {num_sets}")
    n, d = x.shape
    mean = x.mean(axis=0)
    xc = x - mean
    # The right singular vectors are the eigenvectors of X^T X (D x D).
    _, v = np.linalg.eigh(xc.T @ xc)
    rotated = xc @ v
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    rng = np.random.default_rng(seed)
    out = np.empty((num_sets, n, d), dtype)
    for b in range(num_sets):
        z = lo + (hi - lo) * rng.random((n, d))
        out[b] = z @ v.T + mean
    return out


def gap_choice(gap, s) -> int:
    """Index of the smallest K with Gap(K) >= Gap(K+1) - s_{K+1} (1-SE rule).

    Args:
      gap: (G,) Gap for consecutive K.
      s: (G,) s_K.

    Returns:
      The index into ``gap`` (the last one if no K satisfies the rule).
    """
    gap = np.asarray(gap, np.float64)
    s = np.asarray(s, np.float64)
    for i in range(gap.size - 1):
        if gap[i] >= gap[i + 1] - s[i + 1]:
            return i
    return gap.size - 1


@dataclasses.dataclass(frozen=True)
class GapResult:
    """The gap statistic for K = ks.

    Attributes:
      ks: (G,) consecutive K.
      log_w: (G,) log W_K of the data.
      log_w_ref: (B, G) log W*_Kb of the reference sets.
      gap: (G,).
      sd: (G,) standard deviation of log W*_Kb over b.
      s: (G,) sd * sqrt(1 + 1/B).
      k: the 1-standard-error choice.
      labels: (N, G) k-means labels of the data (for starting mixtures).
      seed_centres: (n_init, 1 + B, Kmax, D) the k-means++ centres of every
        start on the data (data set 0) and on each reference set, in the
        coordinates of the centred data (add the data mean for the input's).
      start: (1 + B, G) the start whose run was kept (the lowest W_K).
      n_init: k-means++ starts per K and data set.
    """

    ks: np.ndarray
    log_w: np.ndarray
    log_w_ref: np.ndarray
    gap: np.ndarray
    sd: np.ndarray
    s: np.ndarray
    k: int
    labels: np.ndarray | None = dataclasses.field(default=None, repr=False)
    seed_centres: np.ndarray | None = dataclasses.field(default=None, repr=False)
    start: np.ndarray | None = dataclasses.field(default=None, repr=False)
    n_init: int = 1


def _gap_from_within(ks, within_ss, labels, seed_centres=None, start=None, n_init=1) -> GapResult:
    log_w_all = np.log(np.maximum(within_ss, np.finfo(np.float64).tiny))
    log_w, log_w_ref = log_w_all[0], log_w_all[1:]
    num_ref = log_w_ref.shape[0]
    mean_ref = log_w_ref.mean(axis=0)
    gap = mean_ref - log_w
    sd = np.sqrt(np.mean((log_w_ref - mean_ref) ** 2, axis=0))
    s = sd * math.sqrt(1.0 + 1.0 / num_ref)
    ks = np.asarray(ks)
    return GapResult(
        ks=ks,
        log_w=log_w,
        log_w_ref=log_w_ref,
        gap=gap,
        sd=sd,
        s=s,
        k=int(ks[gap_choice(gap, s)]),
        labels=labels,
        seed_centres=seed_centres,
        start=start,
        n_init=int(n_init),
    )


def _check_k_max(k_max, n):
    k_max = int(k_max)
    if k_max < 1:
        raise ValueError(f"k_max must be >= 1, got {k_max}")
    if k_max > n:
        raise ValueError(f"k_max = {k_max} is larger than the number of points ({n})")
    if n < 2:
        raise ValueError("at least 2 points are needed")
    return k_max


def gap_statistic(
    x,
    k_max: int,
    *,
    references: int = 10,
    seed: int = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
    n_init: int = GAP_N_INIT,
) -> GapResult:
    """The gap statistic for K = 1..k_max with k-means (see the module doc).

    Args:
      x: (N, D) data.
      k_max: largest K.
      references: B, the number of reference sets.
      seed: seeds the reference sets and the k-means seeding.
      max_iter, tol: k-means stopping rule (scikit-learn's defaults).
      chunk_size, jit_compile: see :func:`tfelg.analysis.gmm.kmeans_sweep`.
      n_init: k-means++ starts per K and data set (the data and every
        reference set alike); each W_K is the lowest over the starts.
    """
    x = gmm.check_points(x)
    k_max = _check_k_max(k_max, x.shape[0])
    if references < 1:
        raise ValueError(f"references must be >= 1, got {references}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    ks = np.arange(1, k_max + 1)
    # Centred before the float32 copy (W_K does not depend on the origin):
    # a large offset would otherwise eat float32's digits.
    xc = x - x.mean(axis=0)
    data = np.empty((references + 1,) + x.shape, np.float32)
    data[0] = xc
    data[1:] = reference_sets(xc, references, seed=seed + 1)
    sweep = gmm.kmeans_sweep(
        data,
        ks,
        seed=seed,
        max_iter=max_iter,
        tol=tol,
        return_labels=True,
        chunk_size=chunk_size,
        jit_compile=jit_compile,
        n_init=n_init,
    )
    return _gap_from_within(
        ks, sweep.within_ss, sweep.labels, sweep.seed_centres, sweep.start, n_init
    )


# --------------------------------------------------------------------------
# Silhouette


# Below this many points the silhouette's distance pass runs as a plain
# graph: an XLA compile (~0.3 s) would cost more than it saves.
_SILHOUETTE_JIT_MIN_POINTS = 4096


def _distance_sums_block(x_rows, sq_rows, first_row, x, sq, onehot):
    """sum over points j of |x_i - x_j| per cluster column, for a block of rows i.

    Distances are float64 (the expansion |a|^2 + |b|^2 - 2 a.b cancels for
    close points) and exactly 0 on the diagonal; the per-cluster sums are a
    float32 matrix product (the O(N^2 K) part; its ~1e-7 relative rounding
    is far below any difference between two K).
    """
    d2 = sq_rows[:, None] + sq[None, :] - 2.0 * tf.matmul(x_rows, x, transpose_b=True)
    rows = first_row + tf.range(tf.shape(x_rows)[0])
    diagonal = rows[:, None] == tf.range(tf.shape(x)[0])[None, :]
    dist = tf.where(diagonal, tf.zeros_like(d2), tf.sqrt(tf.maximum(d2, 0.0)))
    return tf.matmul(tf.cast(dist, tf.float32), onehot)


_DISTANCE_SUMS = {
    jit: tf.function(_distance_sums_block, jit_compile=jit, autograph=False)
    for jit in (False, True)
}


def silhouette_scores(x, labelings, *, chunk_size: int = 2048) -> np.ndarray:
    """Mean silhouette of several labelings of the same points.

    Exact up to float32 rounding of the per-cluster distance sums (O(N^2 D)
    for the distances, computed once for all labelings, in TensorFlow on
    every core), with scikit-learn's conventions: a point alone in its
    cluster scores 0; a labeling with fewer than 2 or more than N - 1
    distinct labels gets NaN.

    Args:
      x: (N, D) points (use a subsample for large N).
      labelings: sequence of (N,) integer labels.
      chunk_size: rows of the distance matrix at a time.

    Returns:
      (len(labelings),) float64.
    """
    x = gmm.check_points(x)
    n = x.shape[0]
    encoded, offsets, valid = [], [0], []
    for labels in labelings:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
        _, codes = np.unique(labels, return_inverse=True)
        k = int(codes.max()) + 1
        valid.append(2 <= k <= n - 1)
        encoded.append(codes + offsets[-1])
        offsets.append(offsets[-1] + k)
    total = offsets[-1]
    onehot = np.zeros((n, total), np.float32)
    for codes in encoded:
        onehot[np.arange(n), codes] = 1.0
    counts = onehot.sum(axis=0, dtype=np.float64)
    # Centred (distances do not depend on the origin; the expansion then
    # cancels less), and padded to whole blocks so that every block has the
    # same shape (one trace).
    chunk = int(min(chunk_size, n))
    npad = -(-n // chunk) * chunk
    xc = np.zeros((npad, x.shape[1]))
    xc[:n] = x - x.mean(axis=0)
    xt = tf.constant(xc)
    sq = tf.reduce_sum(xt * xt, axis=1)
    points, sq_points, onehot_t = xt[:n], sq[:n], tf.constant(onehot)
    block_sums = _DISTANCE_SUMS[n >= _SILHOUETTE_JIT_MIN_POINTS]
    sums = np.concatenate(
        [
            block_sums(
                xt[start : start + chunk],
                sq[start : start + chunk],
                tf.constant(start),
                points,
                sq_points,
                onehot_t,
            ).numpy()
            for start in range(0, n, chunk)
        ]
    )[:n].astype(np.float64)
    out = np.full(len(encoded), np.nan)
    rows = np.arange(n)
    for i, codes in enumerate(encoded):
        if not valid[i]:
            continue
        lo, hi = offsets[i], offsets[i + 1]
        own = counts[codes]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = sums[rows, codes] / (own - 1.0)
            mean_other = sums[:, lo:hi] / counts[lo:hi]
        mean_other[rows, codes - lo] = np.inf
        b = mean_other.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sil = (b - a) / np.maximum(a, b)
        sil[own == 1] = 0.0
        out[i] = float(np.mean(np.nan_to_num(sil)))
    return out


# --------------------------------------------------------------------------
# All criteria


@dataclasses.dataclass(frozen=True)
class SelectionResult:
    """Every criterion's curve over K = 1..k_max and its choice.

    Attributes:
      ks: (G,) K = 1..k_max.
      covariance_type: of the mixtures.
      n_samples, n_features: of the data.
      log_likelihood, bic, aic: (G,) of the fitted mixtures.
      n_parameters: (G,).
      gap: the :class:`GapResult` (k-means based, see the module doc).
      silhouette: (G,) mean silhouette of the GMM hard labels on the
        subsample (NaN for K = 1).
      silhouette_sample: number of points the silhouette used.
      chosen_k: {"bic", "aic", "gap", "silhouette"} -> chosen K (silhouette
        None when k_max = 1).
      mixtures: the fitted :class:`tfelg.analysis.gmm.GMMResult` per K.
      seconds: wall time of each step ("gap", "mixtures", "silhouette");
        not part of :meth:`to_dict`, which stays deterministic.
    """

    ks: np.ndarray
    covariance_type: str
    n_samples: int
    n_features: int
    log_likelihood: np.ndarray
    bic: np.ndarray
    aic: np.ndarray
    n_parameters: np.ndarray
    gap: GapResult
    silhouette: np.ndarray
    silhouette_sample: int
    chosen_k: dict
    mixtures: list = dataclasses.field(repr=False)
    seconds: dict = dataclasses.field(default_factory=dict, repr=False)

    def mixture(self, k: int) -> gmm.GMMResult:
        """The fitted mixture with K components."""
        return self.mixtures[int(np.flatnonzero(self.ks == k)[0])]

    def to_dict(self) -> dict:
        """JSON-ready curves and choices (no fitted parameters)."""

        def floats(a):
            return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, float)]

        return {
            "ks": [int(k) for k in self.ks],
            "covariance_type": self.covariance_type,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "log_likelihood": floats(self.log_likelihood),
            "bic": floats(self.bic),
            "aic": floats(self.aic),
            "n_parameters": [int(p) for p in self.n_parameters],
            "gap": floats(self.gap.gap),
            "gap_s": floats(self.gap.s),
            "gap_log_w": floats(self.gap.log_w),
            "gap_log_w_ref_mean": floats(self.gap.log_w_ref.mean(axis=0)),
            "gap_references": int(self.gap.log_w_ref.shape[0]),
            "gap_n_init": self.gap.n_init,
            "gap_clustering": "kmeans",
            "silhouette": floats(self.silhouette),
            "silhouette_sample": self.silhouette_sample,
            "n_iter": [m.n_iter for m in self.mixtures],
            "converged": [m.converged for m in self.mixtures],
            "chosen_k": {k: (None if v is None else int(v)) for k, v in self.chosen_k.items()},
        }


def select_k(
    x,
    k_max: int,
    *,
    covariance_type: str = "full",
    gap_references: int = 10,
    gap_n_init: int = GAP_N_INIT,
    seed: int = 0,
    silhouette_sample: int = 10_000,
    max_iter: int = 100,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    n_init: int = 1,
    precision: str = "auto",
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
) -> SelectionResult:
    """Fit mixtures for K = 1..k_max and report BIC, AIC, gap and silhouette.

    One k-means sweep over the data and the ``gap_references`` reference
    sets gives the gap statistic and (with ``n_init = 1``) the starting
    labels of the mixtures, as scikit-learn starts them; all mixtures are
    then fitted together by :func:`tfelg.analysis.gmm.fit_gmm_sweep`.

    Args:
      x: (N, D) data (e.g. latent means), finite.
      k_max: largest K (<= N).
      covariance_type: "full" or "diag".
      gap_references: B.
      gap_n_init: k-means++ starts per K and data set of the gap statistic
        (see :func:`gap_statistic`); the kept k-means labels of the data
        start the mixtures when ``n_init = 1``.
      seed: seeds everything (reference sets, k-means, subsample).
      silhouette_sample: points used for the silhouette (all if N is
        smaller).
      max_iter, tol, reg_covar, n_init, precision, chunk_size, jit_compile:
        see :func:`tfelg.analysis.gmm.fit_gmm_sweep`.

    Returns:
      A :class:`SelectionResult`.

    Raises:
      ValueError: non-finite rows (with their count), k_max > N, bad args.
    """
    x = gmm.check_points(x)
    n, d = x.shape
    k_max = _check_k_max(k_max, n)
    if silhouette_sample < 2:
        raise ValueError(f"silhouette_sample must be >= 2, got {silhouette_sample}")
    ks = np.arange(1, k_max + 1)
    seconds = {}
    start = time.perf_counter()
    gap = gap_statistic(
        x,
        k_max,
        references=gap_references,
        seed=seed,
        chunk_size=chunk_size,
        jit_compile=jit_compile,
        n_init=gap_n_init,
    )
    seconds["gap"] = time.perf_counter() - start
    start = time.perf_counter()
    common = dict(
        covariance_type=covariance_type,
        max_iter=max_iter,
        tol=tol,
        reg_covar=reg_covar,
        precision=precision,
        chunk_size=chunk_size,
        jit_compile=jit_compile,
    )
    if n_init == 1:
        inits = gmm.inits_from_label_matrix(
            x,
            gap.labels,
            ks,
            covariance_type=covariance_type,
            reg_covar=reg_covar,
            chunk_size=chunk_size,
            jit_compile=jit_compile,
        )
        mixtures = gmm.fit_gmm_sweep(x, ks, init=inits, **common)
    else:
        mixtures = gmm.fit_gmm_sweep(x, ks, init="kmeans", seed=seed, n_init=n_init, **common)

    seconds["mixtures"] = time.perf_counter() - start
    start = time.perf_counter()
    rng = np.random.default_rng(seed + 2)
    m = min(n, int(silhouette_sample))
    sample = np.sort(rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
    xs = x[sample]
    silhouette = np.full(len(ks), np.nan)
    if k_max >= 2:
        silhouette[1:] = silhouette_scores(xs, [gmm.predict(r, xs) for r in mixtures[1:]])

    seconds["silhouette"] = time.perf_counter() - start
    bic = np.array([r.bic for r in mixtures])
    aic = np.array([r.aic for r in mixtures])
    chosen_k = {
        "bic": int(ks[np.argmin(bic)]),
        "aic": int(ks[np.argmin(aic)]),
        "gap": gap.k,
        "silhouette": None,
    }
    if k_max >= 2 and np.isfinite(silhouette[1:]).any():
        chosen_k["silhouette"] = int(ks[1:][np.nanargmax(silhouette[1:])])
    return SelectionResult(
        ks=ks,
        covariance_type=covariance_type,
        n_samples=n,
        n_features=d,
        log_likelihood=np.array([r.log_likelihood for r in mixtures]),
        bic=bic,
        aic=aic,
        n_parameters=np.array([r.n_parameters for r in mixtures]),
        gap=gap,
        silhouette=silhouette,
        silhouette_sample=m,
        chosen_k=chosen_k,
        mixtures=mixtures,
        seconds=seconds,
    )
