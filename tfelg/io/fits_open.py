"""Opening FITS files so that every failure names the file, HDU and column.

The readers in :mod:`tfelg.io` share three needs that astropy does not meet
on its own:

* **Paths and file objects alike.** The TFDS builder hands readers
  ``epath``/``tf.io.gfile`` file objects (the TFDS test harness forbids
  ``open`` in builder modules), scripts hand them paths. :func:`open_fits`
  takes either, and :func:`source_name` gives the name to put in messages.
* **Truncated files are errors, not warnings.** astropy opens a file cut short
  inside its last data block with only an ``AstropyUserWarning``, silently
  drops a half-written header, and fails on a cut table with a bare
  ``TypeError``. :func:`open_fits` checks that the HDUs it found end exactly
  where the file ends, turns astropy's truncation and header-verification
  warnings into :class:`~tfelg.errors.InputError`, and reads with
  ``memmap=False`` so data are read (and checked) when accessed, not later.
* **Column lookup that explains itself.** Column names are matched
  case-insensitively (SDSS writes ``flux`` in ``COADD`` but ``Z`` in
  ``SPECOBJ``); a missing column is reported with its file, HDU and the
  closest names present.

It also holds the one rule, used by every reader, for which catalogue values
are unusable (:func:`invalid_values`) and the per-column count of what was
masked (:func:`mask_report`), so MPA-JHU and SDSS data are cleaned alike.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
from absl import logging
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning
from etils import epath

from tfelg import lines
from tfelg.errors import InputError

# Values that catalogues use for "not measured". Anything at or below
# SENTINEL_FLOOR is also a sentinel: no flux, error or redshift is that
# negative, and MPA-JHU equivalent widths (emission-negative) beyond -999 A
# would be an emission line 1000 A wide.
SENTINEL_VALUES: tuple[float, ...] = (-99.0, -999.0, -9999.0)
SENTINEL_FLOOR = -999.0

# astropy warnings that mean the bytes on disk do not hold what the headers
# promise. Other warnings (e.g. zero padding after the last HDU) are harmless.
_FATAL_WARNING_TEXT = ("truncated", "error validating header", "corrupt")
_FITS_BLOCK = 2880


def source_name(source, name: str | None = None) -> str:
    """The name of a path or file object, for error messages.

    Args:
      source: a path (str or ``os.PathLike``) or a binary file object.
      name: an explicit name, used when given (e.g. the path a file object
        was opened from).
    """
    if name is not None:
        return str(name)
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    file_name = getattr(source, "name", None)
    if isinstance(file_name, str | os.PathLike) and os.fspath(file_name):
        return os.fspath(file_name)
    return f"<{type(source).__name__} file object>"


def _file_size(fileobj) -> int | None:
    """Length in bytes of a seekable file object, None if it cannot tell."""
    try:
        position = fileobj.tell()
        fileobj.seek(0, io.SEEK_END)
        size = fileobj.tell()  # not seek()'s return value: tf.io.gfile's is None
        fileobj.seek(position)
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    return size if isinstance(size, int) else None


class _ClampedReader(io.RawIOBase):
    """A read-only view of a seekable file object whose reads stop at its end.

    Some streams (``tf.io.gfile``) raise on a read past the end of the file
    where a local file returns fewer bytes; astropy then fails with a bare
    error instead of saying which HDU is cut short. Through this view it
    sees the short reads of a local file, and nothing is read into memory
    beyond what astropy asks for (the headers: data are skipped).
    """

    def __init__(self, fileobj, size: int):
        super().__init__()
        self._file = fileobj
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._position))
        if count == 0:
            return 0
        self._file.seek(self._position)
        data = self._file.read(count)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _open_failure(fileobj, label: str, error: Exception) -> InputError:
    """The InputError explaining why astropy could not open ``fileobj``.

    Reads a bounded amount whatever the file's size (a multi-GB file named
    ``spec-*.fits`` that is not FITS must not be read into memory to say so):
    the first block, then, for a FITS file, its headers only.
    """
    size = _file_size(fileobj)
    try:
        fileobj.seek(0)
        head = fileobj.read(_FITS_BLOCK if size is None else min(size, _FITS_BLOCK))
    except Exception:  # unreadable stream: report astropy's reason
        head = b""
    if not head.startswith(b"SIMPLE  ="):
        return InputError(f"not a readable FITS file ({error})", path=label)
    if len(head) < _FITS_BLOCK:
        return InputError(
            f"FITS file is truncated inside its primary header ({len(head)} bytes)",
            path=label,
            hdu=0,
        )
    if size is None:
        return InputError(f"FITS file is truncated or corrupt ({error})", path=label)
    # Re-open through a view that reads like a local file, to say which HDU is cut.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(_ClampedReader(fileobj, size), memmap=False, lazy_load_hdus=False)
        except Exception:
            return InputError(f"FITS file is truncated or corrupt ({error})", path=label)
    try:
        _check_fits_complete(hdul, size, label)
        _raise_on_fatal_warnings(caught, label)
    except InputError as diagnosis:
        return diagnosis
    return InputError(f"FITS file is corrupt ({error})", path=label)


def _check_fits_complete(hdul: fits.HDUList, size: int | None, label: str) -> None:
    """Raises InputError naming the first HDU whose data run past the file's end."""
    if size is None:
        return
    for index, hdu in enumerate(hdul):
        info = hdu.fileinfo() or {}
        data_start, data_span = info.get("datLoc"), info.get("datSpan")
        if data_start is None or data_span is None:
            continue
        expected_end = data_start + data_span
        if size < expected_end:
            raise InputError(
                f"FITS file is truncated: {size} bytes on disk but the headers describe at "
                f"least {expected_end} bytes (the file was cut short, e.g. by an interrupted "
                "download)",
                path=label,
                hdu=index,
            )


def _raise_on_fatal_warnings(caught: Sequence[warnings.WarningMessage], label: str) -> None:
    for warning in caught:
        if not issubclass(warning.category, AstropyUserWarning | VerifyWarning):
            continue
        text = str(warning.message)
        if any(marker in text.lower() for marker in _FATAL_WARNING_TEXT):
            first_line = text.strip().splitlines()[0]
            hdu = re.search(r"HDU #(\d+)", text)
            raise InputError(
                f"FITS file is truncated or corrupt (astropy: {first_line})",
                path=label,
                hdu=int(hdu.group(1)) if hdu else None,
            )


@contextlib.contextmanager
def open_fits(source, *, name: str | None = None) -> Iterator[fits.HDUList]:
    """Opens a FITS file from a path or a binary file object, checked.

    All headers are read at once (``lazy_load_hdus=False``) and data are read
    into memory when first accessed (``memmap=False``), so a file cut short is
    detected here or by :func:`read_table_data`, never by a crash later.

    Args:
      source: a path (str, ``os.PathLike``, ``epath.Path``, also ``gs://``) or
        a seekable binary file object, which is not closed.
      name: the name to use in error messages (defaults to the path or the
        file object's ``name``).

    Yields:
      the ``astropy.io.fits.HDUList``.

    Raises:
      InputError: the file is missing, not FITS, truncated or corrupt.
    """
    label = source_name(source, name)
    with contextlib.ExitStack() as stack:
        if isinstance(source, str | os.PathLike):
            try:
                fileobj = stack.enter_context(epath.Path(source).open("rb"))
            except FileNotFoundError as e:
                raise InputError("file not found", path=label) from e
            except IsADirectoryError as e:
                raise InputError("expected a FITS file, found a folder", path=label) from e
            except OSError as e:
                raise InputError(f"cannot open file ({e})", path=label) from e
        else:
            fileobj = source
        size = _file_size(fileobj)
        if size == 0:
            raise InputError("file is empty, expected FITS", path=label)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                hdul = fits.open(fileobj, memmap=False, lazy_load_hdus=False)
            except Exception as e:  # astropy raises OSError, ValueError, TypeError...
                raise _open_failure(fileobj, label, e) from e
        if fileobj is not source:
            # A caller's file object stays open: astropy would close it.
            stack.callback(hdul.close)
        # The size check first: it names the HDU that is cut short.
        _check_fits_complete(hdul, size, label)
        _raise_on_fatal_warnings(caught, label)
        yield hdul


def describe_hdus(hdul: fits.HDUList) -> str:
    """``"0 PRIMARY, 1 COADD, 2 SPECOBJ"``: what a file holds, for messages."""
    return ", ".join(f"{i} {hdu.name or '(unnamed)'}" for i, hdu in enumerate(hdul))


def table_hdu(
    hdul: fits.HDUList,
    index: int,
    *,
    path: str,
    extname: str | None = None,
) -> fits.BinTableHDU | fits.TableHDU:
    """The table HDU at ``index`` (or named ``extname``), or InputError.

    With ``extname``, an HDU of that name is used wherever it is; failing
    that, an unnamed table at ``index`` is accepted (older files omit
    EXTNAME), but a table of another name there is the wrong HDU.

    Args:
      hdul: the open file.
      index: where the table is expected.
      path: file name for messages.
      extname: the expected EXTNAME, if the format defines one.
    """
    label = extname if extname is not None else index
    hdu = None
    if extname is not None:
        for candidate in hdul:
            if candidate.name.strip().upper() == extname.upper():
                hdu = candidate
                break
    if hdu is None:
        if index >= len(hdul):
            raise InputError(
                f"HDU missing: the file has {len(hdul)} HDU(s) ({describe_hdus(hdul)}); "
                f"expected a table at HDU {index}" + (f" named {extname}" if extname else ""),
                path=path,
                hdu=label,
            )
        hdu = hdul[index]
        name = hdu.name.strip().upper()
        if extname is not None and name not in ("", extname.upper()):
            raise InputError(
                f"HDU {extname} not found, and HDU {index}, where it belongs, is {hdu.name!r} "
                f"(HDUs: {describe_hdus(hdul)})",
                path=path,
                hdu=label,
            )
    if not isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
        raise InputError(
            f"wrong HDU: expected a table, found {type(hdu).__name__} "
            f"(HDUs: {describe_hdus(hdul)})",
            path=path,
            hdu=label,
        )
    return hdu


def read_table_data(
    hdu: fits.BinTableHDU | fits.TableHDU, *, path: str, hdu_label
) -> fits.FITS_rec:
    """The rows of a table HDU, read now, with read failures as InputError."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = hdu.data
        except Exception as e:  # a cut table fails with TypeError/ValueError
            raise InputError(
                f"cannot read table data, the file is truncated or corrupt ({e})",
                path=path,
                hdu=hdu_label,
            ) from e
    _raise_on_fatal_warnings(caught, path)
    if data is None:
        raise InputError("table HDU holds no data", path=path, hdu=hdu_label)
    return data


def column_names(data: fits.FITS_rec) -> list[str]:
    return list(data.columns.names)


def find_column(data: fits.FITS_rec, wanted: str) -> str | None:
    """The actual name of column ``wanted`` (case-insensitive), or None."""
    for name in column_names(data):
        if name.strip().upper() == wanted.upper():
            return name
    return None


def missing_column_error(
    data: fits.FITS_rec, wanted: str, *, path: str, hdu_label, purpose: str = ""
) -> InputError:
    """InputError for a missing column, listing the closest names present."""
    upper_to_name = {name.upper(): name for name in column_names(data)}
    close = difflib.get_close_matches(wanted.upper(), list(upper_to_name), n=5, cutoff=0.6)
    hint = (
        f"; closest columns present: {', '.join(upper_to_name[c] for c in close)}"
        if close
        else f"; the HDU has {len(upper_to_name)} columns"
    )
    why = f" ({purpose})" if purpose else ""
    return InputError(
        f"required column missing{why}{hint}", path=path, hdu=hdu_label, column=wanted
    )


def read_column(
    data: fits.FITS_rec,
    wanted: str,
    *,
    path: str,
    hdu_label,
    dtype=np.float64,
    purpose: str = "",
) -> np.ndarray:
    """One scalar column as a native-endian 1-D array, or InputError.

    Args:
      data: the table rows.
      wanted: column name (case-insensitive).
      path, hdu_label: for messages.
      dtype: output dtype; None keeps the stored type (strings are returned
        stripped of surrounding whitespace).
      purpose: what the column is for, added to the message if missing.
    """
    name = find_column(data, wanted)
    if name is None:
        raise missing_column_error(data, wanted, path=path, hdu_label=hdu_label, purpose=purpose)
    try:
        values = np.asarray(data[name])
    except Exception as e:
        raise InputError(
            f"cannot read column, the file is truncated or corrupt ({e})",
            path=path,
            hdu=hdu_label,
            column=wanted,
        ) from e
    if values.ndim != 1:
        raise InputError(
            f"expected one value per row, found an array column of shape {values.shape[1:]}",
            path=path,
            hdu=hdu_label,
            column=wanted,
        )
    if values.dtype.kind in "SU":
        return np.char.strip(values.astype(str))
    if dtype is None:
        return values.astype(values.dtype.newbyteorder("="))
    try:
        return values.astype(dtype)
    except (TypeError, ValueError) as e:
        raise InputError(
            f"expected numbers, found {values.dtype}", path=path, hdu=hdu_label, column=wanted
        ) from e


def sdss_object_id(plate, mjd, fiber) -> np.ndarray | str:
    """``"PLATE-MJD-FIBER"`` zero-padded as in SDSS spec file names.

    Plate to 4 digits, MJD to 5, fiber to 4 (``spec-0266-51602-0001.fits``):
    the same id whether it comes from an MPA-JHU catalogue or a spec file,
    so the two can be joined. Wider numbers (eBOSS plates) are kept whole.

    Works on scalars (returns str) or arrays (returns an array of str).
    """
    plate_a, mjd_a, fiber_a = (np.asarray(v).astype(np.int64) for v in (plate, mjd, fiber))
    ids = np.array(
        [
            f"{p:04d}-{m:05d}-{f:04d}"
            for p, m, f in zip(plate_a.ravel(), mjd_a.ravel(), fiber_a.ravel(), strict=True)
        ],
        dtype=str,
    ).reshape(plate_a.shape)
    return str(ids) if ids.ndim == 0 else ids


def invalid_values(values: np.ndarray, *, positive: bool) -> dict[str, np.ndarray]:
    """Which catalogue values are unusable, by reason.

    Args:
      values: measured values as stored in the catalogue (before any sign
        change, so that a -999 sentinel is still -999).
      positive: whether only values > 0 are usable (fluxes, errors).

    Returns:
      boolean masks ``{"sentinel": ..., "non_finite": ..., "non_positive": ...}``
      (``non_positive`` only when ``positive``), disjoint.
    """
    values = np.asarray(values, dtype=np.float64)
    non_finite = ~np.isfinite(values)
    with np.errstate(invalid="ignore"):
        sentinel = ~non_finite & (np.isin(values, SENTINEL_VALUES) | (values <= SENTINEL_FLOOR))
        reasons = {"sentinel": sentinel, "non_finite": non_finite}
        if positive:
            reasons["non_positive"] = ~non_finite & ~sentinel & (values <= 0)
    return reasons


def masked(values: np.ndarray, *, positive: bool) -> tuple[np.ndarray, dict[str, int]]:
    """``values`` as float64 with unusable entries set to NaN, and counts by reason."""
    values = np.array(values, dtype=np.float64)
    reasons = invalid_values(values, positive=positive)
    bad = np.zeros(values.shape, dtype=bool)
    for mask in reasons.values():
        bad |= mask
    values[bad] = np.nan
    return values, {reason: int(mask.sum()) for reason, mask in reasons.items()}


_REPORT_COLUMNS = (("flux", "FLUX"), ("flux_err", "FLUX_ERR"), ("ew", "EW"), ("ew_err", "EW_ERR"))


def mask_report(table: lines.LineTable) -> dict[str, int]:
    """How many values of each column of ``table`` are missing (NaN).

    Keys: ``REDSHIFT`` and ``<LINE>_FLUX``, ``<LINE>_FLUX_ERR``, ``<LINE>_EW``,
    ``<LINE>_EW_ERR`` for the ten lines, in :data:`tfelg.lines.LINE_NAMES`
    order.
    """
    report = {"REDSHIFT": int(np.isnan(table.redshift).sum())}
    for i, line in enumerate(lines.LINE_NAMES):
        for quantity, suffix in _REPORT_COLUMNS:
            report[f"{line}_{suffix}"] = int(np.isnan(getattr(table, quantity)[:, i]).sum())
    return report


def log_mask_report(table: lines.LineTable, source: str) -> dict[str, int]:
    """Logs (INFO) the non-zero entries of :func:`mask_report`; returns the report."""
    report = mask_report(table)
    nonzero = {key: count for key, count in report.items() if count}
    if nonzero:
        logging.info(
            "%s: %d rows; missing or masked values per column: %s",
            source,
            len(table),
            ", ".join(f"{key}={count}" for key, count in nonzero.items()),
        )
    else:
        logging.info("%s: %d rows; no missing values", source, len(table))
    return report
