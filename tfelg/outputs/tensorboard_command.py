"""The ``tensorboard --logdir ...`` command printed after a run, ready to paste.

After ``make demo`` the virtual environment is not activated, so a bare
``tensorboard`` is not on the user's PATH (or is another installation's).
The command therefore names the ``tensorboard`` script installed beside the
running interpreter (``<venv>/bin/tensorboard``), by its absolute path, and
falls back to a bare ``tensorboard`` only where there is none (e.g. an
interpreter whose scripts live elsewhere).

``sys.executable`` is used as it is, not resolved: in a virtual environment
it is a link to the base interpreter, whose folder has no ``tensorboard``.
Plain standard library, so that the pipeline runner can import it cheaply.
"""

from __future__ import annotations

import os
import shlex
import sys


def tensorboard_executable() -> str:
    """The absolute path of the ``tensorboard`` beside this interpreter, else ``tensorboard``."""
    candidate = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "tensorboard")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return "tensorboard"


def tensorboard_command(logdir) -> str:
    """``<venv>/bin/tensorboard --logdir <logdir>``, each part shell-quoted."""
    return f"{shlex.quote(tensorboard_executable())} --logdir {shlex.quote(os.fspath(logdir))}"
