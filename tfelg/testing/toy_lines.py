"""Toy line-like data and the one training check the autoencoder tests share.

The dense, convolutional, variational, adversarial and PCA models' tests all
need a small table with known low-dimensional structure (so that a 2-D
latent space can reconstruct it and a wrong model cannot), and the
trainable ones ask the same question: does ``train_step_on_replica``, run
as the training loop runs it, cut the reconstruction error? One copy here
keeps the data and the check the same for every model, so their thresholds
are comparable.
"""

from __future__ import annotations

import numpy as np


def structured_data(n: int = 256, num_features: int = 10, seed: int = 0) -> np.ndarray:
    """A 2-D latent mapped nonlinearly to ``num_features`` dimensions, standardised (float32)."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 2))
    x = np.tanh(t @ rng.normal(size=(2, num_features))) + 0.5 * np.sin(
        t @ rng.normal(size=(2, num_features))
    )
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


def reconstruction_before_and_after_training(
    model, steps: int = 300, learning_rate: float = 3e-3, batch: int = 64
) -> tuple[float, float]:
    """Reconstruction loss of :func:`structured_data` before and after ``steps`` steps.

    ``train_step_on_replica`` in a tf.function, as the training loop runs it;
    every loss of the last step must be finite.
    """
    import tensorflow as tf

    x = structured_data()
    w = np.ones_like(x)
    optimizers = model.make_optimizers(learning_rate)
    step = tf.function(lambda xb, wb: model.train_step_on_replica(xb, wb, optimizers, batch))
    before = float(model.eval_losses_on_replica(x, w, len(x))["reconstruction"])
    data = (
        tf.data.Dataset.from_tensor_slices((x, w))
        .shuffle(len(x), seed=0)
        .batch(batch, drop_remainder=True)
        .repeat()
        .take(steps)
    )
    for xb, wb in data:
        last = step(xb, wb)
    for key, value in last.items():
        if not np.isfinite(value.numpy()):
            raise AssertionError(f"loss {key} is {value.numpy()} after {steps} steps")
    after = float(model.eval_losses_on_replica(x, w, len(x))["reconstruction"])
    return before, after
