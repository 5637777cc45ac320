"""Morphology of galaxies in FITS images, as a FITS table (the library of tfelg-morphology).

An astronomer points this at a FITS image (or a folder of them, one band or
several) and gets, per galaxy, statmorph's Gini, M20, C, A, S, Sersic index
and half-light radius, the Gini-M20 (Lotz et al. 2008) and CAS classes,
tfelg's flags and two columns saying which numbers to trust
(:mod:`tfelg.morphology`). Targets are the image centre, one ``ra``/``dec``,
or every row of a catalogue (columns RA, DEC and optionally ID), placed by
the image's WCS. Every failure names the file (and object): a missing,
truncated or non-image FITS file, a position without a WCS, a catalogue
without RA/DEC. A target outside an image is a row with NO_SOURCE and an
error message, counted in the summary, not a crash.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
from astropy.io import fits

from tfelg import morphology, schemes
from tfelg.errors import InputError
from tfelg.io import fits_open, mosaics

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")


@dataclasses.dataclass
class Image:
    path: str
    data: np.ndarray
    header: fits.Header
    wcs: object | None
    band: str


def list_inputs(path) -> list[str]:
    """The FITS files to measure: ``path`` itself, or the FITS files in a folder (sorted)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        files = sorted(
            os.path.join(path, n) for n in os.listdir(path) if n.lower().endswith(FITS_SUFFIXES)
        )
        if not files:
            raise InputError(f"no FITS files ({', '.join(FITS_SUFFIXES)}) in the folder", path=path)
        return files
    if not os.path.exists(path):
        raise InputError("file not found", path=path)
    return [path]


def read_image(path: str) -> Image:
    """The first 2-D image HDU of a FITS file, its header, WCS (or None) and band."""
    with fits_open.open_fits(path) as hdul:
        for index, hdu in enumerate(hdul):
            if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) and hdu.header.get("NAXIS") == 2:
                try:
                    data = np.asarray(hdu.data, dtype=np.float64)
                except Exception as e:
                    raise InputError(f"cannot read image data ({e})", path=path, hdu=index) from e
                header = hdu.header.copy()
                try:
                    wcs = mosaics.image_wcs(header, path, index)
                except InputError:
                    wcs = None
                band = str(header.get("FILTER", header.get("FILTER2", header.get("FILTER1", ""))))
                return Image(path, data, header, wcs, band.strip())
        raise InputError(f"no 2-D image HDU (HDUs: {fits_open.describe_hdus(hdul)})", path=path)


def read_targets(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, ra, dec) from a FITS table or a CSV file with RA and DEC columns (ID optional)."""
    if path.lower().endswith(".csv"):
        import csv

        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise InputError("catalogue has no rows", path=path)
        upper = {k.strip().upper(): k for k in rows[0]}
        for needed in ("RA", "DEC"):
            if needed not in upper:
                raise InputError(
                    f"required column missing (columns: {', '.join(rows[0])})",
                    path=path,
                    column=needed,
                )
        ra, dec = [], []
        for r, row in enumerate(rows):
            try:
                ra.append(float(row[upper["RA"]]))
                dec.append(float(row[upper["DEC"]]))
            except ValueError as e:
                raise InputError(f"not a number ({e})", path=path, row=r + 1) from e
        ids = [row[upper["ID"]] if "ID" in upper else str(i) for i, row in enumerate(rows)]
        return np.array(ids, dtype=str), np.array(ra), np.array(dec)
    with fits_open.open_fits(path) as hdul:
        index = next(
            (i for i, h in enumerate(hdul) if isinstance(h, fits.BinTableHDU | fits.TableHDU)), None
        )
        if index is None:
            raise InputError(f"no table HDU (HDUs: {fits_open.describe_hdus(hdul)})", path=path)
        data = fits_open.read_table_data(hdul[index], path=path, hdu_label=index)
        ra = fits_open.read_column(data, "RA", path=path, hdu_label=index, purpose="target RA")
        dec = fits_open.read_column(data, "DEC", path=path, hdu_label=index, purpose="target DEC")
        id_name = fits_open.find_column(data, "ID")
        ids = (
            fits_open.read_column(data, id_name, path=path, hdu_label=index, dtype=None).astype(str)
            if id_name
            else np.arange(len(ra)).astype(str)
        )
    return ids, ra, dec


def measure_files(
    paths: list[str],
    *,
    ra: float | None = None,
    dec: float | None = None,
    catalogue: str | None = None,
    psf: np.ndarray | None = None,
    num_workers: int | None = None,
    **measure_kwargs,
) -> dict[str, np.ndarray]:
    """One row per (image, target): measurements, classes, flags, trust, error text."""
    if (ra is None) != (dec is None):
        raise ValueError("give both --ra and --dec, or neither")
    if ra is not None and catalogue is not None:
        raise ValueError("give either --ra/--dec or --catalogue, not both")
    targets = None
    if catalogue is not None:
        targets = read_targets(catalogue)
    elif ra is not None:
        targets = (np.array(["target"]), np.array([float(ra)]), np.array([float(dec)]))

    rows = {k: [] for k in ("FILE", "BAND", "OBJECT_ID", "RA", "DEC", "X", "Y")}
    jobs, outside = [], []
    for path in paths:
        image = read_image(path)
        ny, nx = image.data.shape
        if targets is None:
            points = [("centre", np.nan, np.nan, (nx - 1) / 2.0, (ny - 1) / 2.0)]
        else:
            if image.wcs is None:
                raise InputError(
                    "the image has no celestial WCS: --ra/--dec and --catalogue positions "
                    "need one (measure the image centre by giving neither)",
                    path=path,
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                xs, ys = image.wcs.all_world2pix(targets[1], targets[2], 0)
            points = list(zip(targets[0], targets[1], targets[2], xs, ys, strict=True))
        for object_id, r, d, x, y in points:
            rows["FILE"].append(os.path.basename(path))
            rows["BAND"].append(image.band)
            rows["OBJECT_ID"].append(str(object_id))
            rows["RA"].append(float(r))
            rows["DEC"].append(float(d))
            rows["X"].append(float(x))
            rows["Y"].append(float(y))
            inside = np.isfinite(x) and np.isfinite(y) and 0 <= x <= nx - 1 and 0 <= y <= ny - 1
            outside.append(not inside)
            jobs.append((image.data if inside else None, float(x), float(y)))

    to_measure = [i for i, job in enumerate(jobs) if job[0] is not None]
    results = morphology.measure_many(
        [jobs[i][0] for i in to_measure],
        positions=[(jobs[i][1], jobs[i][2]) for i in to_measure],
        num_workers=num_workers,
        psf=psf,
        **measure_kwargs,
    )
    by_row: list[morphology.Morphology] = [None] * len(jobs)
    for i, result in zip(to_measure, results, strict=True):
        by_row[i] = result
    for i, is_outside in enumerate(outside):
        if is_outside:
            by_row[i] = morphology._empty(
                morphology.FLAG_BITS["NO_SOURCE"], "target position is outside the image"
            )
    columns = {k: np.array(v) for k, v in rows.items()}
    measured = morphology.as_columns(by_row)
    for name in morphology.MEASUREMENTS:
        columns[name.upper()] = measured[name]
    columns["SEGMENT_AREA"] = measured["segment_area"]
    columns["FLAGS"] = measured["flags"]
    columns["FLAG_NAMES"] = np.array([morphology.describe_flags(f) for f in measured["flags"]])
    columns["STATMORPH_FLAG"] = measured["statmorph_flag"]
    columns["STATMORPH_FLAG_SERSIC"] = measured["statmorph_flag_sersic"]
    columns["TRUST_NONPARAMETRIC"] = measured["trust_nonparametric"]
    columns["TRUST_SERSIC"] = measured["trust_sersic"]
    columns["GINI_M20_CLASS"] = np.array(
        [schemes.GINI_M20_NAMES[c] for c in measured["gini_m20_class"]]
    )
    columns["CAS_CLASS"] = np.array([schemes.CAS_NAMES[c] for c in measured["cas_class"]])
    columns["ERROR"] = np.array([r.error or "" for r in by_row])
    return columns


COLUMN_DESCRIPTIONS = {
    "TRUST_NONPARAMETRIC": "Gini, M20, C, A, S and their classes usable: no EDGE, NO_SKY, "
    "NO_SOURCE, NON_FINITE, LOW_SN, BLANK, statmorph flag < 2",
    "TRUST_SERSIC": "TRUST_NONPARAMETRIC and statmorph flag_sersic == 0",
    "FLAGS": "bit mask of tfelg.morphology.FLAG_BITS; FLAG_NAMES spells it out",
    "GINI_M20_CLASS": "Lotz et al. 2008: merger / e_s0_sa / sb_ir",
    "CAS_CLASS": "Conselice 2003 merger (A > 0.35 and A > S), else C >= 3.5 bulge_dominated",
    "X": "target x, 0-based pixel (column) of the image",
    "Y": "target y, 0-based pixel (row) of the image",
}
COLUMN_UNITS = {
    "RA": "deg",
    "DEC": "deg",
    "X": "pix",
    "Y": "pix",
    "RHALF_CIRC": "pix",
    "SERSIC_RHALF": "pix",
    "RPETRO_CIRC": "pix",
    "SEGMENT_AREA": "pix2",
}


def format_summary(columns: dict[str, np.ndarray]) -> str:
    """Counts per Gini-M20 class, trusted and flagged, for the terminal."""
    n = len(columns["FILE"])
    trusted = int(np.sum(columns["TRUST_NONPARAMETRIC"]))
    lines = [f"{n} target(s) measured, {trusted} with trustworthy non-parametric morphology"]
    for name in schemes.GINI_M20_NAMES:
        sel = columns["GINI_M20_CLASS"] == name
        if sel.any():
            lines.append(
                f"  {name:<14s} {int(sel.sum()):>6d}  (trusted {int(np.sum(sel & columns['TRUST_NONPARAMETRIC']))})"
            )
    for bit_name in morphology.FLAG_BITS:
        count = int(np.sum([bit_name in f.split("|") for f in columns["FLAG_NAMES"]]))
        if count:
            lines.append(f"  flagged {bit_name}: {count}")
    return "\n".join(lines)
