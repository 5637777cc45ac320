"""Does a representation encode redshift instead of the physics?

Equivalent widths are rest-frame quantities, so a latent space of them
should not know the redshift; but the signal-to-noise of a line falls with
distance, which lines are measurable changes with it, and a spectrum's
observed range moves across the rest frame. A model may then spend latent
dimensions on distance. Two measures say how much of each latent dimension
is redshift:

* the **mutual information** I(z_i; redshift) of each dimension (scikit-
  learn's k-nearest-neighbour estimator, ``mutual_info_regression``, in
  nats; 0 for independent variables, no upper bound);
* the **R^2** on the test split of a regression of redshift on the latent
  coordinates fitted on the training split: linear, per dimension and on
  all dimensions together, and gradient-boosted trees
  (``HistGradientBoostingRegressor``) on all of them. R^2 near 1: the
  latent space determines the redshift; near 0 (or below): it does not.

Those say whether redshift can be *read off* the latent space. Whether a
representation *mostly is* redshift is the converse question: the share of
the latent space's variance that redshift explains
(:func:`latent_variance_share`), which :func:`redshift_verdict` turns into
the words of the results table.

And one measure of what redshift does to the classes: the agreement of
the clusters with a scheme in redshift bins (:func:`agreement_in_bins`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfelg.analysis import matching


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def _check(latent, z, name: str):
    latent = np.asarray(latent, np.float64)
    z = np.asarray(z, np.float64)
    if latent.ndim != 2 or z.ndim != 1 or latent.shape[0] != z.shape[0]:
        raise ValueError(
            f"{name}: latent must be (N, d) and redshift (N,), got {latent.shape} and {z.shape}"
        )
    if latent.shape[0] < 10:
        raise ValueError(f"{name}: need at least 10 galaxies, got {latent.shape[0]}")
    bad = ~(np.all(np.isfinite(latent), axis=1) & np.isfinite(z))
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} rows with a non-finite latent or redshift "
            f"(first: row {int(np.flatnonzero(bad)[0])})"
        )
    return latent, z


def redshift_dependence(
    latent_train,
    z_train,
    latent_test,
    z_test,
    *,
    seed: int = 0,
    mi_max_points: int = 5000,
    gbm: bool = True,
) -> dict:
    """How much of the redshift each latent dimension, and all together, carry.

    Args:
      latent_train, z_train: (N, d) coordinates and (N,) redshifts the
        regressions are fitted on (the training split).
      latent_test, z_test: where R^2 and the mutual information are measured.
      seed: seeds the subsample, the MI estimator's jitter and the trees.
      mi_max_points: test galaxies used for the mutual information (a seeded
        subsample above; the k-NN estimator is O(N log N) per dimension).
      gbm: also fit the gradient-boosted regressor.

    Returns:
      dict: ``mutual_information`` (d,) in nats, ``r2_linear_per_dim`` (d,),
      ``r2_linear`` and ``r2_gbm`` (all dimensions; None without ``gbm``),
      ``n_train``, ``n_test``.
    """
    from sklearn.feature_selection import mutual_info_regression
    from sklearn.linear_model import LinearRegression

    x_train, y_train = _check(latent_train, z_train, "train")
    x_test, y_test = _check(latent_test, z_test, "test")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"train has d = {x_train.shape[1]}, test d = {x_test.shape[1]}")
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y_test))
    if rows.size > mi_max_points:
        rows = np.sort(rng.choice(rows, mi_max_points, replace=False))
    mi = mutual_info_regression(x_test[rows], y_test[rows], random_state=seed)
    per_dim = []
    for i in range(x_train.shape[1]):
        fit = LinearRegression().fit(x_train[:, [i]], y_train)
        per_dim.append(_r2(y_test, fit.predict(x_test[:, [i]])))
    linear = LinearRegression().fit(x_train, y_train)
    result = {
        "mutual_information": [float(v) for v in mi],
        "r2_linear_per_dim": per_dim,
        "r2_linear": _r2(y_test, linear.predict(x_test)),
        "r2_gbm": None,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
    }
    if gbm:
        from sklearn.ensemble import HistGradientBoostingRegressor

        trees = HistGradientBoostingRegressor(max_iter=200, random_state=seed)
        trees.fit(x_train, y_train)
        result["r2_gbm"] = _r2(y_test, trees.predict(x_test))
    return result


#: Share of the latent variance explained by redshift from which a
#: representation is said to encode mostly redshift (more than all else
#: together), and from which it partly does.
MOSTLY_REDSHIFT = 0.5
PARTLY_REDSHIFT = 0.2


def latent_variance_share(latent_train, z_train, latent_test, z_test, *, n_bins: int = 20) -> float:
    """Fraction of the latent space's variance that redshift explains (test split).

    Each latent coordinate is predicted by its mean in ``n_bins`` equal-count
    redshift bins of the training split (a step function of redshift: any
    monotonic or not dependence, no fitted form); the share is
    ``1 - sum of residual variances / sum of variances`` over the
    coordinates, on the test split. Coordinates count with their own
    variance, as the mixture fitted on them sees them. 1: the latent space
    is a function of redshift; 0: redshift says nothing about where a galaxy
    lies. Negative values (a test split's noise) are returned as they are.
    """
    x_train, y_train = _check(latent_train, z_train, "train")
    x_test, y_test = _check(latent_test, z_test, "test")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"train has d = {x_train.shape[1]}, test d = {x_test.shape[1]}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    edges = np.unique(np.quantile(y_train, np.linspace(0.0, 1.0, n_bins + 1)))
    inner = edges[1:-1]
    train_bin = np.searchsorted(inner, y_train, side="right")
    test_bin = np.searchsorted(inner, y_test, side="right")
    n_used = len(inner) + 1
    counts = np.bincount(train_bin, minlength=n_used)
    means = (
        np.stack(
            [
                np.bincount(train_bin, weights=x_train[:, j], minlength=n_used)
                for j in range(x_train.shape[1])
            ],
            axis=1,
        )
        / np.maximum(counts, 1)[:, None]
    )
    residual = np.sum((x_test - means[test_bin]) ** 2)
    total = np.sum((x_test - x_test.mean(axis=0)) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def redshift_verdict(share) -> str:
    """Words for :func:`latent_variance_share`: mostly / partly / not redshift."""
    if share is None or not np.isfinite(share):
        return "–"
    if share >= MOSTLY_REDSHIFT:
        return "mostly redshift"
    if share >= PARTLY_REDSHIFT:
        return "partly redshift"
    return "no"


def redshift_bins(z, n_bins: int = 3) -> np.ndarray:
    """Edges of ``n_bins`` bins holding equal numbers of galaxies (quantiles of ``z``)."""
    z = np.asarray(z, np.float64)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    edges = np.quantile(z[np.isfinite(z)], np.linspace(0.0, 1.0, n_bins + 1))
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"redshifts too few or too concentrated for {n_bins} quantile bins")
    return edges


def agreement_in_bins(
    clusters,
    classes,
    class_names: Sequence[str],
    z,
    edges,
    *,
    ignore: Sequence[str] = matching.DEFAULT_IGNORE,
    n_clusters: int | None = None,
) -> list[dict]:
    """Matching metrics of fixed clusters against a scheme, per redshift bin.

    Each bin is matched on its own (the Hungarian matching is redone), so a
    cluster may take another class at high redshift than at low: the figure
    says how well the partition separates the classes at that redshift.
    Bins are [edge_i, edge_i+1), the last one closed.

    Returns:
      One dict per bin: ``z_low``, ``z_high``, ``n`` (galaxies matched; 0
      and no metrics when the bin has none with a class), and the metrics
      of :func:`tfelg.analysis.matching.table_metrics`.
    """
    clusters = np.asarray(clusters)
    classes = np.asarray(classes)
    z = np.asarray(z, np.float64)
    if not (clusters.shape == classes.shape == z.shape):
        raise ValueError(
            f"clusters {clusters.shape}, classes {classes.shape} and z {z.shape} must match"
        )
    edges = np.asarray(edges, np.float64)
    k = int(clusters.max()) + 1 if n_clusters is None else int(n_clusters)
    out = []
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        rows = (z >= low) & ((z <= high) if last else (z < high))
        row = {"z_low": float(low), "z_high": float(high), "n": 0}
        if rows.any():
            try:
                result = matching.match_clusters(
                    clusters[rows], classes[rows], class_names, ignore=ignore, n_clusters=k
                )
            except ValueError:  # every galaxy of the bin ignored
                result = None
            if result is not None:
                row.update(result.metrics)
                row["n"] = result.n_used
        out.append(row)
    return out
