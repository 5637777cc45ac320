"""Figures of an HST image data set: RGB stamps per type, the UVJ diagram, the Gini-M20 plane.

Why: the first thing to check in a galaxy-image sample is whether it looks
like galaxies and whether its classes sit where the literature puts them
(quiescent ellipticals in the Williams et al. 2009 box and in the Lotz et
al. 2008 E/S0/Sa region, disks and irregulars outside). Matplotlib's
object API with the Agg canvas (no pyplot state), PNGs written atomically.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tfelg import schemes
from tfelg.outputs.diagrams import save_png_atomically

TYPE_COLOURS = {
    "elliptical": "#b2182b",
    "lenticular": "#ef8a62",
    "early_spiral": "#67a9cf",
    "late_spiral": "#2166ac",
    "irregular": "#1b7837",
    "merger": "#762a83",
    "unknown": "#777777",
}


def lupton_rgb(image: np.ndarray, *, stretch: float, q: float = 8.0) -> np.ndarray:
    """astropy ``make_lupton_rgb`` of one (H, W, 3) stamp: F160W, F850LP, F435W as R, G, B."""
    from astropy.visualization import make_lupton_rgb

    image = np.nan_to_num(np.asarray(image, dtype=np.float64))
    return make_lupton_rgb(image[:, :, 2], image[:, :, 1], image[:, :, 0], stretch=stretch, Q=q)


def plot_rgb_grid(
    images, types, type_names, path, *, per_type: int = 8, stretch: float | None = None
) -> str:
    """One row per type, ``per_type`` Lupton RGB stamps each (the first of each type)."""
    types = np.asarray(types)
    present = [t for t in range(len(type_names)) if np.any(types == t)]
    if stretch is None:
        # A common stretch for the whole grid: the 99th percentile of the F850LP pixels.
        stretch = float(np.percentile(np.asarray(images)[..., 1], 99.5)) / 2.0 or 1.0
    fig = Figure(figsize=(1.3 * per_type, 1.35 * len(present) + 0.4))
    FigureCanvasAgg(fig)
    for row, t in enumerate(present):
        chosen = np.flatnonzero(types == t)[:per_type]
        for col in range(per_type):
            ax = fig.add_subplot(len(present), per_type, row * per_type + col + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(chosen):
                ax.imshow(lupton_rgb(images[chosen[col]], stretch=stretch), origin="lower")
            else:
                ax.set_axis_off()
            if col == 0:
                ax.set_ylabel(type_names[t].replace("_", " "), fontsize=9)
    fig.suptitle("F160W / F850LP / F435W as R / G / B (astropy make_lupton_rgb)", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.01, top=0.93, wspace=0.04, hspace=0.06)
    return save_png_atomically(fig, path, dpi=80)  # noise-textured stamps compress poorly


def _scatter_by_type(ax, x, y, types, type_names):
    for t, name in enumerate(type_names):
        sel = (np.asarray(types) == t) & np.isfinite(x) & np.isfinite(y)
        if sel.any():
            ax.scatter(
                x[sel],
                y[sel],
                s=9,
                alpha=0.7,
                color=TYPE_COLOURS.get(name, "#444444"),
                label=f"{name.replace('_', ' ')} ({int(sel.sum())})",
                linewidths=0,
            )


def plot_uvj(u_minus_v, v_minus_j, redshift, types, type_names, path) -> str:
    """Rest-frame U-V against V-J, coloured by type, with the Williams et al. 2009 box.

    The box is drawn for 0.5 <= z < 1 (diagonal intercept 0.59) and dashed
    for z < 0.5 (0.69); classes use each galaxy's own redshift bin.
    """
    uv, vj = np.asarray(u_minus_v, float), np.asarray(v_minus_j, float)
    fig = Figure(figsize=(6.0, 5.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    _scatter_by_type(ax, vj, uv, types, type_names)
    for intercept, style in ((0.59, "-"), (0.69, "--")):
        x_corner = (1.3 - intercept) / 0.88
        ax.plot([-0.5, x_corner], [1.3, 1.3], "k" + style, lw=1)
        ax.plot([x_corner, 1.6], [1.3, 0.88 * 1.6 + intercept], "k" + style, lw=1)
        ax.plot([1.6, 1.6], [0.88 * 1.6 + intercept, 3.0], "k" + style, lw=1)
    ax.text(0.0, 2.3, "quiescent", fontsize=9)
    ax.set_xlim(-0.2, 2.8)
    ax.set_ylim(0.2, 2.8)
    ax.set_xlabel("rest-frame V - J (AB)")
    ax.set_ylabel("rest-frame U - V (AB)")
    ax.set_title("UVJ (Williams et al. 2009; solid 0.5<=z<1, dashed z<0.5)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_png_atomically(fig, path)


def plot_gini_m20(gini, m20, types, type_names, path, *, trusted=None, band: str = "") -> str:
    """Gini against M20 (M20 axis reversed, as in Lotz et al. 2008) with the Lotz lines.

    Only trusted measurements are drawn when ``trusted`` is given (the
    count left out is in the title).
    """
    g, m = np.asarray(gini, float), np.asarray(m20, float)
    types = np.asarray(types)
    left_out = 0
    if trusted is not None:
        trusted = np.asarray(trusted, bool)
        left_out = int(np.sum(~trusted & np.isfinite(g)))
        g, m, types = g[trusted], m[trusted], types[trusted]
    fig = Figure(figsize=(6.0, 5.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    _scatter_by_type(ax, m, g, types, type_names)
    x = np.linspace(-3.0, 0.0, 50)
    ax.plot(x, schemes.lotz08_merger_line(x), "k-", lw=1)
    x_cross = (0.33 - 0.80) / 0.28  # where the two lines meet
    x2 = np.linspace(-3.0, x_cross, 50)
    ax.plot(x2, schemes.lotz08_early_late_line(x2), "k--", lw=1)
    ax.text(-0.9, 0.70, "merger", fontsize=9)
    ax.text(-2.45, 0.64, "E/S0/Sa", fontsize=9)
    ax.text(-1.2, 0.36, "Sb-Ir", fontsize=9)
    ax.set_xlim(0.0, -3.0)
    ax.set_ylim(0.3, 0.75)
    ax.set_xlabel("M20")
    ax.set_ylabel("Gini")
    title = f"Gini-M20 (Lotz et al. 2008){' in ' + band if band else ''}"
    if left_out:
        title += f"; {left_out} flagged not shown"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return save_png_atomically(fig, path)
