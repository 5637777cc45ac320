"""The map of an image embedding as pictures: thumbnails on a grid, and the map by class.

Why: a t-SNE map of image features is only convincing when one can see the
galaxies in it: round red early types in one region, blue clumpy disks in
another. The reference work pasted a thumbnail at every mapped point, so
most of them hid under their neighbours, and drew them from single-band or
JPEG stamps. Here the map is binned into a grid of square cells, R along
its longer side (at most R x R cells), and one galaxy is drawn per
occupied cell, the one nearest the cell centre
(ties go to the lower row number), so nothing overlaps, empty regions of
the map stay black, and the same map always shows the same galaxies.
Thumbnails of calibrated stamps are three-band Lupton composites drawn with
one display for every stamp shown (:mod:`tfelg.outputs.hst_plots`: PSF
matched, fixed band scales, one stretch), so colour and brightness compare
across the map.

Beside it: the same map as scatter plots coloured by each classification
(true type, UVJ, Gini-M20) and by cluster, in the project's colours
(:mod:`tfelg.outputs.colours`, :data:`tfelg.outputs.hst_plots.TYPE_COLOURS`),
and the UVJ diagram coloured by cluster, which says whether a cluster of
image features is a colour class. Matplotlib's object API on the Agg
canvas, PNGs written atomically.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.lines import Line2D

from tfelg import schemes
from tfelg.outputs import coded_scatter, colours, hst_plots, sprites

DEFAULT_GRID_SIZE = 20
# Room around the thumbnail map (inches): a border, and the title's lines
# above it, so that the title never covers the top row of a small map.
MAP_MARGIN_INCHES = 0.05
MAP_TITLE_LINE_INCHES = 0.17  # a line of 9-point text
MAP_TITLE_CHARS_PER_INCH = 13.5  # 9-point DejaVu Sans, with room to spare
BACKGROUND = (0, 0, 0)
# Maps wider than this (height / width) get one class panel per row.
WIDE_MAP_ASPECT = 0.6
LEGEND_INCHES = 1.9  # the legend column beside each class panel


@dataclasses.dataclass(frozen=True)
class GridLayout:
    """Which galaxy is drawn in which cell of a grid of square cells laid over a 2-D map.

    R cells span the longer side of the map's bounding box; the shorter side
    gets as many cells as it needs (at most R), centred on the map, so an
    elongated map is not drawn with rows of empty black cells.

    Attributes:
      rows: (M,) row numbers (into the map) of the galaxies shown, one per
        occupied cell, in cell order (bottom row first, left to right).
      cells: (M, 2) the (column, row) of each one's cell, row 0 at the bottom.
      grid_size: R.
      shape: (columns, rows) of the grid; the larger is R.
      origin: (x, y) map coordinates of the grid's lower left corner.
      cell_size: side of a cell in map units.
    """

    rows: np.ndarray
    cells: np.ndarray
    grid_size: int
    shape: tuple[int, int]
    origin: tuple[float, float]
    cell_size: float

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) of the grid in map coordinates."""
        width, height = (n * self.cell_size for n in self.shape)
        return (self.origin[0], self.origin[0] + width, self.origin[1], self.origin[1] + height)


def _check_map(xy) -> np.ndarray:
    xy = coded_scatter.check_points(xy, "map")
    if xy.shape[1] != 2 or len(xy) == 0:
        raise ValueError(f"map must be (N, 2) coordinates with N >= 1, got shape {xy.shape}")
    return xy


def grid_layout(xy, grid_size: int = DEFAULT_GRID_SIZE) -> GridLayout:
    """One representative galaxy per occupied cell of a grid of R cells across the map.

    The representative is the galaxy nearest its cell's centre; equal
    distances go to the lower row number, so the layout depends only on the
    map, never on a random draw.

    Args:
      xy: (N, 2) map coordinates (e.g. a t-SNE map).
      grid_size: R, cells along the map's longer side (>= 1); the grid
        has at most R x R cells (see :class:`GridLayout`).

    Raises:
      ValueError: a map that is not (N, 2), non-finite coordinates (the row
        is named), or R < 1.
    """
    xy = _check_map(xy)
    if int(grid_size) != grid_size or grid_size < 1:
        raise ValueError(f"grid_size must be a positive integer, got {grid_size}")
    grid_size = int(grid_size)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float((hi - lo).max())
    if not span > 0:  # every galaxy at one place: one cell
        span = 1.0
    cell_size = span / grid_size
    # Cells along each axis: R along the longer, enough for the shorter.
    shape = np.clip(np.ceil((hi - lo) / cell_size - 1e-9).astype(np.int64), 1, grid_size)
    origin = lo - (shape * cell_size - (hi - lo)) / 2.0
    index = np.clip(np.floor((xy - origin) / cell_size).astype(np.int64), 0, shape - 1)
    centres = origin + (index + 0.5) * cell_size
    distance = np.sum((xy - centres) ** 2, axis=1)
    cell_id = index[:, 1] * grid_size + index[:, 0]
    order = np.lexsort((np.arange(len(xy)), distance, cell_id))
    first = np.r_[True, cell_id[order][1:] != cell_id[order][:-1]]
    rows = order[first]
    return GridLayout(
        rows=rows,
        cells=index[rows],
        grid_size=grid_size,
        shape=(int(shape[0]), int(shape[1])),
        origin=(float(origin[0]), float(origin[1])),
        cell_size=float(cell_size),
    )


def thumbnail_canvas(layout: GridLayout, thumbnails, *, gap: int = 1) -> np.ndarray:
    """The grid as one image: each shown galaxy's thumbnail in its cell, black elsewhere.

    Args:
      layout: from :func:`grid_layout`.
      thumbnails: (M, h, w, 3) uint8 RGB, one per ``layout.rows`` in that
        order, row 0 at the bottom (as
        :func:`tfelg.outputs.sprites.galaxy_thumbnails` gives them).
      gap: black pixels between neighbouring thumbnails (taken off each
        thumbnail's border, so cells keep the thumbnails' size).

    Returns:
      (rows h, columns w, 3) uint8, row 0 at the top (for
      ``imshow(origin="upper")``).
    """
    thumbnails = sprites.to_uint8_images(thumbnails)
    if len(thumbnails) != len(layout.rows):
        raise ValueError(
            f"{len(thumbnails)} thumbnails for {len(layout.rows)} occupied cells of the layout"
        )
    _, h, w, _ = thumbnails.shape
    if gap < 0 or 2 * gap >= min(h, w):
        raise ValueError(f"gap must be in [0, {min(h, w) // 2}), got {gap}")
    n_cols, n_rows = layout.shape
    canvas = np.empty((n_rows * h, n_cols * w, 3), dtype=np.uint8)
    canvas[...] = np.asarray(BACKGROUND, dtype=np.uint8)
    for (col, row), thumb in zip(layout.cells, thumbnails, strict=True):
        top = (n_rows - 1 - int(row)) * h
        left = int(col) * w
        # Flipped: the thumbnail's row 0 is the bottom of the sky.
        canvas[top + gap : top + h - gap, left + gap : left + w - gap] = thumb[::-1][
            gap : h - gap, gap : w - gap
        ]
    return canvas


def plot_thumbnail_map(
    xy,
    images,
    path=None,
    *,
    grid_size: int = DEFAULT_GRID_SIZE,
    calibrated: bool = True,
    thumb_pixels: int | None = 48,
    crop: int | None = None,
    title: str = "t-SNE map",
    dpi: int = 100,
):
    """The map with one RGB thumbnail per occupied grid cell, on black.

    Args:
      xy: (N, 2) map coordinates.
      images: (N, h, w, 3) stamps in the rows of ``xy`` (see
        :func:`tfelg.outputs.sprites.galaxy_thumbnails`: calibrated flux, display
        values or uint8 RGB).
      path: PNG to write, or None for the Figure.
      grid_size: R, cells along the map's longer side.
      calibrated: calibrated flux (Lupton composites with one display for
        the galaxies shown) or a display image's values.
      thumb_pixels: largest side of a thumbnail in the PNG (larger ones are
        area-averaged down; never enlarged); None keeps the stamps' size.
      crop: show only the central ``crop`` x ``crop`` pixels of each stamp
        (small galaxies in large stamps, crowded fields), said in the title;
        the composites' display is still set from the whole stamps.
      title: the first line of the title; what is shown is added.

    Returns:
      ``path`` if given, else the Figure.
    """
    xy = _check_map(xy)
    images = np.asarray(images)
    if images.ndim != 4 or len(images) != len(xy):
        raise ValueError(
            f"images must be (N, h, w, 3) with N = {len(xy)} (one per map point), "
            f"got shape {images.shape}"
        )
    layout = grid_layout(xy, grid_size)
    thumbs = sprites.galaxy_thumbnails(images[layout.rows], calibrated=calibrated)
    if crop is not None:
        h, w = thumbs.shape[1:3]
        if not 1 <= crop <= min(h, w):
            raise ValueError(f"crop must be in [1, {min(h, w)}] for {h}x{w} stamps, got {crop}")
        top, left = (h - crop) // 2, (w - crop) // 2
        thumbs = thumbs[:, top : top + crop, left : left + crop]
    if thumb_pixels is not None and max(thumbs.shape[1:3]) > thumb_pixels:
        thumbs = sprites.resize_images(thumbs, thumb_pixels, thumb_pixels)
    canvas = thumbnail_canvas(layout, thumbs)
    what = (
        "three-band Lupton composites (F160W/F850LP/F435W as R/G/B, one stretch)"
        if calibrated and images.dtype != np.uint8
        else "display colours as given"
    )
    if crop is not None:
        what += f"; central {crop} x {crop} pixels of each stamp"
    # The canvas at one figure pixel per canvas pixel, inside fixed margins;
    # the title wrapped to the map's width, with room for its lines.
    width, height = canvas.shape[1] / dpi, canvas.shape[0] / dpi
    fig_width = max(width, 3.0) + 2 * MAP_MARGIN_INCHES
    chars = max(30, int(fig_width * MAP_TITLE_CHARS_PER_INCH))
    text = "\n".join(
        textwrap.fill(line, chars)
        for line in (
            f"{title}: {len(layout.rows):,} of {len(xy):,} galaxies shown, one per occupied "
            f"cell of a {layout.shape[0]} x {layout.shape[1]} grid (nearest the cell centre)",
            what,
        )
    )
    title_height = MAP_TITLE_LINE_INCHES * (text.count("\n") + 1) + 0.1
    fig_height = height + MAP_MARGIN_INCHES + title_height
    fig = coded_scatter.new_figure(fig_width, fig_height)
    fig.set_layout_engine(None)
    fig.set_facecolor("black")
    ax = fig.add_axes(
        (
            (fig_width - width) / 2 / fig_width,
            MAP_MARGIN_INCHES / fig_height,
            width / fig_width,
            height / fig_height,
        )
    )
    ax.set_facecolor("black")
    ax.imshow(canvas, origin="upper", extent=layout.extent, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(text, color="white", fontsize=9, y=1.0 - 0.04 / fig_height, va="top")
    return coded_scatter.finish(fig, path, dpi)


def class_palette(names: Sequence[str]) -> list[str]:
    """The project's colour of each class name: true types as in hst_plots, others as colours."""
    if all(name in hst_plots.TYPE_COLOURS for name in names):
        return [hst_plots.TYPE_COLOURS[name] for name in names]
    return [colours.class_colour(name, code) for code, name in enumerate(names)]


def _legend_beside(legend_ax, handles) -> None:
    legend_ax.legend(
        handles=handles, fontsize=7, loc="upper left", borderaxespad=0.0, markerscale=1.2
    )


def plot_map_by_labels(
    xy,
    labels: Mapping[str, tuple[Sequence[int], Sequence[str]]],
    clusters=None,
    path=None,
    *,
    seed: int = 0,
    title: str = "t-SNE map",
    dpi: int = 100,
):
    """The map as scatter plots, one panel per classification and one by cluster.

    Args:
      xy: (N, 2) map coordinates.
      labels: panel title (e.g. "true type", "UVJ", "Gini-M20") ->
        (N integer codes, their class names), drawn in the project's class
        colours; panels in the mapping's order.
      clusters: (N,) cluster numbers (a last panel in the cluster colours,
        never a class colour), or None.
      seed: the drawing order of the points.

    Returns:
      ``path`` if given, else the Figure.
    """
    xy = _check_map(xy)
    n = len(xy)
    panels = []
    for name, (codes, names) in labels.items():
        names = coded_scatter.check_class_names(names, f"names of {name!r}")
        panels.append((name, coded_scatter.check_codes(codes, names, name, n), names))
    if clusters is not None:
        clusters = coded_scatter.check_codes(clusters, None, "clusters", n)
    count = len(panels) + (clusters is not None)
    if count == 0:
        raise ValueError("nothing to draw: give labels or clusters")
    # Equal scales on both axes, as in the thumbnail map, so the two figures
    # show the same shape: a wide map gets one panel per row, and the
    # panels' height follows the map's. Legends sit outside, off the points.
    span = np.ptp(xy, axis=0)
    aspect = float(np.clip(span[1] / span[0], 0.25, 1.5)) if span[0] > 0 else 1.0
    ncols = 1 if aspect < WIDE_MAP_ASPECT else min(count, 2)
    nrows = -(-count // ncols)
    panel_width = 7.5 if ncols == 1 else 4.6
    fig = coded_scatter.new_figure(
        ncols * (panel_width + LEGEND_INCHES), nrows * (panel_width * aspect + 0.45) + 0.5
    )
    # Each panel beside a column of its own for the legend.
    grid = fig.add_gridspec(nrows, 2 * ncols, width_ratios=[panel_width, LEGEND_INCHES] * ncols)
    axes, legend_axes = [], []
    for i in range(count):
        r, c = divmod(i, ncols)
        share = axes[0] if axes else None
        axes.append(fig.add_subplot(grid[r, 2 * c], sharex=share, sharey=share))
        legend_axes.append(fig.add_subplot(grid[r, 2 * c + 1]))
        legend_axes[-1].set_axis_off()
    for i, (name, codes, names) in enumerate(panels):
        handles = coded_scatter.scatter_by_code(
            axes[i], xy[:, 0], xy[:, 1], codes, names, class_palette(names), n_total=n, seed=seed
        )
        _legend_beside(legend_axes[i], handles)
        axes[i].set_title(f"by {name}", fontsize=10)
    if clusters is not None:
        ax = axes[len(panels)]
        k = int(clusters.max()) + 1
        handles = coded_scatter.scatter_clusters(
            ax, xy[:, 0], xy[:, 1], clusters, k, n_total=n, seed=seed
        )
        _legend_beside(legend_axes[len(panels)], handles)
        ax.set_title(f"by cluster (K = {k})", fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="box")
    fig.suptitle(
        textwrap.fill(f"{title} ({n:,} galaxies)", 12 * int(fig.get_figwidth())), fontsize=10
    )
    return coded_scatter.finish(fig, path, dpi)


def plot_uvj_by_cluster(
    u_minus_v, v_minus_j, redshift, clusters, path=None, *, seed: int = 0, dpi: int = 110
):
    """Rest-frame U-V against V-J coloured by cluster, with the Williams et al. 2009 box.

    Each cluster's legend entry gives its UVJ quiescent fraction
    (:func:`tfelg.schemes.uvj_class`, each galaxy's own redshift bin), so a
    cluster that is a colour class shows at once. Galaxies without both
    colours are left out and counted in the title.

    Returns:
      ``path`` if given, else the Figure.
    """
    uv = np.asarray(u_minus_v, dtype=np.float64)
    vj = np.asarray(v_minus_j, dtype=np.float64)
    z = np.asarray(redshift, dtype=np.float64)
    n = len(uv)
    if uv.ndim != 1 or vj.shape != uv.shape or z.shape != uv.shape:
        raise ValueError(
            f"u_minus_v, v_minus_j and redshift must be 1-D of one length, got shapes "
            f"{uv.shape}, {vj.shape}, {z.shape}"
        )
    clusters = coded_scatter.check_codes(clusters, None, "clusters", n)
    ok = np.isfinite(uv) & np.isfinite(vj)
    if not ok.any():
        raise ValueError("no galaxy has finite U-V and V-J")
    uvj = schemes.uvj_class(uv, vj, z)
    k = int(clusters.max()) + 1
    fig = coded_scatter.new_figure(6.4, 5.6)
    ax = fig.add_subplot(1, 1, 1)
    coded_scatter.scatter_clusters(
        ax, vj[ok], uv[ok], clusters[ok], k, n_total=int(ok.sum()), seed=seed
    )
    hst_plots.draw_uvj_box(ax)
    handles = []
    for c in range(k):
        rows = ok & (clusters == c)
        if rows.any():
            quiescent = float(np.mean(uvj[rows] == schemes.UVJ["quiescent"]))
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker=colours.cluster_marker(c),
                    ms=5,
                    color=colours.cluster_colour(c),
                    label=f"cluster {c} ({int(rows.sum()):,}; {100 * quiescent:.0f}% quiescent)",
                )
            )
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    ax.set_xlim(-0.2, 2.8)
    ax.set_ylim(0.2, 2.8)
    ax.set_xlabel("rest-frame V - J (AB)")
    ax.set_ylabel("rest-frame U - V (AB)")
    left_out = n - int(ok.sum())
    ax.set_title(
        "UVJ by cluster (Williams et al. 2009 box; solid 0.5<=z<1, dashed z<0.5)"
        + (f"; {left_out} without colours" if left_out else ""),
        fontsize=9,
    )
    return coded_scatter.finish(fig, path, dpi)
