"""Tiny HST mosaics, catalogue and an elliptical-galaxy image in the real formats.

The ``candels`` reader and ``tfelg-morphology`` must be tested on the real
formats (drizzled images with TAN WCS headers and PHOTFLAM/PHOTPLAM
keywords in electrons/s, a FITS binary table with the CANDELS column
names), but real mosaics are gigabytes. These writers draw GalSim galaxies
from :mod:`tfelg.synthetic.hst_galaxies` into small mosaics (320 x 320
pixels at 0.06"/pixel around a GOODS-S position) and list them in a
catalogue, together with the objects the builder must skip: off the
mosaic, too near its edge, on a NaN patch (a chip gap), a star, too faint,
too far, too small.

``ALIGN_ID`` is a bright elliptical planted at a known RA/DEC away from the
mosaic centre: the alignment test checks that it comes out centred in its
own cutout in all three bands.

Everything is seeded and written atomically (:mod:`tfelg.atomic`).
"""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits

from tfelg import atomic
from tfelg.synthetic import hst_galaxies as hst

MOSAIC_SIZE = 320
CENTRE_RA, CENTRE_DEC = 53.122, -27.805  # GOODS-S
# AB zero points of the CANDELS/GOODS-S mosaics (electrons/s), rounded.
ZEROPOINTS_AB = {"F435W": 25.673, "F850LP": 24.862, "F160W": 25.946}
PIVOT_ANGSTROM = {"F435W": 4318.9, "F850LP": 9033.1, "F160W": 15369.2}
FILE_NAMES = {
    "F435W": "hlsp_candels_hst_acs_gs-tot_f435w_v1.0_drz.fits",
    "F850LP": "hlsp_candels_hst_acs_gs-tot_f850l_v1.0_drz.fits",
    "F160W": "hlsp_candels_hst_wfc3_gs-tot_f160w_v1.0_drz.fits",
}
CATALOGUE_NAME = "hlsp_candels_hst_wfc3_gs-tot-multiband_f160w_v1_cat.fits"
ALIGN_ID = 1001
ALIGN_PIXEL = (220.5, 96.5)  # (x, y) of the planted galaxy's centre, 0-based

# (id, stamp origin x0, y0, true type, catalogue overrides); the galaxy is
# drawn in the 64x64 box at (x0, y0), centred on (x0 + 31.5, y0 + 31.5).
_OBJECTS = (
    (1002, 20, 20, "lenticular", {}),
    (1003, 120, 30, "late_spiral", {}),
    (1004, 30, 130, "irregular", {}),
    (1005, 130, 200, "early_spiral", {}),
    (1006, 230, 230, "lenticular", {}),
    (1007, 60, 235, "elliptical", {}),
    (2001, 140, 120, "elliptical", {"CLASS_STAR": 0.98}),  # a "star": cut
    (2002, 200, 150, "late_spiral", {"Hmag": 26.0}),  # too faint: cut
    (2003, 250, 20, "irregular", {"zbest": 1.5}),  # too far: cut
    (2004, 90, 80, "irregular", {"ISOAREA_IMAGE": 20.0}),  # too small: cut
    (2005, 290, 140, "elliptical", {}),  # stamp crosses the mosaic edge: near_edge
    (2006, 5, 250, "early_spiral", {}),  # on the NaN patch in F435W: nan_pixels
)
NAN_PATCH = (slice(270, 320), slice(0, 60))  # (rows, cols) set to NaN in F435W
OFF_MOSAIC_ID = 2007


def mosaic_header(band: str) -> fits.Header:
    """A drizzled-mosaic header: TAN WCS at 0.06"/pixel, photometric keywords."""
    scale = hst.PIXEL_SCALE / 3600.0
    header = fits.Header()
    header["TELESCOP"] = "HST"
    header["INSTRUME"] = "WFC3" if band == "F160W" else "ACS"
    header["FILTER"] = band
    header["BUNIT"] = "ELECTRONS/S"
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = CENTRE_RA, CENTRE_DEC
    header["CRPIX1"], header["CRPIX2"] = MOSAIC_SIZE / 2 + 0.5, MOSAIC_SIZE / 2 + 0.5
    header["CD1_1"], header["CD1_2"] = -scale, 0.0
    header["CD2_1"], header["CD2_2"] = 0.0, scale
    header["RADESYS"], header["EQUINOX"] = "ICRS", 2000.0
    pivot = PIVOT_ANGSTROM[band]
    header["PHOTPLAM"] = pivot
    header["PHOTFLAM"] = 10.0 ** (-0.4 * (ZEROPOINTS_AB[band] + 2.408 + 5 * np.log10(pivot)))
    header["EXPTIME"] = 1.0
    return header


def njy_per_count(band: str) -> float:
    return float(10.0 ** (-0.4 * (ZEROPOINTS_AB[band] - hst.AB_NJY_ZEROPOINT)))


def write_candels(folder: str, seed: int = 0) -> dict:
    """Writes the three mosaics and the catalogue into ``folder``.

    Returns:
      {"ids_kept": [...], "align_ra_dec": (ra, dec), "files": {...}}.
    """
    from astropy.wcs import WCS

    os.makedirs(folder, exist_ok=True)
    header = mosaic_header("F160W")
    wcs = WCS(header)
    rng = np.random.default_rng(seed)
    images = {b: np.zeros((MOSAIC_SIZE, MOSAIC_SIZE)) for b in hst.BANDS}
    rows = []
    objects = [(ALIGN_ID, ALIGN_PIXEL[0] - 31.5, ALIGN_PIXEL[1] - 31.5, "elliptical", {})]
    objects += list(_OBJECTS)
    for k, (obj_id, x0, y0, kind, overrides) in enumerate(objects):
        galaxy = hst.draw_galaxy(seed + 17, k, int(hst.TRUE_TYPE[kind]))
        if obj_id == ALIGN_ID:  # bright and compact, so its centre is unambiguous
            for c in galaxy.components:
                c.band_flux = c.band_flux * 6.0
        stamp = hst.draw_noiseless(galaxy)
        x0, y0 = int(x0), int(y0)
        ys = slice(max(y0, 0), min(y0 + 64, MOSAIC_SIZE))
        xs = slice(max(x0, 0), min(x0 + 64, MOSAIC_SIZE))
        for b, band in enumerate(hst.BANDS):
            images[band][ys, xs] += stamp[
                ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0, b
            ]
        sky = wcs.pixel_to_world(x0 + 31.5, y0 + 31.5)
        truth = galaxy.truth
        # Rest-frame magnitudes on an arbitrary common zero point: only colours matter.
        rest_v = 20.0
        row = {
            "ID": obj_id,
            "RA": sky.ra.deg,
            "DEC": sky.dec.deg,
            "zbest": galaxy.redshift,
            "CLASS_STAR": float(rng.uniform(0.0, 0.3)),
            "Hmag": truth["mag_F160W"],
            "ISOAREA_IMAGE": float(rng.uniform(80, 400)),
            "restU": rest_v + truth["u_minus_v"],
            "restV": rest_v,
            "restJ": rest_v - truth["v_minus_j"],
        }
        row.update(overrides)
        rows.append(row)
    off = dict(rows[-1])
    off.update(ID=OFF_MOSAIC_ID, RA=CENTRE_RA + 0.1, DEC=CENTRE_DEC + 0.1)
    rows.append(off)

    files = {}
    for band in hst.BANDS:
        sigma = hst.sky_sigma_njy(band) / njy_per_count(band)
        counts = images[band] / njy_per_count(band) + rng.normal(0.0, sigma, images[band].shape)
        if band == "F435W":
            counts[NAN_PATCH] = np.nan
        path = os.path.join(folder, FILE_NAMES[band])
        with atomic.atomic_path(path) as tmp:
            fits.PrimaryHDU(counts.astype(np.float32), header=mosaic_header(band)).writeto(tmp)
        files[band] = path
    columns = [
        fits.Column(name="ID", format="J", array=np.array([r["ID"] for r in rows], np.int32)),
        fits.Column(name="RA", format="D", unit="deg", array=np.array([r["RA"] for r in rows])),
        fits.Column(name="DEC", format="D", unit="deg", array=np.array([r["DEC"] for r in rows])),
    ]
    for name in ("zbest", "CLASS_STAR", "Hmag", "ISOAREA_IMAGE", "restU", "restV", "restJ"):
        columns.append(
            fits.Column(name=name, format="E", array=np.array([r[name] for r in rows], np.float32))
        )
    table = fits.BinTableHDU.from_columns(columns)
    table.header["EXTNAME"] = "CATALOG"
    path = os.path.join(folder, CATALOGUE_NAME)
    with atomic.atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp)
    files["catalogue"] = path
    kept = [ALIGN_ID] + [o[0] for o in _OBJECTS if o[0] < 2000]
    align = wcs.pixel_to_world(*ALIGN_PIXEL)
    return {"ids_kept": kept, "align_ra_dec": (align.ra.deg, align.dec.deg), "files": files}


def write_elliptical(path: str, *, size: int = 200, hlr_arcsec: float = 1.0, seed: int = 0) -> str:
    """A realistic HST ACS/WFC F814W image of a nearby elliptical that fits its frame.

    De Vaucouleurs profile (half-light radius ``hlr_arcsec``, axis ratio
    0.8) convolved with an Airy PSF of FWHM 0.09", 0.05"/pixel like the ACS
    drizzled products, a sky level of 0.05 e-/s plus Poisson-like white
    noise, a TAN WCS and PHOTFLAM/PHOTPLAM. With the default size the
    galaxy's segment stays inside the frame (an overfilling one is made
    with a larger ``hlr_arcsec``).
    """
    import galsim

    scale = 0.05
    galaxy = galsim.DeVaucouleurs(half_light_radius=hlr_arcsec, flux=4000.0).shear(
        q=0.8, beta=40 * galsim.degrees
    )
    psf = galsim.Airy(lam_over_diam=0.09 / 1.028994)
    image = galsim.Convolve(galaxy, psf).drawImage(nx=size, ny=size, scale=scale).array
    rng = np.random.default_rng(seed)
    sky = 0.05
    image = image + sky + rng.normal(0.0, 0.01, image.shape)
    header = fits.Header()
    header["TELESCOP"], header["INSTRUME"], header["FILTER"] = "HST", "ACS", "F814W"
    header["BUNIT"] = "ELECTRONS/S"
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = 187.444, 8.0004
    header["CRPIX1"], header["CRPIX2"] = size / 2 + 0.5, size / 2 + 0.5
    header["CD1_1"], header["CD1_2"] = -scale / 3600.0, 0.0
    header["CD2_1"], header["CD2_2"] = 0.0, scale / 3600.0
    header["PHOTPLAM"] = 8057.0
    header["PHOTFLAM"] = 7.0e-20
    header["EXPTIME"] = 2000.0
    header["OBJECT"] = "synthetic elliptical (tfelg.testing.hst_fixtures)"
    with atomic.atomic_path(path) as tmp:
        fits.PrimaryHDU(image.astype(np.float32), header=header).writeto(tmp)
    return path
