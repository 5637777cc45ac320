"""Figures of latent coordinates: corner plot, clusters beside classes, t-SNE map.

These show whether the classes separate in the latent coordinates and
whether the mixture's clusters line up with them. Scatter plots of more than
``max_points`` (default 50,000) points draw a seeded random subsample and say
so in the title. A class has its one colour from :mod:`tfelg.outputs.colours`
in every figure; clusters get colours that are never a class's, and their
numbers are written on the map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.lines import Line2D

from tfelg.outputs.coded_scatter import (
    MAX_PLOT_POINTS,
    check_class_names,
    check_codes,
    check_points,
    class_colour,
    finish,
    new_figure,
    scatter_by_code,
    scatter_clusters,
    subsample_for_plot,
    subsample_note,
)

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
    latent = check_points(latent, "latent")
    n, d = latent.shape
    names = check_class_names(class_names, "class_names")
    codes = check_codes(classes, names, "classes", n)
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
    fig = new_figure(2.3 * shown + 1.2, 2.3 * shown + 0.6)
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
                scatter_by_code(
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
    fig.suptitle(f"{title}{extra}{subsample_note(n, rows)}")
    return finish(fig, path, dpi)


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
    latent = check_points(latent, "latent")
    n, d = latent.shape
    i, j = dims
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValueError(f"dims must be two different coordinates in [0, {d}), got {dims}")
    labels = axis_labels(axis_names, d)
    names = check_class_names(class_names, "class_names")
    clusters = check_codes(cluster, None, "cluster", n)
    codes = check_codes(classes, names, "classes", n)
    k = int(clusters.max()) + 1 if clusters.size else 0
    missing = _missing_mask(missing, n, d)
    note = ""
    if missing is not None:
        measured = ~missing[:, i] & ~missing[:, j]
        note = f"; {int((~measured).sum()):,} with a missing (imputed) coordinate not drawn"
        latent, clusters, codes = latent[measured], clusters[measured], codes[measured]
    rows = subsample_for_plot(len(latent), max_points, seed)
    note += subsample_note(len(latent), rows)
    if rows is not None:
        latent, clusters, codes = latent[rows], clusters[rows], codes[rows]
    fig = new_figure(12.0, 5.6)
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    handles = scatter_clusters(left, latent[:, i], latent[:, j], clusters, k, n_total=n, seed=seed)
    left.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    left.set_title(f"Gaussian-mixture clusters (K = {k})")
    handles = scatter_by_code(
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
    return finish(fig, path, dpi)


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
    tsne = check_points(tsne, "tsne")
    n = len(tsne)
    if tsne.shape[1] != 2:
        raise ValueError(f"tsne must be (N, 2), got shape {tsne.shape}")
    names = check_class_names(class_names, "class_names")
    codes = check_codes(classes, names, "classes", n)
    clusters = check_codes(cluster, None, "cluster", n)
    rows = subsample_for_plot(n, max_points, seed)
    if rows is not None:
        tsne, codes, clusters = tsne[rows], codes[rows], clusters[rows]
    k = int(clusters.max()) + 1 if clusters.size else 0
    fig = new_figure(12.0, 5.8)
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    handles = scatter_by_code(
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
    handles = scatter_clusters(right, tsne[:, 0], tsne[:, 1], clusters, k, n_total=n, seed=seed)
    right.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    right.set_title(f"by cluster (K = {k})")
    for ax in (left, right):
        ax.set_xlabel("t-SNE 1")
        ax.set_xticks([])
        ax.set_yticks([])
    left.set_ylabel("t-SNE 2")
    fig.suptitle(f"{title}{subsample_note(n, rows)}")
    return finish(fig, path, dpi)
