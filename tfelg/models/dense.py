"""The dense autoencoder (AE) and the dense stacks the other models share.

The reference work used 10 -> h -> d -> h -> 10 with h = ceil((10 + d)/2),
ReLU hidden layers and a sigmoid output, because its features were min-max
scaled to [0, 1]. tfelg standardises features (zero mean, unit variance on
the training split; a missing value becomes 0 with weight 0), so values are
unbounded and the output layer here is linear; a sigmoid would clip every
feature above the mean.

For spectra (F in the hundreds or thousands of pixels) the one-hidden-layer
rule gives a layer of ~F/2 units that costs more than it helps; from
``SPECTRUM_MIN_FEATURES`` pixels on the default is a (512, 128) funnel.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from tfelg.models.base import Autoencoder, build_once, positive_int_tuple

# Inputs with at least this many features are treated as spectra when a
# default architecture is chosen.
SPECTRUM_MIN_FEATURES = 64
SPECTRUM_HIDDEN_UNITS = (512, 128)


def default_hidden_units(num_features: int, latent_dim: int) -> tuple[int, ...]:
    """The reference's h = ceil((F + d)/2) for line data; a funnel for spectra."""
    if num_features >= SPECTRUM_MIN_FEATURES:
        return SPECTRUM_HIDDEN_UNITS
    return (math.ceil((num_features + latent_dim) / 2),)


#: Hidden-layer activations the dense AE accepts (``hidden_activation``).
HIDDEN_ACTIVATIONS = ("relu", "elu", "leaky_relu", "tanh")


def dense_stack(
    units,
    output_units: int | None,
    initializer,
    name: str,
    output_activation=None,
    activation: str = "relu",
) -> keras.Sequential:
    """Dense layers of widths ``units`` (ReLU unless ``activation``), then an optional output layer.

    ``initializer(i)`` gives the kernel initialiser of the i-th layer (seeded).
    """
    stack = [
        layers.Dense(u, activation=activation, kernel_initializer=initializer(i), name=f"dense_{i}")
        for i, u in enumerate(units)
    ]
    if output_units is not None:
        stack.append(
            layers.Dense(
                output_units,
                activation=output_activation,
                kernel_initializer=initializer(len(units)),
                name="output",
            )
        )
    return keras.Sequential(stack, name=name)


@keras.saving.register_keras_serializable(package="tfelg")
class AE(Autoencoder):
    """Dense autoencoder: F -> hidden... -> d -> ...hidden -> F.

    Args:
      num_features: F.
      latent_dim: d (the reference used 1-6; anything >= 1 works).
      hidden_units: encoder widths, mirrored in the decoder; default
        :func:`default_hidden_units`.
      hidden_activation: of the hidden layers, one of
        :data:`HIDDEN_ACTIVATIONS`; default ``relu`` (the reference work's).
        With a 6-unit ReLU layer and d = 2, units that are zero for a whole
        group of galaxies put the group on a point or a line of the latent
        space (the mixtures' collapse report shows it); a smooth activation
        has no such flat region.
      seed: initialiser seed.
    """

    def __init__(
        self,
        num_features: int,
        latent_dim: int = 2,
        hidden_units=None,
        hidden_activation: str = "relu",
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(num_features, latent_dim, seed=seed, **kwargs)
        if hidden_units is None:
            hidden_units = default_hidden_units(self.num_features, self.latent_dim)
        if hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"hidden_activation must be one of {HIDDEN_ACTIVATIONS}, got {hidden_activation!r}"
            )
        self._hidden_units = positive_int_tuple(hidden_units, "hidden_units")
        self._hidden_activation = hidden_activation
        self.encoder = dense_stack(
            self._hidden_units,
            self.latent_dim,
            lambda i: self.initializer(100 + i),
            name="encoder",
            activation=hidden_activation,
        )
        self.decoder = dense_stack(
            self._hidden_units[::-1],
            self.num_features,
            lambda i: self.initializer(200 + i),
            name="decoder",
            activation=hidden_activation,
        )
        self.build((None, self.num_features))

    @property
    def hidden_units(self) -> tuple[int, ...]:
        return self._hidden_units

    def _build_networks(self) -> None:
        build_once(self.encoder, (None, self.num_features))
        build_once(self.decoder, (None, self.latent_dim))

    def encode(self, x, training=False):
        x, _ = self.cast_inputs(x)
        return self.encoder(x, training=training)

    def decode(self, z, training=False):
        return self.decoder(keras.ops.cast(z, self.compute_dtype), training=training)

    def get_config(self) -> dict:
        config = super().get_config()
        config["hidden_units"] = list(self._hidden_units)
        config["hidden_activation"] = self._hidden_activation
        return config
