"""The compiled Lloyd passes of k-means (the gap statistic's passes).

:func:`tfelg.analysis.kmeans.kmeans_sweep` runs Lloyd's iterations for every
K on the data and on the gap statistic's B reference sets at once; each
iteration is one of these passes over fixed-size chunks of rows (compiled
through :func:`tfelg.analysis.compiled.function`). Per chunk a pass computes
each model's distances (a matrix product), nearest centres and per-cluster
sums (a segment sum, O(N D) per model rather than a one-hot product).

Two passes, because the runs finish at very different iterations (from 2 to
200 on a gap statistic's 11 data sets at 10^5 x 16):

* :func:`lloyd_set_pass` (large data): one data set, each model's work in a
  conditional on whether its run is unfinished, so a converged run costs
  nothing more and one compiled pass serves every data set and iteration;
  a pass over one data set keeps about one core busy, so a few run at once
  in threads.
* :func:`lloyd_pass` (small data, where the per-call overhead sets the
  time, and the final pass for W_K and the labels): a rectangular plan of
  (K, data sets) entries in one call.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def lloyd_pass(x, n_valid, centres, *, chunk, plan, final, labels=False):
    """One Lloyd pass for several k-means models on several data sets.

    Args:
      x: (B, Npad, D) data sets, rows >= n_valid are padding.
      centres: (T, D): for each entry (k, data sets) of ``plan`` in turn,
        the k centres of each of its data sets.
      plan: static tuple of (k, tuple of data-set indices).
      final: accumulate in float64 and add |x|^2, for W_K (the sums of x and
        |x|^2 cancel when clusters are tight and far from the origin;
        float64 keeps W_K exact to ~eps64 * |c|^2 / sigma^2).
      labels: also return the labels of the first data set of each entry
        (kept apart from ``final``: with many restarts an (Npad, entries)
        label matrix of every run would be large, and only the kept runs'
        labels are wanted).

    Returns:
      (sums (T, 1 + D (+ 1)) float64 of [1, x (, |x|^2)] per cluster,
      labels (Npad, len(plan)) int32, or (0, len(plan))).
    """
    b, npad, d = x.shape
    num_chunks = npad // chunk
    t = centres.shape[0]
    acc_dtype = tf.float64 if final else x.dtype
    nf = d + 2 if final else d + 1
    # XLA's CPU scatter-add is several times slower for some row widths
    # (9 floats: 4x slower than 16): pad the summed features to a multiple of 8.
    nf_pad = -(-nf // 8) * 8
    offsets = np.concatenate([[0], np.cumsum([k * len(ds) for k, ds in plan])]).tolist()
    num_labels = len(plan) if labels else 0
    groups = {}
    for e, (_, ds) in enumerate(plan):
        groups.setdefault(tuple(ds), []).append(e)

    def body(i, sums, labels_ta):
        start = i * chunk
        xc = tf.slice(x, [0, start, 0], [b, chunk, d])
        valid = tf.cast(start + tf.range(chunk) < n_valid, acc_dtype)[None, :, None]
        xa = tf.cast(xc, acc_dtype)
        feats = [tf.ones([b, chunk, 1], acc_dtype), xa]
        if final:
            feats.append(tf.reduce_sum(xa * xa, -1, keepdims=True))
        feats.append(tf.zeros([b, chunk, nf_pad - nf], acc_dtype))
        feats = tf.concat(feats, -1) * valid  # (B, n, nf_pad)
        parts, firsts = [None] * len(plan), [None] * len(plan)
        # Entries over the same data sets share one matrix product.
        for ds, entries in groups.items():
            a = len(ds)
            whole = ds == tuple(range(b))
            xg = xc if whole else tf.gather(xc, list(ds))
            fg = feats if whole else tf.gather(feats, list(ds))
            cen = tf.concat(
                [
                    tf.reshape(centres[offsets[e] : offsets[e + 1]], [a, plan[e][0], d])
                    for e in entries
                ],
                axis=1,
            )
            norms = tf.reduce_sum(cen * cen, axis=-1, keepdims=True)
            dist = norms - 2.0 * tf.matmul(cen, xg, transpose_b=True)  # (A, sum k, n)
            row = 0
            # Consecutive entries with the same k (a K's restarts) share
            # one argmin and one segment sum: a few large ops rather than
            # many small ones, whose per-op cost sets the time on small data.
            for run in _same_k_runs(entries, plan):
                k, r = plan[run[0]][0], len(run)
                block = tf.reshape(dist[:, row : row + r * k], [a, r, k, chunk])
                row += r * k
                nearest = tf.argmin(block, axis=2, output_type=tf.int32)  # (A, R, n)
                # Segment (entry i, data set j, cluster): rows (i * A + j) * k + label.
                first_row = tf.transpose(tf.reshape(tf.range(r * a) * k, [r, a]))
                segments = nearest + first_row[:, :, None]
                rows = tf.broadcast_to(fg[:, None], [a, r, chunk, nf_pad])
                out = tf.math.unsorted_segment_sum(
                    tf.reshape(rows, [a * r * chunk, nf_pad]),
                    tf.reshape(segments, [-1]),
                    r * a * k,
                )
                for j, e in enumerate(run):
                    parts[e] = out[j * a * k : (j + 1) * a * k]
                    firsts[e] = nearest[0, j]
        if labels:
            labels_ta = labels_ta.write(i, tf.transpose(tf.stack(firsts)))
        part = tf.concat(parts, axis=0)
        return i + 1, sums + tf.cast(part, tf.float64), labels_ta

    ta = tf.TensorArray(
        tf.int32, size=num_chunks if labels else 0, element_shape=[chunk, num_labels]
    )
    _, sums, ta = tf.while_loop(
        lambda i, *_: i < num_chunks,
        body,
        [tf.constant(0), tf.zeros([t, nf_pad], tf.float64), ta],
    )
    sums = sums[:, :nf]
    if labels:
        return sums, tf.reshape(ta.stack(), [-1, num_labels])
    return sums, tf.zeros([0, num_labels], tf.int32)


def _same_k_runs(entries, plan):
    """``entries`` cut into runs of consecutive entries with the same k."""
    runs = []
    for e in entries:
        if runs and plan[runs[-1][-1]][0] == plan[e][0]:
            runs[-1].append(e)
        else:
            runs.append([e])
    return runs


def lloyd_set_pass(x, n_valid, dataset, centres, active, *, chunk, ks):
    """One Lloyd pass of the unfinished k-means models on one data set of ``x``.

    The fast path of :func:`tfelg.analysis.kmeans.kmeans_sweep` on large data. Each model's
    distances, labels and cluster sums sit in a conditional on its entry of
    ``active``, so a (data set, K) run that has converged costs nothing more,
    without a new compiled pass: one compiled pass per tuple of K serves
    every data set and every iteration. (The batched :func:`lloyd_pass`
    must carry finished runs until their whole row and column of the
    rectangular plan are done, or compile a smaller plan.)

    Args:
      x: (B, Npad, D) data sets, rows >= n_valid are padding; Npad is a
        multiple of ``chunk``.
      dataset: int32 scalar tensor, the data set to run on.
      centres: (sum ks, D): the centres of each model in turn.
      active: (len(ks),) bool tensor, the models to run; the sums of the
        others are returned as zeros.
      chunk: rows per step.
      ks: static tuple, the K of each model.

    Returns:
      (sum ks, 1 + D) float64 sums of [1, x] per cluster.
    """
    _, npad, d = x.shape
    num_chunks = npad // chunk
    nf = d + 1
    nf_pad = -(-nf // 8) * 8  # see lloyd_pass
    offsets = np.concatenate([[0], np.cumsum(ks)]).tolist()
    norms = tf.reduce_sum(centres * centres, axis=-1, keepdims=True)
    rows = tf.reshape(x, [-1, d])

    def body(i, sums):
        # The loop runs over this data set's chunks of all rows: an argument
        # in a slice's start would be compiled in as a constant (one XLA
        # compile per data set), a loop counter is not.
        row_in_set = (i % num_chunks) * chunk
        xc = tf.slice(rows, [i * chunk, 0], [chunk, d])
        valid = tf.cast(row_in_set + tf.range(chunk) < n_valid, x.dtype)[:, None]
        feats = tf.concat(
            [tf.ones([chunk, 1], x.dtype), xc, tf.zeros([chunk, nf_pad - nf], x.dtype)], -1
        )
        feats = feats * valid
        parts = []
        for m, k in enumerate(ks):
            cen = centres[offsets[m] : offsets[m + 1]]

            def model_sums(cen=cen, k=k, m=m):
                dist = norms[offsets[m] : offsets[m + 1]] - 2.0 * tf.matmul(
                    cen, xc, transpose_b=True
                )
                labels = tf.argmin(dist, axis=0, output_type=tf.int32)
                return tf.math.unsorted_segment_sum(feats, labels, k)

            parts.append(tf.cond(active[m], model_sums, lambda k=k: tf.zeros([k, nf_pad], x.dtype)))
        return i + 1, sums + tf.cast(tf.concat(parts, axis=0), tf.float64)

    first = dataset * num_chunks
    _, sums = tf.while_loop(
        lambda i, *_: i < first + num_chunks,
        body,
        [first, tf.zeros([sum(ks), nf_pad], tf.float64)],
    )
    return sums[:, :nf]
