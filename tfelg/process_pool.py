"""A process pool that is safe to start from any caller, for CPU-bound per-galaxy work.

GalSim drawing and statmorph are single-threaded Python/C++ per galaxy, so
the image branch parallelises over galaxies with processes. How the workers
start matters:

* ``fork`` copies the parent. If TensorFlow is loaded (the TFDS builder, the
  pipeline) its thread pools are copied in whatever locked state they were,
  and a child can hang. So when ``tensorflow`` is imported, workers are
  started with ``spawn``: a fresh interpreter that imports only what the
  task needs.
* ``spawn`` re-imports the caller's main script, which therefore needs the
  ``if __name__ == "__main__":`` guard; a plain script that has not loaded
  TensorFlow gets ``fork`` and needs no guard.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _single_thread_worker():
    # The pool is the parallelism: one BLAS/OpenMP thread per worker.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def process_pool(num_workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """A ProcessPoolExecutor started with ``spawn`` if TensorFlow is loaded, else ``fork``."""
    method = "spawn" if "tensorflow" in sys.modules or os.name != "posix" else "fork"
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=num_workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_single_thread_worker,
    )


def map_in_pool(function, items: list, num_workers: int | None = None) -> list:
    """``[function(item) for item in items]``, in order, over ``num_workers`` processes.

    Runs in this process when one worker is asked for or there are fewer than
    eight items (starting processes would cost more than it saves).
    ``function`` must be importable (a module-level function).
    """
    num_workers = available_cpus() if num_workers is None else int(num_workers)
    if num_workers <= 1 or len(items) < 8:
        return [function(item) for item in items]
    chunk = max(1, min(32, len(items) // (4 * num_workers)))
    with process_pool(num_workers) as pool:
        return list(pool.map(function, items, chunksize=chunk))
