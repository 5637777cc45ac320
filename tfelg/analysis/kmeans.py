"""Lloyd's k-means for many K on many data sets at once.

k-means serves two ends: it starts the mixtures (``init="kmeans"`` in
:func:`tfelg.analysis.em.fit_gmm_sweep` does what scikit-learn does, hard
k-means labels turned into a first M-step, see
:mod:`tfelg.analysis.gmm_init`), and it is the clustering of the gap
statistic (:mod:`tfelg.analysis.model_selection`), on the data and B
reference sets at once.

Seeding is greedy k-means++ (scikit-learn's algorithm). One k-means++
sequence of Kmax centres serves every K (the K-run starts from its first K
centres; greedy k-means++ picks centre j without knowing the final K, so
this is exact with 2 + floor(ln Kmax) local trials for every K).

Lloyd iterations need many more passes than EM (uniform reference sets
converge slowly), and the runs finish at very different iterations. So on
large data each data set gets a pass of its own whose per-model work sits
in conditionals on which of its runs are unfinished, a few data sets at
once in threads; on small data one batched pass over all data sets per
iteration is faster, and finished runs are dropped as in EM (both passes:
:mod:`tfelg.analysis.lloyd_passes`). The final within-cluster sums of
squares are accumulated in float64 (they cancel for tight clusters far from
the origin).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfelg.analysis import compiled, lloyd_passes
from tfelg.analysis.mixture import check_ks
from tfelg.errors import InputError


@dataclasses.dataclass(frozen=True)
class KMeansSweep:
    """k-means for several K on several data sets.

    Attributes:
      ks: the K of each model (G).
      centres: ``centres[b][g]``: (K, D) final centres, data set b, K = ks[g].
      within_ss: (B, G) float64, sum over points of the squared distance to
        the mean of the point's final cluster (W_K of the gap statistic, which
        equals sum_r D_r / (2 n_r) of Tibshirani et al.), of the kept run
        (the lowest over the starts).
      n_iter: (B, G) Lloyd iterations of the kept runs.
      converged: (B, G), of the kept runs.
      labels: (N, G) int32 final labels of data set 0 (points to the nearest
        final centre), or None if not asked for.
      seed_centres: (n_init, B, Kmax, D) the k-means++ sequence of each
        start and data set; a K-run started from its first K rows (so
        another implementation can be started from exactly the same
        centres).
      start: (B, G) the start whose run was kept (lowest W_K), indexing
        the first axis of ``seed_centres``.
    """

    ks: tuple[int, ...]
    centres: list
    within_ss: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    labels: np.ndarray | None
    seed_centres: np.ndarray | None = dataclasses.field(default=None, repr=False)
    start: np.ndarray | None = dataclasses.field(default=None, repr=False)


# --------------------------------------------------------------------------
# k-means++ seeding


def _sample_plus_plus(d2, trials, seed, n_valid):
    """Indices (B, T) < n_valid drawn with probability proportional to d2 (B, N)."""
    cum = tf.math.cumsum(tf.cast(d2, tf.float64), axis=1)
    total = cum[:, -1:]
    u = tf.random.stateless_uniform([d2.shape[0], trials], seed, dtype=tf.float64) * total
    idx = tf.searchsorted(cum, u, side="right")
    return tf.minimum(idx, n_valid - 1)


def _plus_plus_step(x, d2, seed, n_valid, *, trials):
    """One greedy k-means++ step on each data set: the chosen point (B,), new d2."""
    idx = _sample_plus_plus(d2, trials, seed, n_valid)
    cand = tf.gather(x, idx, axis=1, batch_dims=1)  # (B, T, D)
    dist = (
        tf.reduce_sum(x * x, -1)[:, :, None]
        - 2.0 * tf.matmul(x, cand, transpose_b=True)
        + tf.reduce_sum(cand * cand, -1)[:, None, :]
    )
    m = tf.minimum(d2[:, :, None], tf.maximum(dist, 0.0))  # (B, N, T)
    potential = tf.reduce_sum(tf.cast(m, tf.float64), axis=1)  # (B, T)
    best = tf.argmin(potential, axis=1, output_type=tf.int32)
    new_d2 = tf.gather(tf.transpose(m, [0, 2, 1]), best, axis=1, batch_dims=1)
    return tf.gather(idx, best, axis=1, batch_dims=1), new_d2


def _kmeans_plus_plus(xt, n_valid, kmax, seed, jit_compile):
    """Greedy k-means++ (scikit-learn's algorithm): (B, Kmax) point indices.

    xt: (B, Npad, D) tensor whose rows >= n_valid are padding (never drawn).
    """
    b, npad, _ = xt.shape
    trials = 2 + int(math.log(kmax))
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_valid, size=b)
    chosen = [first]
    cand = tf.gather(xt, first[:, None], axis=1, batch_dims=1)
    valid = tf.cast(tf.range(npad) < n_valid, xt.dtype)
    d2 = tf.reduce_sum(tf.square(xt - cand), -1) * valid
    step = compiled.function(_plus_plus_step, jit_compile)
    for _ in range(1, kmax):
        step_seed = tf.constant(rng.integers(0, 2**31 - 1, size=2), tf.int64)
        idx, d2 = step(xt, d2, step_seed, tf.constant(n_valid), trials=trials)
        chosen.append(idx.numpy())
    return np.stack(chosen, axis=1)


# --------------------------------------------------------------------------
# Lloyd's iterations

# Single-data-set k-means passes run at once (each keeps about one CPU core
# busy; on 2 cores, 2 threads ran 11 of them 1.8 times faster than 1).
_SET_PASS_THREADS = min(4, os.cpu_count() or 1)


def kmeans_sweep(
    x,
    ks: Sequence[int],
    *,
    seed: int = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
    return_labels: bool = False,
    chunk_size: int | None = None,
    jit_compile: bool | None = None,
    per_data_set: bool | None = None,
    n_init: int = 1,
) -> KMeansSweep:
    """Lloyd's k-means for every K in ``ks`` on one or several data sets at once.

    Seeding is greedy k-means++ (scikit-learn's algorithm; one Kmax-long
    sequence per data set and start, whose first K centres start the K-run).
    With ``n_init`` starts, every (data set, K) is run from each of
    ``n_init`` independent sequences and the run with the lowest W_K is
    kept (scikit-learn's ``KMeans(n_init=...)`` keeps the lowest inertia,
    the same sum about the last centres rather than the final cluster
    means). The restarts are more models in the same passes. A run
    stops when the total squared shift of its centres is <= tol times the
    mean per-feature variance of its data set (scikit-learn's rule). An
    empty cluster keeps its centre. Distances are float32; the final
    within-cluster sums of squares are accumulated in float64 about the
    final cluster means.

    Two ways to run the iterations, with the same result: one pass per data
    set over its own unfinished runs, a few data sets at once in threads
    (:func:`tfelg.analysis.lloyd_passes.lloyd_set_pass`), the default with XLA (large data); or one
    batched pass over all data sets per iteration (:func:`tfelg.analysis.lloyd_passes.lloyd_pass`), the
    default without (small data, where the per-call overhead sets the
    time). The final pass, for W_K and the labels, is always the batched one.

    Args:
      x: (N, D) or (B, N, D) points (B data sets of the same size).
      ks: the numbers of clusters.
      seed: seeds the k-means++ draws.
      max_iter: Lloyd iterations at most.
      tol: relative tolerance on the centre shift.
      return_labels: also return the final labels of data set 0, (N, G).
      chunk_size: rows per step of the compiled pass.
      jit_compile: compile the passes with XLA (default: only for large
        data, see :func:`tfelg.analysis.compiled.use_jit`).
      per_data_set: iterate with one pass per data set (default: when
        compiled with XLA).
      n_init: k-means++ starts per (data set, K); the run with the lowest
        W_K is kept. Start 0 draws from ``seed`` alone (so ``n_init=1``
        is the single start of ``seed``), start r from the seed sequence
        (seed, r).

    Returns:
      A :class:`KMeansSweep`.
    """
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"x must be (N, D) or (B, N, D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"x must be numeric, got dtype {x.dtype}")
    nb, n, d = x.shape
    if n == 0 or d == 0:
        raise ValueError(f"x is empty (shape {x.shape})")
    ks = check_ks(ks, n)
    n_init = int(n_init)
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    num_ks = len(ks)
    # Every (K = ks[g], start r) is one model, index g * n_init + r: a K's
    # restarts sit next to each other, where the batched pass shares their
    # argmin and sums (lloyd_passes.lloyd_pass).
    runs = tuple(k for k in ks for _ in range(n_init))
    layout = compiled.Layout.of(runs)
    chunk = compiled.chunk_rows(n, chunk_size)
    npad = -(-n // chunk) * chunk

    # Centred float32 copies, zero-padded to whole chunks (one copy in all:
    # at 10^6 points and 11 data sets this is the largest allocation).
    xc32 = np.zeros((nb, npad, d), np.float32)
    centre_of_data = np.zeros((nb, 1, d))
    tol_b = np.zeros(nb)
    for b in range(nb):
        bad = ~np.isfinite(x[b]).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            where = "x" if nb == 1 else f"data set {b}"
            raise InputError(
                f"{where} has {rows.size} row(s) with NaN or inf values (the first is shown)",
                row=int(rows[0]),
            )
        centre_of_data[b, 0] = x[b].mean(axis=0, dtype=np.float64)
        xc32[b, :n] = x[b] - centre_of_data[b]
        tol_b[b] = tol * np.mean(np.var(xc32[b, :n], axis=0, dtype=np.float64))

    jit = compiled.use_jit(jit_compile, nb * n)
    lloyd = compiled.function(lloyd_passes.lloyd_pass, jit)
    xt = tf.constant(xc32)
    centres = np.zeros((nb, layout.num_components, d))
    seed_centres = np.zeros((n_init, nb, layout.kmax, d))
    for r in range(n_init):
        seeds = _kmeans_plus_plus(xt, n, layout.kmax, seed if r == 0 else [seed, r], jit)
        for b in range(nb):
            first = xc32[b, seeds[b]].astype(np.float64)  # (Kmax, D)
            seed_centres[r, b] = first + centre_of_data[b, 0]
            for g, k in enumerate(ks):
                m = g * n_init + r
                centres[b, layout.offsets[m] : layout.offsets[m + 1]] = first[:k]
    del xc32

    # State of every model (data set b, model g), centres padded to Kmax.
    num_models = layout.num_models
    k_of = np.asarray(runs)
    centres_pad = np.zeros((nb, num_models, layout.kmax, d))
    for g, k in enumerate(runs):
        centres_pad[:, g, :k] = centres[:, layout.offsets[g] : layout.offsets[g + 1]]
    converged = np.zeros((nb, num_models), bool)
    n_iter = np.zeros((nb, num_models), np.int64)
    n_t = tf.constant(n)

    def plan_of(active):
        """(model, k, data sets): every model still running on some data set,
        on every data set still running some model.

        The batched pass of small data, where one call per iteration beats
        eleven: its per-call overhead, not its work, sets the time.
        Rectangular on purpose: a pass over per-model subsets of the data
        sets must copy the points of each subset, and measured 2-2.5 times
        slower per unit of work than one product over the same data sets.
        """
        models = [g for g in range(num_models) if active[:, g].any()]
        datasets = tuple(int(b) for b in np.flatnonzero(active.any(axis=1)))
        return tuple((g, int(k_of[g]), datasets) for g in models)

    def work(plan):
        return sum(k * len(ds) for _, k, ds in plan)

    def run(plan, final=False, labels=False):
        cen = np.concatenate([centres_pad[list(ds), g, :k].reshape(-1, d) for g, k, ds in plan])
        sums, found = lloyd(
            xt,
            n_t,
            tf.constant(cen.astype(np.float32)),
            chunk=chunk,
            plan=tuple((k, ds) for _, k, ds in plan),
            final=final,
            labels=labels,
        )
        return cen, sums.numpy(), found

    def update(b, g, it, block, old):
        """Lloyd's update of model g on data set b from its cluster sums."""
        counts = block[:, 0]
        new = np.where(counts[:, None] > 0, block[:, 1:] / np.maximum(counts, 1)[:, None], old)
        shift = np.sum((new - old) ** 2)
        centres_pad[b, g, : k_of[g]] = new
        n_iter[b, g] = it
        converged[b, g] = shift <= tol_b[b]

    seconds_per_work = n * (d + 8) * compiled.KMEANS_SECONDS_PER_UNIT
    full_plan = plan_of(np.ones_like(converged))
    use_set_passes = jit if per_data_set is None else bool(per_data_set)
    if use_set_passes:
        # Large data: one pass per data set over its own unfinished models
        # (see lloyd_passes.lloyd_set_pass); on a gap statistic's 11 data sets about 1.7
        # times fewer (point, model) visits than the rectangular plan. A pass
        # over one data set keeps about one core busy, so a few run at once.
        set_pass = compiled.function(lloyd_passes.lloyd_set_pass, jit)
        # One pass per (data set, start) over that start's runs, one for
        # each K: the compiled pass is the same for every start (an XLA
        # compile with a conditional per (K, start) took minutes at
        # n_init = 10), and the starts give the threads more jobs.
        ks_offsets = np.concatenate([[0], np.cumsum(ks)])

        def one_set(args):
            b, _, cen, active = args
            return set_pass(
                xt,
                n_t,
                tf.constant(b, tf.int32),
                tf.constant(cen.astype(np.float32)),
                tf.constant(active),
                chunk=chunk,
                ks=ks,
            ).numpy()

        with concurrent.futures.ThreadPoolExecutor(_SET_PASS_THREADS) as pool:
            for it in range(1, max_iter + 1):
                jobs = []
                for b in range(nb):
                    for r in range(n_init):
                        models = np.arange(num_ks) * n_init + r
                        done = converged[b, models]
                        if not done.all():
                            cen = np.concatenate([centres_pad[b, m, : k_of[m]] for m in models])
                            jobs.append((b, models, cen, ~done))
                for (b, models, cen, active), sums in zip(
                    jobs, pool.map(one_set, jobs), strict=True
                ):
                    for g in np.flatnonzero(active):
                        o, k = ks_offsets[g], ks[g]
                        block = cen[o : o + k].astype(np.float64)
                        update(b, models[g], it, sums[o : o + k], block)
                if converged.all():
                    break
    else:
        plan = full_plan
        for it in range(1, max_iter + 1):
            cen, sums, _ = run(plan)
            o = 0
            for g, k, ds in plan:
                for b in ds:
                    if not converged[b, g]:
                        update(b, g, it, sums[o : o + k], cen[o : o + k].astype(np.float64))
                    o += k
            if converged.all():
                break
            remaining = plan_of(~converged)
            if compiled.should_compact(
                work(plan),
                work(remaining),
                seconds_per_work=seconds_per_work,
                iterations=it,
                jit_compile=jit,
            ):
                plan = remaining

    def within(plan, sums):
        """W of each (data set, model) of ``plan`` from a final pass's sums."""
        out, o = {}, 0
        for g, k, ds in plan:
            for b in ds:
                block = sums[o : o + k]
                o += k
                sx = block[:, 1 : 1 + d]
                w = block[:, -1] - np.sum(sx * sx, axis=1) / np.maximum(block[:, 0], 1)
                out[b, g] = np.maximum(w, 0.0).sum()
        return out

    # W_K of every run: one more pass with the final centres; then the run
    # kept for each (data set, K): the lowest W_K over the starts (the
    # first start on a tie).
    _, sums, _ = run(full_plan, final=True)
    w_all = np.zeros((nb, num_models))
    for (b, g), w in within(full_plan, sums).items():
        w_all[b, g] = w
    start = np.argmin(w_all.reshape(nb, num_ks, n_init), axis=2)  # (B, G)
    kept = np.arange(num_ks) * n_init + start  # model index of each kept run
    rows = np.arange(nb)[:, None]
    within_ss = w_all[rows, kept]
    labels = None
    if return_labels:
        # The kept runs' labels on data set 0, and their W_K from the same
        # pass (so that the labels and W_K agree to the last bit).
        plan0 = tuple((int(m), int(k_of[m]), (0,)) for m in kept[0])
        _, sums0, labels = run(plan0, final=True, labels=True)
        for (_, m), w in within(plan0, sums0).items():
            within_ss[0, m // n_init] = w
        labels = labels.numpy()[:n]
    out_centres = [
        [centres_pad[b, kept[b, g], :k] + centre_of_data[b, 0] for g, k in enumerate(ks)]
        for b in range(nb)
    ]
    return KMeansSweep(
        ks=ks,
        centres=out_centres,
        within_ss=within_ss,
        n_iter=n_iter[rows, kept],
        converged=converged[rows, kept],
        labels=labels,
        seed_centres=seed_centres,
        start=start,
    )
