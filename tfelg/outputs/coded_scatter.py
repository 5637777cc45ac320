"""Shared pieces of the analysis figures: input checks, figures, scatter by code.

The figure modules (:mod:`tfelg.outputs.latent_plots`,
:mod:`tfelg.outputs.selection_plots`, :mod:`tfelg.outputs.training_plots`)
check their arrays, make their figures and draw coded points the same way,
so those pieces live here once: a figure on the Agg canvas (no pyplot state;
safe headless and in threads), written atomically when given a path; arrays
checked with the name of the argument and the first bad row in the error;
and points coloured by an integer code (class or cluster) drawn in one
seeded random order with per-code opacity, so no class hides another.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tfelg.outputs import colours
from tfelg.outputs.diagrams import class_alpha, save_png_atomically

MAX_PLOT_POINTS = 50_000


def finish(fig: Figure, path, dpi: int):
    if path is None:
        return fig
    return save_png_atomically(fig, path, dpi=dpi)


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def check_points(values, name: str, *, ndim: int = 2) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array.reshape(len(array), -1)).all(1))[0])
        raise ValueError(f"{name} has NaN or infinite values (first at row {row})")
    return array


def check_codes(values, names: Sequence[str] | None, name: str, n: int) -> np.ndarray:
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


def check_class_names(names, name: str) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(v, str) for v in names):
        raise ValueError(f"{name} must be a sequence of names (str), e.g. tfelg.schemes.WHAN_NAMES")
    return tuple(names)


def subsample_for_plot(n: int, max_points: int, seed: int) -> np.ndarray | None:
    """Sorted rows of a seeded subsample of ``max_points`` of ``n``, or None if all fit."""
    if n <= max_points:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def subsample_note(n: int, rows) -> str:
    return "" if rows is None else f" (random {len(rows):,} of {n:,} shown)"


def class_colour(name: str, code: int) -> str:
    """The one colour of a class name (:mod:`tfelg.outputs.colours`)."""
    return colours.class_colour(name, code)


def cluster_colour(code: int) -> str:
    """The colour of cluster ``code``: never a class colour."""
    return colours.cluster_colour(code)


def scatter_by_code(
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


def scatter_clusters(ax, x, y, clusters, k: int, *, n_total: int, seed: int) -> list:
    """Clusters in their own colours (never a class colour), each number written at its median."""
    handles = scatter_by_code(
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
