"""Clusters against classes: Hungarian matching, agreement metrics, bootstrap errors.

The reference work reported an "agreement" between its clusters and the
WHAN/BPT classes without defining it and without matching cluster labels to
classes. Here a cluster is matched to a class by the Hungarian method on the
contingency table (scipy's ``linear_sum_assignment``, maximising the number
of galaxies on matched pairs), and every figure is defined:

* accuracy (one-to-one): galaxies in matched (cluster, class) pairs over
  all galaxies. With K clusters and C classes only min(K, C) pairs exist:
  when K > C the extra clusters' galaxies count as errors, when K < C the
  unmatched classes' galaxies do.
* accuracy (many-to-one): empty clusters are dropped (a cluster without
  galaxies takes no class); the other clusters are matched one-to-one as
  above, and every cluster left unmatched (more clusters than classes) is
  given its majority class. When several one-to-one matchings hold the
  most galaxies (tied optima), the one whose many-to-one total is largest
  is taken: the figure is then the maximum, over the optimal one-to-one
  matchings M of the non-empty clusters, of (galaxies on M's pairs + the
  majority counts of the clusters outside M), over all galaxies. It is a
  function of the contingency table alone, unchanged by any renumbering of
  the clusters or classes (without the tie rule, [[3, 1], [2, 0], [1, 0]]
  scored 4/7 or 5/7 by cluster order alone; with empty clusters kept, an
  empty cluster could take a class and leave a non-empty one to its
  majority). It equals the one-to-one accuracy when the non-empty clusters
  are no more than the classes, and grows with K (K = N gives 1), so it is
  reported beside the strict figure, never instead of it.
* ARI, NMI (arithmetic normalisation), homogeneity, completeness and
  V-measure: scikit-learn's definitions, computed here from the contingency
  table (tests check them against ``sklearn.metrics``).
* per class (with the many-to-one mapping): purity = the fraction of the
  galaxies put in that class that belong to it; completeness = the fraction
  of the class's galaxies put in it. Per cluster: purity = the fraction of
  its galaxies in its largest class.

Galaxies whose class is not a class (``low_sn``, ``unclassified``) are left
out and counted. Bootstrap errors resample galaxies with replacement for
fixed cluster assignments (the mixture is not refitted), which is a
multinomial draw of the contingency table: exact, and O(K C) per resample
at any N.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from tfelg.errors import InputError

DEFAULT_IGNORE = ("low_sn", "unclassified")
SCALAR_METRICS = (
    "accuracy",
    "accuracy_many_to_one",
    "ari",
    "nmi",
    "homogeneity",
    "completeness",
    "v_measure",
)


# --------------------------------------------------------------------------
# Metrics of a contingency table (rows clusters, columns classes)


def _entropy(counts) -> float:
    counts = np.asarray(counts, np.float64)
    counts = counts[counts > 0]
    if counts.size <= 1:
        return 0.0
    n = counts.sum()
    p = counts / n
    return float(-np.sum(p * np.log(p)))


def _mutual_information(table) -> float:
    table = np.asarray(table, np.float64)
    n = table.sum()
    rows = table.sum(axis=1)
    cols = table.sum(axis=0)
    if np.count_nonzero(rows) <= 1 or np.count_nonzero(cols) <= 1:
        # One cluster or one class: MI <= min(H) = 0 exactly (the sum
        # below would leave a rounding residue of ~1e-15).
        return 0.0
    i, j = np.nonzero(table)
    nij = table[i, j]
    mi = np.sum(nij / n * (np.log(nij) + math.log(n) - np.log(rows[i]) - np.log(cols[j])))
    return max(float(mi), 0.0)


def _adjusted_rand(table) -> float:
    """scikit-learn's adjusted_rand_score from the pair confusion matrix."""
    table = np.asarray(table, np.int64)
    n = int(table.sum())
    sum_squares = int(np.sum(table.astype(object) ** 2))
    rows = table.sum(axis=1).astype(object)
    cols = table.sum(axis=0).astype(object)
    # Rows of ``table`` are the predicted clusters, columns the true classes.
    fp = int(np.sum(rows**2)) - sum_squares  # same cluster, different class
    fn = int(np.sum(cols**2)) - sum_squares  # same class, different cluster
    tp = sum_squares - n
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def _hungarian(table):
    """One-to-one assignment and the many-to-one mapping (K,) (-1: none).

    ``table`` holds at least one galaxy (:func:`table_metrics` checks).
    Empty clusters take part in neither. Ties between one-to-one optima are
    broken towards the largest many-to-one total (see the module doc): with
    integer counts, a pair's weight table[r, c] * (N + 1) + (table[r, c] -
    max_c' table[r, c']) orders matchings first by galaxies on matched pairs
    and then by the many-to-one total (which is sum_r max + sum over matched
    pairs of (table[r, c] - max), and whose part from the pairs lies in
    [-N, 0]). The weights stay exact in float64 while N (N + 1) < 2^53.
    """
    table = np.asarray(table)
    k = table.shape[0]
    one_to_one = np.full(k, -1, np.int64)
    many = one_to_one.copy()
    occupied = np.flatnonzero(table.sum(axis=1) > 0)
    sub = table[occupied].astype(np.float64)
    n = float(sub.sum())
    weight = sub * (n + 1.0) + (sub - sub.max(axis=1, keepdims=True))
    rows, cols = linear_sum_assignment(weight, maximize=True)
    one_to_one[occupied[rows]] = cols
    many[:] = one_to_one
    for r in occupied:
        if many[r] < 0:
            many[r] = int(np.argmax(table[r]))
    return one_to_one, many


def table_metrics(table) -> dict:
    """Every scalar metric of a (clusters x classes) contingency table."""
    table = np.asarray(table)
    n = table.sum()
    if n <= 0:
        raise ValueError("the contingency table is empty")
    one_to_one, many = _hungarian(table)
    k = np.arange(table.shape[0])
    hit = one_to_one >= 0
    accuracy = table[k[hit], one_to_one[hit]].sum() / n
    hit = many >= 0
    accuracy_many = table[k[hit], many[hit]].sum() / n
    h_classes = _entropy(table.sum(axis=0))
    h_clusters = _entropy(table.sum(axis=1))
    mi = _mutual_information(table)
    n_classes = int(np.count_nonzero(table.sum(axis=0)))
    n_clusters = int(np.count_nonzero(table.sum(axis=1)))
    if n_classes == n_clusters == 1:
        nmi = 1.0
    else:  # one of the entropies is > 0; MI = 0 gives exactly 0
        nmi = mi / (0.5 * (h_classes + h_clusters))
    homogeneity = mi / h_classes if h_classes else 1.0
    completeness = mi / h_clusters if h_clusters else 1.0
    total = homogeneity + completeness
    v_measure = 2.0 * homogeneity * completeness / total if total else 0.0
    return {
        "accuracy": float(accuracy),
        "accuracy_many_to_one": float(accuracy_many),
        "ari": float(_adjusted_rand(table)),
        "nmi": float(nmi),
        "homogeneity": float(homogeneity),
        "completeness": float(completeness),
        "v_measure": float(v_measure),
    }


# --------------------------------------------------------------------------
# Inputs


def _prepare(clusters, classes, class_names, ignore, n_clusters):
    """Contingency table of the kept rows, with names and ignored counts."""
    clusters = np.asarray(clusters)
    classes = np.asarray(classes)
    if clusters.ndim != 1 or classes.shape != clusters.shape:
        raise ValueError(
            f"clusters and classes must be 1-D of the same length, got shapes "
            f"{clusters.shape} and {classes.shape}"
        )
    if clusters.size == 0:
        raise ValueError("no galaxies given")
    if not np.issubdtype(clusters.dtype, np.integer):
        if np.issubdtype(clusters.dtype, np.floating) and np.all(clusters == np.round(clusters)):
            clusters = clusters.astype(np.int64)
        else:
            raise ValueError(f"clusters must be integer labels, got dtype {clusters.dtype}")
    if clusters.min() < 0:
        row = int(np.flatnonzero(clusters < 0)[0])
        raise InputError(f"cluster labels must be >= 0, got {clusters[row]}", row=row)
    if class_names is None:
        names, codes = np.unique(classes, return_inverse=True)
        names = [str(v) for v in names]
    else:
        names = [str(v) for v in class_names]
        if not np.issubdtype(classes.dtype, np.integer):
            raise ValueError(
                f"with class_names, classes must be integer codes, got dtype {classes.dtype}"
            )
        bad = (classes < 0) | (classes >= len(names))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"class code {classes[row]} is outside class_names (0..{len(names) - 1})",
                row=row,
            )
        codes = classes.astype(np.int64)
    ignore = set(ignore or ())
    ignored_code = np.array([name in ignore for name in names], bool)
    dropped = ignored_code[codes]
    ignored_counts = {
        names[c]: int(np.sum(codes == c))
        for c in np.flatnonzero(ignored_code)
        if np.any(codes == c)
    }
    if dropped.all():
        raise InputError(
            f"every one of the {codes.size} galaxies has an ignored class "
            f"({', '.join(f'{k}: {v}' for k, v in ignored_counts.items())}); nothing to match"
        )
    kept_codes = codes[~dropped]
    kept_clusters = clusters[~dropped].astype(np.int64)
    present = np.unique(kept_codes)  # sorted: a code's column is its rank among them
    k = int(clusters.max()) + 1 if n_clusters is None else int(n_clusters)
    if kept_clusters.max() >= k:
        raise ValueError(f"cluster label {kept_clusters.max()} >= n_clusters = {k}")
    table = np.zeros((k, present.size), np.int64)
    np.add.at(table, (kept_clusters, np.searchsorted(present, kept_codes)), 1)
    absent = [names[c] for c in range(len(names)) if not ignored_code[c] and c not in present]
    return table, [names[c] for c in present], ignored_counts, absent


# --------------------------------------------------------------------------
# Results


@dataclasses.dataclass(frozen=True)
class MatchResult:
    """Clusters matched to classes (see the module doc for every definition).

    Attributes:
      contingency: (K, C) counts, rows clusters, columns classes.
      cluster_names: K row labels ("cluster 0", ...).
      class_names: C column labels (classes present after ignoring).
      one_to_one: (K,) Hungarian class index of each cluster, -1 if none
        (always -1 for an empty cluster).
      many_to_one: (K,) class index of each cluster with the extra clusters
        given their majority class (-1 only for empty clusters).
      metrics: accuracy, accuracy_many_to_one, ari, nmi, homogeneity,
        completeness, v_measure.
      class_purity, class_completeness: (C,) with the many-to-one mapping
        (purity NaN for a class no cluster maps to).
      cluster_purity: (K,) share of each cluster in its largest class (NaN if
        empty).
      n_used: galaxies matched.
      ignored_counts: {ignored class: galaxies left out}.
      absent_classes: classes (not ignored) with no galaxy.
    """

    contingency: np.ndarray
    cluster_names: tuple
    class_names: tuple
    one_to_one: np.ndarray
    many_to_one: np.ndarray
    metrics: dict
    class_purity: np.ndarray
    class_completeness: np.ndarray
    cluster_purity: np.ndarray
    n_used: int
    ignored_counts: dict
    absent_classes: tuple

    @property
    def accuracy(self) -> float:
        """One-to-one matched accuracy."""
        return self.metrics["accuracy"]

    @property
    def accuracy_many_to_one(self) -> float:
        return self.metrics["accuracy_many_to_one"]

    @property
    def ari(self) -> float:
        return self.metrics["ari"]

    @property
    def nmi(self) -> float:
        return self.metrics["nmi"]

    @property
    def v_measure(self) -> float:
        return self.metrics["v_measure"]

    @property
    def n_ignored(self) -> int:
        return int(sum(self.ignored_counts.values()))

    def _name_map(self, mapping):
        return {
            self.cluster_names[k]: (self.class_names[c] if c >= 0 else None)
            for k, c in enumerate(mapping)
        }

    def table_markdown(self) -> str:
        """The contingency table with names, as Markdown."""
        header = "| cluster | " + " | ".join(self.class_names) + " | matched to |"
        lines = [header, "|" + "---|" * (len(self.class_names) + 2)]
        for k, name in enumerate(self.cluster_names):
            c = self.one_to_one[k]
            many = self.many_to_one[k]
            matched = self.class_names[c] if c >= 0 else "–"
            if c < 0 and many >= 0:
                matched = f"({self.class_names[many]})"
            cells = " | ".join(str(int(v)) for v in self.contingency[k])
            lines.append(f"| {name} | {cells} | {matched} |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready result."""

        def maybe(v):
            return None if not np.isfinite(v) else float(v)

        return {
            **self.metrics,
            "n_clusters": len(self.cluster_names),
            "n_classes": len(self.class_names),
            "class_names": list(self.class_names),
            "cluster_names": list(self.cluster_names),
            "contingency": self.contingency.tolist(),
            "one_to_one": self._name_map(self.one_to_one),
            "many_to_one": self._name_map(self.many_to_one),
            "class_purity": {
                n: maybe(v) for n, v in zip(self.class_names, self.class_purity, strict=True)
            },
            "class_completeness": {
                n: maybe(v) for n, v in zip(self.class_names, self.class_completeness, strict=True)
            },
            "cluster_purity": {
                n: maybe(v) for n, v in zip(self.cluster_names, self.cluster_purity, strict=True)
            },
            "n_used": self.n_used,
            "n_ignored": self.n_ignored,
            "ignored_counts": dict(self.ignored_counts),
            "absent_classes": list(self.absent_classes),
        }


def match_clusters(
    clusters,
    classes,
    class_names: Sequence[str] | None = None,
    *,
    ignore: Sequence[str] = DEFAULT_IGNORE,
    n_clusters: int | None = None,
) -> MatchResult:
    """Match clusters to classes by the Hungarian method and score the match.

    Args:
      clusters: (N,) integer cluster labels >= 0 (e.g. GMM hard labels).
      classes: (N,) integer class codes indexing ``class_names`` (e.g.
        ``tfelg.schemes.whan_class`` output), or any labels if
        ``class_names`` is None (their sorted unique values become the names).
      class_names: the name of each class code.
      ignore: class names left out of the matching (and counted); names not
        among the classes are allowed.
      n_clusters: K (default: largest label + 1; empty clusters are rows of
        zeros).

    Returns:
      A :class:`MatchResult`.

    Raises:
      ValueError: mismatched or bad labels, or every galaxy ignored.
    """
    table, names, ignored_counts, absent = _prepare(
        clusters, classes, class_names, ignore, n_clusters
    )
    metrics = table_metrics(table)
    one_to_one, many = _hungarian(table)
    k, c = table.shape
    row_totals = table.sum(axis=1)
    col_totals = table.sum(axis=0)
    class_purity = np.full(c, np.nan)
    class_completeness = np.zeros(c)
    for j in range(c):
        members = many == j
        put = row_totals[members].sum()
        right = table[members, j].sum()
        if put > 0:  # else NaN: no cluster maps to the class
            class_purity[j] = right / put
        class_completeness[j] = right / col_totals[j]
    occupied = row_totals > 0
    cluster_purity = np.full(k, np.nan)  # NaN for an empty cluster, never computed as 0 / 0
    cluster_purity[occupied] = table.max(axis=1)[occupied] / row_totals[occupied]
    return MatchResult(
        contingency=table,
        cluster_names=tuple(f"cluster {i}" for i in range(k)),
        class_names=tuple(names),
        one_to_one=one_to_one,
        many_to_one=many,
        metrics=metrics,
        class_purity=class_purity,
        class_completeness=class_completeness,
        cluster_purity=cluster_purity,
        n_used=int(table.sum()),
        ignored_counts=ignored_counts,
        absent_classes=tuple(absent),
    )


def bootstrap_metrics(
    clusters,
    classes,
    class_names: Sequence[str] | None = None,
    *,
    ignore: Sequence[str] = DEFAULT_IGNORE,
    n_boot: int = 200,
    seed: int = 0,
    n_clusters: int | None = None,
) -> dict:
    """Bootstrap uncertainties of every scalar metric of :func:`match_clusters`.

    Galaxies (after ignoring) are resampled with replacement ``n_boot`` times
    for fixed cluster labels, as a multinomial draw of the contingency
    table; the Hungarian matching is redone on each resample.

    Args:
      clusters, classes, class_names, ignore, n_clusters: as in
        :func:`match_clusters`.
      n_boot: resamples, at least 2 (a standard deviation needs two); 200 by
        default.
      seed: of the resampling; 0 by default, so the same call gives the same
        errors on every run.

    Returns:
      {metric: {"estimate", "mean", "std", "ci_low", "ci_high"}} for each of
      :data:`SCALAR_METRICS` (estimate: on the sample itself; std with
      ddof=1; ci: the 2.5 and 97.5 percentiles), plus "n_boot" and "n_used".
    """
    if n_boot < 2:
        raise ValueError(f"n_boot must be >= 2, got {n_boot}")
    table, _, _, _ = _prepare(clusters, classes, class_names, ignore, n_clusters)
    estimate = table_metrics(table)
    n = int(table.sum())
    p = (table / n).ravel()
    rng = np.random.default_rng(seed)
    draws = {m: np.empty(n_boot) for m in SCALAR_METRICS}
    for i in range(n_boot):
        sample = rng.multinomial(n, p).reshape(table.shape)
        for m, v in table_metrics(sample).items():
            draws[m][i] = v
    out = {}
    for m in SCALAR_METRICS:
        d = draws[m]
        out[m] = {
            "estimate": estimate[m],
            "mean": float(d.mean()),
            "std": float(d.std(ddof=1)),
            "ci_low": float(np.percentile(d, 2.5)),
            "ci_high": float(np.percentile(d, 97.5)),
        }
    out["n_boot"] = int(n_boot)
    out["n_used"] = n
    return out
