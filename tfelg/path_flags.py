"""Flags that hold a file or folder name: ``~`` means the home folder.

``--data_dir=~/tfds`` (as the README writes it) reaches a program with the
``~`` intact wherever no shell expanded it: after ``=``, in a
``--flagfile``, from a script. Every tfelg binary, and every component run
as a binary, defines such flags with :func:`define_path`, so the expansion is
one mechanism, not a call remembered in each ``main``. Kept apart from
:mod:`tfelg.cli` so that component binaries (below the CLI in the import
order) can use it.
"""

from __future__ import annotations

import os
import sys

from absl import flags


class PathParser(flags.ArgumentParser):
    """A string flag holding a path: ``~`` and ``~user`` are expanded."""

    syntactic_help = "a path; ~ is the home folder"

    def parse(self, argument):
        if argument is None:
            return None
        if not isinstance(argument, str | os.PathLike):
            raise ValueError(f"expected a path, got {argument!r}")
        return os.path.expanduser(os.fspath(argument))

    def flag_type(self):
        return "path"


def define_path(name: str, default: str | None, help: str, **kwargs) -> flags.FlagHolder:  # noqa: A002
    """``flags.DEFINE_string`` for a file or folder: ``~`` is expanded.

    Defined through the caller's module (``module_name``), so the flag is
    key to that binary and listed under its ``--help``.
    """
    module_name = kwargs.pop("module_name", None) or sys._getframe(1).f_globals["__name__"]
    return flags.DEFINE(
        PathParser(),
        name,
        default,
        help,
        serializer=flags.ArgumentSerializer(),
        module_name=module_name,
        **kwargs,
    )
