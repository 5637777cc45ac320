"""Reader for SDSS ``spec-PLATE-MJD-FIBER.fits`` files (DR8 and later).

One spec file holds one object: the co-added spectrum (HDU 1 ``COADD``), the
pipeline's redshift and class (HDU 2 ``SPECOBJ``), and its emission-line fits
(HDU 3 ``SPZLINE``, one row per line, ~30 lines), followed by one HDU per
exposure, which tfelg does not need. This module reads the first three into
an :class:`SdssSpectrum` whose ``lines`` is a one-row
:class:`tfelg.lines.LineTable` in the same units and conventions as the
MPA-JHU reader, so a model can be fed from either source; spectra are moved
to the common rest-frame grid of :mod:`tfelg.spectra`.

A folder is read strictly: a file that does not parse is an error naming
that file, never silently skipped, because a dataset missing some galaxies
looks complete.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re

import numpy as np
from absl import logging
from etils import epath

from tfelg import lines, spectra
from tfelg.errors import InputError
from tfelg.io import fits_open

COADD_HDU = (1, "COADD")
SPECOBJ_HDU = (2, "SPECOBJ")
SPZLINE_HDU = (3, "SPZLINE")

SPEC_FILE_GLOB = "spec-*.fits"
_SPEC_FILE_NAME = re.compile(r"^spec-(\d+)-(\d+)-(\d+)\.fits$")

# LineTable line -> SPZLINE LINENAME(s) it is made of ([OII] is fitted as two).
SPZLINE_NAMES: dict[str, tuple[str, ...]] = {
    "OII_3727": ("[O_II] 3725", "[O_II] 3727"),
    "H_GAMMA": ("H_gamma",),
    "H_BETA": ("H_beta",),
    "OIII_5007": ("[O_III] 5007",),
    "OI_6300": ("[O_I] 6300",),
    "NII_6548": ("[N_II] 6548",),
    "H_ALPHA": ("H_alpha",),
    "NII_6584": ("[N_II] 6583",),
    "SII_6717": ("[S_II] 6716",),
    "SII_6731": ("[S_II] 6730",),
}


@dataclasses.dataclass
class SdssSpectrum:
    """One SDSS spec file, as tfelg uses it.

    Attributes:
      object_id: ``"PLATE-MJD-FIBER"`` zero-padded (``"0266-51602-0001"``).
      redshift: pipeline redshift ``Z`` (NaN if the file has a sentinel).
      spec_class: pipeline class ``CLASS`` (``GALAXY``, ``QSO``, ``STAR``).
      loglam: (P,) float64 observed log10 vacuum wavelength in Angstrom.
      flux: (P,) float64 observed flux density, 1e-17 erg/s/cm^2/A.
      ivar: (P,) float64 inverse variance of ``flux`` (0 = no data).
      and_mask: (P,) int64 pixel mask bits set in every exposure (0 = good).
      lines: one-row LineTable of the SPZLINE fits.
      source: the file name.
    """

    object_id: str
    redshift: float
    spec_class: str
    loglam: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    and_mask: np.ndarray
    lines: lines.LineTable
    source: str = ""


def _normalise_line_name(name: str) -> str:
    return " ".join(str(name).split()).upper()


def _object_id_from_name(label: str) -> str | None:
    match = _SPEC_FILE_NAME.match(epath.Path(label).name) if label else None
    if match is None:
        return None
    return fits_open.sdss_object_id(*(int(g) for g in match.groups()))


def _read_coadd(hdul, label: str) -> dict[str, np.ndarray]:
    index, extname = COADD_HDU
    hdu = fits_open.table_hdu(hdul, index, path=label, extname=extname)
    data = fits_open.read_table_data(hdu, path=label, hdu_label=extname)
    coadd = {
        column: fits_open.read_column(data, column, path=label, hdu_label=extname, dtype=dtype)
        for column, dtype in (
            ("loglam", np.float64),
            ("flux", np.float64),
            ("ivar", np.float64),
            ("and_mask", np.int64),
        )
    }
    loglam = coadd["loglam"]
    if loglam.size < 2:
        raise InputError(
            f"spectrum has {loglam.size} pixel(s), expected many",
            path=label,
            hdu=extname,
            column="loglam",
        )
    steps = np.diff(loglam)
    if not np.all(np.isfinite(loglam)) or np.any(steps <= 0):
        bad = int(np.flatnonzero(~np.isfinite(loglam[1:]) | ~(steps > 0))[0]) + 1
        raise InputError(
            "wavelengths must be finite and strictly increasing",
            path=label,
            hdu=extname,
            column="loglam",
            row=bad,
        )
    return coadd


def _read_specobj(hdul, label: str) -> tuple[str | None, float, str]:
    """(object id from PLATE/MJD/FIBERID or None, redshift, class)."""
    index, extname = SPECOBJ_HDU
    hdu = fits_open.table_hdu(hdul, index, path=label, extname=extname)
    data = fits_open.read_table_data(hdu, path=label, hdu_label=extname)
    if len(data) != 1:
        raise InputError(
            f"expected one row (one object per spec file), found {len(data)}",
            path=label,
            hdu=extname,
        )

    def column(name, dtype=np.float64, purpose=""):
        return fits_open.read_column(
            data, name, path=label, hdu_label=extname, dtype=dtype, purpose=purpose
        )

    redshift, _ = fits_open.masked(column("Z", purpose="redshift"), positive=False)
    spec_class = str(column("CLASS", dtype=None, purpose="spectral class")[0])
    id_columns = ("PLATE", "MJD", "FIBERID")
    if all(fits_open.find_column(data, c) is not None for c in id_columns):
        plate, mjd, fiber = (int(column(c, dtype=np.int64)[0]) for c in id_columns)
        object_id = fits_open.sdss_object_id(plate, mjd, fiber)
    else:
        object_id = None
    return object_id, float(redshift[0]), spec_class


def _read_spzline(hdul, label: str, object_id: str, redshift: float) -> lines.LineTable:
    index, extname = SPZLINE_HDU
    hdu = fits_open.table_hdu(hdul, index, path=label, extname=extname)
    data = fits_open.read_table_data(hdu, path=label, hdu_label=extname)

    def column(name, dtype=np.float64):
        return fits_open.read_column(data, name, path=label, hdu_label=extname, dtype=dtype)

    raw_names = column("LINENAME", dtype=None)
    names = [_normalise_line_name(n) for n in raw_names]
    raw_area_err, raw_ew_err = column("LINEAREA_ERR"), column("LINEEW_ERR")
    flux, _ = fits_open.masked(column("LINEAREA"), positive=True)
    flux_err, _ = fits_open.masked(raw_area_err, positive=True)
    ew, _ = fits_open.masked(column("LINEEW"), positive=False)
    ew_err, _ = fits_open.masked(raw_ew_err, positive=True)
    # A negative LINEAREA_ERR is the pipeline's "not measured" (e.g. the line
    # falls outside the spectrum): the whole line is missing.
    with np.errstate(invalid="ignore"):
        not_measured = raw_area_err < 0
        ew_not_measured = not_measured | (raw_ew_err < 0)
    flux[not_measured] = np.nan
    ew[ew_not_measured] = np.nan
    # An error without its value means nothing.
    flux_err[np.isnan(flux)] = np.nan
    ew_err[np.isnan(ew)] = np.nan

    # Normalised name -> the name as SDSS spells it (for messages).
    wanted = {_normalise_line_name(n): n for parts in SPZLINE_NAMES.values() for n in parts}
    row_of: dict[str, int] = {}
    for row, name in enumerate(names):
        if name not in wanted:
            continue
        if name in row_of:
            raise InputError(
                f"line {wanted[name]!r} appears twice (rows {row_of[name]} and {row})",
                path=label,
                hdu=extname,
                column="LINENAME",
                row=row,
            )
        row_of[name] = row
    missing = [original for name, original in wanted.items() if name not in row_of]
    if missing:
        raise InputError(
            f"no row for line(s) {', '.join(missing)}; the lines present are: "
            + ", ".join(n.strip() for n in raw_names),
            path=label,
            hdu=extname,
            column="LINENAME",
        )

    def combined(values: np.ndarray, is_error: bool) -> np.ndarray:
        """(10,) per LineTable line: blended components summed (errors in
        quadrature); NaN if any component is missing."""
        out = []
        for name in lines.LINE_NAMES:
            rows = [row_of[_normalise_line_name(n)] for n in SPZLINE_NAMES[name]]
            part = values[rows]
            out.append(np.sqrt(np.sum(part**2)) if is_error else np.sum(part))
        return np.array(out)

    return lines.LineTable(
        object_id=np.array([object_id]),
        redshift=np.array([redshift]),
        flux=combined(flux, is_error=False)[None, :],
        flux_err=combined(flux_err, is_error=True)[None, :],
        ew=combined(ew, is_error=False)[None, :],
        ew_err=combined(ew_err, is_error=True)[None, :],
        source=label,
    )


def read_spec_file(path_or_fileobj, name: str | None = None) -> SdssSpectrum:
    """Reads one SDSS spec file.

    Lines (SPZLINE): ``[O_II] 3725`` + ``[O_II] 3727`` -> ``OII_3727`` (summed,
    errors in quadrature, missing if either is), ``H_gamma``, ``H_beta``,
    ``[O_III] 5007``, ``[O_I] 6300``, ``[N_II] 6548``, ``H_alpha``,
    ``[N_II] 6583`` -> ``NII_6584``, ``[S_II] 6716`` -> ``SII_6717``,
    ``[S_II] 6730`` -> ``SII_6731`` (names compared without surrounding
    whitespace, case-insensitively). ``LINEAREA`` (1e-17 erg/s/cm^2) is the
    flux and ``LINEEW`` the equivalent width, already emission-positive in
    SDSS. A negative ``LINEAREA_ERR`` ("not measured") makes the line NaN; so
    do the sentinels, non-finite and non-positive values that the MPA-JHU
    reader masks (see :func:`tfelg.io.fits_open.invalid_values`).

    The object id comes from SPECOBJ ``PLATE``/``MJD``/``FIBERID``, else from
    a file name ``spec-PLATE-MJD-FIBER.fits``; if both exist they must agree.

    Args:
      path_or_fileobj: a path or a seekable binary file object.
      name: the file's name, for messages and the id fallback, when a file
        object is given (default: its ``name`` attribute).

    Raises:
      InputError: missing, non-FITS or truncated file, missing or wrong HDU,
        missing column, SPZLINE without one of the lines above, or an object
        id that cannot be found or disagrees with the file name.
    """
    label = fits_open.source_name(path_or_fileobj, name)
    with fits_open.open_fits(path_or_fileobj, name=label) as hdul:
        coadd = _read_coadd(hdul, label)
        specobj_id, redshift, spec_class = _read_specobj(hdul, label)
        name_id = _object_id_from_name(label)
        if specobj_id is not None and name_id is not None and specobj_id != name_id:
            raise InputError(
                f"SPECOBJ says object {specobj_id} but the file is named for {name_id}",
                path=label,
                hdu=SPECOBJ_HDU[1],
            )
        object_id = specobj_id or name_id
        if object_id is None:
            raise InputError(
                "no object id: SPECOBJ lacks PLATE, MJD or FIBERID and the file name is "
                "not spec-PLATE-MJD-FIBER.fits",
                path=label,
                hdu=SPECOBJ_HDU[1],
                column="PLATE",
            )
        table = _read_spzline(hdul, label, object_id, redshift)
    return SdssSpectrum(
        object_id=object_id,
        redshift=redshift,
        spec_class=spec_class,
        loglam=coadd["loglam"],
        flux=coadd["flux"],
        ivar=coadd["ivar"],
        and_mask=coadd["and_mask"],
        lines=table,
        source=label,
    )


def rest_frame_spectrum(
    spectrum: SdssSpectrum, grid: np.ndarray = spectra.REST_LOGLAM
) -> tuple[np.ndarray, np.ndarray]:
    """The spectrum de-redshifted onto the common rest-frame grid.

    Pixels flagged in ``and_mask`` (bad in every exposure) or with
    non-positive or non-finite ``ivar`` get no weight; grid pixels without
    good data have ivar 0. See :func:`tfelg.spectra.resample_to_rest_grid`.

    Returns:
      (flux, ivar) float32 arrays of ``len(grid)``.

    Raises:
      InputError: the redshift is missing.
    """
    if not np.isfinite(spectrum.redshift) or spectrum.redshift <= -1:
        raise InputError(
            f"cannot move the spectrum to the rest frame: redshift is {spectrum.redshift}",
            path=spectrum.source,
            hdu=SPECOBJ_HDU[1],
            column="Z",
        )
    good = (spectrum.and_mask == 0) & np.isfinite(spectrum.ivar) & (spectrum.ivar > 0)
    ivar = np.where(good, spectrum.ivar, 0.0)
    return spectra.resample_to_rest_grid(
        spectrum.loglam, spectrum.flux, ivar, spectrum.redshift, grid=grid
    )


def list_spec_files(folder) -> list[epath.Path]:
    """The ``spec-*.fits`` files under ``folder`` (any depth), sorted by path.

    Other files are skipped with a logged warning.

    Raises:
      InputError: the folder does not exist, is a file, or holds no spec file.
    """
    root = epath.Path(folder)
    if not root.exists():
        raise InputError("folder of SDSS spec files not found", path=root)
    if not root.is_dir():
        raise InputError("expected a folder of spec-*.fits files, found a file", path=root)
    # walk(), not rglob(): epath refuses recursive globs (costly on GCS).
    files = sorted((dirpath / name for dirpath, _, names in root.walk() for name in names), key=str)
    found = []
    for path in files:
        if fnmatch.fnmatchcase(path.name, SPEC_FILE_GLOB):
            found.append(path)
        else:
            logging.warning("Skipping %s: not an SDSS %s file", path, SPEC_FILE_GLOB)
    if not found:
        raise InputError(f"no {SPEC_FILE_GLOB} files in the folder", path=root)
    return found


def read_spec_folder(folder) -> tuple[lines.LineTable, np.ndarray]:
    """Reads every spec file under ``folder`` (sorted by path).

    Returns:
      (lines, spectra): a LineTable with one row per file, and their
      rest-frame fluxes, float32 of shape (N, len(tfelg.spectra.REST_LOGLAM))
      (use :func:`read_spec_file` and :func:`rest_frame_spectrum` for the
      inverse variances too).

    Raises:
      InputError: no spec files; any file that cannot be read (naming it);
        two files for the same object.
    """
    tables, fluxes = [], []
    first_file_of: dict[str, epath.Path] = {}
    for path in list_spec_files(folder):
        spectrum = read_spec_file(path)
        if spectrum.object_id in first_file_of:
            raise InputError(
                f"object {spectrum.object_id} was already read from {first_file_of[spectrum.object_id]}",
                path=path,
            )
        first_file_of[spectrum.object_id] = path
        tables.append(spectrum.lines)
        fluxes.append(rest_frame_spectrum(spectrum)[0])
    table = lines.LineTable.concatenate(tables)
    table.source = str(folder)
    return table, np.stack(fluxes)
