"""Seeded synthetic HST galaxies in F435W, F850LP and F160W, rendered with GalSim.

Why this exists: the image branch needs a default data set that ships with
nothing, is identical for a seed on every machine, and carries the truth
(type, structure, dust, rest-frame colours) next to what a survey would
measure, so that a learned representation can be judged against both the
truth and the classical schemes (UVJ, Gini-M20). The generator follows how
such images come about rather than painting classes:

1. A true type (elliptical, lenticular, early spiral, late spiral,
   irregular, merger) fixes the structure: a de Vaucouleurs bulge and/or an
   exponential disk, star-forming knots (GalSim ``RandomKnots``) in late
   types and irregulars, and for mergers two such galaxies overlapping.
2. Each component has its own spectrum: a mixture of the Coleman, Wu &
   Weedman (1980) templates that GalSim ships (``CWW_{E,Sbc,Scd,Im}_ext``),
   attenuated by Calzetti et al. (2000) dust with a type-dependent A_V. With
   the pure templates and no dust V-J never exceeds 1.31, so the dusty
   star-forming part of the UVJ plane would stay empty; dust and age
   mixtures populate it as in real surveys.
3. The spectra, redshifted (0.01 <= z <= 1, volume-weighted), are integrated
   through the real ACS/WFC F435W, ACS/WFC F850LP and WFC3/IR F160W
   throughputs that GalSim ships, giving each component's flux per band;
   the same rest-frame spectra through Bessell U, V and 2MASS J
   (:mod:`tfelg.synthetic.restframe_filters`) give the rest-frame AB colours
   U-V and V-J that the UVJ class is computed from (by the TFDS builder).
4. Each band is drawn by GalSim on a 64x64 grid at 0.06"/pixel, convolved
   with that band's Airy PSF (FWHM 0.084", 0.100", 0.185": F160W is about
   twice as broad), in nJy per pixel, and white sky noise at GOODS/CANDELS-
   like depth is added.

Speed (see ``benchmarks/hst_rendering.py``): the drawing, not the spectra,
is the cost. Profiles are truncated (de Vaucouleurs at 4.5 half-light radii,
a fixed ratio so GalSim's Sersic tables are computed once), the GSParams are
loosened to what a noisy 64x64 stamp can show (:func:`fast_gsparams`), each
component is drawn on its own, and
galaxies are drawn in a process pool (:mod:`tfelg.process_pool`). Every
galaxy has its own random stream seeded by (seed, index), so the sample is
identical for any number of workers.

Simplifications, stated: apparent F160W magnitude (19-23; the reference
work's cut is H < 25) and redshift are drawn independently, not from a
luminosity function; physical sizes are converted to angles with a flat
LambdaCDM cosmology (H0 = 70, Om = 0.3) and clipped to 0.08"-0.9" so that a
galaxy fits its stamp (a selection that the reference work's cutout size
makes too); the PSF is one Airy profile per band (a wavelength-dependent
``ChromaticAiry`` costs 10-97 s a galaxy); the noise is white (drizzled
mosaics have correlated noise).
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np

from tfelg import process_pool
from tfelg.synthetic import restframe_filters

TRUE_TYPE_NAMES: tuple[str, ...] = (
    "elliptical",
    "lenticular",
    "early_spiral",
    "late_spiral",
    "irregular",
    "merger",
)
TRUE_TYPE = {name: np.int8(i) for i, name in enumerate(TRUE_TYPE_NAMES)}
# Illustrative proportions for an H < 25 sample at z < 1 (disks the majority,
# a tenth mergers), not a fit to a catalogue.
DEFAULT_TYPE_FRACTIONS: dict[str, float] = {
    "elliptical": 0.18,
    "lenticular": 0.14,
    "early_spiral": 0.20,
    "late_spiral": 0.22,
    "irregular": 0.16,
    "merger": 0.10,
}

BANDS: tuple[str, ...] = ("F435W", "F850LP", "F160W")
BANDPASS_FILES = {
    "F435W": "ACS_wfc_F435W.dat",
    "F850LP": "ACS_wfc_F850LP.dat",
    "F160W": "WFC3_ir_F160W.dat",
}
TEMPLATES: tuple[str, ...] = ("E", "Sbc", "Scd", "Im")
PIXEL_SCALE = 0.06  # arcsec per pixel, the CANDELS/GOODS drizzled mosaics
STAMP_SIZE = 64
PSF_FWHM_ARCSEC = {"F435W": 0.084, "F850LP": 0.100, "F160W": 0.185}
# 5-sigma point-source depths (AB) of GOODS-S ACS and CANDELS-Deep WFC3
# (rounded, after Giavalisco et al. 2004 and Guo et al. 2013), in apertures of
# 0.2" (ACS) and 0.4" (WFC3) diameter; the per-pixel sigma below makes such a
# source a 5-sigma detection in that aperture under white noise.
DEPTH_5SIGMA_AB = {"F435W": 27.9, "F850LP": 27.2, "F160W": 27.4}
DEPTH_APERTURE_DIAMETER_ARCSEC = {"F435W": 0.2, "F850LP": 0.2, "F160W": 0.4}
AB_NJY_ZEROPOINT = 31.4  # an AB magnitude of 31.4 is 1 nJy
REDSHIFT_RANGE = (0.01, 1.0)
H_MAG_RANGE = (19.0, 23.0)
ANGULAR_SIZE_RANGE_ARCSEC = (0.08, 0.9)
DEVAUCOULEURS_TRUNCATION = 4.5  # in half-light radii
CALZETTI_RV = 4.05
ZERO_DUST_TYPES = ("elliptical",)


def sky_sigma_njy(band: str) -> float:
    """White-noise sigma per pixel (nJy) giving the band's 5-sigma depth."""
    flux_5sigma = 10.0 ** (-0.4 * (DEPTH_5SIGMA_AB[band] - AB_NJY_ZEROPOINT))
    radius_pix = 0.5 * DEPTH_APERTURE_DIAMETER_ARCSEC[band] / PIXEL_SCALE
    n_pix = np.pi * radius_pix**2
    return float(flux_5sigma / (5.0 * np.sqrt(n_pix)))


def calzetti_k(wavelength_angstrom) -> np.ndarray:
    """Calzetti et al. 2000 (ApJ 533, 682) k(lambda) = A(lambda)/E(B-V)_stars.

    k = 2.659 (-2.156 + 1.509/x - 0.198/x^2 + 0.011/x^3) + R_V for
    0.12 <= x < 0.63 micron, k = 2.659 (-1.857 + 1.040/x) + R_V for
    0.63 <= x <= 2.20 micron, R_V = 4.05. Outside, the curve is extended
    linearly in 1/x from its end points (as is usual below 0.12 micron) and
    floored at zero (no negative attenuation beyond 2.2 micron).
    """
    x = np.asarray(wavelength_angstrom, dtype=np.float64) / 1e4
    inv = 1.0 / x

    def blue(ix):
        return 2.659 * (-2.156 + 1.509 * ix - 0.198 * ix**2 + 0.011 * ix**3) + CALZETTI_RV

    def red(ix):
        return 2.659 * (-1.857 + 1.040 * ix) + CALZETTI_RV

    k = np.where(x < 0.63, blue(inv), red(inv))
    # Linear extrapolation in 1/x below 0.12 micron, from the slope there.
    ix0, ix1 = 1 / 0.12, 1 / 0.11
    slope = (blue(ix1) - blue(ix0)) / (ix1 - ix0)
    k = np.where(x < 0.12, blue(ix0) + slope * (inv - ix0), k)
    return np.maximum(k, 0.0)


def galsim_share_dir() -> str:
    import galsim

    return galsim.meta_data.share_dir


@functools.lru_cache(maxsize=1)
def spectral_library() -> SpectralLibrary:
    return SpectralLibrary(galsim_share_dir())


class SpectralLibrary:
    """The CWW templates, the HST throughputs and the U, V, J curves, as arrays.

    Band fluxes are photon-counting means of f_nu (AB convention):
    <f_nu> = int f_nu T dlambda/lambda / int T dlambda/lambda. Computing them
    with NumPy on each band's own wavelength grid is exact to the
    interpolation and cheap; the test checks it against GalSim's own
    ``SED.calculateMagnitude``.
    """

    def __init__(self, share_dir: str):
        self.rest_wave = np.geomspace(900.0, 30000.0, 4000)  # Angstrom
        flambda = []
        for name in TEMPLATES:
            w, f = np.loadtxt(os.path.join(share_dir, "SEDs", f"CWW_{name}_ext.sed"), unpack=True)
            flambda.append(np.interp(self.rest_wave, w, f, left=0.0, right=0.0))
        flambda = np.array(flambda)
        # f_nu ~ f_lambda lambda^2, each template scaled to <f_nu>_V = 1.
        fnu = flambda * self.rest_wave**2
        self.bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for band, file_name in BANDPASS_FILES.items():
            w_nm, t = np.loadtxt(os.path.join(share_dir, "bandpasses", file_name), unpack=True)
            keep = t > 1e-4 * t.max()
            first, last = np.flatnonzero(keep)[[0, -1]]
            self.bands[band] = (w_nm[first : last + 1] * 10.0, t[first : last + 1])
        self.rest_bands = {b: restframe_filters.curve(b) for b in ("U", "V", "J")}
        v_of_templates = self._rest_mean(fnu, "V")
        self.template_fnu = fnu / v_of_templates[:, None]
        self.dust_k = calzetti_k(self.rest_wave)

    def _rest_mean(self, fnu, band):
        w, t = self.rest_bands[band]
        values = np.array([np.interp(w, self.rest_wave, f) for f in np.atleast_2d(fnu)])
        weight = t / w
        return np.trapezoid(values * weight, w, axis=-1) / np.trapezoid(weight, w)

    def spectrum(self, template_weights, a_v: float) -> np.ndarray:
        """Rest-frame f_nu of a template mixture behind Calzetti dust, <f_nu>_V = 1."""
        fnu = np.asarray(template_weights, np.float64) @ self.template_fnu
        fnu = fnu * 10.0 ** (-0.4 * a_v * self.dust_k / CALZETTI_RV)
        return fnu / self._rest_mean(fnu, "V")[0]

    def rest_frame_fnu(self, fnu: np.ndarray) -> dict[str, float]:
        """<f_nu> in rest-frame U, V and J."""
        return {b: float(self._rest_mean(fnu, b)[0]) for b in ("U", "V", "J")}

    def observed_fnu(self, fnu: np.ndarray, redshift: float) -> np.ndarray:
        """<f_nu> through F435W, F850LP, F160W of a rest-frame f_nu seen at ``redshift``.

        Up to the common factor (1 + z) L / (4 pi D_L^2), which the caller's
        flux normalisation absorbs: only ratios between bands and components
        matter here.
        """
        out = np.empty(len(BANDS))
        for i, band in enumerate(BANDS):
            w, t = self.bands[band]
            values = np.interp(w / (1.0 + redshift), self.rest_wave, fnu)
            weight = t / w
            out[i] = np.trapezoid(values * weight, w) / np.trapezoid(weight, w)
        return out


# --- Cosmology: redshifts and angular sizes -------------------------------------


@functools.lru_cache(maxsize=1)
def _cosmology_tables():
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
    z = np.linspace(REDSHIFT_RANGE[0], REDSHIFT_RANGE[1], 512)
    dvdz = cosmo.differential_comoving_volume(z).value
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dvdz[1:] + dvdz[:-1]) * np.diff(z))])
    kpc_per_arcsec = cosmo.kpc_proper_per_arcmin(z).value / 60.0
    return z, cdf / cdf[-1], kpc_per_arcsec


def draw_redshift(rng: np.random.Generator) -> float:
    """A redshift in 0.01-1 with probability proportional to comoving volume."""
    z, cdf, _ = _cosmology_tables()
    return float(np.interp(rng.uniform(), cdf, z))


def arcsec_of_kpc(size_kpc: float, redshift: float) -> float:
    z, _, kpc_per_arcsec = _cosmology_tables()
    return float(size_kpc / np.interp(redshift, z, kpc_per_arcsec))


# --- Galaxy parameters ---------------------------------------------------------------


@dataclasses.dataclass
class Component:
    """One light component of a galaxy.

    Attributes:
      kind: ``bulge`` (de Vaucouleurs), ``disk`` (exponential) or ``knots``
        (GalSim RandomKnots following an exponential disk).
      hlr: half-light radius in arcsec.
      q: projected axis ratio; beta: position angle in degrees.
      dx, dy: offset from the stamp centre in arcsec.
      fnu: rest-frame f_nu of the component, scaled so that <f_nu>_V is its
        share of the galaxy's rest-frame V light.
      band_flux: flux in F435W, F850LP, F160W in nJy (set by normalisation).
      n_knots: number of knots (``knots`` only).
      tidal_g, tidal_beta: extra shear (and its angle) of a merger's
        secondary, a crude tidal distortion.
    """

    kind: str
    hlr: float
    q: float
    beta: float
    dx: float
    dy: float
    fnu: np.ndarray
    band_flux: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(len(BANDS)))
    n_knots: int = 0
    tidal_g: float = 0.0
    tidal_beta: float = 0.0


@dataclasses.dataclass
class Galaxy:
    """Everything needed to draw one galaxy, and its truth."""

    index: int
    true_type: int
    redshift: float
    components: list[Component]
    truth: dict[str, float]
    seed: tuple[int, int]


def _disk_axis_ratio(rng) -> float:
    """Projected axis ratio of a thick disk (intrinsic 0.15) at a random inclination."""
    cos_i = rng.uniform(0.1, 1.0)
    return float(np.sqrt(cos_i**2 * (1 - 0.15**2) + 0.15**2))


def _size(rng, median_kpc, redshift, dex=0.2) -> float:
    kpc = median_kpc * 10.0 ** rng.normal(0.0, dex)
    return float(np.clip(arcsec_of_kpc(kpc, redshift), *ANGULAR_SIZE_RANGE_ARCSEC))


def _weights(**w) -> np.ndarray:
    out = np.array([w.get(t, 0.0) for t in TEMPLATES], dtype=np.float64)
    return out / out.sum()


def _single_galaxy_components(rng, kind: str, redshift: float, lib: SpectralLibrary):
    """Components of a non-merging galaxy of type ``kind`` and its truth."""
    beta = float(rng.uniform(0.0, 180.0))
    disk_q = _disk_axis_ratio(rng)
    comps: list[tuple[str, float, float, np.ndarray, float, int]] = []  # kind, hlr, q, fnu, frac
    if kind == "elliptical":
        a_v = float(rng.uniform(0.0, 0.2))
        young = rng.uniform(0.0, 0.05)
        bulge_fnu = lib.spectrum(_weights(E=1 - young, Sbc=young), a_v)
        comps.append(("bulge", _size(rng, 2.5, redshift), rng.uniform(0.6, 1.0), bulge_fnu, 1.0, 0))
        bt, knot_frac = 1.0, 0.0
    elif kind == "lenticular":
        a_v = float(rng.uniform(0.0, 0.4))
        bt = float(rng.uniform(0.4, 0.75))
        old = rng.uniform(0.7, 1.0)
        comps.append(
            (
                "bulge",
                _size(rng, 1.5, redshift),
                rng.uniform(0.7, 1.0),
                lib.spectrum(_weights(E=1), a_v),
                bt,
                0,
            )
        )
        comps.append(
            (
                "disk",
                _size(rng, 3.5, redshift),
                disk_q,
                lib.spectrum(_weights(E=old, Sbc=1 - old), a_v),
                1 - bt,
                0,
            )
        )
        knot_frac = 0.0
    elif kind == "early_spiral":
        a_v = float(rng.uniform(0.2, 1.0) + 1.0 * (1 - disk_q) * rng.uniform(0, 1))
        bt = float(rng.uniform(0.15, 0.4))
        knot_frac = float(rng.uniform(0.03, 0.1))
        late = rng.uniform(0.0, 0.4)
        disk_fnu = lib.spectrum(_weights(Sbc=1 - late, Scd=late), a_v)
        comps.append(
            (
                "bulge",
                _size(rng, 1.2, redshift),
                rng.uniform(0.7, 1.0),
                lib.spectrum(_weights(E=1), 0.5 * a_v),
                bt,
                0,
            )
        )
        disk_hlr = _size(rng, 4.5, redshift)
        comps.append(("disk", disk_hlr, disk_q, disk_fnu, (1 - bt) * (1 - knot_frac), 0))
        comps.append(
            (
                "knots",
                disk_hlr,
                disk_q,
                lib.spectrum(_weights(Im=1), a_v),
                (1 - bt) * knot_frac,
                int(rng.integers(5, 15)),
            )
        )
    elif kind == "late_spiral":
        # Edge-on late disks are the dusty star formers of the UVJ diagram.
        a_v = float(rng.uniform(0.2, 1.0) + 2.0 * (1 - disk_q) * rng.uniform(0.3, 1))
        bt = float(rng.uniform(0.0, 0.1))
        knot_frac = float(rng.uniform(0.1, 0.25))
        irr = rng.uniform(0.0, 0.5)
        disk_hlr = _size(rng, 4.5, redshift)
        if bt > 0.02:
            comps.append(
                (
                    "bulge",
                    _size(rng, 0.8, redshift),
                    rng.uniform(0.7, 1.0),
                    lib.spectrum(_weights(E=0.5, Sbc=0.5), 0.5 * a_v),
                    bt,
                    0,
                )
            )
        comps.append(
            (
                "disk",
                disk_hlr,
                disk_q,
                lib.spectrum(_weights(Scd=1 - irr, Im=irr), a_v),
                (1 - bt) * (1 - knot_frac),
                0,
            )
        )
        comps.append(
            (
                "knots",
                disk_hlr,
                disk_q,
                lib.spectrum(_weights(Im=1), a_v),
                (1 - bt) * knot_frac,
                int(rng.integers(10, 25)),
            )
        )
    elif kind == "irregular":
        a_v = float(rng.uniform(0.0, 0.8))
        bt = 0.0
        knot_frac = float(rng.uniform(0.3, 0.55))
        mix = rng.uniform(0.0, 0.5)
        disk_hlr = _size(rng, 3.0, redshift)
        q = float(rng.uniform(0.4, 1.0))
        comps.append(
            (
                "disk",
                disk_hlr,
                q,
                lib.spectrum(_weights(Im=1 - mix, Scd=mix), a_v),
                1 - knot_frac,
                0,
            )
        )
        comps.append(
            (
                "knots",
                disk_hlr * rng.uniform(0.8, 1.3),
                q,
                lib.spectrum(_weights(Im=1), a_v),
                knot_frac,
                int(rng.integers(8, 20)),
            )
        )
    else:
        raise ValueError(f"unknown single-galaxy type {kind!r}")
    components = []
    for c_kind, hlr, q, fnu, frac, n_knots in comps:
        # Irregulars' knots are spread off-centre; other components are concentric.
        off = (
            rng.normal(0.0, 0.25 * hlr, size=2)
            if (kind == "irregular" and c_kind == "knots")
            else (0.0, 0.0)
        )
        components.append(
            Component(
                c_kind,
                hlr,
                float(q),
                beta,
                float(off[0]),
                float(off[1]),
                fnu * frac,
                n_knots=n_knots,
            )
        )
    truth = {
        "a_v": a_v,
        "bulge_fraction": bt,
        "knot_fraction": knot_frac,
        "disk_axis_ratio": disk_q,
    }
    return components, truth


MERGER_PROGENITORS = ("elliptical", "early_spiral", "late_spiral")


def draw_galaxy(seed: int, index: int, true_type: int) -> Galaxy:
    """The parameters of galaxy ``index`` of the sample ``seed``: its own random stream."""
    rng = np.random.default_rng([seed, index, 0])
    lib = spectral_library()
    redshift = draw_redshift(rng)
    kind = TRUE_TYPE_NAMES[true_type]
    nan = float("nan")
    if kind == "merger":
        first, second = rng.choice(MERGER_PROGENITORS, size=2)
        comps1, truth = _single_galaxy_components(rng, str(first), redshift, lib)
        comps2, truth2 = _single_galaxy_components(rng, str(second), redshift, lib)
        ratio = float(rng.uniform(1.0, 4.0))  # rest-frame V, primary / secondary
        separation = float(rng.uniform(0.25, 1.0))
        angle = rng.uniform(0.0, 2 * np.pi)
        g, g_beta = float(rng.uniform(0.1, 0.4)), float(rng.uniform(0.0, 180.0))
        for c in comps1:
            c.fnu = c.fnu * ratio / (1.0 + ratio)
        for c in comps2:
            c.fnu = c.fnu / (1.0 + ratio)
            c.dx += separation * np.cos(angle)
            c.dy += separation * np.sin(angle)
            c.tidal_g, c.tidal_beta = g, g_beta
        components = comps1 + comps2
        truth.update(
            merger_separation_arcsec=separation,
            merger_flux_ratio=ratio,
            a_v=(truth["a_v"] * ratio + truth2["a_v"]) / (1.0 + ratio),
        )
    else:
        components, truth = _single_galaxy_components(rng, kind, redshift, lib)
        truth.update(merger_separation_arcsec=nan, merger_flux_ratio=nan)

    total_fnu = sum(c.fnu for c in components)
    rest = lib.rest_frame_fnu(total_fnu)
    truth["u_minus_v"] = -2.5 * np.log10(rest["U"] / rest["V"])
    truth["v_minus_j"] = -2.5 * np.log10(rest["V"] / rest["J"])
    # Observed fluxes: normalise the total F160W flux to the drawn H magnitude.
    observed = np.array([lib.observed_fnu(c.fnu, redshift) for c in components])
    h_mag = float(rng.uniform(*H_MAG_RANGE))
    h_njy = 10.0 ** (-0.4 * (h_mag - AB_NJY_ZEROPOINT))
    scale = h_njy / observed[:, BANDS.index("F160W")].sum()
    for c, fluxes in zip(components, observed * scale, strict=True):
        c.band_flux = fluxes
        c.fnu = None  # not needed for drawing; keeps what crosses processes small
    totals = (observed * scale).sum(axis=0)
    for band, flux in zip(BANDS, totals, strict=True):
        truth[f"mag_{band}"] = float(AB_NJY_ZEROPOINT - 2.5 * np.log10(flux))
    bulges = [c.hlr for c in components if c.kind == "bulge"]
    disks = [c.hlr for c in components if c.kind == "disk"]
    truth["bulge_hlr_arcsec"] = bulges[0] if bulges else nan
    truth["disk_hlr_arcsec"] = disks[0] if disks else nan
    return Galaxy(index, int(true_type), redshift, components, truth, (int(seed), int(index)))


# --- Drawing -----------------------------------------------------------------------------


def fast_gsparams():
    """GSParams loosened to what a noisy 64x64 stamp can show.

    folding_threshold 5e-3 -> 2e-2 and maxk_threshold 1e-3 -> 5e-3 shrink the
    FFT (the Airy PSF's r^-3 wings otherwise set a large real-space box);
    the light they move is well below the sky noise of a stamp (checked in
    the benchmark: the largest pixel difference from the default rendering
    is a small fraction of the noise sigma). minimum_fft_size 128 -> 64:
    a 64x64 stamp needs no larger transform when the profile is compact.
    """
    import galsim

    return galsim.GSParams(
        folding_threshold=2e-2,
        maxk_threshold=5e-3,
        kvalue_accuracy=1e-4,
        xvalue_accuracy=1e-4,
        minimum_fft_size=64,
    )


def _profile(component: Component, flux: float, knot_seed: int, gsparams):
    import galsim

    if component.kind == "bulge":
        profile = galsim.DeVaucouleurs(
            half_light_radius=component.hlr,
            trunc=DEVAUCOULEURS_TRUNCATION * component.hlr,
            flux=flux,
            gsparams=gsparams,
        )
    elif component.kind == "disk":
        profile = galsim.Exponential(half_light_radius=component.hlr, flux=flux, gsparams=gsparams)
    elif component.kind == "knots":
        profile = galsim.RandomKnots(
            component.n_knots,
            half_light_radius=component.hlr,
            flux=flux,
            rng=galsim.BaseDeviate(knot_seed),
            gsparams=gsparams,
        )
    else:
        raise ValueError(f"unknown component kind {component.kind!r}")
    profile = profile.shear(q=component.q, beta=component.beta * galsim.degrees)
    if component.tidal_g:
        profile = profile.shear(g=component.tidal_g, beta=component.tidal_beta * galsim.degrees)
    if component.dx or component.dy:
        profile = profile.shift(component.dx, component.dy)
    return profile


@functools.lru_cache(maxsize=4)
def _psfs(fast: bool):
    import galsim

    gsparams = fast_gsparams() if fast else None
    # Unobscured Airy: FWHM = 1.028994 lambda/D.
    return [
        galsim.Airy(lam_over_diam=PSF_FWHM_ARCSEC[b] / 1.028994, gsparams=gsparams) for b in BANDS
    ]


def draw_noiseless(galaxy: Galaxy, fast: bool = True) -> np.ndarray:
    """(64, 64, 3) float32 image in nJy per pixel, no noise.

    Each component is convolved and drawn on its own and the images added:
    a sum of profiles is evaluated at every k of one transform, so a
    bulge + disk + knots sum costs more than three small draws (measured
    1.3-2x faster for spirals and mergers).
    """
    import galsim

    gsparams = fast_gsparams() if fast else None
    out = np.empty((STAMP_SIZE, STAMP_SIZE, len(BANDS)), dtype=np.float32)
    knot_seed = int(np.random.default_rng([*galaxy.seed, 2]).integers(1, 2**31 - 1))
    for b, psf in enumerate(_psfs(fast)):
        image = galsim.ImageF(STAMP_SIZE, STAMP_SIZE, scale=PIXEL_SCALE)
        for i, component in enumerate(galaxy.components):
            profile = _profile(component, float(component.band_flux[b]), knot_seed + i, gsparams)
            convolved = galsim.Convolve(profile, psf, gsparams=gsparams)
            convolved.drawImage(image=image, add_to_image=True)
        out[:, :, b] = image.array
    return out


def add_noise(image: np.ndarray, seed: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng([*seed, 1])
    sigma = np.array([sky_sigma_njy(b) for b in BANDS], dtype=np.float32)
    return (image + rng.normal(size=image.shape).astype(np.float32) * sigma).astype(np.float32)


def make_galaxy(seed: int, index: int, true_type: int, fast: bool = True):
    """Draws and renders one galaxy: (noisy image, redshift, truth). Runs in workers."""
    galaxy = draw_galaxy(seed, index, true_type)
    image = add_noise(draw_noiseless(galaxy, fast=fast), galaxy.seed)
    return image, galaxy.redshift, galaxy.truth


@dataclasses.dataclass
class Sample:
    """A synthetic sample: images and truth, row-aligned.

    Attributes:
      object_id: ``HSTSYN-<seed>-<index>``, unique and stable.
      image: (N, 64, 64, 3) float32, F435W, F850LP, F160W in nJy per pixel.
      true_type: int8 codes into ``TRUE_TYPE_NAMES``.
      redshift: (N,) float64.
      truth: dict of (N,) float64 arrays: ``u_minus_v``, ``v_minus_j``
        (rest-frame AB), ``a_v``, ``bulge_fraction`` (rest-frame V),
        ``knot_fraction``, ``disk_axis_ratio``, ``bulge_hlr_arcsec``,
        ``disk_hlr_arcsec``, ``mag_F435W``/``mag_F850LP``/``mag_F160W``
        (AB, noiseless), ``merger_separation_arcsec``, ``merger_flux_ratio``
        (NaN where not applicable).
    """

    object_id: np.ndarray
    image: np.ndarray
    true_type: np.ndarray
    redshift: np.ndarray
    truth: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.object_id)


def draw_types(num_galaxies: int, seed: int, type_fractions=None) -> np.ndarray:
    fractions = dict(DEFAULT_TYPE_FRACTIONS if type_fractions is None else type_fractions)
    unknown = set(fractions) - set(TRUE_TYPE_NAMES)
    if unknown:
        raise ValueError(f"unknown galaxy types {sorted(unknown)}; known: {TRUE_TYPE_NAMES}")
    p = np.array([fractions.get(n, 0.0) for n in TRUE_TYPE_NAMES], dtype=np.float64)
    if np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"type fractions must be >= 0 and not all zero, got {fractions}")
    u = np.random.default_rng([seed, 2**31]).uniform(size=num_galaxies)
    return (
        np.searchsorted(np.cumsum(p / p.sum()), u, side="right").clip(0, len(p) - 1).astype(np.int8)
    )


def generate(
    num_galaxies: int,
    seed: int = 0,
    *,
    num_workers: int | None = None,
    fast: bool = True,
    type_fractions=None,
) -> Sample:
    """Renders ``num_galaxies`` galaxies, in a process pool of ``num_workers``.

    Args:
      num_galaxies: sample size (>= 1).
      seed: sample seed; galaxy i depends only on (seed, i).
      num_workers: processes (default: the CPUs this process may use); 1
        draws in this process.
      fast: truncated profiles are always used; ``fast`` also selects
        :func:`fast_gsparams` (False: GalSim's default GSParams, for the
        benchmark's comparison).
      type_fractions: {type name: weight}, default DEFAULT_TYPE_FRACTIONS.
    """
    if num_galaxies < 1:
        raise ValueError(f"num_galaxies must be >= 1, got {num_galaxies}")
    types = draw_types(num_galaxies, seed, type_fractions)
    args = [(int(seed), i, int(t), bool(fast)) for i, t in enumerate(types)]
    results = process_pool.map_in_pool(_make_galaxy_star, args, num_workers)
    images = np.stack([r[0] for r in results])
    redshift = np.array([r[1] for r in results], dtype=np.float64)
    keys = list(results[0][2])
    truth = {k: np.array([r[2][k] for r in results], dtype=np.float64) for k in keys}
    ids = np.array([f"HSTSYN-{seed}-{i:07d}" for i in range(num_galaxies)])
    return Sample(ids, images, types, redshift, truth)


def _make_galaxy_star(args):
    return make_galaxy(*args)


def psf_image(band: str, size: int = 25) -> np.ndarray:
    """The band's Airy PSF drawn at the stamp's pixel scale (odd size, sum 1), for statmorph."""
    psf = _psfs(True)[BANDS.index(band)]
    image = psf.drawImage(nx=size, ny=size, scale=PIXEL_SCALE).array.astype(np.float64)
    return image / image.sum()
