"""Figures of an HST image data set: RGB stamps per type, the UVJ diagram, the Gini-M20 plane.

Why: the first thing to check in a galaxy-image sample is whether it looks
like galaxies and whether its classes sit where the literature puts them
(quiescent ellipticals in the Williams et al. 2009 box and in the Lotz et
al. 2008 E/S0/Sa region, disks and irregulars outside). Matplotlib's
object API with the Agg canvas (no pyplot state), PNGs written atomically.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from astropy.visualization import LuptonAsinhStretch
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


# The composite's neutral colour (AB magnitudes): a galaxy with these colours
# is grey, a bluer one blue, a redder one red. Images in nJy are f_nu, so
# without scale factors "grey" would mean a flat f_nu spectrum (B-z = z-H =
# 0), redder than nothing in a z < 1 sample: every galaxy came out orange
# (the synthetic sample's irregulars have B-z 1.6, z-H 0.7; its ellipticals
# 4.9 and 1.1, medians). The neutral point sits midway between those two
# loci, so the blue cloud looks blue and the red sequence red/orange. The
# scale factors are fixed constants, not fitted per galaxy or per figure,
# so the same colour looks the same in every stamp and every data set.
RGB_NEUTRAL_AB = {"F435W-F850LP": 3.2, "F850LP-F160W": 0.9}
# Per-band factors that make a galaxy of the neutral colours equal in
# F435W, F850LP and F160W (in that order): F435W brightened, F160W dimmed.
RGB_BAND_SCALES = np.array(
    [
        10.0 ** (0.4 * RGB_NEUTRAL_AB["F435W-F850LP"]),
        1.0,
        10.0 ** (-0.4 * RGB_NEUTRAL_AB["F850LP-F160W"]),
    ]
)
# The asinh softening: 20 rather than astropy's 8 compresses the bright end
# more, so the knots of a bright irregular are not one saturated blue blob
# (looked at on the 2,000-galaxy figure).
RGB_Q = 20.0
# In units of the sky noise of the composite's intensity (the mean of the
# three scaled bands): the asinh curve is linear up to about RGB_STRETCH
# sigma, and intensity below RGB_FLOOR sigma is black. F435W is brightened
# 19x, so its noise dominates the sky; without the floor every stamp sits on
# blue noise. The floor is taken off the intensity, not off each band, so it
# dims a pixel without changing its colour.
#
# Before scaling, F435W and F850LP are PSF-matched to F160W (PSF FWHM
# 0.185" against 0.084" and 0.100"), as colour images and colours are made:
# otherwise every core looks bluer than its outskirts (the sharper blue
# PSF), and the 19x F435W noise, clipped at zero where negative, turns faint
# red galaxies blue (measured on 24 synthetic galaxies: without matching 5
# of 11 ellipticals had a bluer than red core, with it 1, the faintest,
# H = 22.9).
RGB_STRETCH = 4.0
RGB_FLOOR = 1.5


@dataclasses.dataclass(frozen=True)
class RgbDisplay:
    """One display for a set of stamps: band scales, stretch and black floor.

    Attributes:
      scales: (3,) factors for F435W, F850LP, F160W.
      stretch: the asinh's linear range, in scaled image units.
      floor: scaled intensity shown black.
      q: the asinh softening (astropy's ``Q``).
      match_sigma_pixels: (3,) Gaussian sigmas (pixels) that bring each band
        to F160W's PSF; zeros for no matching.
    """

    scales: np.ndarray
    stretch: float
    floor: float = 0.0
    q: float = RGB_Q
    match_sigma_pixels: tuple[float, float, float] = (0.0, 0.0, 0.0)


def psf_matching_sigmas() -> tuple[float, float, float]:
    """Gaussian sigmas (pixels) that widen each band's PSF to F160W's.

    The PSFs are the HST ones of :mod:`tfelg.synthetic.hst_galaxies` (Airy,
    FWHM in ``PSF_FWHM_ARCSEC``); a Gaussian of FWHM sqrt(FWHM_F160W^2 -
    FWHM_band^2) is the usual approximation of the matching kernel, close
    enough for a display (photometry would use the real PSFs).
    """
    from tfelg.synthetic import hst_galaxies as hst

    target = hst.PSF_FWHM_ARCSEC["F160W"]
    fwhm_to_sigma = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return tuple(
        float(np.sqrt(max(target**2 - hst.PSF_FWHM_ARCSEC[b] ** 2, 0.0)) * fwhm_to_sigma)
        / hst.PIXEL_SCALE
        for b in hst.BANDS
    )


def _prepare(image: np.ndarray, scales, match_sigma_pixels) -> np.ndarray:
    """A (..., H, W, 3) stamp PSF-matched band by band, then scaled."""
    from scipy.ndimage import gaussian_filter

    image = np.nan_to_num(np.array(image, dtype=np.float64))
    for band, sigma in enumerate(match_sigma_pixels):
        if sigma > 0:
            sigmas = (0,) * (image.ndim - 3) + (sigma, sigma)
            image[..., band] = gaussian_filter(image[..., band], sigmas, mode="nearest")
    return image * np.asarray(scales)


def rgb_display(images, *, calibrated: bool = True) -> RgbDisplay:
    """The display of a set of (N, H, W, 3) stamps: one stretch for all of them.

    The stretch and floor are set from the sky noise of all stamps pooled
    (the MAD of the PSF-matched, scaled intensity: galaxies cover a small
    part of each stamp), so a galaxy is drawn the same whatever other galaxies share the
    figure, and brightness compares across stamps.

    Args:
      images: (N, H, W, 3) or (H, W, 3) stamps, F435W, F850LP, F160W.
      calibrated: True for flux in nJy (f_nu) at HST resolution: bands
        PSF-matched to F160W and given the fixed scales of
        ``RGB_BAND_SCALES``. False for a display image already in colour
        (``hubble_deep_field``'s 8-bit channels): the bands are used as given.
    """
    from astropy.stats import mad_std

    scales = RGB_BAND_SCALES if calibrated else np.ones(3)
    match = psf_matching_sigmas() if calibrated else (0.0, 0.0, 0.0)
    intensity = _prepare(images, scales, match).mean(axis=-1)
    sigma = float(mad_std(intensity))
    if not sigma > 0:  # noiseless stamps (tests, models' reconstructions)
        sigma = max(float(np.percentile(intensity, 99.0)), 1e-12) / 50.0
    return RgbDisplay(
        scales=scales,
        stretch=RGB_STRETCH * sigma,
        floor=RGB_FLOOR * sigma,
        match_sigma_pixels=match,
    )


class _FlooredLuptonStretch(LuptonAsinhStretch):
    """Lupton's asinh of the intensity less a floor (``make_lupton_rgb``'s stretch_object).

    ``make_lupton_rgb`` multiplies every band by f(I)/I; with f(I) taken of
    max(I - floor, 0) the sky goes black while each pixel keeps its band
    ratios, i.e. its colour.
    """

    def __init__(self, floor: float, stretch: float, q: float):
        super().__init__(stretch=stretch, Q=q)
        self.floor = floor

    def __call__(self, values, clip=False, out=None):
        values = np.maximum(np.asarray(values, dtype=np.float64) - self.floor, 0.0)
        return super().__call__(values, clip=clip)


def lupton_rgb(image: np.ndarray, display: RgbDisplay) -> np.ndarray:
    """astropy ``make_lupton_rgb`` of one (H, W, 3) stamp: F160W, F850LP, F435W as R, G, B.

    The stamp is PSF-matched and scaled as ``display`` says, then drawn with
    its stretch and floor.

    Returns:
      (H, W, 3) uint8, channels R, G, B.
    """
    from astropy.visualization import make_lupton_rgb

    image = _prepare(image, display.scales, display.match_sigma_pixels)
    return make_lupton_rgb(
        image[:, :, 2],
        image[:, :, 1],
        image[:, :, 0],
        stretch_object=_FlooredLuptonStretch(display.floor, display.stretch, display.q),
    )


def plot_rgb_grid(
    images,
    types,
    type_names,
    path,
    *,
    per_type: int = 8,
    calibrated: bool = True,
    display: RgbDisplay | None = None,
) -> str:
    """One row per type, ``per_type`` Lupton RGB stamps each (the first of each type).

    Every stamp is drawn with one :class:`RgbDisplay` (by default
    :func:`rgb_display` of the stamps shown), so colour and brightness
    compare across the grid.
    """
    types = np.asarray(types)
    present = [t for t in range(len(type_names)) if np.any(types == t)]
    chosen = {t: np.flatnonzero(types == t)[:per_type] for t in present}
    if display is None:
        shown = np.concatenate([chosen[t] for t in present]) if present else []
        display = rgb_display(np.asarray(images)[shown], calibrated=calibrated)
    fig = Figure(figsize=(1.3 * per_type, 1.35 * len(present) + 0.55))
    FigureCanvasAgg(fig)
    for row, t in enumerate(present):
        for col in range(per_type):
            ax = fig.add_subplot(len(present), per_type, row * per_type + col + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(chosen[t]):
                ax.imshow(lupton_rgb(images[chosen[t][col]], display), origin="lower")
            else:
                ax.set_axis_off()
            if col == 0:
                ax.set_ylabel(type_names[t].replace("_", " "), fontsize=9)
    title = "F160W / F850LP / F435W as R / G / B (astropy make_lupton_rgb, one stretch)"
    if calibrated:
        b_z, z_h = RGB_NEUTRAL_AB["F435W-F850LP"], RGB_NEUTRAL_AB["F850LP-F160W"]
        title += (
            f"\nPSF-matched to F160W; grey: F435W-F850LP = {b_z}, F850LP-F160W = {z_h} AB, "
            "bluer looks blue"
        )
    else:
        title += "\nbands as given (a display image, not flux)"
    fig.suptitle(title, fontsize=9)
    top = 1.0 - 0.5 / (1.35 * len(present) + 0.55)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.01, top=top, wspace=0.04, hspace=0.06)
    return save_png_atomically(fig, path, dpi=80)  # noise-textured stamps compress poorly


def _scatter_by_type(ax, x, y, types, type_names, seed: int = 0):
    """Every type at once in a seeded random order, so no type is painted over another.

    Drawn type by type, the lenticulars covered the ellipticals they share
    the UVJ red clump with; the legend counts each type's points.
    """
    types = np.asarray(types)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    order = finite[np.random.default_rng(seed).permutation(len(finite))]
    palette = np.array([TYPE_COLOURS.get(name, "#444444") for name in type_names], dtype=object)
    if len(order):
        ax.scatter(x[order], y[order], s=9, alpha=0.7, c=list(palette[types[order]]), linewidths=0)
    for t, name in enumerate(type_names):
        count = int(np.sum(types[finite] == t))
        if count:
            ax.scatter([], [], s=9, color=palette[t], label=f"{name.replace('_', ' ')} ({count})")


def draw_uvj_box(ax) -> None:
    """The Williams et al. 2009 quiescent box: solid for 0.5 <= z < 1 (0.59), dashed z < 0.5."""
    for intercept, style in ((0.59, "-"), (0.69, "--")):
        x_corner = (1.3 - intercept) / 0.88
        ax.plot([-0.5, x_corner], [1.3, 1.3], "k" + style, lw=1)
        ax.plot([x_corner, 1.6], [1.3, 0.88 * 1.6 + intercept], "k" + style, lw=1)
        ax.plot([1.6, 1.6], [0.88 * 1.6 + intercept, 3.0], "k" + style, lw=1)
    ax.text(0.0, 2.3, "quiescent", fontsize=9)


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
    draw_uvj_box(ax)
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
