"""The adversarial autoencoder (AAE; Makhzani et al. 2016).

A deterministic dense encoder/decoder learns to reconstruct, while a
discriminator on the latent space learns to tell encoder codes from prior
draws and the encoder learns to fool it. The aggregate posterior (the codes
of the whole training set) is thereby pushed towards the prior, with no
per-example noise: the code of a galaxy is deterministic.

One step has three phases, each with its own optimizer (so each keeps its
own Adam moments and can be checkpointed by name):

1. ``"autoencoder"``: encoder + decoder on the weighted reconstruction loss;
2. ``"discriminator"``: discriminator on BCE(prior draws -> 1, codes -> 0);
3. ``"generator"``: encoder on BCE(codes -> 1).

The reference used 6-6 dense encoder/decoder and discriminator, a Gaussian
prior of standard deviation 1 or 5 and Adam 5e-4 (batch 10,000). Those are
the defaults for line data; spectra get the dense AE's funnel for the
encoder/decoder. ``prior="mog"`` makes the target a fixed (non-learnable)
mixture of ``prior_components`` Gaussians whose means are drawn (seeded) with
spread ``prior_std`` and whose widths are ``prior_component_std``.
"""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf
from keras import ops

from tfelg.models.base import (
    Autoencoder,
    build_once,
    positive_int,
    positive_int_tuple,
    weighted_squared_error,
)
from tfelg.models.dense import SPECTRUM_HIDDEN_UNITS, SPECTRUM_MIN_FEATURES, dense_stack
from tfelg.models.vae import MixturePrior, NormalPrior, ReplicaSeedGenerator, check_prior_name

LINE_AAE_UNITS = (6, 6)
SPECTRUM_DISCRIMINATOR_UNITS = (64, 64)


def _binary_crossentropy_from_logits(target: float, logits):
    """Per-example BCE of logits (batch, 1) against a constant target."""
    labels = ops.full_like(logits, target)
    return ops.squeeze(ops.binary_crossentropy(labels, logits, from_logits=True), axis=-1)


@keras.saving.register_keras_serializable(package="tfelg")
class AAE(Autoencoder):
    """Adversarial autoencoder with a dense encoder, decoder and discriminator.

    Args:
      num_features: F.
      latent_dim: d.
      hidden_units: encoder widths, mirrored in the decoder; default (6, 6)
        for line data (the reference), (512, 128) for spectra.
      discriminator_units: discriminator widths; default (6, 6) for line
        data, (64, 64) for spectra.
      prior: ``"normal"`` or ``"mog"``.
      prior_std: standard deviation of the normal prior (reference: 1 or 5);
        for ``"mog"``, the spread of the component means.
      prior_components: K for ``"mog"``.
      prior_component_std: width of each ``"mog"`` component; default
        ``prior_std / 4``.
      seed: seeds initialisers, the mixture's means and the prior sampler.
    """

    def __init__(
        self,
        num_features: int,
        latent_dim: int = 2,
        hidden_units=None,
        discriminator_units=None,
        prior: str = "normal",
        prior_std: float = 1.0,
        prior_components: int = 5,
        prior_component_std: float | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(num_features, latent_dim, seed=seed, **kwargs)
        spectrum = self.num_features >= SPECTRUM_MIN_FEATURES
        if hidden_units is None:
            hidden_units = SPECTRUM_HIDDEN_UNITS if spectrum else LINE_AAE_UNITS
        if discriminator_units is None:
            discriminator_units = SPECTRUM_DISCRIMINATOR_UNITS if spectrum else LINE_AAE_UNITS
        self._hidden_units = positive_int_tuple(hidden_units, "hidden_units")
        self._discriminator_units = positive_int_tuple(discriminator_units, "discriminator_units")
        self._prior_name = check_prior_name(prior)
        if isinstance(prior_std, bool) or not isinstance(prior_std, numbers.Real) or prior_std <= 0:
            raise ValueError(f"prior_std must be a number > 0, got {prior_std!r}")
        self._prior_std = float(prior_std)
        self._prior_components = positive_int(prior_components, "prior_components")
        if prior_component_std is None:
            prior_component_std = self._prior_std / 4
        if not prior_component_std > 0:
            raise ValueError(f"prior_component_std must be > 0, got {prior_component_std!r}")
        self._prior_component_std = float(prior_component_std)

        self.encoder = dense_stack(
            self._hidden_units, self.latent_dim, lambda i: self.initializer(100 + i), "encoder"
        )
        self.decoder = dense_stack(
            self._hidden_units[::-1],
            self.num_features,
            lambda i: self.initializer(200 + i),
            "decoder",
        )
        self.discriminator = dense_stack(
            self._discriminator_units, 1, lambda i: self.initializer(300 + i), "discriminator"
        )
        if self._prior_name == "normal":
            self.prior = NormalPrior(self.latent_dim, std=self._prior_std, name="prior")
        else:
            self.prior = MixturePrior(
                self.latent_dim,
                self._prior_components,
                mean_spread=self._prior_std,
                component_std=self._prior_component_std,
                learnable=False,
                seed=self.seed,
                name="prior",
            )
        self.prior_seed_generator = ReplicaSeedGenerator(self.seed, name="prior_seed_generator")
        self.build((None, self.num_features))

    def _build_networks(self) -> None:
        build_once(self.encoder, (None, self.num_features))
        build_once(self.decoder, (None, self.latent_dim))
        build_once(self.discriminator, (None, self.latent_dim))

    @property
    def prior_std(self) -> float:
        return self._prior_std

    def encode(self, x, training=False):
        x, _ = self.cast_inputs(x)
        return self.encoder(x, training=training)

    def decode(self, z, training=False):
        return self.decoder(ops.cast(z, self.compute_dtype), training=training)

    def sample_prior(self, num):
        """``num`` draws (num, d) from the prior (advances the seed generator)."""
        return self.prior.sample(num, seed=self.prior_seed_generator)

    def discriminator_logits(self, z, training=False):
        """Logit of "z is a prior draw", (batch, 1)."""
        return self.discriminator(z, training=training)

    # -- training -------------------------------------------------------------------
    def make_optimizers(self, learning_rate: float = 5e-4) -> dict:
        """Three Adam optimizers, built on the variables each one updates."""
        autoencoder = keras.optimizers.Adam(learning_rate=learning_rate, name="autoencoder_adam")
        autoencoder.build(self._autoencoder_variables())
        discriminator = keras.optimizers.Adam(
            learning_rate=learning_rate, name="discriminator_adam"
        )
        discriminator.build(self.discriminator.trainable_variables)
        generator = keras.optimizers.Adam(learning_rate=learning_rate, name="generator_adam")
        generator.build(self.encoder.trainable_variables)
        return {
            "autoencoder": autoencoder,
            "discriminator": discriminator,
            "generator": generator,
        }

    def _autoencoder_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def train_step_on_replica(self, x, w, optimizers: dict, global_batch_size) -> dict:
        """Reconstruction, discriminator and generator phases on one replica.

        Returns ``loss`` and ``reconstruction`` (from phase 1),
        ``discriminator`` and ``generator`` (the BCE losses of phases 2 and 3),
        each divided by ``global_batch_size``.
        """
        x, w = self.cast_inputs(x, w)
        batch = ops.shape(x)[0]

        # 1. Reconstruction: encoder + decoder.
        variables = self._autoencoder_variables()
        with tf.GradientTape() as tape:
            reconstruction = weighted_squared_error(x, self(x, training=True), w)
            loss = tf.nn.compute_average_loss(reconstruction, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, variables)
        optimizers["autoencoder"].apply_gradients(zip(gradients, variables, strict=True))

        # 2. Discriminator: prior draws are "real", codes are "fake".
        codes = ops.stop_gradient(self.encode(x, training=True))
        draws = self.sample_prior(batch)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            discriminator_loss = _binary_crossentropy_from_logits(
                1.0, self.discriminator_logits(draws, training=True)
            ) + _binary_crossentropy_from_logits(
                0.0, self.discriminator_logits(codes, training=True)
            )
            loss = tf.nn.compute_average_loss(
                discriminator_loss, global_batch_size=global_batch_size
            )
        gradients = tape.gradient(loss, variables)
        optimizers["discriminator"].apply_gradients(zip(gradients, variables, strict=True))

        # 3. Generator: the encoder learns to make codes look like prior draws.
        variables = self.encoder.trainable_variables
        with tf.GradientTape() as tape:
            generator_loss = _binary_crossentropy_from_logits(
                1.0, self.discriminator_logits(self.encode(x, training=True), training=True)
            )
            loss = tf.nn.compute_average_loss(generator_loss, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, variables)
        optimizers["generator"].apply_gradients(zip(gradients, variables, strict=True))

        return self.average_losses(
            {
                "loss": reconstruction,
                "reconstruction": reconstruction,
                "discriminator": discriminator_loss,
                "generator": generator_loss,
            },
            global_batch_size,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "hidden_units": list(self._hidden_units),
                "discriminator_units": list(self._discriminator_units),
                "prior": self._prior_name,
                "prior_std": self._prior_std,
                "prior_components": self._prior_components,
                "prior_component_std": self._prior_component_std,
            }
        )
        return config
