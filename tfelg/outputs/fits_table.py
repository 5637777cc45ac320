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

The rows are written in chunks of :data:`CHUNK_ROWS` (issue 15: a catalogue
of 10^6 galaxies must not need the whole table in memory twice over): astropy
serialises each chunk (byte order, TZERO, fixed-width strings), the bytes go
straight to the file, and the table header, which carries the row count and
the FITS checksums, is written in front of them once the data's sum is known
(the header's length does not depend on those values). A column can be an
array or anything with ``len`` and slicing that yields arrays, such as
:class:`CodedNames`, whose names are made chunk by chunk.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import os
import re
from collections.abc import Sequence

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

#: Rows serialised at a time (a multiple of 4, so that every chunk but the
#: last ends on a 32-bit word of the checksum whatever the row width).
CHUNK_ROWS = 1 << 16

_BLOCK = 2880  # bytes: FITS files are written in blocks of this size


@dataclasses.dataclass(frozen=True)
class CodedNames:
    """A string column given as integer codes into ``names``.

    The names of a slice of rows are made only when that slice is written,
    so a million rows of "star-forming" never exist as one array.
    """

    codes: np.ndarray
    names: Sequence[str]

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows) -> np.ndarray:
        return np.asarray(self.names, dtype=str)[self.codes[rows]]


def _format_and_zero(
    name: str, values: np.ndarray, width: int = 1
) -> tuple[np.ndarray, str, int | None]:
    """The TFORM letter, the TZERO (or None) and the array astropy should write.

    ``width``: the characters of a string column (its longest value over all
    rows, not only over ``values``, which may be one chunk).
    """
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind in "US":
        return values.astype(f"S{width}"), f"{width}A", None
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
        Anything with ``len`` whose slices are arrays (:class:`CodedNames`)
        is read one chunk of :data:`CHUNK_ROWS` rows at a time.
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

    n = next(iter(lengths.values()))
    widths = {name: _string_width(values, n) for name, values in columns.items()}

    def chunk(start: int, stop: int) -> fits.BinTableHDU:
        fits_columns = []
        for name, values in columns.items():
            values, fmt, zero = _format_and_zero(name, np.asarray(values[start:stop]), widths[name])
            if values.ndim == 2:
                fmt = f"{values.shape[1]}{fmt}"
            elif values.ndim != 1:
                raise ValueError(f"column {name!r} must be 1-D or 2-D, got shape {values.shape}")
            fits_columns.append(
                fits.Column(
                    name=name, format=fmt, array=values, unit=units.get(name) or None, bzero=zero
                )
            )
        return fits.BinTableHDU.from_columns(fits_columns, name=extname)

    table = chunk(0, min(n, 1))
    table.header["NAXIS2"] = n
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
    header = table.header
    header["CHECKSUM"] = ("0" * 16, "HDU checksum (FITS checksum convention)")
    header["DATASUM"] = ("0", "data unit checksum")

    with atomic.atomic_path(path) as tmp_path:
        fits.HDUList([primary]).writeto(tmp_path, overwrite=True, checksum=True)
        with open(tmp_path, "r+b") as f:
            f.seek(0, os.SEEK_END)
            header_at = f.tell()
            placeholder = header.tostring().encode("ascii")
            f.write(placeholder)
            datasum = 0
            for start in range(0, n, CHUNK_ROWS):
                raw = _raw_rows(chunk(start, min(n, start + CHUNK_ROWS)))
                datasum = _ones_complement_sum(raw, datasum)
                f.write(raw)
            f.write(b"\0" * (-(header["NAXIS1"] * n) % _BLOCK))
            header["DATASUM"] = str(datasum)
            header["CHECKSUM"] = _encode_checksum(
                ~_ones_complement_sum(header.tostring().encode("ascii"), datasum)
            )
            final = header.tostring().encode("ascii")
            if len(final) != len(placeholder):  # (fixed-width cards: cannot happen)
                raise AssertionError("the table header changed length")
            f.seek(header_at)
            f.write(final)
            f.flush()
            os.fsync(f.fileno())
    return path


def _string_width(values, n: int) -> int:
    """The characters of the longest value of a string column (1 for other columns)."""
    width = 1
    for start in range(0, n, CHUNK_ROWS):
        part = np.asarray(values[start : start + CHUNK_ROWS])
        if part.dtype.kind not in "US":
            return 1
        if part.size:
            width = max(width, int(np.char.str_len(part).max()))
    return width


def _raw_rows(table: fits.BinTableHDU) -> bytes:
    """The table's rows exactly as astropy writes them (big-endian, TZERO applied).

    The data unit is the last thing in the file astropy writes, padded to a
    whole block, so the rows are found from the end.
    """
    buffer = io.BytesIO()
    table.writeto(buffer)
    size = table.header["NAXIS1"] * table.header["NAXIS2"]
    start = buffer.tell() - size - (-size % _BLOCK)
    return buffer.getvalue()[start : start + size]


def _ones_complement_sum(data: bytes, running: int = 0) -> int:
    """The FITS checksum's 32-bit ones' complement sum of ``data``, added to ``running``.

    Big-endian words, with the carry folded back in (FITS checksum convention,
    Seaman, Pence & Rots 2012). Data given in pieces must be cut on 32-bit
    words (:data:`CHUNK_ROWS` is a multiple of 4); the last piece is padded
    with zeros, as the file is.
    """
    data = bytes(data) + b"\0" * (-len(data) % 4)
    total = running + int(np.frombuffer(data, dtype=">u4").sum(dtype=np.uint64))
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


# The characters the ASCII encoding of a checksum avoids (punctuation between
# the digits and the letters).
_CHECKSUM_EXCLUDED = frozenset(b":;<=>?@[\\]^_`")


def _encode_checksum(value: int) -> str:
    """A 32-bit checksum as the 16 characters of the CHECKSUM card (the convention's A.7.2)."""
    value &= 0xFFFFFFFF
    encoded = [0] * 16
    for i in range(4):
        byte = (value >> (8 * (3 - i))) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        chars = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:
            changed = False
            for j in (0, 2):
                if chars[j] in _CHECKSUM_EXCLUDED or chars[j + 1] in _CHECKSUM_EXCLUDED:
                    chars[j] += 1
                    chars[j + 1] -= 1
                    changed = True
        for j in range(4):
            encoded[4 * j + i] = chars[j]
    return bytes(encoded[15:] + encoded[:15]).decode("ascii")
