"""Writing FITS tables atomically, with units, comments and provenance.

A catalogue that an astronomer opens must be either the complete new table
or the old one, never a half-written file: the table is written to a
temporary file in the destination folder and renamed into place (a rename
within one filesystem is atomic). An existing file is only replaced when the
caller says so.

What a reader sees in TOPCAT, STILTS or fitsverify is the table extension,
not the (empty) primary HDU: provenance cards, the DATE of writing, TUNITn
and TCOMMn therefore go into the table's own header (the provenance is also
copied to the primary header for tools that only look there). Comments
longer than one card (68 characters) are kept whole with the FITS CONTINUE
long-string convention rather than cut.

FITS binary tables have no unsigned 16/32/64-bit integers: the standard's
convention is a signed column with TZEROn = 2^15, 2^31 or 2^63 (stored value
= value - TZERO). Without TZERO a uint16 40000 reads back as -25536 and no
validator notices, so unsigned columns are always written with it (astropy
applies TZERO on reading and returns the unsigned type again).
"""

from __future__ import annotations

import datetime
import os
import re

import numpy as np
from astropy.io import fits

from tfelg import atomic

# Keywords the table structure or this writer owns: a caller's header card
# with one of these names would corrupt the table or silently be overwritten.
_RESERVED = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|EXTNAME|END"
    r"|CHECKSUM|DATASUM|DATE|LONGSTRN|CONTINUE"
    r"|T(TYPE|FORM|UNIT|ZERO|SCAL|NULL|DIM|COMM|DISP)\d+)$"
)

# FITS's only unsigned integer type is the byte (TFORM B); wider unsigned
# integers are signed columns offset by TZERO (FITS 4.0, section 7.3.2).
_SIGNED_FORMAT = {2: "I", 4: "J", 8: "K"}

# The most characters of a string value on one 80-column card:
# 80 - len("TCOMM1  = ") - 2 quotes.
MAX_CARD_STRING = 68


def _format_and_zero(name: str, values: np.ndarray) -> tuple[np.ndarray, str, int | None]:
    """The TFORM letter, the TZERO (or None) and the array astropy should write."""
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind in "US":
        width = max(1, int(max((len(str(v)) for v in values.ravel()), default=1)))
        return (values.astype(f"S{width}") if kind == "U" else values), f"{width}A", None
    if kind == "b":
        return values, "L", None
    if kind == "u":
        if size == 1:
            return values, "B", None
        return values, _SIGNED_FORMAT[size], 1 << (8 * size - 1)
    if kind == "i":
        if size == 1:  # FITS bytes are unsigned: widen rather than offset.
            return values.astype(np.int16), "I", None
        return values, _SIGNED_FORMAT[size], None
    if kind == "f":
        return values, ("E" if size <= 4 else "D"), None
    raise ValueError(f"column {name!r} has unsupported dtype {values.dtype}")


def _card_key(key: str) -> str:
    key = str(key)
    if _RESERVED.match(key.upper()):
        raise ValueError(f"header card {key!r} is a reserved FITS table keyword")
    return key if len(key) <= 8 else f"HIERARCH {key}"


def write_fits_table(
    path,
    columns: dict[str, np.ndarray],
    *,
    header: dict[str, object] | None = None,
    units: dict[str, str] | None = None,
    descriptions: dict[str, str] | None = None,
    extname: str = "CATALOG",
    overwrite: bool = False,
) -> str:
    """Writes ``columns`` as a binary table in HDU 1 of a new FITS file.

    Args:
      path: destination file.
      columns: name -> 1-D array, or 2-D for vector columns; all of one length.
        String arrays become fixed-width character columns; unsigned
        integers are written with the TZEROn convention (see module text).
      header: provenance cards (value, or (value, comment)); written to the
        table HDU and the primary HDU. Keys of at most 8 characters are plain
        cards, longer keys become HIERARCH cards; table-structure keywords
        (NAXISn, TFORMn, DATE, ...) are refused.
      units: name -> unit string (TUNITn); None or "" writes no TUNITn
        (a dimensionless quantity).
      descriptions: name -> free text, stored whole as TCOMMn (with CONTINUE
        cards when longer than 68 characters).
      extname: the table HDU's name.
      overwrite: replace an existing file (atomically) instead of failing.

    Returns:
      The path written.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
      ValueError: columns of different lengths, no columns, a description or
        unit for a column that does not exist, or a reserved header key.
    """
    path = os.fspath(path)
    if not columns:
        raise ValueError("no columns to write")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"columns have different lengths: {lengths}")
    units = units or {}
    descriptions = descriptions or {}
    for what, mapping in (("units", units), ("descriptions", descriptions)):
        unknown = sorted(set(mapping) - set(columns))
        if unknown:
            raise ValueError(f"{what} given for columns that are not written: {unknown}")
    cards = [(_card_key(key), value) for key, value in (header or {}).items()]
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")

    fits_columns = []
    for name, values in columns.items():
        values, fmt, zero = _format_and_zero(name, np.asarray(values))
        if values.ndim == 2:
            fmt = f"{values.shape[1]}{fmt}"
        elif values.ndim != 1:
            raise ValueError(f"column {name!r} must be 1-D or 2-D, got shape {values.shape}")
        fits_columns.append(
            fits.Column(
                name=name, format=fmt, array=values, unit=units.get(name) or None, bzero=zero
            )
        )

    table = fits.BinTableHDU.from_columns(fits_columns, name=extname)
    for i, name in enumerate(columns, start=1):
        if name in descriptions:  # (astropy writes its own column cards first)
            table.header[f"TCOMM{i}"] = str(descriptions[name])
    if any(len(str(text)) > MAX_CARD_STRING for text in descriptions.values()):
        table.header["LONGSTRN"] = ("OGIP 1.0", "CONTINUE cards continue long strings")
    primary = fits.PrimaryHDU()
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for hdu in (primary, table):
        hdu.header["DATE"] = (date, "UTC date and time the file was written")
        for key, value in cards:
            hdu.header[key] = value

    with atomic.atomic_path(path) as tmp_path:
        fits.HDUList([primary, table]).writeto(tmp_path, overwrite=True, checksum=True)
    return path
