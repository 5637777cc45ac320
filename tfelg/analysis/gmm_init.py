"""Starting points of the mixtures: from hard labels, as scikit-learn starts.

scikit-learn's ``GaussianMixture`` starts from k-means labels turned into a
first M-step (one-hot responsibilities). :func:`init_from_labels` does the
same from any labels, in NumPy; :func:`inits_from_label_matrix` does it for
every K of a sweep in one TensorFlow pass (the k-means labels of
:func:`tfelg.analysis.kmeans.kmeans_sweep`, one column per K), which is
what ``init="kmeans"`` in :func:`tfelg.analysis.em.fit_gmm_sweep` uses.
Give scikit-learn the same start with :meth:`GMMInit.to_sklearn`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfelg.analysis import compiled, em_statistics
from tfelg.analysis.kmeans import kmeans_sweep
from tfelg.analysis.mixture import GMMInit, check_covariance_type, check_ks, check_points


def _init_from_stats(stats, n, d, covariance_type, reg_covar):
    """scikit-learn's ``_initialize`` from one-hot responsibilities."""
    nk, means, cov = em_statistics.parameters_from_stats(stats, d, covariance_type, reg_covar)
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
    check_covariance_type(covariance_type)
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
    nk = resp.sum(0) + 10.0 * em_statistics.EPS64
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


def kmeans_inits(x64, ks, *, seed, covariance_type, reg_covar, chunk, jit_compile):
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
    check_covariance_type(covariance_type)
    x64 = check_points(x)
    centre = x64.mean(axis=0)
    x64 = x64 - centre
    n, d = x64.shape
    ks = check_ks(ks, n)
    labels = np.asarray(labels)
    if labels.shape != (n, len(ks)):
        raise ValueError(f"labels must have shape ({n}, {len(ks)}), got {labels.shape}")
    if (labels < 0).any() or (labels >= np.asarray(ks)[None, :]).any():
        raise ValueError("labels of column g must lie in [0, ks[g])")
    chunk = compiled.chunk_rows(n, chunk_size)
    jit_compile = compiled.use_jit(jit_compile, n)
    n, d = x64.shape
    layout = compiled.Layout.of(ks)
    npad = -(-n // chunk) * chunk
    labels = np.pad(labels.astype(np.int32), [(0, npad - n), (0, 0)])
    stats = compiled.function(em_statistics.label_moments_pass, jit_compile)(
        compiled.pad_rows(x64, chunk, np.float64),
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
