"""Drizzled HST mosaics and their catalogue: WCS cutouts that provably line up.

Why this module exists: the reference work cut its CANDELS stamps with a
throw-away script that misaligned images and labels and overflowed its
integer scaling. Here a cutout is made by sky position with astropy's
``Cutout2D`` on each band's own WCS, every band must be on the same pixel
grid (checked, never silently resampled), fluxes are converted to nJy per
pixel in float32 from each mosaic's own photometric keywords, and objects
that cannot give a clean stamp (off the mosaic, too near its edge, NaN or
all-zero pixels) are skipped and counted, so the summary says what was lost.

Layout expected (``find_band_files``): one FITS image per band in a folder,
recognised by the band in its file name (``f435w``, ``f850l``/``f850lp``,
``f160w``, as in ``hlsp_candels_hst_wfc3_gs-tot_f160w_v1.0_drz.fits``), and
one FITS table catalogue whose name contains ``cat``.

Local mosaics are memory-mapped (real CANDELS mosaics are gigabytes);
remote ones (``gs://``) and file objects are read through
:func:`tfelg.io.fits_open.open_fits`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import warnings

import numpy as np
from astropy.io import fits
from etils import epath

from tfelg.errors import InputError
from tfelg.io import fits_open

BANDS: tuple[str, ...] = ("F435W", "F850LP", "F160W")
_BAND_PATTERNS = {
    "F435W": re.compile(r"f435w", re.IGNORECASE),
    "F850LP": re.compile(r"f850l(p)?", re.IGNORECASE),
    "F160W": re.compile(r"f160w", re.IGNORECASE),
}
AB_NJY_ZEROPOINT = 31.4  # AB magnitude of 1 nJy

# Catalogue columns: the name tfelg uses -> accepted names (case-insensitive),
# the first being the CANDELS name written by scripts/make_hst_fixtures.py.
CATALOGUE_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("ID", "NUMBER", "OBJID", "SEQNR"),
    "ra": ("RA", "RA_1", "ALPHA_J2000"),
    "dec": ("DEC", "DEC_1", "DELTA_J2000"),
    "redshift": ("zbest", "z_best", "ZBEST", "photoz", "z"),
    "class_star": ("CLASS_STAR",),
    "hmag": ("Hmag", "H_MAG", "MAG_F160W", "F160W_MAG"),
    "area": ("ISOAREA_IMAGE", "ISOAREA_F160W", "ISOAREA"),
}
OPTIONAL_COLOUR_COLUMNS: dict[str, tuple[str, ...]] = {
    "rest_u": ("restU", "REST_U", "U_REST", "M_U"),
    "rest_v": ("restV", "REST_V", "V_REST", "M_V"),
    "rest_j": ("restJ", "REST_J", "J_REST", "M_J"),
}


@dataclasses.dataclass
class Mosaic:
    """One band's image: data (possibly memory-mapped), WCS and nJy scale."""

    band: str
    path: str
    data: np.ndarray
    wcs: object
    njy_per_unit: float


def find_band_files(folder) -> tuple[dict[str, epath.Path], epath.Path]:
    """({band: mosaic path}, catalogue path) in ``folder``; InputError naming what is missing."""
    folder = epath.Path(folder)
    if not folder.exists():
        raise InputError(
            "folder not found (expected the CANDELS mosaics and catalogue)", path=folder
        )
    files = sorted(
        p for p in folder.iterdir() if p.name.lower().endswith((".fits", ".fit", ".fits.gz"))
    )
    catalogues = [p for p in files if "cat" in p.name.lower()]
    images = [p for p in files if p not in catalogues]
    found: dict[str, epath.Path] = {}
    for band in BANDS:
        matches = [p for p in images if _BAND_PATTERNS[band].search(p.name)]
        if not matches:
            raise InputError(
                f"no {band} mosaic: expected a FITS file with '{band.lower()}' in its name "
                f"(found: {', '.join(p.name for p in images) or 'no FITS images'})",
                path=folder,
            )
        if len(matches) > 1:
            raise InputError(
                f"more than one {band} mosaic ({', '.join(p.name for p in matches)}): keep one",
                path=folder,
            )
        found[band] = matches[0]
    if len(catalogues) != 1:
        raise InputError(
            "expected exactly one catalogue (a FITS table with 'cat' in its name), found "
            + (", ".join(p.name for p in catalogues) or "none"),
            path=folder,
        )
    return found, catalogues[0]


def zeropoint_njy_per_unit(header, path: str) -> float:
    """nJy per image unit from the header: AB zero point, PHOTFNU or PHOTFLAM + PHOTPLAM."""
    for key in ("ABZP", "ZEROPNT", "MAGZERO", "MAGZPT", "ZP"):
        if key in header:
            return float(10.0 ** (-0.4 * (float(header[key]) - AB_NJY_ZEROPOINT)))
    if "PHOTFNU" in header and float(header["PHOTFNU"]) > 0:
        return float(header["PHOTFNU"]) * 1e9  # Jy s / e- -> nJy per (e-/s)
    if "PHOTFLAM" in header and "PHOTPLAM" in header:
        photflam, photplam = float(header["PHOTFLAM"]), float(header["PHOTPLAM"])
        if photflam > 0 and photplam > 0:
            zp = -2.5 * np.log10(photflam) - 5.0 * np.log10(photplam) - 2.408
            return float(10.0 ** (-0.4 * (zp - AB_NJY_ZEROPOINT)))
    raise InputError(
        "no photometric calibration in the header (ABZP/ZEROPNT/MAGZERO, PHOTFNU, or "
        "PHOTFLAM + PHOTPLAM): fluxes cannot be put in nJy",
        path=path,
        hdu=0,
    )


def _image_hdu(hdul: fits.HDUList, path: str):
    for index, hdu in enumerate(hdul):
        if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) and hdu.header.get("NAXIS", 0) == 2:
            return index, hdu
    raise InputError(f"no 2-D image HDU (HDUs: {fits_open.describe_hdus(hdul)})", path=path)


def image_wcs(header, path: str, hdu_index: int):
    """The celestial WCS of an image header; InputError if it has none."""
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header).celestial
        except Exception as e:
            raise InputError(f"unreadable WCS ({e})", path=path, hdu=hdu_index) from e
    if not wcs.has_celestial or wcs.naxis != 2:
        raise InputError(
            "the image has no celestial WCS (CTYPE1/2, CRVAL, CRPIX, CD or CDELT): "
            "a cutout by RA/DEC needs one",
            path=path,
            hdu=hdu_index,
        )
    return wcs


@contextlib.contextmanager
def open_mosaic(path, band: str):
    """Yields the :class:`Mosaic` of one band (memory-mapped when local)."""
    name = str(path)
    local = "://" not in name
    with contextlib.ExitStack() as stack:
        if local:
            try:
                size = epath.Path(name).stat().length
            except FileNotFoundError as e:
                raise InputError("file not found", path=name) from e
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    hdul = stack.enter_context(fits.open(name, memmap=True, lazy_load_hdus=False))
                except Exception as e:
                    raise InputError(f"not a readable FITS file ({e})", path=name) from e
            fits_open._check_fits_complete(hdul, size, name)
            fits_open._raise_on_fatal_warnings(caught, name)
        else:
            hdul = stack.enter_context(fits_open.open_fits(name))
        index, hdu = _image_hdu(hdul, name)
        wcs = image_wcs(hdu.header, name, index)
        scale = zeropoint_njy_per_unit(hdu.header, name)
        try:
            data = hdu.data
        except Exception as e:
            raise InputError(f"cannot read image data ({e})", path=name, hdu=index) from e
        yield Mosaic(band=band, path=name, data=data, wcs=wcs, njy_per_unit=scale)


def check_same_grid(mosaics: list[Mosaic]) -> None:
    """InputError unless every mosaic has the shape and WCS of the first.

    tfelg does not resample: reproject a band onto the others' grid first
    (e.g. with the ``reproject`` package), so that what a pixel means is the
    user's explicit choice.
    """
    reference = mosaics[0]
    for other in mosaics[1:]:
        if other.data.shape != reference.data.shape:
            raise InputError(
                f"{other.band} mosaic has shape {other.data.shape} but the {reference.band} "
                f"mosaic {reference.path} has {reference.data.shape}: every band must be on "
                "the same pixel grid (reproject it first)",
                path=other.path,
            )
        if not other.wcs.wcs.compare(reference.wcs.wcs, tolerance=1e-9):
            raise InputError(
                f"{other.band} mosaic has a different WCS from the {reference.band} mosaic "
                f"{reference.path} (CRVAL/CRPIX/CD differ): every band must be on the same "
                "pixel grid (reproject it first)",
                path=other.path,
            )


@dataclasses.dataclass
class Catalogue:
    """Catalogue columns by tfelg name (``CATALOGUE_COLUMNS``), row-aligned."""

    path: str
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["ra"])


def read_catalogue(source, *, name: str | None = None) -> Catalogue:
    """The CANDELS-like catalogue (first table HDU), required and optional columns."""
    label = fits_open.source_name(source, name)
    with fits_open.open_fits(source, name=label) as hdul:
        index = next(
            (i for i, h in enumerate(hdul) if isinstance(h, fits.BinTableHDU | fits.TableHDU)),
            None,
        )
        if index is None:
            raise InputError(f"no table HDU (HDUs: {fits_open.describe_hdus(hdul)})", path=label)
        data = fits_open.read_table_data(hdul[index], path=label, hdu_label=index)
        columns = {}
        for key, names in {**CATALOGUE_COLUMNS, **OPTIONAL_COLOUR_COLUMNS}.items():
            actual = next(
                (fits_open.find_column(data, n) for n in names if fits_open.find_column(data, n)),
                None,
            )
            if actual is None:
                if key in OPTIONAL_COLOUR_COLUMNS:
                    continue
                raise fits_open.missing_column_error(
                    data,
                    names[0],
                    path=label,
                    hdu_label=index,
                    purpose=f"{key}; also accepted: {', '.join(names[1:]) or 'none'}",
                )
            dtype = None if key == "id" else np.float64
            columns[key] = fits_open.read_column(
                data, actual, path=label, hdu_label=index, dtype=dtype
            )
    columns["id"] = np.asarray(columns["id"]).astype(str)
    return Catalogue(path=label, columns=columns)


def read_catalogue_file(path) -> Catalogue:
    path = epath.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise InputError("file not found", path=path) from e
    return read_catalogue(io.BytesIO(data), name=str(path))


def cutout(mosaic: Mosaic, ra: float, dec: float, size: int):
    """A stamp around (ra, dec): (stamp, (x, y) in the mosaic, (x, y) in the stamp).

    The stamp is in nJy per pixel, float32 (converted in float64 first: no
    integer arithmetic anywhere). Cutout2D centres the stamp on the pixel
    nearest the position; the position's exact place in the stamp is
    returned too (for a 64-pixel stamp within a pixel of 31.5).
    Returns (None, reason, None) with reason ``off_mosaic`` or ``near_edge``.
    """
    from astropy.coordinates import SkyCoord
    from astropy.nddata import Cutout2D, NoOverlapError, PartialOverlapError

    position = SkyCoord(ra, dec, unit="deg")
    try:
        stamp = Cutout2D(
            mosaic.data, position, (size, size), wcs=mosaic.wcs, mode="strict", copy=True
        )
    except NoOverlapError:
        return None, "off_mosaic", None
    except PartialOverlapError:
        return None, "near_edge", None
    data = np.asarray(stamp.data, dtype=np.float64) * mosaic.njy_per_unit
    x, y = mosaic.wcs.world_to_pixel(position)
    x0, y0 = stamp.origin_original  # the stamp's first pixel in the mosaic
    in_stamp = (float(x) - x0, float(y) - y0)
    return data.astype(np.float32), (float(x), float(y)), in_stamp
