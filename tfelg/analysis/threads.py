"""How many threads the analysis' NumPy, scikit-learn and openTSNE work may use.

BLAS (NumPy's OpenBLAS), OpenMP (scikit-learn, openTSNE's gradient loops)
and openTSNE's ``n_jobs`` each start one thread per core by default, and
OpenMP and OpenBLAS threads spin while they wait for each other. On a
machine whose cores are also busy with other work (several analyses, a
training run), those spinning threads take turns with the real work: on the
2-core development machine at load 10, scikit-learn's gradient boosting
with its default threads took 13x longer than with one
(``scripts/make_analysis_table.py --openmp_threads``), and
``benchmarks/analysis_threads.py`` measures the analysis itself. So the
number is a setting (``tfelg-analyze --num_threads``,
``AnalysisConfig.num_threads``), applied with threadpoolctl around the
work.

The default, when neither says: the environment variable
``TFELG_NUM_THREADS`` (so that pipeline components, whose parameters are
part of their cache keys, can be given it without re-running anything),
else the CPUs this process may run on: on a quiet machine the libraries'
own choice.

TensorFlow's thread pools (the mixtures, k-means) are not threadpoolctl's:
they are fixed when TensorFlow starts (``tf.config.threading``).
"""

from __future__ import annotations

import contextlib
import os

#: Environment variable read when no number is given.
ENV_VAR = "TFELG_NUM_THREADS"


def resolve(num_threads: int | None = None) -> int:
    """``num_threads``, else ``$TFELG_NUM_THREADS``, else the CPUs this process may use.

    Raises:
      ValueError: a number below 1, or an environment value that is not a
        whole number >= 1 (naming the variable).
    """
    if num_threads is None:
        value = os.environ.get(ENV_VAR, "").strip()
        if not value:
            from tfelg.process_pool import available_cpus

            return available_cpus()
        try:
            num_threads = int(value)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a whole number >= 1, got {value!r}") from None
        if num_threads < 1:
            raise ValueError(f"{ENV_VAR} must be a whole number >= 1, got {value!r}")
        return num_threads
    if isinstance(num_threads, bool) or int(num_threads) != num_threads or num_threads < 1:
        raise ValueError(f"num_threads must be a whole number >= 1, got {num_threads!r}")
    return int(num_threads)


@contextlib.contextmanager
def limited(num_threads: int | None = None):
    """BLAS and OpenMP thread pools capped at :func:`resolve` (``num_threads``) inside.

    Yields the number of threads (also what openTSNE's ``n_jobs`` should be).
    The previous limits are restored on leaving.
    """
    from threadpoolctl import threadpool_limits

    n = resolve(num_threads)
    with threadpool_limits(limits=n):
        yield n
