"""Distances between two samples of feature vectors: FID, KID, precision and recall.

Why these three: they answer different questions about a generated sample.

* :func:`frechet_distance` (FID, Heusel et al. 2017) compares the first two
  moments of the feature distributions. It is biased upwards at small n
  (the sample covariance is noisy) and needs more samples than features;
  compare FIDs only at equal n and with the same feature extractor.
* :func:`kernel_distance` (KID, Binkowski et al. 2018) is the unbiased
  estimate of the squared maximum mean discrepancy with the cubic polynomial
  kernel ``k(x, y) = (x.y / d + 1)^3``. Unbiased means its mean over samples
  of one distribution is 0, so a single value can be negative; it works at
  small n and comes with an error bar.
* :func:`precision_recall` (Kynkaanniemi et al. 2019) separates fidelity
  from coverage: precision is the fraction of generated samples inside the
  real manifold (union of k-NN balls around real samples), recall the
  fraction of real samples inside the generated manifold. A GAN that makes
  only a few good galaxies has high precision and low recall; FID alone
  mixes the two.

Everything is computed in float64 with NumPy/SciPy: the features are small
(10^2-10^4 samples of at most a few thousand dimensions) and the values go
into tables, where float32 round-off in a covariance square root would show.
"""

from __future__ import annotations

import dataclasses

import numpy as np


def check_features(features, name: str, *, min_samples: int = 2) -> np.ndarray:
    """``features`` as a finite (N, d) float64 array, or a ValueError naming ``name``."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D (samples, features) array, got {array.shape}")
    if array.shape[1] < 1:
        raise ValueError(f"{name}: has no feature columns (shape {array.shape})")
    if array.shape[0] < min_samples:
        raise ValueError(f"{name}: {array.shape[0]} samples, at least {min_samples} needed")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: {int(bad.any(axis=1).sum())} samples have NaN/inf features "
            f"(first: row {row}, column {col})"
        )
    return array


def _check_pair(a, b, names, min_samples):
    a = check_features(a, names[0], min_samples=min_samples)
    b = check_features(b, names[1], min_samples=min_samples)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{names[0]} has {a.shape[1]} features, {names[1]} has {b.shape[1]}: "
            "both must come from the same feature extractor"
        )
    return a, b


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_from_moments(mu_a, cov_a, mu_b, cov_b) -> float:
    """``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` for two Gaussians.

    ``Tr (S_a S_b)^(1/2)`` is computed as the sum of the square roots of the
    eigenvalues of the symmetric matrix ``S_a^(1/2) S_b S_a^(1/2)`` (same
    eigenvalues as ``S_a S_b``). Unlike ``scipy.linalg.sqrtm`` of the
    non-symmetric product, this never returns complex parts or NaNs for
    singular or nearly singular covariances; tiny negative eigenvalues from
    round-off are clipped to 0.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    root_a = _psd_sqrt((cov_a + cov_a.T) / 2.0)
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_root = float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)
    return max(value, 0.0)  # round-off can make identical samples -1e-12


def frechet_distance(features_a, features_b) -> float:
    """Frechet distance (FID) between Gaussians fitted to two feature samples.

    Args:
      features_a, features_b: (N_a, d) and (N_b, d) arrays from one extractor.

    Raises:
      ValueError: not 2-D, NaN/inf, different d, or fewer samples than
        d + 1 in either set: the sample covariance is then singular and the
        FID says more about n than about the images (reduce d, e.g. by PCA,
        or use :func:`kernel_distance`).
    """
    a, b = _check_pair(features_a, features_b, ("features_a", "features_b"), 2)
    d = a.shape[1]
    for name, x in (("features_a", a), ("features_b", b)):
        if x.shape[0] <= d:
            raise ValueError(
                f"{name}: {x.shape[0]} samples for {d} features; FID needs more samples "
                f"than features (at least {d + 1}); use fewer features or kernel_distance"
            )
    return frechet_from_moments(
        a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False)
    )


@dataclasses.dataclass(frozen=True)
class KernelDistance:
    """KID: the mean of the unbiased MMD^2 over subsets, and its spread.

    ``stderr`` is ``std / sqrt(subsets)``, the standard error of the mean if
    the subsets were independent. They are drawn from the same samples, so
    when ``subset_size`` is a large fraction of N it understates the
    sampling error of KID itself; ``std`` is the scatter of one subset's
    value (what Binkowski et al. report).
    """

    mean: float
    stderr: float
    std: float
    values: np.ndarray
    subset_size: int


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The KID kernel ``(x.y / d + 1)^3``."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) with :func:`polynomial_kernel`.

    The diagonals of k(x, x) and k(y, y) are left out, which is what makes
    the estimate unbiased and lets it go below zero.
    """
    m, n = len(x), len(y)
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    term_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_x + term_y - 2.0 * k_xy.mean())


def kernel_distance(
    features_a,
    features_b,
    *,
    subsets: int = 100,
    subset_size: int | None = 1000,
    seed: int = 0,
) -> KernelDistance:
    """Kernel inception distance on tfelg features: unbiased MMD^2 over random subsets.

    Args:
      features_a, features_b: (N_a, d) and (N_b, d) arrays from one extractor.
      subsets: number of random subset pairs (>= 1).
      subset_size: samples per subset, drawn without replacement from each
        set; None or larger than the smaller set: the smaller set's size.
      seed: seed of the subset draws.

    The kernel is not scale-free: it assumes features of order 1, as
    Inception's pooled features are. Features of order 100 give values of
    order 10^6 dominated by a few samples; scale such features first.
    """
    a, b = _check_pair(features_a, features_b, ("features_a", "features_b"), 2)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    size = min(len(a), len(b)) if subset_size is None else min(int(subset_size), len(a), len(b))
    if size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    rng = np.random.default_rng(seed)
    values = np.empty(subsets, np.float64)
    for i in range(subsets):
        ia = rng.choice(len(a), size, replace=False)
        ib = rng.choice(len(b), size, replace=False)
        values[i] = mmd2_unbiased(a[ia], b[ib])
    std = float(values.std(ddof=1)) if subsets > 1 else 0.0
    return KernelDistance(
        mean=float(values.mean()),
        stderr=std / np.sqrt(subsets),
        std=std,
        values=values,
        subset_size=size,
    )


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.clip(d2, 0.0, None)


def _kth_neighbour_radius2(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row of x to its k-th nearest other row."""
    d2 = _squared_distances(x, x)
    np.fill_diagonal(d2, np.inf)
    return np.partition(d2, k - 1, axis=1)[:, k - 1]


def _inside_manifold(manifold: np.ndarray, radius2: np.ndarray, probes: np.ndarray, chunk=2048):
    """For each probe: inside any ball (centre a manifold row, squared radius radius2)?"""
    inside = np.empty(len(probes), bool)
    for start in range(0, len(probes), chunk):
        d2 = _squared_distances(probes[start : start + chunk], manifold)
        inside[start : start + chunk] = (d2 <= radius2[None, :]).any(axis=1)
    return inside


def precision_recall(real, fake, *, k: int = 3) -> PrecisionRecall:
    """Improved precision and recall of Kynkaanniemi et al. (2019).

    Each sample's ball reaches its k-th nearest neighbour in its own set
    (the sample itself excluded); the union of the balls estimates that
    set's manifold. Precision: the fraction of ``fake`` samples inside the
    real manifold. Recall: the fraction of ``real`` samples inside the fake
    manifold. The paper uses k = 3 and equal sample sizes; unequal sizes
    shift the values, so compare at equal n.

    Args:
      real, fake: (N_r, d) and (N_f, d) features from one extractor.
      k: neighbour rank (1 <= k < min(N_r, N_f)).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    r, f = _check_pair(real, fake, ("real", "fake"), k + 1)
    precision = _inside_manifold(r, _kth_neighbour_radius2(r, k), f).mean()
    recall = _inside_manifold(f, _kth_neighbour_radius2(f, k), r).mean()
    return PrecisionRecall(precision=float(precision), recall=float(recall), k=int(k))
