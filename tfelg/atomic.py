"""Atomic file writes: a temporary file beside the target, then one rename.

Every output the library writes outside a pipeline artifact (figures, FITS
tables, arrays, JSON records, text) goes through here, so that a crash, a
kill or a full disk never leaves a half-written file under the name a reader
or the pipeline's cache would trust: the target either keeps its old content
or gets the whole new one.
The temporary file sits in the target's folder (``os.replace`` is atomic
only within one file system), is named ``.<target name>.<random>.tmp<ext>``
(hidden, and with the target's extension, which writers such as astropy and
Keras look at), and is removed when the write fails.

Pipeline components write plain files: the runner makes their whole output
folder appear at once (a temporary folder, then a rename). Writes through
``tf.io.gfile`` (which may be remote, e.g. ``gs://``) are not
here: ``tfelg.preprocessing`` and the training loop rename with gfile.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path) -> Iterator[str]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds.

    Use it for writers that take a file name (``HDUList.writeto``,
    ``Model.save``); on any exception the temporary file is removed and
    ``path`` is untouched. The file ends with permissions 0644 (not the
    0600 of ``mkstemp``), as an ordinary ``open`` would leave it.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f".{base}.", suffix=".tmp" + os.path.splitext(base)[1]
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO]:
    """``open(path, mode)`` whose content appears at ``path`` only when complete.

    The data are flushed to disk (``fsync``) before the rename, so that a
    crash of the machine, not only of the process, leaves no empty file.
    """
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes a new file: mode must start with 'w', got {mode!r}")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_bytes(path, data: bytes) -> str:
    """Writes ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return os.fspath(path)


def write_text(path, text: str) -> str:
    """Writes ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return os.fspath(path)


def write_json(path, value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """Writes ``value`` as indented, key-sorted JSON (and a newline) atomically."""
    with atomic_open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True, default=default)
        f.write("\n")
    return os.fspath(path)
