"""One process at a time in a folder: an exclusive ``flock`` on a lock file.

Two processes writing one run folder (two ``tfelg-train`` on one workdir,
two pipeline steps on one node) would interleave checkpoints and records.
``fcntl.flock`` is the lock that cannot go stale: the operating system
releases it when its holder exits, however it exits (``SIGKILL``, a crash),
so no clean-up of an old lock file is ever needed. The file records the
holder's process id and host, only to name it in the message of the process
that is refused, and is removed on release (so a run folder does not keep
it); a file left by a killed holder is simply locked again by the next one.

Local file systems only: ``flock`` means nothing on ``gs://`` and may not
hold across NFS clients.
"""

from __future__ import annotations

import fcntl
import os
import socket


class LockHeld(RuntimeError):
    """Another process holds the lock; ``holder`` is what it recorded ("pid N on HOST")."""

    def __init__(self, path: str, holder: str):
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder


class FileLock:
    """An exclusive lock on ``path`` (created if needed), held until :meth:`release`.

    ``acquire(wait=False)`` raises :class:`LockHeld` at once when another
    process holds it; ``wait=True`` blocks until it is free. Usable as a
    context manager (waiting). Raises OSError when ``path`` cannot be created
    or opened (a read-only folder, a file in the way): a caller can use that
    as its check that the folder is writable.
    """

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self._file = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self, *, wait: bool = False) -> FileLock:
        if self._file is not None:
            return self
        while True:
            f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open while locked)
            try:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    f.seek(0)
                    raise LockHeld(self.path, f.read().strip()) from None
                # The holder before us may have removed the file (release) after
                # we opened it: then our lock is on a file nobody else will see.
                try:
                    current = os.stat(self.path)
                except FileNotFoundError:
                    current = None
                mine = os.fstat(f.fileno())
                if current is None or (current.st_dev, current.st_ino) != (
                    mine.st_dev,
                    mine.st_ino,
                ):
                    f.close()
                    continue
                f.seek(0)
                f.truncate()
                f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
                f.flush()
            except BaseException:
                f.close()
                raise
            self._file = f
            return self

    def release(self) -> None:
        """Removes the lock file (while still holding it, so no one can be waiting on it) and unlocks."""
        if self._file is None:
            return
        try:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass  # its folder was removed while held (e.g. a worker's scratch folder)
            fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> FileLock:
        return self.acquire(wait=True)

    def __exit__(self, *exc) -> None:
        self.release()
