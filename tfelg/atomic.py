"""Atomic file writes: a temporary file beside the target, then one rename.

Every output the library writes outside a pipeline artifact (figures, FITS
tables, arrays, JSON records, text) goes through here, so that a crash, a
kill or a full disk never leaves a half-written file under the name a reader
or the pipeline's cache would trust: the target either keeps its old content
or gets the whole new one.
The temporary file sits in the target's folder (``os.replace`` is atomic
only within one file system), is named
``.<target name>.<host>-<pid>.<random>.tmp<ext>`` (hidden, and with the
target's extension, which writers such as astropy and Keras look at), and is
removed when the write fails.

A write that is killed (SIGKILL, a crash of the machine) cannot remove its
temporary file. The next atomic write into the same folder removes such
leftovers (of any target there: a run may not write the same names again),
but only stale ones, so that a concurrent writer is never hurt:
the name carries the writer's process id and a tag of its host and process
namespace (``<host>``), and a temporary is stale when its tag is this
process's and no process has its pid any more (a reused pid only delays the
cleaning), or, for a tag of another host or container (whose pids cannot be
checked from here), when it has not been modified for
:data:`STALE_AGE_S`. A temporary of a live writer on this host is never
removed, however old.

:func:`atomic_directory` does the same for a whole folder (``tfelg-analyze``
builds its output folder beside the old one and then swaps them), so that a
re-run leaves nothing of the previous run's files behind.

Pipeline components write plain files: the runner makes their whole output
folder appear at once (a temporary folder, then a rename). Writes through
``tf.io.gfile`` (which may be remote, e.g. ``gs://``) are not
here: ``tfelg.preprocessing`` and the training loop rename with gfile.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

#: A temporary of another host or container is stale after this long untouched.
STALE_AGE_S = 24 * 3600.0

# .<target>.<8 hex tag>-<pid>.<random>.tmp<ext>; mkstemp's random part is
# 8 lower-case letters, digits or underscores. Before the tag and pid were
# added the name was .<target>.<random>.tmp<ext> (cleaned by age only).
_TEMPORARY_RE = re.compile(
    r"^\.(?P<target>.+?)\.(?:(?P<tag>[0-9a-f]{8})-(?P<pid>[0-9]+)\.)?[a-z0-9_]{8}\.tmp(?:\.[^.]*)?$"
)


def _writer_tag() -> str:
    """8 hex digits naming this host and process namespace (pids are compared only within it)."""
    namespace = ""
    with contextlib.suppress(OSError):
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    return hashlib.sha256(f"{socket.gethostname()}/{namespace}".encode()).hexdigest()[:8]


_TAG = _writer_tag()


def _temporary_prefix(base: str) -> str:
    # The pid is read at each call: a forked child writes under its own.
    return f".{base}.{_TAG}-{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's live process.
        return True
    except OverflowError:  # Not a pid this system can have.
        return False
    return True


def is_stale_temporary(path, *, now: float | None = None, max_age_s: float = STALE_AGE_S) -> bool:
    """Whether ``path`` is a temporary of this module whose writer is gone.

    Names not made by this module are never stale. A temporary of this host
    and process namespace is stale when its pid is dead; of another (or an
    untagged one of an older version), when unmodified for ``max_age_s``
    seconds.
    """
    match = _TEMPORARY_RE.match(os.path.basename(os.fspath(path)))
    if match is None:
        return False
    if match["tag"] == _TAG:
        return not _pid_alive(int(match["pid"]))
    # Another host or container (or an untagged temporary): only its age tells.
    try:
        modified = os.lstat(path).st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - modified > max_age_s


def remove_stale_temporaries(directory, target: str | None = None) -> list[str]:
    """Removes the stale temporaries (files or folders) in ``directory``; returns their paths.

    Args:
      directory: where to look (not recursively); a missing folder holds none.
      target: only temporaries of this target name (e.g. ``catalogue.fits``).
    """
    removed = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        match = _TEMPORARY_RE.match(entry.name)
        if match is None or (target is not None and match["target"] != target):
            continue
        if not is_stale_temporary(entry.path):
            continue
        try:  # Another cleaner may get there first.
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.path)
    return removed


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
    remove_stale_temporaries(directory)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=_temporary_prefix(base), suffix=".tmp" + os.path.splitext(base)[1]
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


def _exchange(a: str, b: str) -> bool:
    """Swaps two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc < 2.28, musl
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # File system without it.
        return False
    raise OSError(error, os.strerror(error), a, None, b)


def replace_directory(new, path) -> None:
    """Puts folder ``new`` at ``path``, replacing the folder there (if any) whole.

    Where ``path`` exists, the two are exchanged in one step on Linux, so a
    reader finds either the old or the new folder, never neither; elsewhere
    the old folder is first renamed aside (a moment without ``path``). The
    old content is then deleted.

    Raises:
      NotADirectoryError: ``path`` exists and is not a folder.
    """
    new, path = os.fspath(new), os.path.abspath(os.fspath(path))
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        raise NotADirectoryError(errno.ENOTDIR, "not a folder, not replaced", path)
    try:
        os.rename(new, path)  # No folder there, or an empty one: one rename.
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if _exchange(new, path):
        shutil.rmtree(new)  # Now the old content.
        return
    parent, base = os.path.split(path)
    old = os.path.join(parent, f"{_temporary_prefix(base)}{secrets.token_hex(4)}.tmp")
    os.rename(path, old)
    os.rename(new, path)
    shutil.rmtree(old)


@contextlib.contextmanager
def atomic_directory(path) -> Iterator[str]:
    """A new, empty temporary folder beside ``path`` that replaces ``path`` when the block succeeds.

    Build a whole output folder in it: on success it takes the place of
    ``path`` (see :func:`replace_directory`), so nothing of an earlier folder
    there survives; on any exception it is deleted and ``path`` is
    untouched. Stale temporaries beside ``path`` (e.g. a killed earlier
    build) are removed first. Checking that ``path`` may be replaced is the caller's
    job.
    """
    path = os.path.abspath(os.fspath(path))
    parent, base = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent)
    tmp = tempfile.mkdtemp(dir=parent, prefix=_temporary_prefix(base), suffix=".tmp")
    try:
        os.chmod(tmp, 0o755)  # As os.makedirs would leave it, not mkdtemp's 0700.
        yield tmp
        replace_directory(tmp, path)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
