"""pytest is only the runner of these absltest / tf.test suites.

absltest reads its own flags (--test_tmpdir, --test_srcdir) which pytest
never parses; marking absl's flags as parsed gives them their defaults, so
``self.create_tempdir()`` works as under ``python -m``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("MPLBACKEND", "Agg")

from absl import flags  # noqa: E402

if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
