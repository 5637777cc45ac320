"""The convolutional autoencoder (CAE) and the 1-D conv trunks it shares with the CVAE.

The reference work zero-padded its 10 line features to 16 and ran Conv1D
8/16/32 (kernel 3) with max-pooling, then Dense 16 and Dense d, with a
mirrored decoder (up-sampling). That is the default here for line data. The
input is zero-padded at the end to a multiple of 2**(number of blocks)
(10 -> 16 for three blocks) so every pooling halves it exactly, and the
decoder's output is cropped back to F. Padded positions are outside the loss
(the loss only sees the first F outputs).

For spectra (>= ``SPECTRUM_MIN_FEATURES`` pixels) the default has four
blocks with more filters and a wider kernel, and downsamples with strided
convolutions (decoded by ``Conv1DTranspose``) instead of pooling: a strided
convolution computes only the outputs it keeps, a quarter of the cost of
conv + pool at ~1,240 pixels.

As for the dense AE, the output is linear because the inputs are
standardised, not min-max scaled.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from tfelg.models.base import Autoencoder, build_once, positive_int, positive_int_tuple
from tfelg.models.dense import SPECTRUM_MIN_FEATURES

LINE_CONV_DEFAULTS = {"filters": (8, 16, 32), "kernel_size": 3, "dense_units": 16, "strided": False}
SPECTRUM_CONV_DEFAULTS = {
    "filters": (16, 32, 64, 64),
    "kernel_size": 7,
    "dense_units": 128,
    "strided": True,
}


def default_conv_architecture(num_features: int) -> dict:
    """The reference's conv trunk for line data; a deeper strided one for spectra."""
    if num_features >= SPECTRUM_MIN_FEATURES:
        return dict(SPECTRUM_CONV_DEFAULTS)
    return dict(LINE_CONV_DEFAULTS)


def padded_length(num_features: int, num_blocks: int) -> int:
    """F rounded up to a multiple of 2**num_blocks (10 -> 16 for 3 blocks)."""
    step = 2**num_blocks
    return -(-num_features // step) * step


def pad_features(x, padded: int):
    """(batch, F) -> (batch, padded, 1), zeros appended."""
    num_features = x.shape[-1]
    if padded > num_features:
        x = ops.pad(x, [[0, 0], [0, padded - num_features]])
    return ops.expand_dims(x, -1)


def crop_features(y, num_features: int):
    """(batch, padded, 1) -> (batch, F)."""
    return ops.squeeze(y, axis=-1)[:, :num_features]


class ConvArchitecture:
    """The resolved conv hyper-parameters and the trunks built from them."""

    def __init__(self, num_features: int, filters, kernel_size, dense_units, strided):
        defaults = default_conv_architecture(num_features)
        self.filters = positive_int_tuple(
            defaults["filters"] if filters is None else filters, "filters"
        )
        if not self.filters:
            raise ValueError("filters must name at least one conv block")
        self.kernel_size = positive_int(
            defaults["kernel_size"] if kernel_size is None else kernel_size, "kernel_size"
        )
        self.dense_units = positive_int(
            defaults["dense_units"] if dense_units is None else dense_units, "dense_units"
        )
        self.strided = bool(defaults["strided"] if strided is None else strided)
        self.num_features = num_features
        self.padded = padded_length(num_features, len(self.filters))
        self.bottom_length = self.padded // 2 ** len(self.filters)

    def config(self) -> dict:
        return {
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "dense_units": self.dense_units,
            "strided": self.strided,
        }

    def encoder_trunk(self, initializer, output_units: int | None, name: str) -> keras.Sequential:
        """(batch, padded, 1) -> conv blocks -> Dense(dense_units) [-> Dense(output_units)]."""
        stack = []
        for i, f in enumerate(self.filters):
            if self.strided:
                stack.append(
                    layers.Conv1D(
                        f,
                        self.kernel_size,
                        strides=2,
                        padding="same",
                        activation="relu",
                        kernel_initializer=initializer(i),
                        name=f"conv_{i}",
                    )
                )
            else:
                stack.append(
                    layers.Conv1D(
                        f,
                        self.kernel_size,
                        padding="same",
                        activation="relu",
                        kernel_initializer=initializer(i),
                        name=f"conv_{i}",
                    )
                )
                stack.append(layers.MaxPooling1D(2, name=f"pool_{i}"))
        stack.append(layers.Flatten(name="flatten"))
        stack.append(
            layers.Dense(
                self.dense_units,
                activation="relu",
                kernel_initializer=initializer(50),
                name="dense",
            )
        )
        if output_units is not None:
            stack.append(
                layers.Dense(output_units, kernel_initializer=initializer(51), name="output")
            )
        return keras.Sequential(stack, name=name)

    def decoder(self, initializer, name: str) -> keras.Sequential:
        """(batch, d) -> Dense -> (bottom_length, filters[-1]) -> mirrored blocks -> (padded, 1)."""
        top = self.filters[-1]
        stack = [
            layers.Dense(
                self.dense_units, activation="relu", kernel_initializer=initializer(0), name="dense"
            ),
            layers.Dense(
                self.bottom_length * top,
                activation="relu",
                kernel_initializer=initializer(1),
                name="expand",
            ),
            layers.Reshape((self.bottom_length, top), name="reshape"),
        ]
        for i, f in enumerate(reversed(self.filters)):
            if self.strided:
                stack.append(
                    layers.Conv1DTranspose(
                        f,
                        self.kernel_size,
                        strides=2,
                        padding="same",
                        activation="relu",
                        kernel_initializer=initializer(10 + i),
                        name=f"deconv_{i}",
                    )
                )
            else:
                stack.append(
                    layers.Conv1D(
                        f,
                        self.kernel_size,
                        padding="same",
                        activation="relu",
                        kernel_initializer=initializer(10 + i),
                        name=f"conv_{i}",
                    )
                )
                stack.append(layers.UpSampling1D(2, name=f"upsample_{i}"))
        stack.append(
            layers.Conv1D(
                1,
                self.kernel_size,
                padding="same",
                kernel_initializer=initializer(60),
                name="output",
            )
        )
        return keras.Sequential(stack, name=name)


@keras.saving.register_keras_serializable(package="tfelg")
class CAE(Autoencoder):
    """1-D convolutional autoencoder.

    Args:
      num_features: F.
      latent_dim: d.
      filters: filters per conv block (each block halves the length);
        default (8, 16, 32) for lines, (16, 32, 64, 64) for spectra.
      kernel_size: default 3 for lines, 7 for spectra.
      dense_units: width of the dense layer before the code; default 16
        (lines) or 128 (spectra).
      strided: downsample by strided convolutions (True) or max-pooling
        (False); default False for lines, True for spectra.
      seed: initialiser seed.
    """

    def __init__(
        self,
        num_features: int,
        latent_dim: int = 2,
        filters=None,
        kernel_size=None,
        dense_units=None,
        strided=None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(num_features, latent_dim, seed=seed, **kwargs)
        self.architecture = ConvArchitecture(
            self.num_features, filters, kernel_size, dense_units, strided
        )
        self.encoder = self.architecture.encoder_trunk(
            lambda i: self.initializer(100 + i), self.latent_dim, name="encoder"
        )
        self.decoder = self.architecture.decoder(lambda i: self.initializer(200 + i), "decoder")
        self.build((None, self.num_features))

    def _build_networks(self) -> None:
        build_once(self.encoder, (None, self.architecture.padded, 1))
        build_once(self.decoder, (None, self.latent_dim))

    def encode(self, x, training=False):
        x, _ = self.cast_inputs(x)
        return self.encoder(pad_features(x, self.architecture.padded), training=training)

    def decode(self, z, training=False):
        y = self.decoder(ops.cast(z, self.compute_dtype), training=training)
        return crop_features(y, self.num_features)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self.architecture.config())
        return config
