"""Errors that tell an astronomer which file, HDU, column or row is wrong.

Readers raise :class:`InputError` (a ``ValueError``) instead of letting a
``KeyError`` or an ``IndexError`` escape from deep inside NumPy or astropy.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input data, with its location.

    Args:
      message: what is wrong, in words.
      path: the file (or folder) concerned.
      hdu: the FITS HDU (index or name), if relevant.
      column: the column name, if relevant.
      row: the 0-based row, if relevant.
    """

    def __init__(self, message: str, *, path=None, hdu=None, column=None, row=None):
        self.path = None if path is None else str(path)
        self.hdu = hdu
        self.column = column
        self.row = row
        where = []
        if path is not None:
            where.append(str(path))
        if hdu is not None:
            where.append(f"HDU {hdu}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
