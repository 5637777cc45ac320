"""Plumbing shared by the compiled passes of the EM and of k-means.

The mixtures' EM (:mod:`tfelg.analysis.em_statistics`) and k-means
(:mod:`tfelg.analysis.lloyd_passes`) run as passes over fixed-size chunks of
rows, in a ``tf.while_loop``, so memory stays bounded at any N. What they
share lives here:

* :func:`function`: one ``tf.function`` per static setting of a pass
  (chunk size, the K of its models, ...), XLA-compiled or not, cached;
* :func:`use_jit`: XLA only where the data are large enough for a compile
  (seconds per shape on a small CPU) to pay off;
* :func:`should_compact`: when dropping finished models from a pass (a
  new, smaller pass to compile) is worth its compile, from a cost model
  rather than timings, so that a fit takes the same path on every run;
* :class:`Layout`, :func:`pad_rows`, :func:`chunk_rows`: the shapes the
  passes see (every component of several models on one flat axis, rows
  padded to whole chunks).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import tensorflow as tf

DEFAULT_CHUNK = 4096

# --------------------------------------------------------------------------
# Component layout: every component of every model as one flat axis


@dataclasses.dataclass(frozen=True)
class Layout:
    """Where the components of several mixtures sit on one flat axis of C.

    Model g owns rows offsets[g] .. offsets[g + 1]; ``slot_of`` (C) gives
    each component's slot g * Kmax + j in the padded (G, Kmax) layout.
    """

    ks: tuple[int, ...]
    offsets: np.ndarray
    slot_of: np.ndarray

    @property
    def num_models(self) -> int:
        return len(self.ks)

    @property
    def kmax(self) -> int:
        return max(self.ks)

    @property
    def num_components(self) -> int:
        return int(sum(self.ks))

    @classmethod
    def of(cls, ks):
        ks = tuple(int(k) for k in ks)
        kmax = max(ks)
        offsets = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
        slot_of = np.concatenate([g * kmax + np.arange(k) for g, k in enumerate(ks)])
        return cls(ks, offsets, slot_of.astype(np.int64))

    def split(self, flat):
        """Per-model slices of an array whose leading axis is C."""
        return [flat[self.offsets[g] : self.offsets[g + 1]] for g in range(self.num_models)]


def pad_rows(x: np.ndarray, chunk: int, dtype) -> tf.Tensor:
    """x (.., N, D) zero-padded to a multiple of ``chunk`` rows, as a tensor."""
    n = x.shape[-2]
    npad = -(-n // chunk) * chunk
    pad = [(0, 0)] * x.ndim
    pad[-2] = (0, npad - n)
    return tf.constant(np.pad(x, pad).astype(dtype))


def chunk_rows(n, chunk_size):
    """Rows per step of a pass: ``chunk_size`` (default :data:`DEFAULT_CHUNK`), at most n."""
    if chunk_size is None:
        chunk_size = DEFAULT_CHUNK
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return int(min(chunk_size, n))


# --------------------------------------------------------------------------
# One tf.function per static setting

# Below this many rows (times data sets) the passes run as plain graphs:
# XLA's compile (seconds per shape on a small CPU) would cost more than it
# saves.
JIT_MIN_ROWS = 50_000

_COMPILED: dict = {}
_COMPILED_LOCK = threading.Lock()
# Distinct static configurations kept compiled (a sweep uses a few dozen;
# the bound only stops a long-lived process from growing without end).
_COMPILED_MAX = 256


def use_jit(jit_compile, rows):
    """``jit_compile``, or (if None) whether ``rows`` reach :data:`JIT_MIN_ROWS`."""
    return rows >= JIT_MIN_ROWS if jit_compile is None else bool(jit_compile)


class _Bound:
    """``fn`` with its static keywords bound, called with positional tensors only.

    An object rather than a closure: TensorFlow's retracing detector keys a
    ``tf.function`` by its Python function's ``__code__``, which every
    closure of one ``def`` shares, so the single trace of each static
    setting was counted as retracing of one function and logged a warning.
    """

    def __init__(self, fn, static):
        self.fn, self.static = fn, static
        self.__name__ = fn.__name__

    def __call__(self, *tensors):
        return self.fn(*tensors, **self.static)


def function(fn, jit_compile: bool):
    """``fn`` as a ``tf.function`` (XLA-compiled or not), one per static setting.

    The returned callable takes the tensors positionally and the static
    settings (``chunk``, ``plan``, ``ks``, ...) as keywords. Each distinct
    static setting gets its own ``tf.function`` over a :class:`_Bound`
    object that binds it (not ``functools.partial``, whose keywords
    TensorFlow would still canonicalise as defaults), so a call passes only
    tensors: handing the nested ``plan`` tuple to one shared ``tf.function``
    made TensorFlow canonicalise it into a trace type on every call (~5 ms a
    call, ~1 s of a 10^5-point gap statistic), and made that one function
    retrace, with warnings, for every new setting.
    """

    def call(*tensors, **static):
        key = (fn.__module__, fn.__qualname__, bool(jit_compile), tuple(sorted(static.items())))
        # Locked: k-means calls passes from several threads, and two
        # tf.functions made for one key would compile twice.
        with _COMPILED_LOCK:
            compiled = _COMPILED.get(key)
            if compiled is None:
                if len(_COMPILED) >= _COMPILED_MAX:
                    _COMPILED.pop(next(iter(_COMPILED)))
                # No autograph: the passes use tf.while_loop and only static
                # Python control flow (autograph would also re-read this source).
                compiled = tf.function(
                    _Bound(fn, static),
                    jit_compile=bool(jit_compile),
                    reduce_retracing=False,
                    autograph=False,
                )
                _COMPILED[key] = compiled
        return compiled(*tensors)

    return call


# --------------------------------------------------------------------------
# When to compile a smaller pass


def should_compact(work_now, work_left, *, seconds_per_work, iterations, jit_compile):
    """Whether to drop finished models from a pass (a new, smaller pass).

    The new pass must be traced and, with XLA, compiled: about
    ``COMPILE_SECONDS`` on a small CPU. Dropping pays off when the time
    saved per pass (the finished work times ``seconds_per_work``, a cost
    model of the pass, not a measurement), times the iterations still
    expected (assumed as many as run so far, at least 5), exceeds that; and
    at least ``MIN_COMPACT_SHARE`` of the work must be finished, so that
    a fit compiles only a few shapes. The rule uses no timings, so a fit
    takes the same path (and gives the same numbers) on every run.
    """
    done = work_now - work_left
    if done < MIN_COMPACT_SHARE * work_now:
        return False
    compile_s = COMPILE_SECONDS[bool(jit_compile)]
    return done * seconds_per_work * max(iterations, 5) > compile_s


# Calibrated on a 2-core AVX-512 CPU (TF 2.21): XLA compile of one pass, and
# seconds per (point x component x feature) of the EM and k-means passes.
# Only their ratios matter, and only for when to recompile.
COMPILE_SECONDS = {True: 2.0, False: 0.3}
EM_SECONDS_PER_UNIT = 4e-11
KMEANS_SECONDS_PER_UNIT = 4e-11
MIN_COMPACT_SHARE = 0.1
