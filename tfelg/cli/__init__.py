"""Thin absl binaries: each parses flags and calls one library function.

Every binary ends with ``run_binary(main, __name__)`` (see :func:`run_binary`)
and defines its file and folder flags with :func:`define_path`, so that what
a user meets first works the same in all of them:

* ``--help`` shows the binary's description and its own flags. absl prints
  ``__main__``'s docstring and the flags *key* to ``sys.argv[0]``; a console
  script's ``__main__`` is pip's wrapper (no docstring, no flags), so those
  are adopted here from the module that defines the binary.
* ``~`` in a path flag means the home folder (``--data_dir=~/tfds``, as the
  README writes it), even where the shell did not expand it (after ``=``,
  in a ``--flagfile``).
* absl's INFO lines (TensorFlow's and the library's chatter) are off unless
  ``--verbosity`` is given; the binaries print their own progress. So is
  TFDS's warning "Using custom data configuration": tfelg makes such configs
  on purpose (a resized or reseeded synthetic sample, ``synthetic_n5000_s0``)
  and names them in its own output, so the warning only alarms.

TensorFlow's C++ start-up chatter (no CUDA device on a CPU machine, oneDNN
notices) is silenced for the binaries unless the user set the level.
"""

from __future__ import annotations

import logging as std_logging
import os
import sys
import time
from collections.abc import Callable

from absl import app, flags, logging

from tfelg.path_flags import PathParser, define_path  # noqa: F401 (the binaries' API)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Project packages whose flags a binary shows under --help (the library
# itself defines none: only tfelg.cli modules and component binaries do).
_PROJECT_PACKAGES = ("tfelg", "tfelg_components", "tfelg_pipelines")


def adopt_project_flags(module_name: str) -> None:
    """Makes the project's flags key flags of the running program, for ``--help``.

    ``module_name``: the binary's module (``__name__`` there); its docstring
    becomes ``__main__``'s when ``__main__`` has none (a console script).
    """
    values = flags.FLAGS
    main_name = sys.argv[0]
    for defining_module in list(values.flags_by_module_dict()):
        if defining_module == main_name or defining_module.split(".")[0] in _PROJECT_PACKAGES:
            for flag in values.get_key_flags_for_module(defining_module):
                values.register_key_flag_for_module(main_name, flag)
    module = sys.modules.get(module_name)
    main_module = sys.modules.get("__main__")
    if module is not None and main_module is not None and not main_module.__doc__:
        main_module.__doc__ = module.__doc__


class ExpectedWarningFilter(std_logging.Filter):
    """Drops the log records tfelg causes on purpose and explains itself."""

    EXPECTED_PREFIXES = ("Using custom data configuration",)

    def filter(self, record: std_logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.EXPECTED_PREFIXES)


_EXPECTED_WARNING_FILTER = ExpectedWarningFilter()


def quiet_info_logs() -> None:
    """absl INFO off (WARNING and above still shown) unless ``--verbosity`` was given.

    Without ``--verbosity`` the expected warnings (:class:`ExpectedWarningFilter`)
    are dropped too; with it, everything is shown.
    """
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
        absl_logger = logging.get_absl_logger()
        if _EXPECTED_WARNING_FILTER not in absl_logger.filters:
            absl_logger.addFilter(_EXPECTED_WARNING_FILTER)


def progress(message: str) -> None:
    """One progress line on stderr, timestamped: the long binaries' ``log=``.

    Not absl INFO, which would bury it in TensorFlow's own lines (and is off
    by default, :func:`quiet_info_logs`); stderr, so that stdout keeps only
    the result a script may parse.
    """
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def run_binary(main: Callable[[list[str]], int | None], module_name: str) -> None:
    """``app.run(main)`` with the binaries' shared behaviour (module docstring).

    Args:
      main: the binary's ``main(argv)``.
      module_name: ``__name__`` of the binary's module.
    """
    adopt_project_flags(module_name)

    def quiet_main(argv):
        quiet_info_logs()
        return main(argv)

    app.run(quiet_main)
