"""Spectrally normalised Conv2D and Dense layers (Miyato et al. 2018), in the forward graph.

Why not ``keras.layers.SpectralNormalization``: in Keras 3 (checked in
3.15) the wrapper *assigns* ``W / sigma(W)`` to the layer's kernel during a
training call and then runs the layer on the variable, so the gradient is
taken as if ``W`` were unnormalised: the ``sigma(W)`` term of the gradient
is lost and training becomes a projected gradient step onto ``sigma = 1``,
not the method of the paper (the same defect was reported for TF Addons'
wrapper, tensorflow/addons#1244, and is the subject of keras-team/keras
#20309). On tfelg's small-data GAN that wrapper let the generator collapse
to one image for every input (32x32 toy blobs, 2,000 steps; a plain DCGAN
without spectral normalisation did not collapse on the same data).

Here the kernel variable is the unnormalised ``W``; every call computes
``W / sigma`` with ``sigma = v^T W u`` from one power iteration on the
persistent vector ``u`` (a non-trainable weight, updated only when
``training``; ``u`` and ``v`` are constants to the gradient, as in the
paper and in PyTorch's ``spectral_norm``). The gradient therefore flows
through ``sigma``.
"""

from __future__ import annotations

import keras
from keras import layers, ops

_EPSILON = 1e-12


def _l2_normalize(x):
    return x / (ops.sqrt(ops.sum(ops.square(x))) + _EPSILON)


class _SpectralNormMixin:
    """Shared by the two layers: the ``u`` vector (seeded by ``power_seed``) and ``W / sigma(W)``."""

    def __init__(self, *args, power_seed=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.power_seed = power_seed

    def build(self, input_shape):
        super().build(input_shape)
        self.power_vector = self.add_weight(
            shape=(1, self.kernel.shape[-1]),
            initializer=keras.initializers.RandomNormal(seed=self.power_seed),
            trainable=False,
            name="power_vector",
        )

    def get_config(self):
        return {**super().get_config(), "power_seed": self.power_seed}

    def normalized_kernel(self, training=False):
        """``kernel / sigma(kernel)``; one power iteration updates ``u`` when ``training``."""
        kernel = self.kernel
        matrix = ops.reshape(kernel, (-1, kernel.shape[-1]))  # (fan_in, units)
        u = self.power_vector.value
        v = _l2_normalize(ops.matmul(u, ops.transpose(matrix)))  # (1, fan_in)
        u_new = _l2_normalize(ops.matmul(v, matrix))  # (1, units)
        u_new, v = ops.stop_gradient(u_new), ops.stop_gradient(v)
        if training:
            self.power_vector.assign(u_new)
        sigma = ops.sum(ops.matmul(v, matrix) * u_new)
        return kernel / sigma

    # Keras's Conv/Dense save only their kernel and bias; ``u`` is saved after them.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self.built:
            store[str(len(store.keys()))] = self.power_vector

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self.power_vector.assign(store[str(len(store.keys()) - 1)])

    def spectral_norm(self) -> float:
        """The current estimate of sigma(W) (after the last power iteration)."""
        matrix = ops.reshape(self.kernel, (-1, self.kernel.shape[-1]))
        v = _l2_normalize(ops.matmul(self.power_vector.value, ops.transpose(matrix)))
        return float(ops.sum(ops.matmul(v, matrix) * self.power_vector.value))


@keras.saving.register_keras_serializable(package="tfelg")
class SNConv2D(_SpectralNormMixin, layers.Conv2D):
    """``keras.layers.Conv2D`` whose kernel is divided by its spectral norm in every call.

    The kernel is seen as the (kh * kw * in, out) matrix, as in Miyato et
    al.; ``power_seed`` seeds ``u``.
    """

    def call(self, inputs, training=False):
        outputs = self.convolution_op(inputs, self.normalized_kernel(training))
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(self.bias, (1, 1, 1, self.filters)))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="tfelg")
class SNDense(_SpectralNormMixin, layers.Dense):
    """``keras.layers.Dense`` whose kernel is divided by its spectral norm in every call."""

    def call(self, inputs, training=False):
        outputs = ops.matmul(inputs, self.normalized_kernel(training))
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
