"""The output file of a binary, checked before any input is read; its error exit.

``tfelg-classify`` and ``tfelg-morphology`` read for minutes (a whole
MPA-JHU catalogue, a folder of images) and then write one table. A name that
cannot be written must fail at once, with the ``--output`` flag and the
reason in one line, not as a traceback after the work: that check lives
here once, with the example file name of each binary in its messages.
"""

from __future__ import annotations

import os
import sys
import tempfile

from tfelg.errors import InputError

# What a binary reports as ``<binary>: error: ...`` with exit status 2 (bad
# input or settings, an existing output); anything else is a bug and keeps
# its traceback.
USER_ERRORS = (InputError, FileExistsError, ValueError, OSError)


def check_output_path(path, *, overwrite: bool = False, example: str = "out.fits") -> str:
    """The output file name, checked before any input is read.

    Nothing is created: missing folders on the way are made when writing.

    Args:
      path: the ``--output`` value.
      overwrite: whether an existing file may be replaced.
      example: a file name the messages suggest, e.g. ``classes.fits``.

    Returns:
      ``path`` as a str.

    Raises:
      ValueError: empty name, a name ending with a path separator, or a
        folder.
      InputError: a folder on the way is a file, or the folder cannot be
        written (tried with a temporary file: permission bits alone do not
        say, e.g. for root or a read-only file system).
      FileExistsError: the file exists and ``overwrite`` is False.
    """
    path = os.fspath(path) if path is not None else ""
    if not path.strip():
        raise ValueError(f"--output is empty; give the FITS file to write, e.g. {example}")
    if path.endswith(("/", os.sep)):
        raise ValueError(
            f"--output={path} ends with '/', a folder; give a file name, e.g. {path}{example}"
        )
    if os.path.isdir(path):
        raise ValueError(
            f"--output={path} is a folder; give a file name, e.g. {os.path.join(path, example)}"
        )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    # The nearest folder that exists: the rest is created when writing.
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise InputError(f"cannot write {path}: {parent} is a file, not a folder", path=path)
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise InputError(f"cannot write in {parent} ({e.strerror or e})", path=path) from e
    return path


def error_exit(binary: str, error: BaseException) -> int:
    """Prints ``<binary>: error: <error>`` to stderr; returns the exit status 2 (usage)."""
    print(f"{binary}: error: {error}", file=sys.stderr)
    return 2
