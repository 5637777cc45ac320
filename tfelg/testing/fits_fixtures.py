"""Tiny FITS files in the real MPA-JHU and SDSS formats, with plausible values.

The real readers (:mod:`tfelg.io`) must be tested on the real formats, but
the real files are large and cannot be downloaded at test time. These
writers make small files with the same HDU layout, column names, types and
conventions (MPA-JHU emission-negative equivalent widths and -999
sentinels; SDSS ``COADD``/``SPECOBJ``/``SPZLINE`` HDUs on the SDSS
log-wavelength grid, "not measured" lines with ``LINEAREA_ERR = -1``, and a
per-exposure HDU after them), and the broken variants that the readers must
reject. Tests call them into a temporary folder; the TFDS builder's dummy
data and ``scripts/make_fits_fixtures.py`` call them to write committed
files. Everything is seeded, so a given seed always writes the same values.

MPA-JHU rows with known defects (``write_mpajhu_pair``; n >= 8):

* ``ROW_SENTINEL``: every H_ALPHA and NII_6584 value is -999 (EQW too: read
  naively and flipped it would become +999 A).
* ``ROW_NAN_FLUX``: OIII_5007_FLUX is NaN.
* ``ROW_ZERO_FLUX``: H_BETA_FLUX is 0.
* ``ROW_OII_HALF_MISSING``: OII_3729_FLUX and its error are -999 (so the
  summed [OII]3727 flux is missing, its EW is not).
* ``ROW_BAD_ERROR``: SII_6717_FLUX_ERR is -1 (non-positive error).
* ``ROW_NO_REDSHIFT``: Z is -9999 in the info file.
* ``ROW_EW_SENTINEL``: H_GAMMA_EQW is -9999.

Every other value is a positive, finite measurement (emission EQW < 0).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from astropy.io import fits

from tfelg import atomic

ROW_SENTINEL = 1
ROW_NAN_FLUX = 2
ROW_ZERO_FLUX = 3
ROW_OII_HALF_MISSING = 4
ROW_BAD_ERROR = 5
ROW_NO_REDSHIFT = 6
ROW_EW_SENTINEL = 7
MIN_MPAJHU_ROWS = 8

MPAJHU_FILE_NAMES = {
    "dr7": ("gal_line_dr7_v5_2.fit", "gal_info_dr7_v5_2.fit"),
    "dr8": ("galSpecLine-dr8.fits", "galSpecInfo-dr8.fits"),
}

# Lines written to the MPA-JHU line file (the ones tfelg reads and a few more,
# as in the real catalogue), in the catalogue's order.
MPAJHU_FIXTURE_LINES = (
    "OII_3726",
    "OII_3729",
    "NEIII_3869",
    "H_DELTA",
    "H_GAMMA",
    "OIII_4959",
    "OIII_5007",
    "OI_6300",
    "H_BETA",
    "H_ALPHA",
    "NII_6584",
    "NII_6548",
    "SII_6717",
    "SII_6731",
)
_BLUE_LINES = ("OII_3726", "OII_3729", "NEIII_3869", "H_DELTA")  # below the 4000 A break

# Real (plate, MJD) pairs of early SDSS plates.
_PLATE_MJD = (
    (266, 51602),
    (267, 51608),
    (268, 51633),
    (269, 51910),
    (270, 51909),
    (271, 51883),
    (272, 51941),
    (273, 51957),
    (274, 51913),
    (275, 51910),
)

# The SDSS spectrograph's log10-wavelength grid (3800-9200 A, 1e-4 dex).
SDSS_LOGLAM = np.round(np.arange(3.5798, 3.9640 + 5e-5, 1e-4), 4)

# SPZLINE lines and rest vacuum wavelengths (A), in the pipeline's order.
SPZLINE_LINES: tuple[tuple[str, float], ...] = (
    ("Ly_alpha", 1215.67),
    ("N_V 1240", 1240.81),
    ("C_IV 1549", 1549.48),
    ("He_II 1640", 1640.42),
    ("C_III] 1908", 1908.73),
    ("Mg_II 2799", 2800.32),
    ("[O_II] 3725", 3727.09),
    ("[O_II] 3727", 3729.88),
    ("[Ne_III] 3868", 3869.86),
    ("H_epsilon", 3971.20),
    ("[Ne_III] 3970", 3968.59),
    ("H_delta", 4102.89),
    ("H_gamma", 4341.68),
    ("[O_III] 4363", 4364.44),
    ("He_II 4685", 4687.02),
    ("H_beta", 4862.68),
    ("[O_III] 4959", 4960.30),
    ("[O_III] 5007", 5008.24),
    ("He_II 5411", 5413.03),
    ("[O_I] 5577", 5578.89),
    ("[O_I] 6300", 6302.05),
    ("[S_III] 6312", 6313.80),
    ("[O_I] 6363", 6365.54),
    ("[N_II] 6548", 6549.86),
    ("H_alpha", 6564.61),
    ("[N_II] 6583", 6585.27),
    ("[S_II] 6716", 6718.29),
    ("[S_II] 6730", 6732.67),
    ("[Ar_III] 7135", 7137.77),
)
# SPZLINE name -> MPA-JHU-style name used by the flux generator.
_SPZ_TO_MPA = {
    "[O_II] 3725": "OII_3726",
    "[O_II] 3727": "OII_3729",
    "[Ne_III] 3868": "NEIII_3869",
    "H_delta": "H_DELTA",
    "H_gamma": "H_GAMMA",
    "H_beta": "H_BETA",
    "[O_III] 4959": "OIII_4959",
    "[O_III] 5007": "OIII_5007",
    "[O_I] 6300": "OI_6300",
    "[N_II] 6548": "NII_6548",
    "H_alpha": "H_ALPHA",
    "[N_II] 6583": "NII_6584",
    "[S_II] 6716": "SII_6717",
    "[S_II] 6730": "SII_6731",
}
_SPEED_OF_LIGHT_KMS = 299_792.458
_INSTRUMENTAL_SIGMA_KMS = 69.0
_SKY_LINE_ANGSTROM = 5578.5
_AND_MASK_BRIGHTSKY = 1 << 23
_AND_MASK_FULLREJECT = 1 << 16


@dataclasses.dataclass(frozen=True)
class MpajhuFiles:
    """Paths of a written MPA-JHU pair."""

    line_path: str
    info_path: str


def _write_hdul(hdul: fits.HDUList, path) -> str:
    """Writes to a temporary name then renames: no half-written file remains."""
    path = os.fspath(path)
    with atomic.atomic_path(path) as tmp:
        hdul.writeto(tmp, overwrite=True)
    return path


def _draw_line_fluxes(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Observed line fluxes (1e-17 erg/s/cm^2) with plausible ratios.

    Star-forming to AGN-like: log([NII]/Halpha) in [-0.7, 0.25],
    log([OIII]/Hbeta) in [-0.6, 0.9]; Balmer decrement 2.9-5 (dust);
    fixed atomic ratios for [NII] and [OIII] doublets.
    """
    h_alpha = 10 ** rng.uniform(1.2, 2.7, n)
    h_beta = h_alpha / rng.uniform(2.9, 5.0, n)
    nii_6584 = h_alpha * 10 ** rng.uniform(-0.7, 0.25, n)
    oiii_5007 = h_beta * 10 ** rng.uniform(-0.6, 0.9, n)
    sii = h_alpha * 10 ** rng.uniform(-0.7, -0.2, n)
    sii_ratio = rng.uniform(1.1, 1.45, n)  # 6717/6731, low density
    oii = h_beta * rng.uniform(1.0, 4.0, n)
    oii_ratio = rng.uniform(1.2, 1.45, n)  # 3729/3726
    return {
        "OII_3726": oii / (1 + oii_ratio),
        "OII_3729": oii * oii_ratio / (1 + oii_ratio),
        "NEIII_3869": 0.08 * oii,
        "H_DELTA": 0.26 * h_beta,
        "H_GAMMA": 0.47 * h_beta * rng.uniform(0.9, 1.0, n),
        "H_BETA": h_beta,
        "OIII_4959": oiii_5007 / 2.98,
        "OIII_5007": oiii_5007,
        "OI_6300": h_alpha * 10 ** rng.uniform(-1.8, -0.9, n),
        "NII_6548": nii_6584 / 2.94,
        "H_ALPHA": h_alpha,
        "NII_6584": nii_6584,
        "SII_6717": sii * sii_ratio / (1 + sii_ratio),
        "SII_6731": sii / (1 + sii_ratio),
    }


def _plate_mjd_fiber(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """n distinct SDSS (plate, mjd, fiber), sorted as the catalogues are."""
    plates, mjds, fibers = [], [], []
    per_plate = -(-n // len(_PLATE_MJD))
    for plate, mjd in _PLATE_MJD:
        chosen = np.sort(rng.choice(np.arange(1, 641), size=per_plate, replace=False))
        plates += [plate] * per_plate
        mjds += [mjd] * per_plate
        fibers += list(chosen)
    chosen_rows = np.sort(rng.choice(len(plates), size=n, replace=False))
    return (
        np.asarray(plates, np.int16)[chosen_rows],
        np.asarray(mjds, np.int32)[chosen_rows],
        np.asarray(fibers, np.int16)[chosen_rows],
    )


def sdss_specobjid(plate, mjd, fiber, run2d: int = 26) -> np.ndarray:
    """SDSS DR8+ SPECOBJID: plate, fiber, MJD and reduction packed in 64 bits."""
    plate, mjd, fiber = (np.asarray(v, dtype=np.uint64) for v in (plate, mjd, fiber))
    return (
        (plate << np.uint64(50))
        | (fiber << np.uint64(38))
        | ((mjd - np.uint64(50000)) << np.uint64(24))
        | (np.uint64(run2d) << np.uint64(10))
    )


def write_mpajhu_pair(directory, n: int = 12, release: str = "dr7", seed: int = 0) -> MpajhuFiles:
    """Writes an MPA-JHU line + info catalogue pair of ``n`` galaxies.

    File names, HDU layout (table in HDU 1) and column names follow the real
    DR7 (``gal_line_dr7_v5_2.fit``, ``gal_info_dr7_v5_2.fit``: ids as
    PLATEID/MJD/FIBERID in both) or DR8 (``galSpecLine-dr8.fits``,
    ``galSpecInfo-dr8.fits``: SPECOBJID as text in both) release. Fluxes in
    1e-17 erg/s/cm^2; ``*_EQW`` negative for emission, as MPA-JHU writes it.
    The rows listed in this module's docstring carry sentinels and other
    defects.

    Args:
      directory: where to write (created if needed).
      n: number of galaxies, at least ``MIN_MPAJHU_ROWS``.
      release: ``"dr7"`` or ``"dr8"``.
      seed: random seed.

    Returns:
      the two paths.
    """
    if release not in MPAJHU_FILE_NAMES:
        raise ValueError(f"release must be one of {sorted(MPAJHU_FILE_NAMES)}, got {release!r}")
    if n < MIN_MPAJHU_ROWS:
        raise ValueError(f"n must be >= {MIN_MPAJHU_ROWS} to hold the defective rows, got {n}")
    rng = np.random.default_rng(seed)
    plate, mjd, fiber = _plate_mjd_fiber(rng, n)
    z = rng.uniform(0.02, 0.25, n)
    true_flux = _draw_line_fluxes(rng, n)
    continuum_red = 10 ** rng.uniform(0.3, 1.3, n)  # 1e-17 erg/s/cm^2/A
    break_ratio = rng.uniform(0.45, 0.9, n)  # blue/red continuum across 4000 A

    line_columns = []
    for line in MPAJHU_FIXTURE_LINES:
        cont = continuum_red * (break_ratio if line in _BLUE_LINES else 1.0)
        flux = true_flux[line] * np.exp(0.05 * rng.standard_normal(n))
        flux_err = 1.5 + 0.03 * flux
        eqw = -flux / cont  # MPA-JHU: negative for emission
        eqw_err = flux_err / cont
        values = {
            "CONT": cont,
            "CONT_ERR": 0.02 * cont,
            "REQW": eqw * (1 + 0.02 * rng.standard_normal(n)),
            "REQW_ERR": eqw_err,
            "EQW": eqw,
            "EQW_ERR": eqw_err,
            "FLUX": flux,
            "FLUX_ERR": flux_err,
        }
        for suffix, array in values.items():
            line_columns.append((f"{line}_{suffix}", array.astype(np.float32)))
    line_table = dict(line_columns)

    # The documented defects.
    for line in ("H_ALPHA", "NII_6584"):
        for suffix in ("FLUX", "FLUX_ERR", "EQW", "EQW_ERR"):
            line_table[f"{line}_{suffix}"][ROW_SENTINEL] = -999.0
    line_table["OIII_5007_FLUX"][ROW_NAN_FLUX] = np.nan
    line_table["H_BETA_FLUX"][ROW_ZERO_FLUX] = 0.0
    line_table["OII_3729_FLUX"][ROW_OII_HALF_MISSING] = -999.0
    line_table["OII_3729_FLUX_ERR"][ROW_OII_HALF_MISSING] = -999.0
    line_table["SII_6717_FLUX_ERR"][ROW_BAD_ERROR] = -1.0
    line_table["H_GAMMA_EQW"][ROW_EW_SENTINEL] = -9999.0
    z[ROW_NO_REDSHIFT] = -9999.0

    sigma_kms = rng.uniform(60.0, 180.0, n).astype(np.float32)
    kinematics = [
        fits.Column("SIGMA_BALMER", "E", unit="km/s", array=sigma_kms),
        fits.Column("SIGMA_BALMER_ERR", "E", unit="km/s", array=0.05 * sigma_kms),
        fits.Column("SIGMA_FORBIDDEN", "E", unit="km/s", array=sigma_kms * 1.1),
        fits.Column("SIGMA_FORBIDDEN_ERR", "E", unit="km/s", array=0.05 * sigma_kms),
    ]
    measurement_columns = [
        fits.Column(
            name,
            "E",
            unit="Angstrom"
            if "EQW" in name
            else "1e-17 erg/s/cm^2" + ("/A" if "CONT" in name else ""),
            array=line_table[name],
        )
        for name, _ in line_columns
    ]
    info_common = [
        fits.Column("RA", "E", unit="deg", array=rng.uniform(140.0, 240.0, n).astype(np.float32)),
        fits.Column("DEC", "E", unit="deg", array=rng.uniform(-1.25, 1.25, n).astype(np.float32)),
        fits.Column("SPECTROTYPE", "6A", array=np.array(["GALAXY"] * n)),
        fits.Column("SUBCLASS", "16A", array=np.array(["STARFORMING"] * n)),
        fits.Column("Z", "E", array=z.astype(np.float32)),
        fits.Column("Z_ERR", "E", array=rng.uniform(5e-6, 3e-5, n).astype(np.float32)),
        fits.Column("Z_WARNING", "J", array=np.zeros(n, np.int32)),
        fits.Column("V_DISP", "E", unit="km/s", array=rng.uniform(40, 250, n).astype(np.float32)),
        fits.Column("SN_MEDIAN", "E", array=rng.uniform(5, 40, n).astype(np.float32)),
        fits.Column("E_BV_SFD", "E", array=rng.uniform(0.01, 0.08, n).astype(np.float32)),
        fits.Column("RELEASE", "8A", array=np.array([release] * n)),
    ]
    pmf_columns = [
        fits.Column("PLATEID", "I", array=plate),
        fits.Column("MJD", "J", array=mjd),
        fits.Column("FIBERID", "I", array=fiber),
    ]
    if release == "dr7":
        line_hdu = fits.BinTableHDU.from_columns(pmf_columns + kinematics + measurement_columns)
        info_hdu = fits.BinTableHDU.from_columns(pmf_columns + info_common)
    else:
        specobjid = np.array([str(v) for v in sdss_specobjid(plate, mjd, fiber)])
        id_column = fits.Column("SPECOBJID", "19A", array=specobjid)
        line_hdu = fits.BinTableHDU.from_columns([id_column] + kinematics + measurement_columns)
        info_hdu = fits.BinTableHDU.from_columns([id_column] + pmf_columns + info_common)

    line_name, info_name = MPAJHU_FILE_NAMES[release]
    directory = os.fspath(directory)
    primary = fits.PrimaryHDU()
    primary.header["ORIGIN"] = ("tfelg fixture", "tiny file in the MPA-JHU format")
    line_path = _write_hdul(fits.HDUList([primary, line_hdu]), os.path.join(directory, line_name))
    info_path = _write_hdul(
        fits.HDUList([primary.copy(), info_hdu]), os.path.join(directory, info_name)
    )
    return MpajhuFiles(line_path=line_path, info_path=info_path)


def spec_file_name(plate: int, mjd: int, fiber: int) -> str:
    """``spec-PLATE-MJD-FIBER.fits`` as SDSS names it (``spec-0266-51602-0001.fits``)."""
    return f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits"


def _continuum(rest_wave: np.ndarray, level: float, break_ratio: float) -> np.ndarray:
    """Smooth continuum with a 4000 A break, flux density per observed A."""
    step = break_ratio + (1 - break_ratio) / (1 + np.exp(-(rest_wave - 4000.0) / 40.0))
    return level * step * (rest_wave / 5500.0) ** -0.4


def write_sdss_spec_file(
    path,
    plate: int = 266,
    mjd: int = 51602,
    fiber: int = 1,
    z: float = 0.08,
    seed: int = 0,
    *,
    spec_class: str = "GALAXY",
    unmeasured: tuple[str, ...] = (),
    exposure_pixels: int = 1000,
) -> str:
    """Writes one SDSS ``spec-PLATE-MJD-FIBER.fits`` file (~175 KB).

    HDU 0: header with PLATEID, MJD, FIBERID. HDU 1 ``COADD``: flux, loglam,
    ivar, and_mask, or_mask, wdisp, sky, model on the SDSS grid (log10
    lambda 3.5798-3.9640, step 1e-4): a continuum with a 4000 A break plus
    Gaussian emission lines at their observed wavelengths, and noise; pixels
    near the 5577 A sky line carry an and_mask bit (ivar kept > 0) and a few
    red pixels are rejected (ivar 0). HDU 2 ``SPECOBJ``: one row (PLATE, MJD,
    FIBERID, Z, CLASS, ...). HDU 3 ``SPZLINE``: one row per line of
    ``SPZLINE_LINES`` (LINEAREA in 1e-17 erg/s/cm^2, LINEEW emission-positive);
    lines outside the spectrum or named in ``unmeasured`` have
    ``LINEAREA_ERR = LINEEW_ERR = -1``. HDU 4: one per-exposure spectrum.

    Args:
      path: the file to write (a folder is not accepted; see
        :func:`spec_file_name`).
      plate, mjd, fiber: the object's SDSS identifiers.
      z: redshift.
      seed: random seed.
      spec_class: SPECOBJ CLASS.
      unmeasured: SPZLINE names to write as "not measured".
      exposure_pixels: length of the per-exposure spectrum.

    Returns:
      the path written.
    """
    rng = np.random.default_rng(seed)
    loglam = SDSS_LOGLAM
    wave = 10**loglam
    rest_wave = wave / (1 + z)
    level = rng.uniform(4.0, 15.0)
    break_ratio = rng.uniform(0.45, 0.9)
    continuum = _continuum(rest_wave, level, break_ratio)
    sigma_kms = rng.uniform(60.0, 150.0)
    sigma_total_kms = np.hypot(sigma_kms, _INSTRUMENTAL_SIGMA_KMS)
    fluxes = {k: float(v[0]) for k, v in _draw_line_fluxes(rng, 1).items()}
    weak = 0.02 * fluxes["H_BETA"]

    model = continuum.copy()
    for name, rest in SPZLINE_LINES:
        centre = rest * (1 + z)
        sigma = centre * sigma_total_kms / _SPEED_OF_LIGHT_KMS
        area = fluxes.get(_SPZ_TO_MPA.get(name, ""), weak)
        model += area / (np.sqrt(2 * np.pi) * sigma) * np.exp(-0.5 * ((wave - centre) / sigma) ** 2)
    noise_sigma = 0.3 + 0.04 * continuum
    flux = model + noise_sigma * rng.standard_normal(wave.size)
    ivar = 1.0 / noise_sigma**2
    and_mask = np.zeros(wave.size, np.int32)
    sky = np.abs(wave - _SKY_LINE_ANGSTROM) < 4.0
    and_mask[sky] |= _AND_MASK_BRIGHTSKY
    ivar[sky] *= 0.5
    rejected = slice(wave.size - 40, wave.size - 32)
    and_mask[rejected] |= _AND_MASK_FULLREJECT
    ivar[rejected] = 0.0
    or_mask = and_mask | np.where(rng.uniform(size=wave.size) < 0.01, 1 << 1, 0).astype(np.int32)

    coadd = fits.BinTableHDU.from_columns(
        [
            fits.Column("flux", "E", array=flux.astype(np.float32)),
            fits.Column("loglam", "E", array=loglam.astype(np.float32)),
            fits.Column("ivar", "E", array=ivar.astype(np.float32)),
            fits.Column("and_mask", "J", array=and_mask),
            fits.Column("or_mask", "J", array=or_mask),
            fits.Column("wdisp", "E", array=rng.uniform(0.9, 1.3, wave.size).astype(np.float32)),
            fits.Column("sky", "E", array=(5 + 3 * np.sin(wave / 300.0) ** 2).astype(np.float32)),
            fits.Column("model", "E", array=model.astype(np.float32)),
        ],
        name="COADD",
    )
    specobjid = sdss_specobjid(plate, mjd, fiber)
    specobj = fits.BinTableHDU.from_columns(
        [
            fits.Column("SPECOBJID", "K", array=np.array([specobjid], dtype=np.int64)),
            fits.Column("PLATE", "J", array=np.array([plate], np.int32)),
            fits.Column("MJD", "J", array=np.array([mjd], np.int32)),
            fits.Column("FIBERID", "J", array=np.array([fiber], np.int32)),
            fits.Column("RUN2D", "6A", array=np.array(["26"])),
            fits.Column("CLASS", "6A", array=np.array([spec_class])),
            fits.Column("SUBCLASS", "21A", array=np.array(["STARFORMING"])),
            fits.Column("Z", "E", array=np.array([z], np.float32)),
            fits.Column("Z_ERR", "E", array=np.array([1.5e-5], np.float32)),
            fits.Column("ZWARNING", "J", array=np.array([0], np.int32)),
            fits.Column("VDISP", "E", array=np.array([sigma_kms], np.float32)),
            fits.Column(
                "SN_MEDIAN_ALL",
                "E",
                array=np.array([float(np.median(flux / noise_sigma))], np.float32),
            ),
        ],
        name="SPECOBJ",
    )

    rows = {
        key: []
        for key in (
            "LINENAME",
            "LINEWAVE",
            "LINEZ",
            "LINEZ_ERR",
            "LINESIGMA",
            "LINESIGMA_ERR",
            "LINEAREA",
            "LINEAREA_ERR",
            "LINEEW",
            "LINEEW_ERR",
            "LINECONTLEVEL",
            "LINECONTLEVEL_ERR",
            "LINENPIXLEFT",
            "LINENPIXRIGHT",
            "LINEDOF",
            "LINECHI2",
        )
    }
    pixel_width = np.log(10) * 1e-4  # d(lambda)/lambda
    for name, rest in SPZLINE_LINES:
        centre = rest * (1 + z)
        covered = wave[3] < centre < wave[-4]
        rows["LINENAME"].append(name)
        rows["LINEWAVE"].append(rest)
        if covered and name not in unmeasured:
            sigma = centre * sigma_total_kms / _SPEED_OF_LIGHT_KMS
            cont_level = float(np.interp(centre, wave, continuum))
            noise = float(np.interp(centre, wave, noise_sigma))
            width = centre * pixel_width
            area_err = noise * width * np.sqrt(2 * np.sqrt(np.pi) * sigma / width)
            area = fluxes.get(_SPZ_TO_MPA.get(name, ""), weak) + area_err * rng.standard_normal()
            values = (
                z + 2e-5 * rng.standard_normal(),
                2e-5,
                sigma_kms,
                0.05 * sigma_kms,
                area,
                area_err,
                area / cont_level,
                area_err / cont_level,
                cont_level,
                0.02 * cont_level,
                12,
                12,
                20.0,
                20.0 * rng.uniform(0.7, 1.4),
            )
        else:
            values = (z, -1.0, 0.0, -1.0, 0.0, -1.0, 0.0, -1.0, 0.0, -1.0, 0, 0, 0.0, 0.0)
        for key, value in zip(list(rows)[2:], values, strict=True):
            rows[key].append(value)
    formats = {"LINENAME": "13A", "LINEWAVE": "D", "LINENPIXLEFT": "J", "LINENPIXRIGHT": "J"}
    num_lines = len(SPZLINE_LINES)
    spzline = fits.BinTableHDU.from_columns(
        [
            fits.Column("PLATE", "J", array=np.full(num_lines, plate, np.int32)),
            fits.Column("MJD", "J", array=np.full(num_lines, mjd, np.int32)),
            fits.Column("FIBERID", "J", array=np.full(num_lines, fiber, np.int32)),
        ]
        + [
            fits.Column(key, formats.get(key, "E"), array=np.array(values))
            for key, values in rows.items()
        ],
        name="SPZLINE",
    )

    exposure = rng.integers(100_000, 120_000)
    blue = slice(0, min(exposure_pixels, wave.size))
    exposure_hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column(
                "flux",
                "E",
                array=(
                    flux[blue] + noise_sigma[blue] * rng.standard_normal(flux[blue].size)
                ).astype(np.float32),
            ),
            fits.Column("loglam", "E", array=loglam[blue].astype(np.float32)),
            fits.Column("ivar", "E", array=(0.5 * ivar[blue]).astype(np.float32)),
            fits.Column("mask", "J", array=and_mask[blue]),
            fits.Column("wdisp", "E", array=np.full(flux[blue].size, 1.1, np.float32)),
            fits.Column("sky", "E", array=np.full(flux[blue].size, 6.0, np.float32)),
            fits.Column(
                "x", "E", array=np.linspace(100.0, 1900.0, flux[blue].size).astype(np.float32)
            ),
        ],
        name=f"B1-{exposure:08d}-{exposure + 1:08d}-{exposure + 2:08d}",
    )

    primary = fits.PrimaryHDU()
    header = primary.header
    header["TELESCOP"] = "SDSS 2.5-M"
    header["PLATEID"] = plate
    header["MJD"] = mjd
    header["FIBERID"] = fiber
    header["RUN2D"] = "26"
    header["NEXP"] = 1
    header["ORIGIN"] = ("tfelg fixture", "tiny file in the SDSS spec format")
    return _write_hdul(fits.HDUList([primary, coadd, specobj, spzline, exposure_hdu]), path)


def write_sdss_spec_folder(directory, n: int = 3, seed: int = 0) -> list[str]:
    """Writes ``n`` spec files into ``directory``; returns their paths, sorted.

    File 0 is at z = 0.012, where [O_II] 3725/3727 fall blueward of the
    spectrum (not measured, so its OII_3727 is missing); file 1 has
    ``[O_I] 6300`` not measured; the others are fully measured, at redshifts
    between 0.03 and 0.25.
    """
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        plate, mjd = _PLATE_MJD[i % len(_PLATE_MJD)]
        fiber = 1 + (37 * i + int(rng.integers(0, 30))) % 640
        z = 0.012 if i == 0 else float(rng.uniform(0.03, 0.25))
        unmeasured = ("[O_I] 6300",) if i == 1 else ()
        path = os.path.join(os.fspath(directory), spec_file_name(plate, mjd, fiber))
        paths.append(
            write_sdss_spec_file(
                path, plate, mjd, fiber, z, seed=seed * 1000 + i, unmeasured=unmeasured
            )
        )
    return sorted(paths)


# --- Broken files: every way a real file goes wrong that a reader must catch.


def write_not_fits(path) -> str:
    """A file with a FITS name that is not FITS (e.g. an HTML error page)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("<html><body>404 Not Found</body></html>\n")
    return path


def copy_truncated(src, dst, keep_bytes: int | None = None) -> str:
    """A copy of ``src`` cut to ``keep_bytes`` (default: 1000 bytes short),
    like an interrupted download."""
    with open(src, "rb") as f:
        data = f.read()
    keep = len(data) - 1000 if keep_bytes is None else keep_bytes
    if not 0 <= keep < len(data):
        raise ValueError(f"keep_bytes must be in [0, {len(data)}), got {keep}")
    with open(dst, "wb") as f:
        f.write(data[:keep])
    return os.fspath(dst)


def _edit_copy(src, dst, edit) -> str:
    with fits.open(src, memmap=False) as hdul:
        hdus = fits.HDUList([hdu.copy() for hdu in hdul])
    edit(hdus)
    return _write_hdul(hdus, dst)


def _resolve_column(columns: fits.ColDefs, column: str) -> str:
    for name in columns.names:
        if name.upper() == column.upper():
            return name
    raise KeyError(f"no column {column!r}; columns: {', '.join(columns.names)}")


def copy_without_column(src, dst, column: str, hdu=1) -> str:
    """A copy of ``src`` whose table ``hdu`` (index or name) lacks ``column``."""

    def edit(hdus):
        table = hdus[hdu]
        name = _resolve_column(table.columns, column)
        kept = [c for c in table.columns if c.name != name]
        hdus[hdus.index_of(hdu)] = fits.BinTableHDU.from_columns(
            kept, header=_table_header(table), name=table.name
        )

    return _edit_copy(src, dst, edit)


def _table_header(table: fits.BinTableHDU) -> fits.Header:
    """The table's header without its column keywords (rebuilt by astropy)."""
    header = table.header.copy()
    header.strip()
    return header


def copy_with_column(src, dst, column: str, values, hdu=1, fits_format: str | None = None) -> str:
    """A copy of ``src`` with ``column`` of table ``hdu`` replaced (or added).

    ``fits_format`` (e.g. ``"E"``, ``"K"``, ``"19A"``) defaults to the
    existing column's format, or is inferred from ``values``.
    """

    def edit(hdus):
        table = hdus[hdu]
        try:
            name = _resolve_column(table.columns, column)
        except KeyError:
            name = None
        columns = []
        for c in table.columns:
            if c.name == name:
                columns.append(
                    fits.Column(
                        c.name, fits_format or c.format, unit=c.unit, array=np.asarray(values)
                    )
                )
            else:
                columns.append(c)
        if name is None:
            columns.append(_new_column(column, values, fits_format))
        hdus[hdus.index_of(hdu)] = fits.BinTableHDU.from_columns(
            columns, header=_table_header(table), name=table.name
        )

    return _edit_copy(src, dst, edit)


def _new_column(name: str, values, fits_format: str | None) -> fits.Column:
    values = np.asarray(values)
    if fits_format is None:
        if values.dtype.kind in "US":
            fits_format = (
                f"{max(1, values.dtype.itemsize // (4 if values.dtype.kind == 'U' else 1))}A"
            )
        elif values.dtype.kind in "iu":
            fits_format = "K"
        else:
            fits_format = "D"
    return fits.Column(name, fits_format, array=values)


def copy_with_rows(src, dst, rows, hdu=1) -> str:
    """A copy of ``src`` keeping only ``rows`` (indices or a slice) of table ``hdu``."""

    def edit(hdus):
        table = hdus[hdu]
        kept = fits.BinTableHDU(data=table.data[rows], header=_table_header(table), name=table.name)
        hdus[hdus.index_of(hdu)] = kept

    return _edit_copy(src, dst, edit)


def copy_without_hdu(src, dst, hdu) -> str:
    """A copy of ``src`` without HDU ``hdu`` (index or EXTNAME)."""

    def edit(hdus):
        del hdus[hdus.index_of(hdu)]

    return _edit_copy(src, dst, edit)


def copy_with_hdu_renamed(src, dst, hdu, new_name: str) -> str:
    """A copy of ``src`` whose HDU ``hdu`` has EXTNAME ``new_name``."""

    def edit(hdus):
        hdus[hdus.index_of(hdu)].name = new_name

    return _edit_copy(src, dst, edit)


def copy_with_image_hdu(src, dst, hdu) -> str:
    """A copy of ``src`` where table ``hdu`` is replaced by an image of that name."""

    def edit(hdus):
        index = hdus.index_of(hdu)
        hdus[index] = fits.ImageHDU(np.zeros((4, 4), np.float32), name=hdus[index].name)

    return _edit_copy(src, dst, edit)


def write_fixture_tree(
    output_dir,
    *,
    seed: int = 0,
    num_galaxies: int = 12,
    num_spectra: int = 12,
    mpajhu_release: str = "dr7",
    with_broken: bool = False,
) -> dict[str, list[str]]:
    """Writes the fixtures in the TFDS ``manual_dir`` layout.

    ``<output_dir>/mpajhu/`` holds an MPA-JHU pair (``mpajhu_release``
    ``"dr7"``, ``"dr8"`` or ``"both"``), ``<output_dir>/sdss_spec/`` the spec
    files, and with ``with_broken`` ``<output_dir>/broken/`` one file per
    defect (not FITS, truncated, missing column, missing HDU, wrong HDU).

    Returns:
      {"mpajhu": [...], "sdss_spec": [...], "broken": [...]} paths written.
    """
    output_dir = os.fspath(output_dir)
    releases = ("dr7", "dr8") if mpajhu_release == "both" else (mpajhu_release,)
    written: dict[str, list[str]] = {"mpajhu": [], "sdss_spec": [], "broken": []}
    mpajhu_dir = os.path.join(output_dir, "mpajhu")
    for release in releases:
        pair = write_mpajhu_pair(mpajhu_dir, n=num_galaxies, release=release, seed=seed)
        written["mpajhu"] += [pair.line_path, pair.info_path]
    written["sdss_spec"] = write_sdss_spec_folder(
        os.path.join(output_dir, "sdss_spec"), n=num_spectra, seed=seed
    )
    if with_broken:
        broken = os.path.join(output_dir, "broken")
        os.makedirs(broken, exist_ok=True)
        spec = written["sdss_spec"][0]
        line_path = written["mpajhu"][0]
        written["broken"] = [
            write_not_fits(os.path.join(broken, "not_fits.fits")),
            copy_truncated(spec, os.path.join(broken, "spec-truncated.fits")),
            copy_without_column(
                line_path, os.path.join(broken, "line_missing_H_ALPHA_EQW.fits"), "H_ALPHA_EQW"
            ),
            copy_without_hdu(spec, os.path.join(broken, "spec-no-spzline.fits"), "SPZLINE"),
            copy_with_hdu_renamed(spec, os.path.join(broken, "spec-wrong-hdu.fits"), 2, "ZBEST"),
        ]
    return written
