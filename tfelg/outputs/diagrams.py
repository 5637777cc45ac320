"""BPT ([N II], [S II], [O I]) and WHAN diagrams of a galaxy sample, by any classification.

The diagnostic diagrams are how an astronomer judges at a glance whether a
sample (synthetic or real) and a classification (true classes, the
classical schemes, or clusters found by a model) make sense: the
[N II]/Halpha vs [O III]/Hbeta "seagull" of Baldwin, Phillips & Terlevich
(1981) with the Kauffmann et al. (2003) and Kewley et al. (2001) curves,
the [S II] and [O I] diagrams where Kewley et al. (2006) split Seyferts from
LINERs (the split ``tfelg.schemes.bpt_class`` makes), and the WHAN diagram
of Cid Fernandes et al. (2011). The boundaries are drawn from
``tfelg.schemes`` so the figure and the classifier can never disagree about
where a line is, and every curve is named in the legend.

How points are drawn, and why:

* colours come from :mod:`tfelg.outputs.colours`, one per class in every
  figure (colour-blind-safe Okabe-Ito);
* all classes go into one scatter in a seeded random order, so no class is
  painted over another just because it was drawn last; a class's opacity
  falls with its size, so a large class does not bury a small one;
* galaxies with S/N below 3 in a line of the diagram (and the ``low_sn``
  class) are drawn small and faint: their position is mostly noise;
* on the WHAN diagram, EW(Halpha) at or below the axis floor (0.1 A, or
  negative: passive galaxies with noise) is drawn as a down-triangle at the
  floor, an upper limit, instead of vanishing off the log axis;
* the legend (below the axes, where it hides no data) gives each class's
  count and how many could be placed.

Figures are drawn with matplotlib's object API (no pyplot global state, the
Agg renderer, safe in threads and headless jobs) and written atomically
(``tfelg.atomic``), so a crash never leaves half a PNG behind.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tfelg import atomic, schemes
from tfelg.lines import LineTable
from tfelg.outputs import colours as colours_lib

# Kept here for callers that imported it from this module; the one mapping
# lives in tfelg.outputs.colours.
CLASS_COLOURS = colours_lib.CLASS_COLOURS

KINDS = ("bpt", "sii", "oi", "whan")
BPT_XLIM = (-2.0, 1.0)
BPT_YLIM = (-1.5, 1.5)
SII_XLIM = (-1.2, 0.8)
OI_XLIM = (-2.5, 0.5)
WHAN_XLIM = (-2.0, 1.0)
WHAN_WLIM = (0.1, 1000.0)  # Angstrom, log scale: log W from -1 to 3
SNR_MIN = 3.0

BPT_XLABEL = r"$\log_{10}$ ([N II] $\lambda$6584 / H$\alpha$)  (flux ratio)"
BPT_YLABEL = r"$\log_{10}$ ([O III] $\lambda$5007 / H$\beta$)  (flux ratio)"
SII_XLABEL = r"$\log_{10}$ ([S II] $\lambda\lambda$6717,6731 / H$\alpha$)  (flux ratio)"
OI_XLABEL = r"$\log_{10}$ ([O I] $\lambda$6300 / H$\alpha$)  (flux ratio)"
WHAN_XLABEL = BPT_XLABEL
WHAN_YLABEL = r"$W_{\mathrm{H}\alpha}$ = EW(H$\alpha$) [$\AA$], emission positive"

# (x ratio key of tfelg.schemes.classify_table, y key, x limits, y limits, x label, y label)
_AXES = {
    "bpt": ("log_nii_ha", "log_oiii_hb", BPT_XLIM, BPT_YLIM, BPT_XLABEL, BPT_YLABEL),
    "sii": ("log_sii_ha", "log_oiii_hb", SII_XLIM, BPT_YLIM, SII_XLABEL, BPT_YLABEL),
    "oi": ("log_oi_ha", "log_oiii_hb", OI_XLIM, BPT_YLIM, OI_XLABEL, BPT_YLABEL),
    "whan": ("log_nii_ha", "ew_ha", WHAN_XLIM, WHAN_WLIM, WHAN_XLABEL, WHAN_YLABEL),
}
# The lines whose S/N decides whether a galaxy's place on each diagram means
# anything. WHAN needs none for retired/passive (weak lines define them), so
# there only the galaxies WHAN itself calls low_sn are faint.
_DIAGRAM_LINES = {
    "bpt": ("H_BETA", "OIII_5007", "H_ALPHA", "NII_6584"),
    "sii": ("H_BETA", "OIII_5007", "H_ALPHA", "SII"),
    "oi": ("H_BETA", "OIII_5007", "H_ALPHA", "OI_6300"),
}

LABEL_KAUFFMANN03 = "Kauffmann+03 (star formation upper limit)"
LABEL_KEWLEY01 = "Kewley+01 (maximum starburst)"
LABEL_KEWLEY06 = "Kewley+06 (Seyfert / LINER)"
LABEL_WHAN = "Cid Fernandes+11 (WHAN)"
LABEL_WHAN_PASSIVE = r"$W_{\mathrm{H}\alpha}$ = 0.5 $\AA$ (passive below, with [N II])"


@dataclasses.dataclass
class DiagramPanel:
    """One panel of a figure.

    Attributes:
      kind: ``"bpt"`` (x = log [NII]/Halpha, y = log [OIII]/Hbeta),
        ``"sii"`` (x = log [SII]/Halpha), ``"oi"`` (x = log [OI]/Halpha) or
        ``"whan"`` (x = log [NII]/Halpha, y = EW(Halpha) in Angstrom).
      x, y: (N,) coordinates; non-finite values are not drawn but are
        counted in the legend (on the WHAN diagram, W at or below the axis
        floor is drawn at the floor as an upper limit).
      classes: (N,) integer codes into ``class_names``.
      class_names: the name of each code.
      title: panel title.
      low_sn: optional (N,) booleans: galaxies whose position is uncertain
        (S/N < 3 in a line of this diagram), drawn small and faint. Points
        of a class named ``low_sn`` are drawn so in any case.
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    class_names: Sequence[str]
    title: str = ""
    low_sn: np.ndarray | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"panel kind must be one of {KINDS}, got {self.kind!r}")
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
        if self.low_sn is not None:
            low_sn = np.asarray(self.low_sn)
            if low_sn.shape != self.x.shape or low_sn.dtype != bool:
                raise ValueError(
                    f"low_sn must be {len(self.x)} booleans (one per galaxy), got "
                    f"shape {low_sn.shape} and dtype {low_sn.dtype}"
                )
            self.low_sn = low_sn


def _snr_ok(table: LineTable, line: str, snr_min: float) -> np.ndarray:
    if line == "SII":  # the doublet, summed as in tfelg.schemes.classify_table
        flux = table.line("SII_6717", "flux") + table.line("SII_6731", "flux")
        err = np.hypot(table.line("SII_6717", "flux_err"), table.line("SII_6731", "flux_err"))
    else:
        flux, err = table.line(line, "flux"), table.line(line, "flux_err")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.isfinite(err) & (err > 0) & (flux / err >= snr_min)


def diagram_low_sn(table_or_ratios, kind: str, snr_min: float = SNR_MIN) -> np.ndarray | None:
    """Galaxies whose place on diagram ``kind`` is uncertain, or None if unknown.

    From a ``LineTable``: S/N < ``snr_min`` in any line of the diagram (Hbeta,
    [O III], Halpha and [N II], [S II] or [O I]); on the WHAN diagram, the
    galaxies WHAN calls ``low_sn`` (retired and passive need no S/N). From a
    ``classify_table`` result: its ``bpt`` (for the three BPT diagrams, which
    share Hbeta, [O III] and Halpha) or ``whan`` code ``low_sn``. From an
    (x, y) pair: None.
    """
    if kind not in KINDS:
        raise ValueError(f"diagram kind must be one of {KINDS}, got {kind!r}")
    if isinstance(table_or_ratios, LineTable):
        if kind == "whan":
            codes = schemes.classify_table(table_or_ratios, snr_min=snr_min)["whan"]
            return codes == schemes.WHAN["low_sn"]
        ok = np.ones(len(table_or_ratios.object_id), dtype=bool)
        for line in _DIAGRAM_LINES[kind]:
            ok &= _snr_ok(table_or_ratios, line, snr_min)
        return ~ok
    if isinstance(table_or_ratios, Mapping):
        scheme = "whan" if kind == "whan" else "bpt"
        if scheme in table_or_ratios:
            codes = np.asarray(table_or_ratios[scheme])
            names = schemes.WHAN if scheme == "whan" else schemes.BPT
            return codes == names["low_sn"]
    return None


def _coordinates(table_or_ratios, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of diagram ``kind`` from a LineTable, a classify_table dict, or an (x, y) pair."""
    x_key, y_key = _AXES[kind][:2]
    if isinstance(table_or_ratios, LineTable):
        ratios = schemes.classify_table(table_or_ratios)
        return ratios[x_key], ratios[y_key]
    if isinstance(table_or_ratios, Mapping):
        missing = [k for k in (x_key, y_key) if k not in table_or_ratios]
        if missing:
            raise ValueError(
                f"ratios mapping lacks {missing}; expected the keys of "
                "tfelg.schemes.classify_table's result"
            )
        return table_or_ratios[x_key], table_or_ratios[y_key]
    if isinstance(table_or_ratios, Sequence | np.ndarray) and len(table_or_ratios) == 2:
        return table_or_ratios[0], table_or_ratios[1]
    raise ValueError(
        f"expected a LineTable, a mapping with {x_key!r} and {y_key!r} "
        "(tfelg.schemes.classify_table), or an (x, y) pair; "
        f"got {type(table_or_ratios).__name__}"
    )


def _panel(table_or_ratios, kind, classes, class_names, title, snr_min=SNR_MIN) -> DiagramPanel:
    x, y = _coordinates(table_or_ratios, kind)
    low_sn = diagram_low_sn(table_or_ratios, kind, snr_min)
    return DiagramPanel(kind, x, y, classes, class_names, title, low_sn)


def _colour(name: str, code: int) -> str:
    return colours_lib.class_colour(name, code)


def class_alpha(count: int) -> float:
    """Opacity of a class of ``count`` points: big classes translucent, small ones solid."""
    return float(np.clip(1500.0 / max(count, 1), 0.25, 0.9))


def _marker_size(n: int) -> float:
    return 7.0 if n <= 2000 else (3.0 if n <= 20000 else 1.5)


def _draw_points(ax, panel: DiagramPanel, seed: int = 0) -> tuple[list, int]:
    """Scatters the panel's galaxies; returns (legend handles, N)."""
    n = len(panel.x)
    drawable = np.isfinite(panel.x) & np.isfinite(panel.y)
    floor = np.zeros(n, dtype=bool)
    if panel.kind == "whan":
        floor = drawable & (panel.y <= WHAN_WLIM[0])
    counts = np.bincount(panel.classes, minlength=len(panel.class_names))
    faint = np.zeros(n, dtype=bool) if panel.low_sn is None else panel.low_sn.copy()
    for code, name in enumerate(panel.class_names):
        if name in colours_lib.FAINT_CLASSES:
            faint |= panel.classes == code
    sizes = _marker_size(n) * np.where(faint, 0.45, 1.0) * np.where(floor, 1.3, 1.0)
    rgba = np.zeros((n, 4))
    for code, name in enumerate(panel.class_names):
        rows = panel.classes == code
        if rows.any():
            rgba[rows] = to_rgba(_colour(name, code), class_alpha(int(counts[code])))
    rgba[faint, 3] = np.minimum(rgba[faint, 3] * 0.35, 0.15)
    y = np.where(floor, WHAN_WLIM[0] * 1.12, panel.y)
    # One seeded random drawing order within each layer: no class sits on top
    # of another because of the order of its code. Faint points go underneath.
    order = np.random.default_rng(seed).permutation(n)
    for layer, rows_in_layer, marker in (
        ("faint points", drawable & faint & ~floor, "o"),
        ("points", drawable & ~faint & ~floor, "o"),
        ("floor points", drawable & floor, "v"),
    ):
        rows = order[rows_in_layer[order]]
        if len(rows):
            ax.scatter(
                panel.x[rows],
                y[rows],
                s=sizes[rows],
                c=rgba[rows],
                marker=marker,
                linewidths=0,
                rasterized=True,
                gid=layer,
            )
    handles = []
    for code, name in enumerate(panel.class_names):
        if counts[code] == 0:
            continue
        shown = int((drawable & (panel.classes == code)).sum())
        label = f"{name} ({counts[code]:,}"
        label += ")" if shown == counts[code] else f"; {shown:,} placed)"
        handles.append(
            Line2D([], [], ls="", marker="o", ms=5, color=_colour(name, code), label=label)
        )
    n_faint = int((faint & drawable).sum())
    if n_faint and panel.low_sn is not None:
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=3,
                color="0.5",
                alpha=0.4,
                label=f"small, faint: S/N < {SNR_MIN:g} in a line here ({n_faint:,})",
            )
        )
    if floor.any():
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="v",
                ms=5,
                color="0.3",
                label=rf"$W_{{\mathrm{{H}}\alpha}} \leq$ {WHAN_WLIM[0]:g} $\AA$, at the floor "
                f"({int(floor.sum()):,})",
            )
        )
    return handles, n


def _kewley06_above_k01(x, k01, k06):
    """The Kewley+06 line where it matters: above the Kewley+01 curve (or past its pole)."""
    y01 = k01(x)
    y06 = k06(x)
    with np.errstate(invalid="ignore"):
        keep = np.isnan(y01) | (y06 > y01)
    return np.where(keep, y06, np.nan)


def _draw_boundaries(ax, kind: str) -> list:
    # A light box keeps a region's name readable over the points.
    box = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.7)
    style = dict(fontsize=8, color="0.25", ha="center", bbox=box)
    k03 = dict(color="k", ls="--", lw=1.1)
    k01 = dict(color="k", ls="-", lw=1.1)
    k06 = dict(color="k", ls="-.", lw=1.1)
    if kind == "bpt":
        x = np.linspace(BPT_XLIM[0], 0.0499, 400)
        ax.plot(x, schemes.kauffmann03(x), **k03)
        x = np.linspace(BPT_XLIM[0], 0.4699, 400)
        ax.plot(x, schemes.kewley01_nii(x), **k01)
        ax.text(-1.4, -1.3, "star-forming", **style)
        ax.text(-0.02, -1.3, "comp.", **style)
        ax.text(0.75, 1.3, "AGN", **style)
        return [
            Line2D([], [], label=LABEL_KAUFFMANN03, **k03),
            Line2D([], [], label=LABEL_KEWLEY01, **k01),
        ]
    if kind in ("sii", "oi"):
        xlim = SII_XLIM if kind == "sii" else OI_XLIM
        f01 = schemes.kewley01_sii if kind == "sii" else schemes.kewley01_oi
        f06 = schemes.kewley06_sii if kind == "sii" else schemes.kewley06_oi
        pole = 0.32 if kind == "sii" else -0.59
        x = np.linspace(xlim[0], pole - 1e-3, 400)
        ax.plot(x, f01(x), **k01)
        x = np.linspace(xlim[0], xlim[1], 800)
        ax.plot(x, _kewley06_above_k01(x, f01, f06), **k06)
        left, right = xlim
        span = right - left
        ax.text(left + 0.2 * span, -1.3, "star-forming", **style)
        ax.text(left + 0.35 * span, 1.3, "Seyfert", **style)
        ax.text(right - 0.1 * span, 0.1 if kind == "sii" else -0.4, "LINER", **style)
        return [
            Line2D([], [], label=LABEL_KEWLEY01, **k01),
            Line2D([], [], label=LABEL_KEWLEY06, **k06),
        ]
    x0, x1 = WHAN_XLIM
    split = schemes.WHAN_X_SPLIT
    line = dict(color="k", lw=1.0)
    ax.plot([x0, x1], [schemes.WHAN_EW_RETIRED] * 2, **line)
    ax.plot([split, split], [schemes.WHAN_EW_RETIRED, WHAN_WLIM[1]], **line)
    ax.plot([split, x1], [schemes.WHAN_EW_STRONG_AGN] * 2, **line)
    passive = dict(color="k", lw=1.0, ls="--")
    ax.plot([x0, x1], [schemes.WHAN_EW_PASSIVE] * 2, **passive)
    style = dict(fontsize=8, color="0.25", bbox=box)
    ax.text(-1.9, 400.0, "SF", **style)
    ax.text(0.55, 400.0, "sAGN", **style)
    ax.text(0.55, 4.0, "wAGN", **style)
    ax.text(0.62, 1.0, "retired", **style)
    ax.text(0.62, 0.3, "passive", **style)
    return [
        Line2D([], [], label=LABEL_WHAN, **line),
        Line2D([], [], label=LABEL_WHAN_PASSIVE, **passive),
    ]


def _draw_panel(ax, panel: DiagramPanel, seed: int = 0) -> None:
    handles, n = _draw_points(ax, panel, seed)
    handles += _draw_boundaries(ax, panel.kind)
    _, _, xlim, ylim, xlabel, ylabel = _AXES[panel.kind]
    if panel.kind == "whan":
        ax.set_yscale("log")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if panel.title:
        ax.set_title(panel.title, fontsize=10)
    # Below the axes: inside, it would hide part of a diagram that is
    # populated somewhere for some sample.
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=2,
        fontsize=7,
        frameon=False,
        title=f"N = {n:,}",
        title_fontsize=7,
    )


def save_png_atomically(fig: Figure, path, *, dpi: int = 110) -> str:
    """Writes ``fig`` as a PNG at ``path`` via a temporary file and a rename."""
    path = os.fspath(path)
    with atomic.atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path


def draw_panels(
    panels: Sequence[DiagramPanel],
    *,
    title: str | None = None,
    ncols: int = 2,
    seed: int = 0,
) -> Figure:
    """Draws BPT/WHAN panels in a grid and returns the Figure (nothing written).

    ``seed`` fixes the random drawing order of the points (the same seed,
    the same picture).
    """
    panels = list(panels)
    if not panels:
        raise ValueError("no panels to plot")
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    # Constrained layout keeps the legends below the axes and the figure
    # title clear of the panel titles.
    fig = Figure(figsize=(5.6 * ncols, 6.6 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        _draw_panel(ax, panel, seed)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def plot_panels(
    panels: Sequence[DiagramPanel],
    path,
    *,
    title: str | None = None,
    ncols: int = 2,
    dpi: int = 120,
    seed: int = 0,
) -> str:
    """Draws BPT/WHAN panels in a grid and writes a PNG atomically.

    Returns:
      ``path`` as a string.
    """
    fig = draw_panels(panels, title=title, ncols=ncols, seed=seed)
    return save_png_atomically(fig, path, dpi=dpi)


def plot_bpt(table_or_ratios, classes, class_names, path, *, title: str = "BPT diagram") -> str:
    """BPT [NII] diagram coloured by ``classes``, Kauffmann+03 and Kewley+01 curves.

    Args:
      table_or_ratios: a ``LineTable`` (ratios computed by
        ``tfelg.schemes.classify_table``, low-S/N galaxies found from the
        line errors), that function's result, or an (x, y) pair of log10
        ratios.
      classes: (N,) integer codes into ``class_names``.
      class_names: names of the codes (e.g. ``tfelg.schemes.BPT_NAMES``).
      path: PNG file to write (folders are created).
      title: figure title.

    Raises:
      ValueError: lengths differ, codes out of range, or unknown input.
    """
    panel = _panel(table_or_ratios, "bpt", classes, class_names, title)
    return plot_panels([panel], path)


def plot_whan(table_or_ratios, classes, class_names, path, *, title: str = "WHAN diagram") -> str:
    """WHAN diagram (log [NII]/Halpha vs EW(Halpha)) coloured by ``classes``.

    Same arguments as :func:`plot_bpt`; a mapping needs ``log_nii_ha`` and
    ``ew_ha``, a pair is (log [NII]/Halpha, EW(Halpha) in Angstrom).
    """
    panel = _panel(table_or_ratios, "whan", classes, class_names, title)
    return plot_panels([panel], path)


def bpt_whan_panels(
    table_or_ratios,
    classes,
    class_names,
    *,
    whan_classes=None,
    whan_class_names=None,
    label: str = "",
) -> list[DiagramPanel]:
    """The [N II], [S II] and [O I] BPT panels and the WHAN panel of one sample.

    The BPT panels are coloured by ``classes``; the WHAN panel by
    ``whan_classes`` if given (e.g. BPT classes on the BPT diagrams, WHAN
    classes on WHAN), else by ``classes`` too. ``label`` prefixes the
    panel titles. ``table_or_ratios`` is a ``LineTable`` or a
    ``tfelg.schemes.classify_table`` result.
    """
    if (whan_classes is None) != (whan_class_names is None):
        raise ValueError("give both whan_classes and whan_class_names, or neither")
    if whan_classes is None:
        whan_classes, whan_class_names = classes, class_names
    low_sn = {}
    if isinstance(table_or_ratios, LineTable):
        low_sn = {kind: diagram_low_sn(table_or_ratios, kind) for kind in KINDS}
        table_or_ratios = schemes.classify_table(table_or_ratios)
    elif not isinstance(table_or_ratios, Mapping):
        raise ValueError(
            "expected a LineTable or a tfelg.schemes.classify_table result (all four "
            f"diagrams need every ratio), got {type(table_or_ratios).__name__}"
        )
    prefix = f"{label}: " if label else ""
    panels = []
    for kind, title in (("bpt", "[N II] BPT"), ("sii", "[S II] BPT"), ("oi", "[O I] BPT")):
        x, y = _coordinates(table_or_ratios, kind)
        mask = low_sn.get(kind, diagram_low_sn(table_or_ratios, kind))
        panels.append(DiagramPanel(kind, x, y, classes, class_names, prefix + title, mask))
    x, w = _coordinates(table_or_ratios, "whan")
    mask = low_sn.get("whan", diagram_low_sn(table_or_ratios, "whan"))
    panels.append(DiagramPanel("whan", x, w, whan_classes, whan_class_names, prefix + "WHAN", mask))
    return panels


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
    """The three BPT diagrams ([N II], [S II], [O I]) and WHAN, in a 2 x 2 grid.

    The BPT panels are coloured by ``classes`` unless the WHAN panel gets its
    own ``whan_classes`` (and ``whan_class_names``), e.g. BPT classes on the
    BPT diagrams and WHAN classes on WHAN. ``table_or_ratios`` is a
    ``LineTable`` (low-S/N galaxies found from the line errors) or a
    ``tfelg.schemes.classify_table`` result.
    """
    panels = bpt_whan_panels(
        table_or_ratios,
        classes,
        class_names,
        whan_classes=whan_classes,
        whan_class_names=whan_class_names,
    )
    return plot_panels(panels, path, title=title)
