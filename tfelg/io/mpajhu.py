"""Reader for the MPA-JHU emission-line catalogues of SDSS (DR7 and DR8).

The MPA-JHU catalogues (Brinchmann et al. 2004; Tremonti et al. 2004) are the
line measurements the reference work classified. They come as two files
whose rows are aligned, one galaxy per row, table in HDU 1:

* DR7: ``gal_line_dr7_v5_2.fit`` (lines) + ``gal_info_dr7_v5_2.fit``
  (redshift ``Z``, ``PLATEID``/``MJD``/``FIBERID``);
* DR8: ``galSpecLine-dr8.fits`` + ``galSpecInfo-dr8.fits`` (both also carry
  ``SPECOBJID``).

This module turns them into a :class:`tfelg.lines.LineTable`: it sums the
[OII] doublet, makes equivalent widths emission-positive, and replaces every
unusable value by NaN, so that nothing downstream can mistake a -999 for a
measurement. Row alignment between the two files is checked, not assumed.
"""

from __future__ import annotations

import numpy as np
from absl import logging
from astropy.io import fits

from tfelg import lines
from tfelg.errors import InputError
from tfelg.io import fits_open
from tfelg.io.fits_open import mask_report

__all__ = [
    "EW_CONVENTIONS",
    "MPAJHU_LINES",
    "mask_report",
    "read_mpajhu",
    "required_line_columns",
]

# LineTable line -> the MPA-JHU line(s) it is made of ([OII] is fitted as two).
MPAJHU_LINES: dict[str, tuple[str, ...]] = {
    "OII_3727": ("OII_3726", "OII_3729"),
    "H_GAMMA": ("H_GAMMA",),
    "H_BETA": ("H_BETA",),
    "OIII_5007": ("OIII_5007",),
    "OI_6300": ("OI_6300",),
    "NII_6548": ("NII_6548",),
    "H_ALPHA": ("H_ALPHA",),
    "NII_6584": ("NII_6584",),
    "SII_6717": ("SII_6717",),
    "SII_6731": ("SII_6731",),
}
MEASUREMENT_SUFFIXES = ("FLUX", "FLUX_ERR", "EQW", "EQW_ERR")
EW_CONVENTIONS = ("emission_negative", "emission_positive")
TABLE_HDU = 1

# Alternative spellings accepted for the object-id columns.
_ID_COLUMNS = {"PLATEID": ("PLATEID", "PLATE"), "MJD": ("MJD",), "FIBERID": ("FIBERID", "FIBER")}


def required_line_columns() -> list[str]:
    """The line-catalogue columns :func:`read_mpajhu` needs, in reading order."""
    return [
        f"{mpa_line}_{suffix}"
        for parts in MPAJHU_LINES.values()
        for mpa_line in parts
        for suffix in MEASUREMENT_SUFFIXES
    ]


class _Catalogue:
    """One opened catalogue: its name, rows and the columns read from it."""

    def __init__(self, source, name: str | None):
        self.label = fits_open.source_name(source, name)
        with fits_open.open_fits(source, name=self.label) as hdul:
            hdu = fits_open.table_hdu(hdul, TABLE_HDU, path=self.label)
            # memmap=False: the rows are in memory and outlive the file.
            self.data: fits.FITS_rec = fits_open.read_table_data(
                hdu, path=self.label, hdu_label=TABLE_HDU
            )
        self.num_rows = len(self.data)

    def has(self, column: str) -> bool:
        return fits_open.find_column(self.data, column) is not None

    def column(self, column: str, *, dtype=np.float64, purpose: str = "") -> np.ndarray:
        return fits_open.read_column(
            self.data, column, path=self.label, hdu_label=TABLE_HDU, dtype=dtype, purpose=purpose
        )

    def specobjid(self) -> np.ndarray | None:
        """SPECOBJID as strings (stored as text in DR8, as integers elsewhere)."""
        if not self.has("SPECOBJID"):
            return None
        values = self.column("SPECOBJID", dtype=None)
        if values.dtype.kind == "U":
            return values
        if values.dtype.kind in "iu":
            return values.astype(np.int64).astype(str)
        raise InputError(
            f"expected integer or text object ids, found {values.dtype}",
            path=self.label,
            hdu=TABLE_HDU,
            column="SPECOBJID",
        )

    def plate_mjd_fiber(self) -> dict[str, np.ndarray] | None:
        """PLATEID, MJD, FIBERID as int64, or None if any is absent."""
        found = {}
        for key, spellings in _ID_COLUMNS.items():
            name = next((s for s in spellings if self.has(s)), None)
            if name is None:
                return None
            found[key] = self.column(name, dtype=np.int64)
        return found


def _first_mismatch(a: np.ndarray, b: np.ndarray) -> int | None:
    differs = np.flatnonzero(a != b)
    return int(differs[0]) if differs.size else None


def _check_aligned(line: _Catalogue, info: _Catalogue) -> None:
    """Raises InputError if the two files' rows are not the same galaxies."""
    if line.num_rows != info.num_rows:
        raise InputError(
            f"the line and info catalogues must have one row per galaxy, aligned, but "
            f"{line.label} has {line.num_rows} rows and {info.label} has {info.num_rows} rows",
            path=f"{line.label} + {info.label}",
            hdu=TABLE_HDU,
        )
    pairs = []
    line_ids, info_ids = line.specobjid(), info.specobjid()
    if line_ids is not None and info_ids is not None:
        pairs.append(("SPECOBJID", line_ids, info_ids))
    line_pmf, info_pmf = line.plate_mjd_fiber(), info.plate_mjd_fiber()
    if line_pmf is not None and info_pmf is not None:
        pairs.extend((key, line_pmf[key], info_pmf[key]) for key in _ID_COLUMNS)
    for column, line_values, info_values in pairs:
        row = _first_mismatch(line_values, info_values)
        if row is not None:
            raise InputError(
                f"rows are not aligned: {column} is {line_values[row]} in {line.label} but "
                f"{info_values[row]} in {info.label} (first mismatching row)",
                path=info.label,
                hdu=TABLE_HDU,
                column=column,
                row=row,
            )


def _object_ids(catalogues: list[_Catalogue]) -> np.ndarray:
    """SPECOBJID if any file has it, else PLATE-MJD-FIBER (info file first)."""
    for catalogue in catalogues:
        ids = catalogue.specobjid()
        if ids is not None:
            return ids
    for catalogue in catalogues:
        pmf = catalogue.plate_mjd_fiber()
        if pmf is not None:
            return np.atleast_1d(
                fits_open.sdss_object_id(pmf["PLATEID"], pmf["MJD"], pmf["FIBERID"])
            )
    first = catalogues[0]
    raise fits_open.missing_column_error(
        first.data,
        "SPECOBJID",
        path=first.label,
        hdu_label=TABLE_HDU,
        purpose="object ids need SPECOBJID or PLATEID, MJD and FIBERID",
    )


def _read_measurements(
    line: _Catalogue, ew_sign: float, counts: dict[str, dict[str, int]]
) -> dict[str, dict[str, np.ndarray]]:
    """MPA-JHU line -> {"flux", "flux_err", "ew", "ew_err"} cleaned float64 arrays."""
    missing = [c for c in required_line_columns() if not line.has(c)]
    if missing:
        others = (
            f"; {len(missing) - 1} other line columns are missing too" if len(missing) > 1 else ""
        )
        raise fits_open.missing_column_error(
            line.data,
            missing[0],
            path=line.label,
            hdu_label=TABLE_HDU,
            purpose=f"MPA-JHU line measurement{others}",
        )
    result = {}
    for parts in MPAJHU_LINES.values():
        for mpa_line in parts:
            values = {}
            for quantity, suffix, positive in (
                ("flux", "FLUX", True),
                ("flux_err", "FLUX_ERR", True),
                ("ew", "EQW", False),
                ("ew_err", "EQW_ERR", True),
            ):
                column = f"{mpa_line}_{suffix}"
                values[quantity], counts[column] = fits_open.masked(
                    line.column(column), positive=positive
                )
            # Sentinels were found on the stored values; only now flip the sign.
            values["ew"] = ew_sign * values["ew"]
            # An error without its value means nothing.
            values["flux_err"][np.isnan(values["flux"])] = np.nan
            values["ew_err"][np.isnan(values["ew"])] = np.nan
            result[mpa_line] = values
    return result


def _combine(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Sum of blended components: values add, errors add in quadrature.

    NaN propagates, so if either half of the doublet is missing the sum is.
    """
    if len(parts) == 1:
        return parts[0]
    return {
        "flux": np.sum([p["flux"] for p in parts], axis=0),
        "flux_err": np.sqrt(np.sum([p["flux_err"] ** 2 for p in parts], axis=0)),
        "ew": np.sum([p["ew"] for p in parts], axis=0),
        "ew_err": np.sqrt(np.sum([p["ew_err"] ** 2 for p in parts], axis=0)),
    }


def _log_masked(source: str, counts: dict[str, dict[str, int]], num_rows: int) -> None:
    details = []
    for column, by_reason in counts.items():
        total = sum(by_reason.values())
        if total:
            reasons = ", ".join(f"{r} {n}" for r, n in by_reason.items() if n)
            details.append(f"{column} {total} ({reasons})")
    if details:
        logging.info("%s: masked to NaN in %d rows: %s", source, num_rows, "; ".join(details))


def read_mpajhu(
    line_path,
    info_path=None,
    *,
    ew_convention: str = "emission_negative",
    line_name: str | None = None,
    info_name: str | None = None,
) -> lines.LineTable:
    """Reads an MPA-JHU line catalogue (and its info catalogue) into a LineTable.

    Columns used from the line file (HDU 1): ``<LINE>_FLUX``,
    ``<LINE>_FLUX_ERR``, ``<LINE>_EQW``, ``<LINE>_EQW_ERR`` for OII_3726,
    OII_3729, H_GAMMA, H_BETA, OIII_5007, OI_6300, NII_6548, H_ALPHA,
    NII_6584, SII_6717, SII_6731 (names matched case-insensitively). From the
    info file (HDU 1): ``Z`` and the object id.

    Conventions of the result:

    * ``OII_3727`` = OII_3726 + OII_3729 (fluxes and EWs summed, errors in
      quadrature); missing if either half is missing.
    * **Equivalent widths are emission-positive.** MPA-JHU ``*_EQW`` columns
      are *negative* for emission; with ``ew_convention="emission_negative"``
      (the default, right for MPA-JHU DR7 and DR8) their sign is flipped. Use
      ``"emission_positive"`` for a catalogue already emission-positive: the
      sign is then kept. EW errors are never flipped.
    * Fluxes and errors are returned as stored, in 1e-17 erg/s/cm^2.
    * Missing values are NaN: the sentinels -99, -999, -9999 and anything
      <= -999 (checked before any sign flip), NaN and inf, non-positive fluxes
      and non-positive errors (flux, EW). A value that is masked also masks
      its error. A row with NaNs is kept: missing measurements are legitimate
      (the classification schemes call such galaxies unclassified). The number
      masked per column and reason is logged; :func:`mask_report` counts the
      NaNs of the result.
    * Redshift: ``Z`` of the info file (or of the line file when no info file
      is given); sentinels and non-finite values become NaN.
    * Object id: ``SPECOBJID`` when a file has it (DR8), otherwise
      ``"PLATE-MJD-FIBER"`` built from ``PLATEID``, ``MJD``, ``FIBERID``,
      zero-padded as in SDSS spec file names (e.g. ``"0266-51602-0001"``).

    Args:
      line_path: the line catalogue, a path or a binary file object.
      info_path: the info catalogue (path or file object), row-aligned with
        the line catalogue; None to take ``Z`` and the ids from the line file.
      ew_convention: sign convention of the stored ``*_EQW`` columns:
        ``"emission_negative"`` (MPA-JHU) or ``"emission_positive"``.
      line_name, info_name: names for messages when file objects without a
        ``name`` are given.

    Returns:
      A LineTable with one row per catalogue row, in file order.

    Raises:
      InputError: a file is missing, not FITS, truncated, has no table in
        HDU 1 or lacks a required column; the two files' row counts differ;
        or their SPECOBJID (or PLATEID/MJD/FIBERID) differ in some row.
      ValueError: unknown ``ew_convention``.
    """
    if ew_convention not in EW_CONVENTIONS:
        raise ValueError(
            f"ew_convention must be one of {', '.join(EW_CONVENTIONS)}, got {ew_convention!r}"
        )
    ew_sign = -1.0 if ew_convention == "emission_negative" else 1.0

    line = _Catalogue(line_path, line_name)
    counts: dict[str, dict[str, int]] = {}
    measurements = _read_measurements(line, ew_sign, counts)
    catalogues = [line]
    if info_path is not None:
        info = _Catalogue(info_path, info_name)
        _check_aligned(line, info)
        catalogues = [info, line]
    redshift_source = catalogues[0]
    purpose = "redshift" if info_path is not None else "redshift; or give the info catalogue"
    redshift, counts["Z"] = fits_open.masked(
        redshift_source.column("Z", purpose=purpose), positive=False
    )
    object_id = _object_ids(catalogues)

    combined = [
        _combine([measurements[part] for part in MPAJHU_LINES[name]]) for name in lines.LINE_NAMES
    ]
    source = " + ".join(c.label for c in reversed(catalogues))
    table = lines.LineTable(
        object_id=object_id,
        redshift=redshift,
        flux=np.stack([c["flux"] for c in combined], axis=1),
        flux_err=np.stack([c["flux_err"] for c in combined], axis=1),
        ew=np.stack([c["ew"] for c in combined], axis=1),
        ew_err=np.stack([c["ew_err"] for c in combined], axis=1),
        source=source,
    )
    _log_masked(source, counts, len(table))
    fits_open.log_mask_report(table, source)
    return table
