"""Seeded synthetic emission-line galaxies with known classes and spectra.

Why this exists: tfelg's default data must be shippable, deterministic and
labelled with the *truth*, yet look to the classical schemes like a real
SDSS-like sample, so that an unsupervised result on it can be judged against
both the truth and WHAN/BPT. The generator therefore follows the physics that
real catalogues obey rather than painting points on the diagrams:

1. Each galaxy gets a true class (star-forming, Seyfert = strong AGN,
   LINER = weak AGN, retired, passive) in SDSS-like proportions.
2. Its emission is the sum of an HII-region component (on the star-forming
   abundance sequence, metallicity the hidden parameter) and a "hard"
   component (Seyfert narrow-line region, LINER, or the old-star/HOLMES
   ionisation of retired galaxies). Mixing the two is what fills the
   composite region between the wings of the BPT "seagull".
3. EW(Halpha) is drawn from a class-dependent distribution consistent with
   the WHAN boundaries; the continuum (4000 A break, slope and stellar
   absorption set by a hidden stellar age) turns it into a flux.
4. Atomic physics is fixed: [NII]6584/6548 and [OIII]5007/4959 from the
   transition probabilities, case-B Balmer decrements (Halpha/Hbeta = 2.86,
   Hgamma/Hbeta = 0.468) reddened by a dust distribution with the Cardelli,
   Clayton & Mathis (1989) law, and [SII]6717/6731 from an electron density
   (0.43-1.45, Sanders et al. 2016 fit).
5. A rest-frame spectrum is rendered on ``tfelg.spectra.REST_LOGLAM`` with a
   noise model tied to the continuum level and SDSS-like sky/throughput, and
   the ten lines are *measured from that noisy spectrum* (a linear
   least-squares fit of the known line profiles over the known stellar
   continuum, blends fitted jointly). The catalogue's fluxes, errors and the
   spectrum's ivar are thus one noise realisation, as in a real survey: weak
   lines of retired and passive galaxies come out below S/N 3 because they
   are weak, not because a rule says so.

Labels are not computed here: the TFDS builder (and the tests) call
``tfelg.schemes.classify_table`` on the measured lines. The spectrum is
always computed (the lines are measured on it), so ``with_spectrum`` only
decides whether it is returned: the line table is identical either way.

Units: fluxes in 1e-17 erg/s/cm^2, flux densities in 1e-17 erg/s/cm^2/A
(rest frame), equivalent widths emission-positive in Angstrom (rest frame).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import special

from tfelg.lines import LINE_NAMES, LINE_WAVELENGTHS, NUM_LINES, LineTable, line_index
from tfelg.spectra import REST_LOGLAM
from tfelg.synthetic import redshift as _redshift

# The redshift distributions and the spectrograph's coverage live in
# tfelg.synthetic.redshift; their public names are imported from here too.
from tfelg.synthetic.redshift import (  # noqa: F401
    MAX_HALPHA_REDSHIFT,
    MAX_REDSHIFT,
    MIN_REDSHIFT,
    OBSERVED_BLUE_LIMIT,
    OBSERVED_RED_LIMIT,
    WIDE_REDSHIFT_RANGE,
)

TRUE_CLASS_NAMES: tuple[str, ...] = ("star_forming", "seyfert", "liner", "retired", "passive")
TRUE_CLASS = {name: np.int8(i) for i, name in enumerate(TRUE_CLASS_NAMES)}
_SF, _SEYFERT, _LINER, _RETIRED, _PASSIVE = range(len(TRUE_CLASS_NAMES))

# Rounded, illustrative proportions for an SDSS main-galaxy-like sample, not a
# fit to a catalogue: star formers the largest group (a bit under half);
# galaxies whose weak lines come from hot old stars - retired, plus lineless
# passive ones - about a third (the population Stasinska et al. 2008 and Cid
# Fernandes et al. 2011 showed to be large in SDSS); AGN the remaining fifth,
# weak (LINER-like) ones more common than strong (Seyfert-like) ones, as in
# the census of nearby nuclei (Ho, Filippenko & Sargent 1997). Pass
# ``class_fractions`` to change them.
DEFAULT_CLASS_FRACTIONS: dict[str, float] = {
    "star_forming": 0.45,
    "seyfert": 0.08,
    "liner": 0.12,
    "retired": 0.25,
    "passive": 0.10,
}

SPEED_OF_LIGHT_KMS = 299_792.458
CASE_B_HALPHA_HBETA = 2.86  # Osterbrock & Ferland 2006, T = 1e4 K, n = 100 cm^-3
CASE_B_HGAMMA_HBETA = 0.468
NII_6584_TO_6548 = 3.05  # ratio of transition probabilities (Storey & Zeippen 2000)
OIII_5007_TO_4959 = 2.98  # idem
R_V = 3.1
STELLAR_TO_GAS_REDDENING = 0.44  # E(B-V)_stars / E(B-V)_gas (Calzetti 2000)
INSTRUMENTAL_SIGMA_KMS = 65.0  # SDSS spectrograph, R ~ 2000
MAX_GAS_SIGMA_KMS = 350.0
OIII_4959_WAVELENGTH = 4960.30  # vacuum, Angstrom; rendered but not catalogued

# Noise per rest-frame pixel: variance = continuum / GAIN + sky(lambda_obs)^2
# with SKY_NOISE rising in the blue (falling throughput) and the far red (sky
# lines). A galaxy with a continuum of 8e-17 erg/s/cm^2/A has S/N ~ 16 per
# pixel, 3e-17 about 8: the range of the SDSS main galaxy sample.
GAIN = 50.0
SKY_NOISE = 0.3

_REFERENCE_WAVELENGTH = LINE_WAVELENGTHS["H_ALPHA"]
# Emission lines rendered into the spectrum: the ten catalogued ones plus
# [OIII]4959, which follows 5007 by atomic physics.
_RENDERED_LINES: tuple[str, ...] = (*LINE_NAMES, "OIII_4959")
_RENDERED_WAVELENGTHS = np.array(
    [LINE_WAVELENGTHS[name] for name in LINE_NAMES] + [OIII_4959_WAVELENGTH]
)
# Lines fitted together because their profiles overlap for broad-lined AGN.
_MEASUREMENT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("OII_3727",),
    ("H_GAMMA",),
    ("H_BETA",),
    ("OIII_5007",),
    ("OI_6300",),
    ("NII_6548", "H_ALPHA", "NII_6584"),
    ("SII_6717", "SII_6731"),
)
_BALMER = ("H_GAMMA", "H_BETA", "H_ALPHA")
# Stellar-template mismatch under the Balmer lines, as a fraction of the
# absorption equivalent width: the error a continuum fit makes in practice.
_TEMPLATE_MISMATCH = 0.05

# Stellar absorption features: (rest wavelength A, Gaussian sigma A).
_ABSORPTION = {
    "CaII_K": (3934.8, 8.0),
    "CaII_H": (3969.6, 8.0),
    "H_DELTA": (4102.9, 10.0),
    "G_BAND": (4305.6, 10.0),
    "H_GAMMA": (4341.7, 10.0),
    "H_BETA": (4862.7, 10.0),
    "MG_B": (5176.7, 12.0),
    "NA_D": (5895.6, 8.0),
    "H_ALPHA": (6564.6, 10.0),
}

# Galaxies drawn from one generator (block_rng(seed, block)). Part of what
# the data are: changing it changes every sample (emission_lines 2.0.0 bumped
# the TFDS version for this). Small enough that a sample splits into many
# independent pieces for parallel generation (Apache Beam), large enough that
# the vectorised draws and renders dominate the per-block overhead.
SEED_BLOCK = 1000
_CHUNK = 2048  # galaxies rendered at a time (memory ~ 6 x CHUNK x pixels x 4 B)


@dataclasses.dataclass
class SyntheticSample:
    """A generated sample.

    Attributes:
      lines: measured lines (noisy fluxes, EWs and their 1-sigma errors).
      true_class: (N,) int8 codes into ``TRUE_CLASS_NAMES``.
      spectrum: (N, len(REST_LOGLAM)) float32 rest-frame flux density in
        1e-17 erg/s/cm^2/A, noisy; 0 where the spectrograph saw nothing.
        None if not requested.
      spectrum_ivar: same shape, inverse variance; 0 marks pixels outside
        the observed coverage. None if not requested.
      truth: hidden parameters and noiseless values, for tests and
        diagnostics: ``flux`` and ``ew`` (N, 10) before noise, ``a_v`` (gas,
        mag), ``electron_density`` (cm^-3), ``hard_fraction`` (share of
        Halpha from the non-stellar-ionised component), ``stellar_age``
        (0 young .. 1 old), ``break_strength`` (continuum jump at 4000 A),
        ``continuum`` (flux density at Halpha), ``sigma_kms`` (line width).
    """

    lines: LineTable
    true_class: np.ndarray
    spectrum: np.ndarray | None = None
    spectrum_ivar: np.ndarray | None = None
    truth: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.true_class)


# --- Physics helpers --------------------------------------------------------------------


def cardelli_k(wavelength) -> np.ndarray:
    """k(lambda) = A_lambda / E(B-V) of Cardelli, Clayton & Mathis (1989), R_V = 3.1.

    Optical/near-IR branch (0.3-0.9 micron), which covers the rest grid.
    """
    x = 1e4 / np.asarray(wavelength, dtype=np.float64)
    y = x - 1.82
    a = np.polyval([0.32999, -0.77530, 0.01979, 0.72085, -0.02427, -0.50447, 0.17699, 1.0], y)
    b = np.polyval([-2.09002, 5.30260, -0.62251, -5.38434, 1.07233, 2.28305, 1.41338, 0.0], y)
    return R_V * a + b


def sii_doublet_ratio(electron_density) -> np.ndarray:
    """[SII]6717/6731 at electron density n_e (cm^-3), T = 1e4 K.

    The fit of Sanders et al. (2016): R = 0.4315 (2107 + n) / (627.1 + n),
    1.45 at low density, 0.43 at high density.
    """
    n = np.asarray(electron_density, dtype=np.float64)
    return 0.4315 * (2107.0 + n) / (627.1 + n)


def _break_shape(wavelength) -> np.ndarray:
    """0 blueward of the 4000 A break, 1 redward, smooth over ~50 A."""
    return 0.5 * (1.0 + np.tanh((np.asarray(wavelength) - 4000.0) / 25.0))


def _truncated_normal(rng, mean, sd, low, high, size):
    """Normal(mean, sd) truncated to [low, high], by inverse CDF (no loops)."""
    a = special.ndtr((low - mean) / sd)
    b = special.ndtr((high - mean) / sd)
    u = rng.uniform(size=size)
    return mean + sd * special.ndtri(a + (b - a) * u)


def _rest_pixel_edges() -> np.ndarray:
    step = REST_LOGLAM[1] - REST_LOGLAM[0]
    return 10.0 ** np.concatenate([REST_LOGLAM - step / 2, [REST_LOGLAM[-1] + step / 2]])


_EDGES = _rest_pixel_edges()
_CENTRES = 10.0**REST_LOGLAM
_WIDTHS = np.diff(_EDGES)


def _window(centre: float, half_width: float) -> slice:
    lo = int(np.searchsorted(_CENTRES, centre - half_width))
    hi = int(np.searchsorted(_CENTRES, centre + half_width))
    return slice(max(lo, 0), min(hi, len(_CENTRES)))


def _max_sigma_angstrom(wavelength: float) -> float:
    return wavelength * np.hypot(MAX_GAS_SIGMA_KMS, INSTRUMENTAL_SIGMA_KMS) / SPEED_OF_LIGHT_KMS


# Pixel windows (fixed, because the grid is rest-frame) holding > 1 - 1e-8 of
# each line's flux at the largest line width allowed.
_LINE_WINDOWS = [_window(w, 6.0 * _max_sigma_angstrom(w)) for w in _RENDERED_WAVELENGTHS]
_GROUP_WINDOWS = [
    slice(
        min(_LINE_WINDOWS[line_index(n)].start for n in group),
        max(_LINE_WINDOWS[line_index(n)].stop for n in group),
    )
    for group in _MEASUREMENT_GROUPS
]
_ABSORPTION_WINDOWS = {name: _window(w, 5.0 * s) for name, (w, s) in _ABSORPTION.items()}


def _line_profiles(window: slice, centre: float, sigma: np.ndarray) -> np.ndarray:
    """Unit-flux Gaussian per Angstrom, integrated over each pixel (flux conserving).

    Returns (n, pixels in window) float64 for per-galaxy widths ``sigma`` (A).
    """
    edges = _EDGES[window.start : window.stop + 1]
    t = (edges[None, :] - centre) / (np.sqrt(2.0) * sigma[:, None])
    cdf = 0.5 * special.erf(t)
    return np.diff(cdf, axis=1) / _WIDTHS[window][None, :]


# --- Drawing the physical parameters ------------------------------------------------------


def _class_fractions(class_fractions) -> np.ndarray:
    if class_fractions is None:
        class_fractions = DEFAULT_CLASS_FRACTIONS
    if isinstance(class_fractions, Mapping):
        unknown = set(class_fractions) - set(TRUE_CLASS_NAMES)
        if unknown:
            raise ValueError(
                f"unknown classes in class_fractions: {sorted(unknown)}; "
                f"known: {', '.join(TRUE_CLASS_NAMES)}"
            )
        values = [float(class_fractions.get(name, 0.0)) for name in TRUE_CLASS_NAMES]
    elif isinstance(class_fractions, Sequence | np.ndarray):
        values = [float(v) for v in class_fractions]
        if len(values) != len(TRUE_CLASS_NAMES):
            raise ValueError(
                f"class_fractions has {len(values)} values, expected "
                f"{len(TRUE_CLASS_NAMES)} (one per {', '.join(TRUE_CLASS_NAMES)})"
            )
    else:
        raise ValueError(
            f"class_fractions must be a mapping or a sequence, got {class_fractions!r}"
        )
    p = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"class_fractions must be finite, >= 0 and not all zero, got {values}")
    return p / p.sum()


def _draw_parameters(
    rng: np.random.Generator, cls: np.ndarray, redshift_range=None
) -> dict[str, np.ndarray]:
    """Every hidden property of every galaxy, vectorised over the sample.

    Each quantity is drawn for all galaxies at once (class-dependent
    parameters looked up by class code), so the draws do not depend on how
    many galaxies of each class there are. ``redshift_range`` (lo, hi): see
    :func:`generate`.
    """
    n = len(cls)

    def normal():
        return rng.standard_normal(n)

    def per_class(*values):
        return np.asarray(values, dtype=np.float64)[cls]

    # Star-forming component on the SDSS abundance sequence. Metallicity is
    # the hidden parameter: g = 0 is the metal-rich end (x -> -0.36), large g
    # metal-poor. The ridge y = 0.61 / (x + 0.08) + 1.1 is a curve of the
    # Kauffmann et al. (2003) form placed by eye on the observed sequence
    # (their Fig. 1), below their upper envelope. With the scatter, ~13% of
    # pure star formers have x > -0.4 (WHAN "AGN"), and with the weak-AGN
    # hosts below about a fifth: as Stasinska et al. (2006) find ~20% of BPT
    # galaxies between their line (which WHAN's x = -0.4 transposes) and
    # Kauffmann's. AGN hosts are massive, so their star formation is
    # metal-rich.
    g = rng.gamma(2.2, 1.0, n) * per_class(0.09, 0.05, 0.05, 0.05, 0.05)
    x_sf = -0.36 - g
    y_sf = 0.61 / (x_sf + 0.08) + 1.1 + 0.1 * normal()
    x_sf = x_sf + 0.06 * normal()
    s_sf = -0.42 + 0.45 * (x_sf + 0.45) + 0.08 * normal()  # log [SII]/Halpha
    o_sf = -1.55 + 0.5 * (x_sf + 0.45) + 0.12 * normal()  # log [OI]/Halpha
    r2_sf = np.minimum(0.3 - 0.35 * (x_sf + 0.45) + 0.1 * normal(), 0.7)  # log [OII]/Hbeta

    # The hard component: 0 Seyfert narrow-line region, 1 LINER, 2 the diffuse
    # ionisation by hot old stars of retired galaxies (LINER-like ratios,
    # Stasinska et al. 2008). Star-forming galaxies with some AGN take a
    # Seyfert or LINER one at random.
    hard_type = np.select(
        [cls == _SF, cls == _SEYFERT, cls == _LINER],
        [(rng.random(n) < 0.7).astype(np.int64), 0, 1],
        default=2,
    )

    def per_type(*values):
        return np.asarray(values, dtype=np.float64)[hard_type]

    x_h = per_type(0.0, 0.15, 0.12) + per_type(0.17, 0.13, 0.15) * normal()
    y_h = (
        per_type(0.9, 0.0, 0.05)
        + per_type(0.7, 0.3, 0.3) * (x_h - per_type(0.0, 0.15, 0.12))
        + per_type(0.12, 0.15, 0.18) * normal()
    )
    s_h = per_type(-0.30, -0.10, -0.08) + 0.12 * normal()
    o_h = per_type(-1.05, -0.70, -0.70) + 0.15 * normal()
    r2_h = per_type(0.50, 0.75, 0.70) + 0.15 * normal()

    # Share of Halpha from the hard component. One star-forming galaxy in six
    # hosts a weak AGN (mostly LINER-like) contributing 5-45%: they fill the
    # composite region; AGN keep some star formation; retired galaxies a
    # little.
    mixed_sf = rng.random(n) < 0.16
    f_sf = np.where(mixed_sf, rng.uniform(0.05, 0.45, n), 0.0)
    b13 = rng.beta(1.2, 3.0, n)
    b22 = rng.beta(1.3, 2.2, n)
    b14 = rng.beta(1.0, 4.0, n)
    hard_fraction = np.select(
        [cls == _SF, cls == _SEYFERT, cls == _LINER, cls == _RETIRED],
        [f_sf, 1.0 - 0.6 * b13, 1.0 - 0.75 * b22, 1.0 - 0.3 * b14],
        default=1.0,
    )

    def mix(log_sf, log_hard):
        return (1.0 - hard_fraction) * 10.0**log_sf + hard_fraction * 10.0**log_hard

    nii_ha = mix(x_sf, x_h)
    oiii_hb = mix(y_sf, y_h)
    sii_ha = mix(s_sf, s_h)
    oi_ha = mix(o_sf, o_h)
    oii_hb = mix(r2_sf, r2_h)

    # EW(Halpha), log10 Angstrom, consistent with the WHAN boundaries.
    log_w = np.select(
        [cls == _SF, cls == _SEYFERT, cls == _LINER, cls == _RETIRED],
        [
            _truncated_normal(rng, 1.30, 0.30, np.log10(2.5), 2.5, n),
            _truncated_normal(rng, 1.15, 0.30, np.log10(6.0), 2.3, n),
            _truncated_normal(rng, 0.65, 0.12, np.log10(2.5), np.log10(9.0), n),
            _truncated_normal(rng, 0.15, 0.25, np.log10(0.5), np.log10(3.2), n),
        ],
        default=rng.uniform(-1.5, -0.5, n),
    )
    ew_ha = 10.0**log_w
    # Passive: EW([NII]) = W [NII]/Halpha must stay below 0.5 A as well.
    ew_ha = np.where(cls == _PASSIVE, np.minimum(ew_ha, 0.4 / nii_ha), ew_ha)

    a_v = np.minimum(rng.gamma(2.0, 1.0, n) * per_class(1.1, 1.2, 0.8, 0.6, 0.5) / 2.0, 4.0)
    log_ne = np.clip(per_class(2.0, 2.4, 2.3, 2.1, 2.1) + 0.35 * normal(), 0.0, 5.0)

    sigma_sf = np.clip(60.0 + 15.0 * normal(), 20.0, 150.0)
    sigma_h = np.clip(per_type(200.0, 170.0, 190.0) + 45.0 * normal(), 60.0, MAX_GAS_SIGMA_KMS)
    sigma_gas = (1.0 - hard_fraction) * sigma_sf + hard_fraction * sigma_h

    # Stellar population: age 0 (young) .. 1 (old) sets the 4000 A break,
    # the continuum slope and the absorption lines.
    age = rng.beta(per_class(2.0, 4.0, 7.0, 12.0, 14.0), per_class(5.0, 4.0, 3.0, 2.0, 1.5))
    log_continuum = per_class(0.75, 1.0, 1.05, 1.1, 1.1) + 0.25 * normal()
    redshift = _redshift.draw_redshifts(rng, per_class(2.2, 2.6, 2.6, 2.6, 2.6), redshift_range)

    return {
        "nii_ha": nii_ha,
        "oiii_hb": oiii_hb,
        "sii_ha": sii_ha,
        "oi_ha": oi_ha,
        "oii_hb": oii_hb,
        "ew_ha": ew_ha,
        "a_v": a_v,
        "electron_density": 10.0**log_ne,
        "hard_fraction": hard_fraction,
        "sigma_kms": np.hypot(sigma_gas, INSTRUMENTAL_SIGMA_KMS),
        "stellar_age": age,
        "break_strength": 1.05 + 0.8 * age,
        "slope": -0.8 + 1.4 * age,
        "continuum": 10.0**log_continuum,
        "redshift": redshift,
        "balmer_absorption_ew": 1.5 + 3.5 * np.exp(-(((age - 0.35) / 0.2) ** 2)),
    }


def _absorption_ews(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Stellar absorption equivalent widths (A, positive = absorption)."""
    age = p["stellar_age"]
    balmer = p["balmer_absorption_ew"]
    return {
        "CaII_K": 2.0 + 12.0 * age,
        "CaII_H": 1.5 + 9.0 * age,
        "H_DELTA": balmer,
        "G_BAND": 1.0 + 4.0 * age,
        "H_GAMMA": balmer,
        "H_BETA": balmer,
        "MG_B": 1.0 + 4.0 * age,
        "NA_D": 1.0 + 3.0 * age,
        "H_ALPHA": 0.7 * balmer,
    }


def _smooth_continuum(p, rows, wavelength, dtype=np.float64) -> np.ndarray:
    """Stellar continuum without absorption lines: (len(rows), len(wavelength)).

    Normalised to ``continuum`` at Halpha; power-law slope, a 4000 A break of
    strength ``break_strength`` and stellar reddening (0.44 of the gas).
    Computed in place in ``dtype`` (float32 for whole spectra).
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    inv_break = 1.0 / p["break_strength"][rows]
    ref_shape = inv_break + (1.0 - inv_break) * _break_shape(_REFERENCE_WAVELENGTH)
    dust = -0.4 * np.log(10.0) * STELLAR_TO_GAS_REDDENING * p["a_v"][rows] / R_V
    dk = cardelli_k(wavelength) - cardelli_k(_REFERENCE_WAVELENGTH)
    log_ratio = np.log(wavelength / _REFERENCE_WAVELENGTH)

    def column(values):
        return np.asarray(values, dtype=dtype)[:, None]

    def row(values):
        return np.asarray(values, dtype=dtype)[None, :]

    out = column(p["slope"][rows]) * row(log_ratio)
    out += column(dust) * row(dk)
    np.exp(out, out=out)
    # Break: 1/D blueward, 1 redward -> 1 - (1 - 1/D) (1 - shape).
    step = column(1.0 - inv_break) * row(1.0 - _break_shape(wavelength))
    np.subtract(1.0, step, out=step)
    out *= step
    out *= column(p["continuum"][rows] / ref_shape)
    return out


def _true_line_fluxes(p: dict[str, np.ndarray]) -> np.ndarray:
    """Noiseless, dust-attenuated fluxes of the rendered lines: (N, 11)."""
    n = len(p["ew_ha"])
    ha = p["ew_ha"] * _smooth_continuum(p, slice(None), [_REFERENCE_WAVELENGTH])[:, 0]
    ratio = sii_doublet_ratio(p["electron_density"])
    relative = {  # intrinsic flux / intrinsic Halpha
        "OII_3727": p["oii_hb"] / CASE_B_HALPHA_HBETA,
        "H_GAMMA": np.full(n, CASE_B_HGAMMA_HBETA / CASE_B_HALPHA_HBETA),
        "H_BETA": np.full(n, 1.0 / CASE_B_HALPHA_HBETA),
        "OIII_5007": p["oiii_hb"] / CASE_B_HALPHA_HBETA,
        "OI_6300": p["oi_ha"],
        "NII_6548": p["nii_ha"] / NII_6584_TO_6548,
        "H_ALPHA": np.ones(n),
        "NII_6584": p["nii_ha"],
        "SII_6717": p["sii_ha"] * ratio / (1.0 + ratio),
        "SII_6731": p["sii_ha"] / (1.0 + ratio),
        "OIII_4959": p["oiii_hb"] / CASE_B_HALPHA_HBETA / OIII_5007_TO_4959,
    }
    e_gas = p["a_v"] / R_V
    dk = cardelli_k(_RENDERED_WAVELENGTHS) - cardelli_k(_REFERENCE_WAVELENGTH)
    attenuation = 10.0 ** (-0.4 * e_gas[:, None] * dk[None, :])
    rel = np.stack([relative[name] for name in _RENDERED_LINES], axis=1)
    return ha[:, None] * rel * attenuation


# --- Rendering and measuring the spectra --------------------------------------------------


def _render_and_measure(p, rows, line_flux, absorption_ew, noise):
    """Noisy spectra of ``rows`` and the lines measured on them.

    Whole spectra are float32 and updated in place (memory and speed); the
    fits are float64. Returns (spectrum, ivar, flux, flux_err) with
    flux/flux_err (n, 10).
    """
    n = noise.shape[0]
    f32 = np.float32
    absorbed = _smooth_continuum(p, rows, _CENTRES, dtype=f32)
    for name, (centre, sigma) in _ABSORPTION.items():
        window = _ABSORPTION_WINDOWS[name]
        x = (_CENTRES[window] - centre) / sigma
        unit = np.exp(-0.5 * x**2) / (np.sqrt(2.0 * np.pi) * sigma)
        depth = absorption_ew[name][rows, None] * unit[None, :]
        absorbed[:, window] *= np.maximum(1.0 - depth, 0.05)

    model = absorbed.copy()
    sigma_kms = p["sigma_kms"][rows]
    for j, centre in enumerate(_RENDERED_WAVELENGTHS):
        window = _LINE_WINDOWS[j]
        sigma_a = centre * sigma_kms / SPEED_OF_LIGHT_KMS
        model[:, window] += line_flux[rows, j, None] * _line_profiles(window, centre, sigma_a)

    # Noise: continuum photons plus sky/read noise, which depends on the
    # observed wavelength (tfelg.synthetic.redshift.sky_sigma).
    one_plus_z = 1.0 + p["redshift"][rows]
    sky = _redshift.sky_sigma(one_plus_z, _CENTRES, SKY_NOISE)
    variance = np.maximum(model, f32(0.0))
    variance *= f32(1.0 / GAIN)
    variance += np.square(sky, out=sky)
    del sky
    uncovered = _redshift.uncovered_pixels(one_plus_z, _EDGES)

    spectrum = np.sqrt(variance)
    spectrum *= noise
    spectrum += model
    del model
    ivar = np.reciprocal(variance, out=variance)
    spectrum[uncovered] = 0.0
    ivar[uncovered] = 0.0

    # Measurement: with the stellar continuum known, the line fluxes are a
    # linear least-squares fit of the known profiles to the residual.
    flux = np.full((n, NUM_LINES), np.nan)
    flux_err = np.full((n, NUM_LINES), np.nan)
    for group, window in zip(_MEASUREMENT_GROUPS, _GROUP_WINDOWS, strict=True):
        cols = [line_index(name) for name in group]
        design = np.stack(
            [
                _line_profiles(
                    window,
                    _RENDERED_WAVELENGTHS[c],
                    _RENDERED_WAVELENGTHS[c] * sigma_kms / SPEED_OF_LIGHT_KMS,
                )
                for c in cols
            ],
            axis=2,
        )  # (n, pixels, lines)
        w = ivar[:, window].astype(np.float64)
        residual = spectrum[:, window].astype(np.float64) - absorbed[:, window]
        normal_matrix = np.einsum("npk,np,npj->nkj", design, w, design)
        rhs = np.einsum("npk,np,np->nk", design, w, residual)
        # Lines mostly outside the spectrograph's coverage stay NaN.
        ok = _redshift.measurable(design, w)
        if not np.any(ok):
            continue
        inverse = np.linalg.inv(normal_matrix[ok])
        flux[np.ix_(ok, cols)] = np.einsum("nkj,nj->nk", inverse, rhs[ok])
        flux_err[np.ix_(ok, cols)] = np.sqrt(np.diagonal(inverse, axis1=1, axis2=2))
    return spectrum, ivar, flux, flux_err


# --- Public entry point ---------------------------------------------------------------------


def num_blocks(num_galaxies: int) -> int:
    """How many seed blocks a sample of ``num_galaxies`` has (see :data:`SEED_BLOCK`)."""
    return -(-int(num_galaxies) // SEED_BLOCK)


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of block ``block`` of the sample seeded ``seed``.

    The ``block``-th child of ``SeedSequence(seed)`` (what
    ``SeedSequence(seed).spawn(block + 1)[block]`` gives), reached directly,
    so a worker that makes block 700 of a million-galaxy sample starts there.
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(block),)))


def _check_size_and_seed(num_galaxies, seed) -> None:
    if isinstance(num_galaxies, bool) or not isinstance(num_galaxies, int | np.integer):
        raise ValueError(f"num_galaxies must be an integer, got {num_galaxies!r}")
    if num_galaxies < 0:
        raise ValueError(f"num_galaxies must be >= 0, got {num_galaxies}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def generate_block(
    num_galaxies: int,
    seed: int,
    block: int,
    *,
    with_spectrum: bool = True,
    class_fractions: Mapping[str, float] | Sequence[float] | None = None,
    redshift_range: tuple[float, float] | None = None,
) -> SyntheticSample:
    """Galaxies ``block * SEED_BLOCK`` up to the next block (or the end) of a sample.

    Exactly those rows of ``generate(num_galaxies, seed, ...)``, made without
    the others: what a Beam worker calls (datasets/emission_lines).

    Raises:
      ValueError: bad size or seed, or ``block`` outside ``range(num_blocks(num_galaxies))``.
    """
    _check_size_and_seed(num_galaxies, seed)
    redshift_range = _redshift.check_redshift_range(redshift_range)
    if not 0 <= block < num_blocks(num_galaxies):
        raise ValueError(
            f"block {block} is outside the {num_blocks(num_galaxies)} blocks of "
            f"{num_galaxies} galaxies"
        )
    start = block * SEED_BLOCK
    stop = min(start + SEED_BLOCK, int(num_galaxies))
    return _generate_rows(
        block_rng(seed, block),
        start,
        stop,
        seed,
        _class_fractions(class_fractions),
        with_spectrum,
        redshift_range,
    )


def generate(
    num_galaxies: int,
    seed: int,
    *,
    with_spectrum: bool = True,
    class_fractions: Mapping[str, float] | Sequence[float] | None = None,
    redshift_range: tuple[float, float] | None = None,
) -> SyntheticSample:
    """Draws ``num_galaxies`` synthetic emission-line galaxies.

    Deterministic: the same (num_galaxies, seed, class_fractions) gives the
    same sample, bit for bit, whatever ``with_spectrum``. The galaxies are
    drawn in blocks of :data:`SEED_BLOCK`, each from its own generator
    (:func:`block_rng`), so any block can be made alone
    (:func:`generate_block`) and a sample made in parallel pieces is the
    same sample.

    Args:
      num_galaxies: sample size (>= 0).
      seed: root seed (>= 0) of the blocks' ``np.random.SeedSequence``.
      with_spectrum: return the rest-frame spectra and their ivar (the
        lines are measured on them in any case).
      class_fractions: proportions of the true classes, a mapping
        {name: fraction} (missing names get 0) or a sequence in the order of
        ``TRUE_CLASS_NAMES``; normalised to sum 1. Default
        ``DEFAULT_CLASS_FRACTIONS``.
      redshift_range: None (default): 0.02-0.30, SDSS-like and
        class-dependent. (low, high): uniform and independent of the class,
        every other property of each galaxy unchanged: a sample on which a
        representation that follows redshift can be told apart from one
        that follows the classes (:data:`WIDE_REDSHIFT_RANGE`). Redshift
        changes only the spectrograph's coverage and the sky noise; see
        :mod:`tfelg.synthetic.redshift`.

    Returns:
      A :class:`SyntheticSample`; ``lines.object_id`` is ``"SYN-000000042"``.
    """
    _check_size_and_seed(num_galaxies, seed)
    redshift_range = _redshift.check_redshift_range(redshift_range)
    n = int(num_galaxies)
    fractions = _class_fractions(class_fractions)
    if n <= SEED_BLOCK:
        return _generate_rows(
            block_rng(seed, 0), 0, n, seed, fractions, with_spectrum, redshift_range
        )
    # Filled block by block: no second copy of the spectra.
    num_pixels = len(REST_LOGLAM)
    true_class = np.empty(n, np.int8)
    columns = {name: np.empty(n) for name in ("redshift",)}
    columns.update(
        {name: np.empty((n, NUM_LINES)) for name in ("flux", "flux_err", "ew", "ew_err")}
    )
    spectrum = np.empty((n, num_pixels), np.float32) if with_spectrum else None
    ivar = np.empty((n, num_pixels), np.float32) if with_spectrum else None
    truth: dict[str, np.ndarray] = {}
    for block in range(num_blocks(n)):
        start = block * SEED_BLOCK
        stop = min(start + SEED_BLOCK, n)
        part = _generate_rows(
            block_rng(seed, block), start, stop, seed, fractions, with_spectrum, redshift_range
        )
        true_class[start:stop] = part.true_class
        for name, column in columns.items():
            column[start:stop] = getattr(part.lines, name)
        if with_spectrum:
            spectrum[start:stop] = part.spectrum
            ivar[start:stop] = part.spectrum_ivar
        for key, value in part.truth.items():
            if key not in truth:
                truth[key] = np.empty((n, *value.shape[1:]), value.dtype)
            truth[key][start:stop] = value
    table = LineTable(
        object_id=_object_ids(0, n),
        source=_source(seed),
        **columns,
    )
    return SyntheticSample(
        lines=table, true_class=true_class, spectrum=spectrum, spectrum_ivar=ivar, truth=truth
    )


def _object_ids(start: int, stop: int) -> np.ndarray:
    return np.array([f"SYN-{i:09d}" for i in range(start, stop)], dtype=str)


def _source(seed: int) -> str:
    return f"tfelg.synthetic.emission_lines(seed={seed})"


def _generate_rows(
    rng: np.random.Generator,
    start: int,
    stop: int,
    seed: int,
    fractions: np.ndarray,
    with_spectrum: bool,
    redshift_range: tuple[float, float] | None = None,
) -> SyntheticSample:
    """Galaxies ``start`` to ``stop`` (at most one block), every draw from ``rng``."""
    n = stop - start
    cls = rng.choice(len(TRUE_CLASS_NAMES), size=n, p=fractions).astype(np.int8)
    p = _draw_parameters(rng, cls.astype(np.intp), redshift_range)
    absorption_ew = _absorption_ews(p)
    line_flux = _true_line_fluxes(p)  # (n, 11)
    true_flux = line_flux[:, :NUM_LINES]  # the rendered lines start with LINE_NAMES
    line_continuum = _smooth_continuum(p, slice(None), _RENDERED_WAVELENGTHS[:NUM_LINES])
    true_ew = true_flux / line_continuum
    mismatch = rng.standard_normal((n, len(_BALMER)))

    flux = np.empty((n, NUM_LINES))
    flux_err = np.empty((n, NUM_LINES))
    spectrum = np.empty((n, len(REST_LOGLAM)), np.float32) if with_spectrum else None
    ivar = np.empty((n, len(REST_LOGLAM)), np.float32) if with_spectrum else None
    for chunk_start in range(0, n, _CHUNK):
        rows = slice(chunk_start, min(chunk_start + _CHUNK, n))
        noise = rng.standard_normal((rows.stop - rows.start, len(REST_LOGLAM)), dtype=np.float32)
        spec, spec_ivar, flux[rows], flux_err[rows] = _render_and_measure(
            p, rows, line_flux, absorption_ew, noise
        )
        if with_spectrum:
            spectrum[rows] = spec
            ivar[rows] = spec_ivar

    # The stellar template never matches perfectly under the Balmer lines.
    for k, name in enumerate(_BALMER):
        j = line_index(name)
        sys_err = _TEMPLATE_MISMATCH * absorption_ew[name] * line_continuum[:, j]
        flux[:, j] += sys_err * mismatch[:, k]
        flux_err[:, j] = np.hypot(flux_err[:, j], sys_err)

    ew = flux / line_continuum
    ew_err = flux_err / line_continuum
    table = LineTable(
        object_id=_object_ids(start, stop),
        redshift=p["redshift"],
        flux=flux,
        flux_err=flux_err,
        ew=ew,
        ew_err=ew_err,
        source=_source(seed),
    )
    truth = {
        "flux": true_flux,
        "ew": true_ew,
        **{
            key: p[key]
            for key in (
                "a_v",
                "electron_density",
                "hard_fraction",
                "stellar_age",
                "break_strength",
                "continuum",
                "sigma_kms",
            )
        },
    }
    return SyntheticSample(
        lines=table, true_class=cls, spectrum=spectrum, spectrum_ivar=ivar, truth=truth
    )
