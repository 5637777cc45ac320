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
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tfelg.outputs.diagrams import CLASS_COLOURS, save_png_atomically

MAX_PLOT_POINTS = 50_000
MAX_PAIR_DIMS = 6
# Ten distinct hues first, then their light variants (tab20 pairs them, which
# makes neighbouring cluster numbers look alike).
_CLUSTER_PALETTE = colormaps["tab10"].colors + colormaps["tab20"].colors[1::2]
_FALLBACK_PALETTE = colormaps["tab10"].colors


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


def class_colour(name: str, code: int) -> str | tuple:
    """The shared colour of a class name (``diagrams.CLASS_COLOURS``), else a palette colour."""
    return CLASS_COLOURS.get(name, _FALLBACK_PALETTE[code % len(_FALLBACK_PALETTE)])


def cluster_colour(code: int) -> tuple:
    return _CLUSTER_PALETTE[code % len(_CLUSTER_PALETTE)]


def _scatter_by_code(ax, x, y, codes, labels, colours, *, n_total: int) -> list:
    """Scatters one layer per code (largest first, small classes on top); returns legend handles."""
    size = 6.0 if n_total <= 2000 else (2.0 if n_total <= 20000 else 0.8)
    alpha = float(np.clip(3000.0 / max(len(x), 1), 0.15, 0.8))
    counts = np.bincount(codes, minlength=len(labels))
    handles = []
    for code in np.argsort(-counts, kind="stable"):
        if counts[code] == 0:
            continue
        rows = codes == code
        ax.scatter(
            x[rows],
            y[rows],
            s=size,
            color=colours[code],
            alpha=alpha,
            linewidths=0,
            rasterized=True,
        )
    for code, label in enumerate(labels):
        if counts[code]:
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="o",
                    ms=5,
                    color=colours[code],
                    label=f"{label} ({counts[code]:,})",
                )
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
    dpi: int = 110,
):
    """A corner plot of latent coordinates coloured by class.

    Below the diagonal, every pair of the first ``max_dims`` coordinates
    (all of them when d <= 6); on the diagonal, each coordinate's histogram
    per class.

    Args:
      latent: (N, d) latent coordinates.
      classes: (N,) integer codes into ``class_names``.
      class_names: e.g. ``tfelg.schemes.WHAN_NAMES``.
      path: PNG to write, or None to get the Figure back.
      max_dims: coordinates shown at most.
      max_points: above this many points, a seeded subsample is drawn.
      seed: seeds the subsample.
      title: figure title.
      class_label: what the classes are (legend title), e.g. "WHAN".

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    latent = _points(latent, "latent")
    n, d = latent.shape
    names = _class_names(class_names, "class_names")
    codes = _codes(classes, names, "classes", n)
    if d == 0 or n == 0:
        raise ValueError(f"latent must have points and dimensions, got shape {latent.shape}")
    shown = min(d, max_dims)
    rows = subsample_for_plot(n, max_points, seed)
    if rows is not None:
        latent, codes = latent[rows], codes[rows]
    colours = [class_colour(name, i) for i, name in enumerate(names)]
    fig = _new_figure(2.3 * shown + 1.5, 2.3 * shown + 0.6)
    axes = fig.subplots(shown, shown, squeeze=False)
    handles = []
    for i in range(shown):
        for j in range(shown):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                bins = np.histogram_bin_edges(latent[:, i], bins=40)
                for code in range(len(names)):
                    values = latent[codes == code, i]
                    if len(values):
                        ax.hist(values, bins=bins, histtype="step", color=colours[code], lw=1.0)
                ax.set_yticks([])
            else:
                handles = _scatter_by_code(
                    ax, latent[:, j], latent[:, i], codes, names, colours, n_total=n
                )
            if i == shown - 1:
                ax.set_xlabel(f"z{j + 1}")
            else:
                ax.set_xticklabels([])
            if j == 0 and i != j:
                ax.set_ylabel(f"z{i + 1}")
            elif i != j:
                ax.set_yticklabels([])
    if not handles:  # d == 1: no scatter panel made the handles.
        counts = np.bincount(codes, minlength=len(names))
        handles = [
            Line2D([], [], color=colours[c], label=f"{names[c]} ({counts[c]:,})")
            for c in range(len(names))
            if counts[c]
        ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, title=class_label)
    extra = "" if shown == d else f", first {shown} of {d} dimensions"
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
    max_points: int = MAX_PLOT_POINTS,
    seed: int = 0,
    dpi: int = 110,
):
    """Two panels in the same latent coordinates: the mixture's clusters, and the classes.

    Args:
      latent: (N, d) latent coordinates, d >= 2.
      cluster: (N,) cluster indices.
      classes: (N,) integer codes into ``class_names`` (e.g. WHAN).
      class_names: names of the class codes.
      path: PNG to write, or None to get the Figure back.
      dims: the two latent coordinates drawn (0-based).
      class_label: the classification's name for the second panel.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    latent = _points(latent, "latent")
    n, d = latent.shape
    i, j = dims
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValueError(f"dims must be two different coordinates in [0, {d}), got {dims}")
    names = _class_names(class_names, "class_names")
    clusters = _codes(cluster, None, "cluster", n)
    codes = _codes(classes, names, "classes", n)
    rows = subsample_for_plot(n, max_points, seed)
    if rows is not None:
        latent, clusters, codes = latent[rows], clusters[rows], codes[rows]
    k = int(clusters.max()) + 1 if clusters.size else 0
    fig = _new_figure(12.0, 5.6)
    left, right = fig.subplots(1, 2, sharex=True, sharey=True)
    handles = _scatter_by_code(
        left,
        latent[:, i],
        latent[:, j],
        clusters,
        [f"cluster {c}" for c in range(k)],
        [cluster_colour(c) for c in range(k)],
        n_total=n,
    )
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
    )
    right.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    right.set_title(f"{class_label} classes")
    for ax in (left, right):
        ax.set_xlabel(f"z{i + 1}")
    left.set_ylabel(f"z{j + 1}")
    fig.suptitle(f"Clusters and {class_label} classes in latent space{_subsample_note(n, rows)}")
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
    ax.legend()
    ax.set_title(title)
    return _finish(fig, path, dpi)


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
    """The gap statistic with its standard errors against K, the chosen K marked.

    Args:
      ks: (M,) numbers of clusters.
      gap: (M,) Gap(K).
      errors: (M,) s_K, the simulation-corrected standard errors.
      chosen_k: the K chosen (e.g. by the 1-standard-error rule), or None.
      path: PNG to write, or None to get the Figure back.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, gap, errors = _curve_inputs(ks, gap, chosen_k, "gap", errors)
    fig = _new_figure(6.4, 4.4)
    ax = fig.subplots()
    ax.errorbar(ks, gap, yerr=errors, fmt="o-", color="#2ca02c", capsize=3, label="Gap(K) ± s_K")
    _mark_chosen(ax, ks, gap, chosen_k, "chosen")
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("Gap(K)")
    ax.set_xticks(ks)
    ax.legend()
    ax.set_title(title)
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
    ax.legend()
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
    dpi: int = 110,
):
    """The contingency table as an annotated heatmap.

    Cells show counts; the colour is the fraction of the row (the share of
    a cluster that falls in each class), so a pure cluster is one dark cell.

    Args:
      table: (R, C) counts, rows clusters and columns classes.
      row_names: R row labels (e.g. "cluster 0").
      column_names: C column labels (e.g. WHAN class names).
      path: PNG to write, or None to get the Figure back.

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
    totals = table.sum(axis=1, keepdims=True)
    fraction = np.divide(table, totals, out=np.zeros(table.shape), where=totals > 0)
    fig = _new_figure(1.0 + 0.9 * cols + 1.5, 1.2 + 0.5 * rows + 1.0)
    ax = fig.subplots()
    image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for r in range(rows):
        for c in range(cols):
            value = table[r, c]
            text = f"{int(value):,}" if float(value).is_integer() else f"{value:.3g}"
            ax.text(
                c,
                r,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if fraction[r, c] > 0.6 else "black",
            )
    ax.set_xticks(range(cols), [str(v) for v in column_names], rotation=35, ha="right")
    ax.set_yticks(range(rows), [str(v) for v in row_names])
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    fig.colorbar(image, ax=ax, label=f"fraction of the {row_label}")
    ax.set_title(title)
    return _finish(fig, path, dpi)


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
    )
    left.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    left.set_title(f"by {class_label}")
    handles = _scatter_by_code(
        right,
        tsne[:, 0],
        tsne[:, 1],
        clusters,
        [f"cluster {c}" for c in range(k)],
        [cluster_colour(c) for c in range(k)],
        n_total=n,
    )
    right.legend(handles=handles, fontsize=7, loc="best", markerscale=1.2)
    right.set_title(f"by cluster (K = {k})")
    for ax in (left, right):
        ax.set_xlabel("t-SNE 1")
        ax.set_xticks([])
        ax.set_yticks([])
    left.set_ylabel("t-SNE 2")
    fig.suptitle(f"{title}{_subsample_note(n, rows)}")
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
