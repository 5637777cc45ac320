"""Writing FITS tables atomically.

A catalogue that an astronomer opens must be either the complete new table
or the old one, never a half-written file: the table is written to a
temporary file in the destination folder and renamed into place (a rename
within one filesystem is atomic). An existing file is only replaced when the
caller says so.
"""

from __future__ import annotations

import os

import numpy as np
from astropy.io import fits

from tfelg import atomic


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
        String arrays become fixed-width character columns.
      header: extra header cards (keys of at most 8 characters are plain
        cards; longer keys become HIERARCH cards).
      units: name -> unit string (TUNITn).
      descriptions: name -> free text, stored as TCOMMn comments.
      extname: the table HDU's name.
      overwrite: replace an existing file (atomically) instead of failing.

    Returns:
      The path written.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
      ValueError: columns of different lengths, or no columns.
    """
    path = os.fspath(path)
    if not columns:
        raise ValueError("no columns to write")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"columns have different lengths: {lengths}")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")

    units = units or {}
    descriptions = descriptions or {}
    fits_columns = []
    for name, values in columns.items():
        values = np.asarray(values)
        if values.dtype.kind in "US":
            width = max(1, int(max((len(str(v)) for v in values), default=1)))
            values = values.astype(f"S{width}") if values.dtype.kind == "U" else values
            fmt = f"{width}A"
        elif values.dtype.kind == "b":
            fmt = "L"
        elif values.dtype.kind in "iu":
            fmt = {1: "B" if values.dtype.kind == "u" else "I", 2: "I", 4: "J", 8: "K"}[
                values.dtype.itemsize
            ]
            if values.dtype == np.int8:
                values = values.astype(np.int16)
        elif values.dtype.kind == "f":
            fmt = "E" if values.dtype.itemsize <= 4 else "D"
        else:
            raise ValueError(f"column {name!r} has unsupported dtype {values.dtype}")
        if values.ndim == 2:
            fmt = f"{values.shape[1]}{fmt}"
        elif values.ndim != 1:
            raise ValueError(f"column {name!r} must be 1-D or 2-D, got shape {values.shape}")
        fits_columns.append(fits.Column(name=name, format=fmt, array=values, unit=units.get(name)))

    table = fits.BinTableHDU.from_columns(fits_columns, name=extname)
    for i, name in enumerate(columns, start=1):
        if name in descriptions:
            table.header[f"TCOMM{i}"] = descriptions[name][:68]
    primary = fits.PrimaryHDU()
    for key, value in (header or {}).items():
        card_key = key if len(key) <= 8 else f"HIERARCH {key}"
        primary.header[card_key] = value

    with atomic.atomic_path(path) as tmp_path:
        fits.HDUList([primary, table]).writeto(tmp_path, overwrite=True, checksum=True)
    return path
