"""Spectral normalisation in the forward graph (tfelg/models/spectral.py)."""

import os

import keras
import numpy as np
import tensorflow as tf

from tfelg.models.spectral import SNConv2D, SNDense


def largest_singular_value(kernel) -> float:
    matrix = np.asarray(kernel).reshape(-1, np.asarray(kernel).shape[-1])
    return float(np.linalg.svd(matrix, compute_uv=False)[0])


class SpectralNormTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.vectors = rng.normal(size=(6, 9)).astype(np.float32)
        self.images = rng.normal(size=(2, 8, 8, 4)).astype(np.float32)

    def test_power_iteration_finds_sigma_and_the_kernel_is_normalised(self):
        for layer, x in (
            (SNDense(5, power_seed=1), self.vectors),
            (SNConv2D(3, 3, padding="same", power_seed=2), self.images),
        ):
            layer(x)
            for _ in range(60):
                layer(x, training=True)
            true_sigma = largest_singular_value(layer.kernel.numpy())
            self.assertNotAllClose(true_sigma, 1.0)
            self.assertAllClose(layer.spectral_norm(), true_sigma, rtol=1e-4)
            self.assertAllClose(
                largest_singular_value(layer.normalized_kernel().numpy()), 1.0, rtol=1e-4
            )

    def test_u_moves_only_when_training(self):
        layer = SNDense(4, power_seed=3)
        layer(self.vectors)
        before = layer.power_vector.numpy().copy()
        layer(self.vectors, training=False)
        self.assertAllEqual(layer.power_vector.numpy(), before)
        layer(self.vectors, training=True)
        self.assertNotAllClose(layer.power_vector.numpy(), before)

    def test_gradient_goes_through_sigma(self):
        """W / sigma(W) is scale invariant, so the gradient is orthogonal to W.

        Keras's SpectralNormalization assigns the normalised kernel and
        differentiates the layer as if it were unnormalised: its gradient
        has a large component along W (for a squared output, <grad, W> = 2 |out|^2;
        checked here as the contrast).
        """
        ours = SNDense(5, power_seed=4)
        ours(self.vectors)
        for _ in range(30):
            ours(self.vectors, training=True)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(ours(self.vectors, training=False)))
        gradient = tape.gradient(loss, ours.kernel).numpy()
        kernel = ours.kernel.numpy()
        cosine = np.sum(gradient * kernel) / (np.linalg.norm(gradient) * np.linalg.norm(kernel))
        self.assertLess(abs(cosine), 1e-3)

        wrapped = keras.layers.SpectralNormalization(keras.layers.Dense(5))
        wrapped(self.vectors)
        for _ in range(30):
            wrapped(self.vectors, training=True)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(wrapped(self.vectors, training=True)))
        kernel_variable = wrapped.layer.kernel
        gradient = tape.gradient(loss, kernel_variable).numpy()
        kernel = kernel_variable.numpy()
        cosine = np.sum(gradient * kernel) / (np.linalg.norm(gradient) * np.linalg.norm(kernel))
        self.assertGreater(abs(cosine), 0.1)

    def test_save_and_load_keep_u(self):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 4)),
                SNConv2D(3, 3, power_seed=5),
                keras.layers.Flatten(),
                SNDense(2, power_seed=6),
            ]
        )
        for _ in range(5):
            model(self.images, training=True)
        path = os.path.join(self.get_temp_dir(), "sn.keras")
        model.save(path)
        again = keras.saving.load_model(path)
        self.assertAllClose(again(self.images).numpy(), model(self.images).numpy())
        for a, b in zip(again.weights, model.weights, strict=True):
            self.assertAllEqual(a.numpy(), b.numpy())


if __name__ == "__main__":
    tf.test.main()
