"""BPT and WHAN diagrams of a galaxy sample, coloured by any classification.

The diagnostic diagrams are how an astronomer judges at a glance whether a
sample (synthetic or real) and a classification (true classes, the
classical schemes, or clusters found by a model) make sense: the BPT
"seagull" of Kauffmann et al. (2003) and the WHAN diagram of Cid Fernandes et
al. (2011), with the published boundaries drawn from ``tfelg.schemes`` so
the figure and the classifier can never disagree about where a line is.

Figures are drawn with matplotlib's object API (no pyplot global state, the
Agg renderer, safe in threads and headless jobs) and written atomically: a
temporary file in the target folder, then ``os.replace``, so a crash never
leaves half a PNG behind.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tfelg import atomic, schemes
from tfelg.lines import LineTable

BPT_XLIM = (-2.0, 1.0)
BPT_YLIM = (-1.5, 1.5)
WHAN_XLIM = (-2.0, 1.0)
WHAN_WLIM = (0.1, 1000.0)  # Angstrom, log scale: log W from -1 to 3

# One colour per class name, shared by every scheme, so "star_forming" is
# blue whether it comes from the truth, BPT or WHAN.
CLASS_COLOURS: dict[str, str] = {
    "star_forming": "#1f77b4",
    "composite": "#2ca02c",
    "seyfert": "#d62728",
    "strong_agn": "#d62728",
    "liner": "#ff7f0e",
    "weak_agn": "#ff7f0e",
    "agn": "#9467bd",
    "retired": "#8c564b",
    "passive": "#17becf",
    "quiescent": "#8c564b",
    "low_sn": "#b0b0b0",
    "unclassified": "#e377c2",
}
_FALLBACK_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

BPT_XLABEL = r"$\log_{10}$ ([N II] $\lambda$6584 / H$\alpha$)  (flux ratio)"
BPT_YLABEL = r"$\log_{10}$ ([O III] $\lambda$5007 / H$\beta$)  (flux ratio)"
WHAN_XLABEL = BPT_XLABEL
WHAN_YLABEL = r"$W_{\mathrm{H}\alpha}$ = EW(H$\alpha$) [$\AA$], emission positive"


@dataclasses.dataclass
class DiagramPanel:
    """One panel of a figure.

    Attributes:
      kind: ``"bpt"`` (x = log [NII]/Halpha, y = log [OIII]/Hbeta) or
        ``"whan"`` (x = log [NII]/Halpha, y = EW(Halpha) in Angstrom).
      x, y: (N,) coordinates; non-finite values (and W <= 0 on the WHAN
        diagram's log axis) are not drawn but are counted in the legend.
      classes: (N,) integer codes into ``class_names``.
      class_names: the name of each code.
      title: panel title.
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    class_names: Sequence[str]
    title: str = ""

    def __post_init__(self):
        if self.kind not in ("bpt", "whan"):
            raise ValueError(f"panel kind must be 'bpt' or 'whan', got {self.kind!r}")
        self.x = np.asarray(self.x, dtype=np.float64).reshape(-1)
        self.y = np.asarray(self.y, dtype=np.float64).reshape(-1)
        classes = np.asarray(self.classes)
        if classes.ndim != 1:
            raise ValueError(f"classes must be 1-D, got shape {classes.shape}")
        if not (len(self.x) == len(self.y) == len(classes)):
            raise ValueError(
                f"{self.kind.upper()} panel: x, y and classes must have one length, got "
                f"{len(self.x)}, {len(self.y)} and {len(classes)}"
            )
        if classes.size and not np.issubdtype(classes.dtype, np.integer):
            raise ValueError(f"classes must be integer codes, got dtype {classes.dtype}")
        if isinstance(self.class_names, str) or not all(
            isinstance(name, str) for name in self.class_names
        ):
            raise ValueError(
                "class_names must be a sequence of class names (str), e.g. "
                f"tfelg.schemes.WHAN_NAMES; got {type(self.class_names).__name__}"
            )
        self.class_names = tuple(self.class_names)
        if classes.size and (classes.min() < 0 or classes.max() >= len(self.class_names)):
            raise ValueError(
                f"class codes must lie in [0, {len(self.class_names)}) "
                f"(one per name in {self.class_names}), got {classes.min()}..{classes.max()}"
            )
        self.classes = classes.astype(np.int64)


def _coordinates(table_or_ratios, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(log [NII]/Halpha, y) from a LineTable, a classify_table dict, or an (x, y) pair."""
    if isinstance(table_or_ratios, LineTable):
        ratios = schemes.classify_table(table_or_ratios)
        return ratios["log_nii_ha"], ratios[y_key]
    if isinstance(table_or_ratios, Mapping):
        missing = [k for k in ("log_nii_ha", y_key) if k not in table_or_ratios]
        if missing:
            raise ValueError(
                f"ratios mapping lacks {missing}; expected the keys of "
                "tfelg.schemes.classify_table's result"
            )
        return table_or_ratios["log_nii_ha"], table_or_ratios[y_key]
    if isinstance(table_or_ratios, Sequence | np.ndarray) and len(table_or_ratios) == 2:
        return table_or_ratios[0], table_or_ratios[1]
    raise ValueError(
        "expected a LineTable, a mapping with 'log_nii_ha' and "
        f"{y_key!r} (tfelg.schemes.classify_table), or an (x, y) pair; "
        f"got {type(table_or_ratios).__name__}"
    )


def _colour(name: str, code: int) -> str:
    return CLASS_COLOURS.get(name, _FALLBACK_COLOURS[code % len(_FALLBACK_COLOURS)])


def _draw_points(ax, panel: DiagramPanel) -> None:
    drawable = np.isfinite(panel.x) & np.isfinite(panel.y)
    if panel.kind == "whan":
        drawable &= panel.y > 0
    n = len(panel.x)
    size = 6.0 if n <= 2000 else 2.0
    alpha = float(np.clip(3000.0 / max(n, 1), 0.2, 0.8))
    counts = np.bincount(panel.classes, minlength=len(panel.class_names))
    handles = []
    # Large classes first so that small ones are drawn on top of them.
    for code in np.argsort(-counts, kind="stable"):
        if counts[code] == 0:
            continue
        name = panel.class_names[code]
        colour = _colour(name, int(code))
        rows = (panel.classes == code) & drawable
        if rows.any():
            ax.scatter(
                panel.x[rows],
                panel.y[rows],
                s=size,
                c=colour,
                alpha=alpha,
                linewidths=0,
                rasterized=True,
            )
        shown = int(rows.sum())
        label = f"{name} ({counts[code]:,}"
        label += ")" if shown == counts[code] else f"; {shown:,} shown)"
        handles.append((code, Line2D([], [], ls="", marker="o", ms=5, color=colour, label=label)))
    handles.sort(key=lambda item: item[0])
    # Below the axes: inside, it would hide part of a diagram that is
    # populated somewhere for some sample.
    ax.legend(
        handles=[h for _, h in handles],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=2,
        fontsize=7,
        frameon=False,
        title=f"N = {n:,}",
        title_fontsize=7,
    )


def _draw_bpt_boundaries(ax) -> None:
    x = np.linspace(BPT_XLIM[0], 0.0499, 400)
    ax.plot(x, schemes.kauffmann03(x), "k--", lw=1.0, label="Kauffmann+03")
    x = np.linspace(BPT_XLIM[0], 0.4699, 400)
    ax.plot(x, schemes.kewley01_nii(x), "k-", lw=1.0, label="Kewley+01")
    style = dict(fontsize=8, color="0.25", ha="center")
    ax.text(-1.4, -1.3, "star-forming", **style)
    ax.text(-0.02, -1.3, "comp.", **style)
    ax.text(0.75, 1.3, "AGN", **style)


def _draw_whan_boundaries(ax) -> None:
    x0, x1 = WHAN_XLIM
    split = schemes.WHAN_X_SPLIT
    line = dict(color="k", lw=1.0)
    ax.plot([x0, x1], [schemes.WHAN_EW_RETIRED] * 2, **line)
    ax.plot([split, split], [schemes.WHAN_EW_RETIRED, WHAN_WLIM[1]], **line)
    ax.plot([split, x1], [schemes.WHAN_EW_STRONG_AGN] * 2, **line)
    ax.plot([x0, x1], [schemes.WHAN_EW_PASSIVE] * 2, color="k", lw=1.0, ls="--")
    style = dict(fontsize=8, color="0.25")
    ax.text(-1.9, 400.0, "SF", **style)
    ax.text(0.55, 400.0, "sAGN", **style)
    ax.text(0.55, 4.0, "wAGN", **style)
    ax.text(0.45, 1.0, "retired", **style)
    ax.text(0.45, 0.15, "passive", **style)


def _draw_panel(ax, panel: DiagramPanel) -> None:
    _draw_points(ax, panel)
    if panel.kind == "bpt":
        _draw_bpt_boundaries(ax)
        ax.set_xlim(*BPT_XLIM)
        ax.set_ylim(*BPT_YLIM)
        ax.set_xlabel(BPT_XLABEL)
        ax.set_ylabel(BPT_YLABEL)
    else:
        _draw_whan_boundaries(ax)
        ax.set_yscale("log")
        ax.set_xlim(*WHAN_XLIM)
        ax.set_ylim(*WHAN_WLIM)
        ax.set_xlabel(WHAN_XLABEL)
        ax.set_ylabel(WHAN_YLABEL)
    if panel.title:
        ax.set_title(panel.title, fontsize=10)


def save_png_atomically(fig: Figure, path, *, dpi: int = 110) -> str:
    """Writes ``fig`` as a PNG at ``path`` via a temporary file and a rename."""
    path = os.fspath(path)
    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path


def plot_panels(
    panels: Sequence[DiagramPanel],
    path,
    *,
    title: str | None = None,
    ncols: int = 2,
    dpi: int = 120,
) -> str:
    """Draws BPT/WHAN panels in a grid and writes a PNG atomically.

    Returns:
      ``path`` as a string.
    """
    panels = list(panels)
    if not panels:
        raise ValueError("no panels to plot")
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(5.6 * ncols, 6.2 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        _draw_panel(ax, panel)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_png_atomically(fig, path, dpi=dpi)


def plot_bpt(table_or_ratios, classes, class_names, path, *, title: str = "BPT diagram") -> str:
    """BPT [NII] diagram coloured by ``classes``, Kauffmann and Kewley lines.

    Args:
      table_or_ratios: a ``LineTable`` (ratios computed by
        ``tfelg.schemes.classify_table``), that function's result, or an
        (x, y) pair of log10 ratios.
      classes: (N,) integer codes into ``class_names``.
      class_names: names of the codes (e.g. ``tfelg.schemes.BPT_NAMES``).
      path: PNG file to write (folders are created).
      title: figure title.

    Raises:
      ValueError: lengths differ, codes out of range, or unknown input.
    """
    x, y = _coordinates(table_or_ratios, "log_oiii_hb")
    return plot_panels([DiagramPanel("bpt", x, y, classes, class_names, title)], path)


def plot_whan(table_or_ratios, classes, class_names, path, *, title: str = "WHAN diagram") -> str:
    """WHAN diagram (log [NII]/Halpha vs EW(Halpha)) coloured by ``classes``.

    Same arguments as :func:`plot_bpt`; a mapping needs ``log_nii_ha`` and
    ``ew_ha``, a pair is (log [NII]/Halpha, EW(Halpha) in Angstrom).
    """
    x, w = _coordinates(table_or_ratios, "ew_ha")
    return plot_panels([DiagramPanel("whan", x, w, classes, class_names, title)], path)


def plot_bpt_whan(
    table_or_ratios,
    classes,
    class_names,
    path,
    *,
    title: str | None = None,
    whan_classes=None,
    whan_class_names=None,
) -> str:
    """BPT and WHAN side by side.

    Both panels are coloured by ``classes`` unless ``whan_classes`` (and
    ``whan_class_names``) are given for the WHAN panel, e.g. BPT classes on
    the left and WHAN classes on the right. ``table_or_ratios`` is a
    ``LineTable`` or a ``tfelg.schemes.classify_table`` result.
    """
    if isinstance(table_or_ratios, LineTable):
        table_or_ratios = schemes.classify_table(table_or_ratios)
    x, y = _coordinates(table_or_ratios, "log_oiii_hb")
    _, w = _coordinates(table_or_ratios, "ew_ha")
    if (whan_classes is None) != (whan_class_names is None):
        raise ValueError("give both whan_classes and whan_class_names, or neither")
    if whan_classes is None:
        whan_classes, whan_class_names = classes, class_names
    panels = [
        DiagramPanel("bpt", x, y, classes, class_names, "BPT"),
        DiagramPanel("whan", x, w, whan_classes, whan_class_names, "WHAN"),
    ]
    return plot_panels(panels, path, title=title)
