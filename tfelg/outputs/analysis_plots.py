"""Figures of the latent-space analysis: pairs, clusters, model selection, maps.

These are the pictures a person checks before believing a number: whether
the classes separate in the latent coordinates, whether the mixture's
clusters line up with the WHAN classes, where BIC, the gap statistic and the
silhouette put the number of clusters (and which K was chosen), how
clusters and classes cross-tabulate, and what the t-SNE map shows.

Every function takes plain arrays (the analysis code that produces them is
not imported here), draws with matplotlib's object API on the Agg canvas (no
pyplot state; safe headless and in threads) and, given a ``path``, writes a
PNG atomically (temporary file, then ``os.replace``) and returns the path;
without a ``path`` it returns the :class:`~matplotlib.figure.Figure`.
Scatter plots of more than ``max_points`` (default 50,000) points draw a
seeded random subsample and say so in the title. :func:`log_png_to_tensorboard`
also puts a written PNG into TensorBoard's Images tab.

Colours: a class has its one colour from :mod:`tfelg.outputs.colours` in
every figure; clusters get colours that are never a class's (and their
numbers are written on the map), so a cluster drawn beside the classes is
not mistaken for the class of the same colour. Points are drawn in a seeded
random order with per-class opacity, as in :mod:`tfelg.outputs.diagrams`,
so no class hides another.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tfelg.outputs import colours
from tfelg.outputs.diagrams import class_alpha, save_png_atomically

MAX_PLOT_POINTS = 50_000
MAX_PAIR_DIMS = 6

# Axis names of known representation features (the line-ratio baseline's
# ``tfelg.analysis.embeddings.LINE_RATIO_FEATURES``), standardised on the
# training split; anything else is used as given.
FEATURE_LABELS: dict[str, str] = {
    "log_nii_ha": r"log [N II]/H$\alpha$ (std.)",
    "log_oiii_hb": r"log [O III]/H$\beta$ (std.)",
    "log_sii_ha": r"log [S II]/H$\alpha$ (std.)",
    "log_oi_ha": r"log [O I]/H$\alpha$ (std.)",
    "asinh_ew_ha": r"asinh EW(H$\alpha$) (std.)",
}


def _finish(fig: Figure, path, dpi: int):
    if path is None:
        return fig
    return save_png_atomically(fig, path, dpi=dpi)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _points(values, name: str, *, ndim: int = 2) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(1))[0])
        raise ValueError(f"{name} has NaN or infinite values (first at row {row})")
    return array


def _codes(values, names: Sequence[str] | None, name: str, n: int) -> np.ndarray:
    codes = np.asarray(values)
    if codes.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {codes.shape}")
    if len(codes) != n:
        raise ValueError(f"{name} has {len(codes)} values, expected {n} (one per point)")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"{name} must be integer codes, got dtype {codes.dtype}")
    if names is not None and codes.size and (codes.min() < 0 or codes.max() >= len(names)):
        raise ValueError(
            f"{name} codes must lie in [0, {len(names)}) (one per name in {tuple(names)}), "
            f"got {codes.min()}..{codes.max()}"
        )
    if codes.size and codes.min() < 0:
        raise ValueError(f"{name} codes must be >= 0, got {codes.min()}")
    return codes.astype(np.int64)


def _class_names(names, name: str) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(v, str) for v in names):
        raise ValueError(f"{name} must be a sequence of names (str), e.g. tfelg.schemes.WHAN_NAMES")
    return tuple(names)


def subsample_for_plot(n: int, max_points: int, seed: int) -> np.ndarray | None:
    """Sorted rows of a seeded subsample of ``max_points`` of ``n``, or None if all fit."""
    if n <= max_points:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _subsample_note(n: int, rows) -> str:
    return "" if rows is None else f" (random {len(rows):,} of {n:,} shown)"


def class_colour(name: str, code: int) -> str:
    """The one colour of a class name (:mod:`tfelg.outputs.colours`)."""
    return colours.class_colour(name, code)


def cluster_colour(code: int) -> str:
    """The colour of cluster ``code``: never a class colour."""
    return colours.cluster_colour(code)


def axis_labels(names: Sequence[str] | None, d: int) -> list[str]:
    """Axis labels of ``d`` coordinates: known feature names made readable, else z1..zd."""
    if names is None:
        return [f"z{i + 1}" for i in range(d)]
    names = [str(n) for n in names]
    if len(names) != d:
        raise ValueError(f"axis_names has {len(names)} names for {d} coordinates")
    return [FEATURE_LABELS.get(n, n) for n in names]


def _missing_mask(missing, n: int, d: int) -> np.ndarray | None:
    if missing is None:
        return None
    missing = np.asarray(missing)
    if missing.shape != (n, d) or missing.dtype != bool:
        raise ValueError(
            f"missing must be ({n}, {d}) booleans like latent, got shape "
            f"{missing.shape} and dtype {missing.dtype}"
        )
    return missing


def _scatter_by_code(
    ax, x, y, codes, labels, palette, *, n_total: int, markers=None, seed: int = 0
) -> list:
    """Scatters every code at once in a seeded random order; returns legend handles.

    One random order (not one layer per code) so that no class is painted
    over another because of its code; each code's opacity falls with its
    size so a big class does not bury a small one; a ``low_sn`` class is
    small and faint. ``markers`` (one per code) default to circles.
    """
    size = 6.0 if n_total <= 2000 else (2.0 if n_total <= 20000 else 0.8)
    counts = np.bincount(codes, minlength=len(labels))
    markers = ["o"] * len(labels) if markers is None else list(markers)
    rgba = np.zeros((len(codes), 4))
    sizes = np.full(len(codes), size)
    for code, label in enumerate(labels):
        rows = codes == code
        if rows.any():
            rgba[rows] = to_rgba(palette[code], class_alpha(int(counts[code])))
            if label in colours.FAINT_CLASSES:
                rgba[rows, 3] = min(rgba[rows, 3][0] * 0.35, 0.15)
                sizes[rows] = size * 0.45
    order = np.random.default_rng(seed).permutation(len(codes))
    point_markers = np.asarray(markers, dtype=object)[codes[order]] if len(codes) else []
    for marker in dict.fromkeys(markers):
        rows = order[point_markers == marker] if len(codes) else order
        if len(rows):
            ax.scatter(
                x[rows],
                y[rows],
                s=sizes[rows],
                c=rgba[rows],
                marker=marker,
                linewidths=0,
                rasterized=True,
                gid="points",
            )
    handles = []
    for code, label in enumerate(labels):
        if counts[code]:
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker=markers[code],
                    ms=5,
                    color=palette[code],
                    label=f"{label} ({counts[code]:,})",
                )
            )
    return handles


def _scatter_clusters(ax, x, y, clusters, k: int, *, n_total: int, seed: int) -> list:
    """Clusters in their own colours (never a class colour), each number written at its median."""
    handles = _scatter_by_code(
        ax,
        x,
        y,
        clusters,
        [f"cluster {c}" for c in range(k)],
        [colours.cluster_colour(c) for c in range(k)],
        markers=[colours.cluster_marker(c) for c in range(k)],
        n_total=n_total,
        seed=seed,
    )
    outline = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for c in range(k):
        rows = clusters == c
        if rows.any():
            ax.text(
                float(np.median(x[rows])),
                float(np.median(y[rows])),
                str(c),
                fontsize=9,
                fontweight="bold",
                ha="center",
                va="center",
                color=colours.cluster_colour(c),
                path_effects=outline,
                gid=f"cluster label {c}",
            )
    return handles


def plot_latent_pairs(
    latent,
    classes,
    class_names: Sequence[str],
    path=None,
    *,
    max_dims: int = MAX_PAIR_DIMS,
    max_points: int = MAX_PLOT_POINTS,
    seed: int = 0,
    title: str = "Latent coordinates",
    class_label: str = "class",
    axis_names: Sequence[str] | None = None,
    missing=None,
    dpi: int = 110,
):
    """A corner plot of latent coordinates coloured by class.

    Below the diagonal, every pair of the first ``max_dims`` coordinates
    (all of them when d <= 6); on the diagonal, each coordinate's histogram
    per class, with its count axis on the right (the side that faces the
    empty upper triangle, so it is not read as the row's coordinate). The
    legend sits in the empty upper triangle, clear of every title.

    Args:
      latent: (N, d) latent coordinates.
      classes: (N,) integer codes into ``class_names``.
      class_names: e.g. ``tfelg.schemes.WHAN_NAMES``.
      path: PNG to write, or None to get the Figure back.
      max_dims: coordinates shown at most.
      max_points: above this many points, a seeded subsample is drawn.
      seed: seeds the subsample and the drawing order.
      title: figure title.
      class_label: what the classes are (legend title), e.g. "WHAN".
      axis_names: d names of the coordinates, e.g. the line-ratio
        baseline's feature names (``FEATURE_LABELS`` makes known ones
        readable); default z1..zd.
      missing: optional (N, d) booleans: values that were imputed, not
        measured (e.g. a line ratio without both lines). They are left out
        of the panels that use that coordinate (imputed values would draw
        lines of points at the fill value) and counted on the diagonal.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    latent = _points(latent, "latent")
    n, d = latent.shape
    names = _class_names(class_names, "class_names")
    codes = _codes(classes, names, "classes", n)
    if d == 0 or n == 0:
        raise ValueError(f"latent must have points and dimensions, got shape {latent.shape}")
    labels = axis_labels(axis_names, d)
    missing = _missing_mask(missing, n, d)
    if missing is None:
        missing = np.zeros((n, d), dtype=bool)
    shown = min(d, max_dims)
    rows = subsample_for_plot(n, max_points, seed)
    if rows is not None:
        latent, codes, missing = latent[rows], codes[rows], missing[rows]
    palette = [class_colour(name, i) for i, name in enumerate(names)]
    fig = _new_figure(2.3 * shown + 1.2, 2.3 * shown + 0.6)
    axes = fig.subplots(shown, shown, squeeze=False)
    for i in range(shown):
        for j in range(shown):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                measured = ~missing[:, i]
                values_i = latent[measured, i]
                bins = np.histogram_bin_edges(values_i if len(values_i) else [0.0], bins=40)
                for code in range(len(names)):
                    values = latent[measured & (codes == code), i]
                    if len(values):
                        ax.hist(values, bins=bins, histtype="step", color=palette[code], lw=1.0)
                ax.yaxis.tick_right()
                ax.yaxis.set_label_position("right")
                ax.set_ylabel("count", fontsize=8)
                ax.tick_params(axis="y", labelsize=7)
                n_missing = int((~measured).sum())
                if n_missing:
                    # Above the histogram: the panel above it is empty.
                    ax.set_title(
                        f"{n_missing:,} missing, not drawn", fontsize=7, loc="left", color="0.3"
                    )
            else:
                both = ~missing[:, i] & ~missing[:, j]
                _scatter_by_code(
                    ax,
                    latent[both, j],
                    latent[both, i],
                    codes[both],
                    names,
                    palette,
                    n_total=n,
                    seed=seed,
                )
            if i == shown - 1:
                ax.set_xlabel(labels[j])
            else:
                ax.set_xticklabels([])
            if j == 0 and i != j:
                ax.set_ylabel(labels[i])
            elif i != j:
                ax.set_yticklabels([])
    # Counts over all galaxies, not only those drawn in the last panel.
    counts = np.bincount(codes, minlength=len(names))
    handles = [
        Line2D(
            [], [], ls="", marker="o", ms=5, color=palette[c], label=f"{names[c]} ({counts[c]:,})"
        )
        for c in range(len(names))
        if counts[c]
    ]
    legend_args = dict(handles=handles, fontsize=8, title=class_label, frameon=False)
    if shown >= 2:
        # The empty upper triangle: it covers no panel and no title.
        fig.legend(
            loc="upper right",
            bbox_to_anchor=(1.0, 1.0),
            bbox_transform=axes[0, -1].transAxes,
            **legend_args,
        )
    else:
        fig.legend(loc="outside right upper", **legend_args)
    extra = "" if shown == d else f", first {shown} of {d} dimensions"
    if missing.any():
        extra += "; missing (imputed) values not drawn"
    fig.suptitle(f"{title}{extra}{_subsample_note(n, rows)}")
    return _finish(fig, path, dpi)


def plot_clusters_and_classes(
    latent,
    cluster,
    classes,
    class_names: Sequence[str],
    path=None,
    *,
    dims: tuple[int, int] = (0, 1),
    class_label: str = "WHAN",
    axis_names: Sequence[str] | None = None,
    missing=None,
    max_points: int = MAX_PLOT_POINTS,
    seed: int = 0,
    dpi: int = 110,
):
    """Two panels in the same latent coordinates: the mixture's clusters, and the classes.

    Cluster colours are never class colours (a cluster in the star-forming
    blue would read as "the star-forming cluster"), and each cluster's
    number is written at its median.

    Args:
      latent: (N, d) latent coordinates, d >= 2.
      cluster: (N,) cluster indices.
      classes: (N,) integer codes into ``class_names`` (e.g. WHAN).
      class_names: names of the class codes.
      path: PNG to write, or None to get the Figure back.
      dims: the two latent coordinates drawn (0-based).
      class_label: the classification's name for the second panel.
      axis_names: d names of the coordinates (see :func:`plot_latent_pairs`).
      missing: optional (N, d) booleans of imputed values; galaxies with
        either drawn coordinate imputed are left out (and counted).

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    latent = _points(latent, "latent")
    n, d = latent.shape
    i, j = dims
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValueError(f"dims must be two different coordinates in [0, {d}), got {dims}")
    labels = axis_labels(axis_names, d)
    names = _class_names(class_names, "class_names")
    clusters = _codes(cluster, None, "cluster", n)
    codes = _codes(classes, names, "classes", n)
    k = int(clusters.max()) + 1 if clusters.size else 0
    missing = _missing_mask(missing, n, d)
    note = ""
    if missing is not None:
        measured = ~missing[:, i] & ~missing[:, j]
        note = f"; {int((~measured).sum()):,} with a missing (imputed) coordinate not drawn"
        latent, clusters, codes = latent[measured], clusters[measured], codes[measured]
    rows = subsample_for_plot(len(latent), max_points, seed)
    note += _subsample_note(len(latent), rows)
    if rows is not None:
        latent, clusters, codes = latent[rows], clusters[rows], codes[rows]
    fig = _new_figure(12.0, 5.6)
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    handles = _scatter_clusters(left, latent[:, i], latent[:, j], clusters, k, n_total=n, seed=seed)
    left.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    left.set_title(f"Gaussian-mixture clusters (K = {k})")
    handles = _scatter_by_code(
        right,
        latent[:, i],
        latent[:, j],
        codes,
        names,
        [class_colour(name, c) for c, name in enumerate(names)],
        n_total=n,
        seed=seed,
    )
    right.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    right.set_title(f"{class_label} classes")
    for ax in (left, right):
        ax.set_xlabel(labels[i])
    left.set_ylabel(labels[j])
    fig.suptitle(f"Clusters and {class_label} classes in latent space{note}")
    return _finish(fig, path, dpi)


def _curve_inputs(ks, values, chosen_k, name: str, errors=None):
    ks = np.asarray(ks)
    values = np.asarray(values, dtype=np.float64)
    if ks.ndim != 1 or values.ndim != 1:
        raise ValueError(f"ks and {name} must be 1-D, got shapes {ks.shape} and {values.shape}")
    if len(ks) != len(values):
        raise ValueError(f"ks has {len(ks)} values but {name} has {len(values)}")
    if len(ks) == 0:
        raise ValueError("no K values to plot")
    if errors is not None:
        errors = np.asarray(errors, dtype=np.float64)
        if errors.shape != values.shape:
            raise ValueError(
                f"errors has {errors.size} values but {name} has {len(values)} (one per K)"
            )
    if chosen_k is not None and chosen_k not in ks:
        raise ValueError(f"chosen_k={chosen_k} is not among ks {ks.tolist()}")
    return ks, values, errors


def _legend_below(ax, ncol: int = 2) -> None:
    """The legend under the axes, where it cannot cover a curve or a marker."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8, frameon=False)


def _mark_chosen(ax, ks, values, chosen_k, label: str):
    if chosen_k is None:
        return
    at = int(np.flatnonzero(ks == chosen_k)[0])
    ax.axvline(chosen_k, color="0.3", ls="--", lw=1.0)
    ax.plot(
        [chosen_k],
        [values[at]],
        marker="*",
        ms=16,
        color="#d62728",
        ls="",
        zorder=5,
        label=f"{label}: K = {chosen_k}",
    )


def plot_information_criteria(
    ks,
    bic,
    chosen_k=None,
    path=None,
    *,
    aic=None,
    title: str = "Gaussian mixture: information criteria",
    dpi: int = 110,
):
    """BIC (and AIC) against K, the chosen K marked.

    Args:
      ks: (M,) numbers of components.
      bic: (M,) BIC values (lower is better).
      chosen_k: the K chosen (marked), or None.
      path: PNG to write, or None to get the Figure back.
      aic: optional (M,) AIC values, drawn on the same axes.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, bic, _ = _curve_inputs(ks, bic, chosen_k, "bic")
    fig = _new_figure(6.4, 4.4)
    ax = fig.subplots()
    ax.plot(ks, bic, "o-", color="#1f77b4", label="BIC")
    if aic is not None:
        _, aic, _ = _curve_inputs(ks, aic, None, "aic")
        ax.plot(ks, aic, "s--", color="#ff7f0e", label="AIC")
    _mark_chosen(ax, ks, bic, chosen_k, "chosen")
    ax.set_xlabel("number of components K")
    ax.set_ylabel("information criterion (lower is better)")
    ax.set_xticks(ks)
    _legend_below(ax, ncol=3)
    ax.set_title(title)
    return _finish(fig, path, dpi)


GAP_RULE = r"1-SE rule: the smallest K with Gap(K) $\geq$ Gap(K+1) $-$ s$_{K+1}$"


def plot_gap_curve(
    ks,
    gap,
    errors,
    chosen_k=None,
    path=None,
    *,
    title: str = "Gap statistic (Tibshirani et al. 2001)",
    dpi: int = 110,
):
    """The gap statistic with its standard errors against K; the 1-SE choice and the maximum.

    The choice is Tibshirani et al.'s one-standard-error rule, which often
    stops well before the K of the largest gap; the figure states the rule
    and marks both, so a reader does not take the maximum for the choice.

    Args:
      ks: (M,) numbers of clusters.
      gap: (M,) Gap(K) (NaN where not computed).
      errors: (M,) s_K, the simulation-corrected standard errors.
      chosen_k: the K chosen by the 1-standard-error rule, or None.
      path: PNG to write, or None to get the Figure back.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, gap, errors = _curve_inputs(ks, gap, chosen_k, "gap", errors)
    fig = _new_figure(6.4, 4.9)
    ax = fig.subplots()
    ax.errorbar(ks, gap, yerr=errors, fmt="o-", color="#009E73", capsize=3, label="Gap(K) ± s$_K$")
    if np.isfinite(gap).any():
        at = int(np.nanargmax(gap))
        ax.plot(
            [ks[at]],
            [gap[at]],
            marker="D",
            ms=11,
            mfc="none",
            mec="k",
            mew=1.5,
            ls="",
            zorder=6,
            label=f"maximum Gap: K = {ks[at]}",
        )
    _mark_chosen(ax, ks, gap, chosen_k, "1-SE choice")
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("Gap(K)")
    ax.set_xticks(ks)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda h: (not labels[h].startswith("Gap"), labels[h]))
    ax.legend(
        [handles[h] for h in order],
        [labels[h] for h in order],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    ax.set_title(f"{title}\n{GAP_RULE}", fontsize=10)
    return _finish(fig, path, dpi)


def plot_silhouette_curve(
    ks,
    silhouette,
    chosen_k=None,
    path=None,
    *,
    title: str = "Mean silhouette",
    dpi: int = 110,
):
    """The mean silhouette coefficient against K, the chosen K marked.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, silhouette, _ = _curve_inputs(ks, silhouette, chosen_k, "silhouette")
    fig = _new_figure(6.4, 4.4)
    ax = fig.subplots()
    ax.plot(ks, silhouette, "o-", color="#9467bd", label="mean silhouette")
    _mark_chosen(ax, ks, silhouette, chosen_k, "chosen")
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("silhouette (higher is better)")
    ax.set_xticks(ks)
    _legend_below(ax)
    ax.set_title(title)
    return _finish(fig, path, dpi)


def plot_contingency(
    table,
    row_names: Sequence[str],
    column_names: Sequence[str],
    path=None,
    *,
    title: str = "Clusters against classes",
    row_label: str = "cluster",
    column_label: str = "class",
    left_out: Mapping[str, int] | None = None,
    dpi: int = 110,
):
    """The contingency table as an annotated heatmap, coloured by counts.

    Each cell shows its count and its share of the row; the colour is the
    count, so a cluster of one galaxy is a pale cell, not a dark "pure"
    one. Rows without a galaxy (e.g. a cluster empty on the test split) are
    dropped and named in the title, and the title says how many galaxies
    are not in the table at all (``left_out``: low S/N, unclassified).

    Args:
      table: (R, C) counts, rows clusters and columns classes.
      row_names: R row labels (e.g. "cluster 0").
      column_names: C column labels (e.g. WHAN class names).
      path: PNG to write, or None to get the Figure back.
      left_out: {reason or class: galaxies left out of the table}, e.g.
        ``tfelg.analysis.matching``'s ``ignored_counts``.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    table = np.asarray(table)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D (clusters x classes), got shape {table.shape}")
    if not np.isfinite(table).all() or (table.size and table.min() < 0):
        raise ValueError("table must hold finite, non-negative counts")
    rows, cols = table.shape
    if len(row_names) != rows:
        raise ValueError(f"table has {rows} rows but row_names has {len(row_names)}")
    if len(column_names) != cols:
        raise ValueError(f"table has {cols} columns but column_names has {len(column_names)}")
    totals = table.sum(axis=1)
    kept = np.flatnonzero(totals > 0)
    empty = [str(row_names[r]) for r in np.flatnonzero(totals <= 0)]
    table, totals = table[kept], totals[kept]
    names = [f"{row_names[r]} (n = {_count_text(totals[i])})" for i, r in enumerate(kept)]
    rows = len(kept)
    fraction = np.divide(
        table, totals[:, None], out=np.zeros(table.shape), where=totals[:, None] > 0
    )
    norm = Normalize(0.0, max(float(table.max()) if table.size else 0.0, 1.0))
    fig = _new_figure(1.5 + 1.0 * cols + 1.5, 1.6 + 0.55 * max(rows, 1) + 1.0)
    ax = fig.subplots()
    image = ax.imshow(
        table if rows else np.zeros((1, cols)), cmap="Blues", norm=norm, aspect="auto"
    )
    for r in range(rows):
        for c in range(cols):
            ax.text(
                c,
                r,
                f"{_count_text(table[r, c])}\n{100 * fraction[r, c]:.0f}%",
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if norm(table[r, c]) > 0.6 else "black",
            )
    ax.set_xticks(range(cols), [str(v) for v in column_names], rotation=35, ha="right")
    ax.set_yticks(range(rows), names)
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    fig.colorbar(image, ax=ax, label="galaxies in the cell (count)")
    notes = [
        f"{_count_text(table.sum())} galaxies in the table; cells: count and % of the {row_label}"
    ]
    left_out = {k: v for k, v in (left_out or {}).items() if v}
    if left_out:
        total = sum(left_out.values())
        parts = ", ".join(f"{k} {_count_text(v)}" for k, v in left_out.items())
        notes.append(f"left out of the table: {_count_text(total)} galaxies ({parts})")
    if empty:
        notes.append(f"empty, not shown: {', '.join(empty)}")
    ax.set_title(title + "\n" + "\n".join(notes), fontsize=9)
    return _finish(fig, path, dpi)


def _count_text(value) -> str:
    value = float(value)
    return f"{int(value):,}" if value.is_integer() else f"{value:.3g}"


def plot_tsne_map(
    tsne,
    classes,
    class_names: Sequence[str],
    cluster,
    path=None,
    *,
    class_label: str = "class",
    max_points: int = MAX_PLOT_POINTS,
    seed: int = 0,
    title: str = "t-SNE map",
    dpi: int = 110,
):
    """The t-SNE map twice: coloured by class, and by cluster.

    Args:
      tsne: (N, 2) map coordinates.
      classes: (N,) integer codes into ``class_names``.
      class_names: names of the class codes.
      cluster: (N,) cluster indices.
      path: PNG to write, or None to get the Figure back.
      class_label: the classification's name (e.g. "WHAN", "true class").

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    tsne = _points(tsne, "tsne")
    n = len(tsne)
    if tsne.shape[1] != 2:
        raise ValueError(f"tsne must be (N, 2), got shape {tsne.shape}")
    names = _class_names(class_names, "class_names")
    codes = _codes(classes, names, "classes", n)
    clusters = _codes(cluster, None, "cluster", n)
    rows = subsample_for_plot(n, max_points, seed)
    if rows is not None:
        tsne, codes, clusters = tsne[rows], codes[rows], clusters[rows]
    k = int(clusters.max()) + 1 if clusters.size else 0
    fig = _new_figure(12.0, 5.8)
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    handles = _scatter_by_code(
        left,
        tsne[:, 0],
        tsne[:, 1],
        codes,
        names,
        [class_colour(name, c) for c, name in enumerate(names)],
        n_total=n,
        seed=seed,
    )
    left.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    left.set_title(f"by {class_label}")
    handles = _scatter_clusters(right, tsne[:, 0], tsne[:, 1], clusters, k, n_total=n, seed=seed)
    right.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    right.set_title(f"by cluster (K = {k})")
    for ax in (left, right):
        ax.set_xlabel("t-SNE 1")
        ax.set_xticks([])
        ax.set_yticks([])
    left.set_ylabel("t-SNE 2")
    fig.suptitle(f"{title}{_subsample_note(n, rows)}")
    return _finish(fig, path, dpi)


def _history_values(history: Sequence[Mapping], split: str, key: str) -> np.ndarray:
    return np.array(
        [np.nan if h.get(split, {}).get(key) is None else float(h[split][key]) for h in history]
    )


def plot_loss_history(history: Sequence[Mapping], path=None, *, title: str = "", dpi: int = 100):
    """Loss and reconstruction error per epoch, train and validation.

    One panel when the loss *is* the reconstruction error at every epoch (a
    plain autoencoder), two otherwise (the VAE's loss adds the KL term). The
    legend sits below the panels, off the curves. A log axis is used when
    every value is positive.

    Args:
      history: one dict per epoch: ``epoch``, ``train`` and ``validation``
        (each {metric: value}, ``loss`` and ``reconstruction`` among them).
      path: PNG to write, or None to get the Figure back.
      title: figure title.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    history = list(history)
    if not history:
        raise ValueError("no epochs in the history to plot")
    epochs = [h["epoch"] for h in history]
    values = {
        (split, key): _history_values(history, split, key)
        for split in ("train", "validation")
        for key in ("loss", "reconstruction")
    }
    same = all(
        np.array_equal(values[split, "loss"], values[split, "reconstruction"], equal_nan=True)
        for split in ("train", "validation")
    )
    keys = ("loss",) if same else ("loss", "reconstruction")
    fig = _new_figure(6.0 if same else 10.0, 4.4)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    styles = (
        ("train", "-", "#0072B2", "train (mean over the epoch's steps)"),
        ("validation", "--", "#D55E00", "validation (after the epoch)"),
    )
    for ax, key in zip(axes, keys, strict=True):
        for split, style, colour, label in styles:
            ax.plot(epochs, values[split, key], style, color=colour, marker="o", ms=3, label=label)
        plotted = np.concatenate([values[s, key] for s, *_ in styles])
        plotted = plotted[np.isfinite(plotted)]
        if plotted.size and (plotted > 0).all():
            ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss = reconstruction error" if same else key)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return _finish(fig, path, dpi)


def log_png_to_tensorboard(png_path, logdir, tag: str, step: int = 0) -> str:
    """Writes a PNG file as an image summary, shown in TensorBoard's Images tab.

    TensorFlow is imported here, not at module level, so that drawing the
    figures does not load it.

    Args:
      png_path: the PNG to log.
      logdir: the summary directory (a TensorBoard run).
      tag: the image's name in TensorBoard, e.g. "analysis/tsne_map".
      step: the summary step.

    Returns:
      ``logdir``.
    """
    import tensorflow as tf

    with open(os.fspath(png_path), "rb") as f:
        data = f.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{png_path} is not a PNG file")
    image = tf.io.decode_png(data)  # (h, w, channels), uint8; channels 1-4.
    if image.shape[-1] == 2:  # Grey + alpha: the summary wants 1, 3 or 4 channels.
        image = tf.image.grayscale_to_rgb(image[..., :1])
    writer = tf.summary.create_file_writer(os.fspath(logdir))
    try:
        with writer.as_default():
            tf.summary.image(tag, image[tf.newaxis], step=step)
        writer.flush()
    finally:
        writer.close()
    return os.fspath(logdir)
