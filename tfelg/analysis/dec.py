"""Deep Embedded Clustering (DEC; Xie, Girshick & Farhadi 2016) on an autoencoder's encoder.

The autoencoders are trained to reconstruct, not to form clusters; a
mixture fitted afterwards finds whatever groups the reconstruction left.
DEC is the cheapest model trained *for* clusters: it starts from a trained
encoder, places K centres by k-means on its codes, and then fine-tunes the
encoder and the centres together so that the soft assignments sharpen:

* q_ij = (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2), normalised over j
  (a Student-t kernel, alpha = 1);
* the target p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), with f_j =
  sum_i q_ij the soft cluster size (squaring favours confident points,
  dividing by f_j stops large clusters from swallowing the rest);
* loss KL(P || Q), P recomputed over all training points every
  ``update_interval`` steps and held fixed in between; training stops when
  fewer than ``tol`` of the points change cluster between two updates, or
  after ``max_steps``.

The encoder is a copy: the trained autoencoder is left as it was. The
clusters are the argmax of q, so K is fixed in advance (here the number
of classes of the scheme compared with, as in the reference work's K).
Seeded (k-means, batch order); Adam as elsewhere in tfelg instead of the
paper's SGD with momentum (the same optimiser as the autoencoders; Adam's
step does not depend on the loss's scale, which for KL(P||Q) is small).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf


def soft_assignments(z, centres, alpha: float = 1.0):
    """q (N, K): the Student-t similarity of each code to each centre, rows summing to 1."""
    z = tf.convert_to_tensor(z, tf.float32)
    centres = tf.convert_to_tensor(centres, tf.float32)
    distance2 = tf.reduce_sum(tf.square(z[:, None, :] - centres[None, :, :]), axis=-1)
    q = tf.pow(1.0 + distance2 / alpha, -(alpha + 1.0) / 2.0)
    return q / tf.reduce_sum(q, axis=1, keepdims=True)


def target_distribution(q):
    """p (N, K) from q: squared, divided by the soft cluster sizes, rows normalised."""
    q = np.asarray(q, np.float64)
    weight = q**2 / q.sum(axis=0)
    return weight / weight.sum(axis=1, keepdims=True)


@dataclasses.dataclass
class DECResult:
    """A fine-tuned encoder and its centres.

    Attributes:
      encoder: the fine-tuned copy of the encoder.
      centres: (K, d) cluster centres in its code space.
      alpha: the Student-t degrees of freedom.
      steps: optimisation steps taken.
      converged: stopped because fewer than ``tol`` of the points changed cluster.
      history: per target update: step, KL loss, fraction of points changed.
    """

    encoder: keras.Model
    centres: np.ndarray
    alpha: float
    steps: int
    converged: bool
    history: list

    def predict_proba(self, x, batch_size: int = 4096) -> np.ndarray:
        parts = [
            soft_assignments(
                self.encoder(x[i : i + batch_size], training=False), self.centres, self.alpha
            ).numpy()
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, len(self.centres)))

    def predict(self, x, batch_size: int = 4096) -> np.ndarray:
        """Hard clusters (N,): argmax of q."""
        return np.argmax(self.predict_proba(x, batch_size), axis=1).astype(np.int32)


def copy_encoder(encoder: keras.Model) -> keras.Model:
    """A trainable copy of a Keras encoder with the same weights (the original is kept)."""
    clone = keras.models.clone_model(encoder)
    clone.set_weights(encoder.get_weights())
    clone.trainable = True
    return clone


def fit_dec(
    encoder: keras.Model,
    x,
    n_clusters: int,
    *,
    alpha: float = 1.0,
    learning_rate: float = 1e-3,
    batch_size: int = 256,
    update_interval: int = 140,
    max_steps: int = 4000,
    tol: float = 1e-3,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> DECResult:
    """Fine-tunes a copy of ``encoder`` and K centres on ``x`` (the training split).

    Args:
      encoder: a trained Keras encoder mapping (N, F) inputs to (N, d) codes
        (e.g. ``AE.encoder``); copied, not changed.
      x: (N, F) float32 inputs.
      n_clusters: K.
      alpha, learning_rate, batch_size, update_interval, max_steps, tol:
        see the module docstring (the paper's update_interval 140 and tol 0.1 %).
      seed: seeds k-means and the batch order.
      log: progress lines (one per target update), or None.

    Raises:
      ValueError: K < 2 or more clusters than points.
    """
    from sklearn.cluster import KMeans

    x = np.asarray(x, np.float32)
    if not 2 <= n_clusters <= len(x):
        raise ValueError(f"n_clusters must be in [2, {len(x)}], got {n_clusters}")
    keras.utils.set_random_seed(seed)
    encoder = copy_encoder(encoder)

    def codes():
        return np.concatenate(
            [encoder(x[i : i + 8192], training=False).numpy() for i in range(0, len(x), 8192)]
        )

    kmeans = KMeans(n_clusters, n_init=10, random_state=seed).fit(codes())
    centres = tf.Variable(kmeans.cluster_centers_.astype(np.float32), name="dec_centres")
    optimizer = keras.optimizers.Adam(learning_rate)
    variables = list(encoder.trainable_variables) + [centres]

    @tf.function
    def step(xb, pb):
        with tf.GradientTape() as tape:
            q = soft_assignments(encoder(xb, training=True), centres, alpha)
            loss = tf.reduce_mean(
                tf.reduce_sum(pb * (tf.math.log(pb + 1e-12) - tf.math.log(q + 1e-12)), axis=1)
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    rng = np.random.default_rng(seed)
    previous = kmeans.labels_.astype(np.int64)
    history = []
    converged = False
    steps = 0
    order = rng.permutation(len(x))
    cursor = 0
    while steps < max_steps:
        q = soft_assignments(codes(), centres, alpha).numpy()
        labels = np.argmax(q, axis=1)
        changed = float(np.mean(labels != previous))  # at step 0: against k-means
        previous = labels
        p = target_distribution(q).astype(np.float32)
        if steps and changed < tol:
            converged = True
            history.append({"step": steps, "loss": history[-1]["loss"], "changed": changed})
            break
        loss = 0.0
        for _ in range(update_interval):
            if cursor + batch_size > len(x):
                order, cursor = rng.permutation(len(x)), 0
            rows = order[cursor : cursor + batch_size]
            cursor += batch_size
            loss = float(step(x[rows], p[rows]))
            steps += 1
        history.append({"step": steps, "loss": loss, "changed": changed})
        if log:
            log(f"DEC step {steps}: KL {loss:.4g}, {changed:.2%} of points changed cluster")
    return DECResult(
        encoder=encoder,
        centres=centres.numpy(),
        alpha=alpha,
        steps=steps,
        converged=converged,
        history=history,
    )
