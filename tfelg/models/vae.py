"""Variational autoencoders (VAE, CVAE), their priors and their sampler.

The encoder gives a Gaussian q(z|x) = N(mean, diag(exp(log_var))). The
embedding of a galaxy is always the posterior *mean*: the reference work took
noisy samples as latents, which blurs every cluster by the posterior width.

``noise_std`` is the reference's "STD": the scale of the reparameterisation
noise fed to the decoder during training, z = mean + noise_std * sigma * eps
(1, 0.5, 0.1 or 1e-13; 1e-13 makes the model an autoencoder in practice).
As in the reference, the KL term is that of q itself (it does not see
``noise_std``); ``noise_std`` only changes what the decoder is trained on.
The loss is ``reconstruction + beta * KL`` with the reference's beta = 5e-4
as default; the reconstruction is a per-feature weighted mean, the KL a sum
over latent dimensions.

TensorFlow Probability supplies the mathematics (distributions,
log-densities, the analytic KL) inside methods; no ``tfp.layers`` and no
tf_keras objects, so the model stays a plain Keras 3 model. Priors:

* ``"normal"``: N(0, I); analytic KL.
* ``"mog"``: a learnable mixture of K Gaussians (trainable means,
  log-scales and mixture logits; ``tfd.MixtureSameFamily``). Its KL has no
  closed form, so it is the single-sample Monte-Carlo estimate
  log q(z|x) - log p(z) at z = mean + sigma * eps, an unbiased estimate of
  KL(q || p) whose gradient also trains the prior. The prior's components can
  then be read as classes: :meth:`VAE.prior_component_probabilities`.

Random numbers come from a ``keras.random.SeedGenerator`` owned by the
sampling layer (reproducible, saved with the model). Under a multi-replica
strategy each replica folds its replica id into the seed, so replicas do not
draw the same noise for different examples.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers, ops

from tfelg.models.base import (
    Autoencoder,
    build_once,
    positive_int,
    positive_int_tuple,
    weighted_squared_error,
)
from tfelg.models.conv import ConvArchitecture, crop_features, pad_features
from tfelg.models.dense import default_hidden_units, dense_stack

tfd = tfp.distributions

PRIORS = ("normal", "mog")

# Seeds of different replicas differ by this stride in their first word.
_REPLICA_SEED_STRIDE = 7919


class ReplicaSeedGenerator(keras.random.SeedGenerator, tf.__internal__.tracking.AutoTrackable):
    """A SeedGenerator whose draws differ between replicas, and that checkpoints.

    All replicas hold the same (mirrored) state and advance it in step; the
    replica id is added to the drawn seed, never to the state, so the state
    stays identical on every replica.

    Keras saves neither a SeedGenerator's state in ``.keras`` files nor
    exposes it to ``tf.train.Checkpoint``; being ``AutoTrackable`` makes its
    state variable part of any checkpoint of the model, so training resumed
    from a checkpoint continues the noise sequence instead of repeating it.
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            replica = ops.cast(context.replica_id_in_sync_group, seed.dtype)
            seed = seed + ops.stack([replica * _REPLICA_SEED_STRIDE, ops.zeros_like(replica)])
        return seed


@keras.saving.register_keras_serializable(package="tfelg")
class GaussianSampling(layers.Layer):
    """Reparameterised sample z = mean + noise_std * exp(log_var / 2) * eps.

    Args:
      noise_std: the scale of eps (the reference's "STD").
      seed: seed of the layer's SeedGenerator.
    """

    def __init__(self, noise_std: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.noise_std = float(noise_std)
        self.seed = int(seed)
        self.seed_generator = ReplicaSeedGenerator(self.seed, name="sampling_seed_generator")
        self.built = True

    def draw_noise(self, shape, training=False):
        """Standard normal noise: fresh draws when training, a fixed draw otherwise.

        The fixed draw (a constant integer seed) makes evaluation
        deterministic: the same batch always gives the same loss.
        """
        if training:
            return keras.random.normal(shape, dtype=self.compute_dtype, seed=self.seed_generator)
        return keras.random.normal(shape, dtype=self.compute_dtype, seed=self.seed + 1)

    def call(self, inputs, training=False):
        mean, log_var = inputs
        eps = self.draw_noise(ops.shape(mean), training=True)
        return mean + self.noise_std * ops.exp(0.5 * log_var) * eps

    def get_config(self):
        config = super().get_config()
        config.update({"noise_std": self.noise_std, "seed": self.seed})
        return config


def gaussian_posterior(mean, log_var) -> tfd.Distribution:
    """q(z|x) as a TFP distribution with event shape [d]."""
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=ops.exp(0.5 * log_var))


@keras.saving.register_keras_serializable(package="tfelg")
class NormalPrior(layers.Layer):
    """An isotropic Gaussian prior N(0, std^2 I); no weights.

    Args:
      latent_dim: d.
      std: its standard deviation (1 for the VAE; 1 or 5 in the reference AAE).
    """

    def __init__(self, latent_dim: int, std: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        if not std > 0:
            raise ValueError(f"prior std must be > 0, got {std!r}")
        self.std = float(std)
        self.built = True

    def distribution(self) -> tfd.Distribution:
        loc = ops.zeros((self.latent_dim,), dtype=self.compute_dtype)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=ops.full_like(loc, self.std))

    def log_prob(self, z):
        return self.distribution().log_prob(z)

    def kl_from_gaussian(self, mean, log_var, eps=None):
        """KL(N(mean, exp(log_var)) || prior) per example, analytically."""
        del eps
        return tfd.kl_divergence(gaussian_posterior(mean, log_var), self.distribution())

    def sample(self, num, seed):
        return self.std * keras.random.normal(
            (num, self.latent_dim), dtype=self.compute_dtype, seed=seed
        )

    def get_config(self):
        config = super().get_config()
        config.update({"latent_dim": self.latent_dim, "std": self.std})
        return config


@keras.saving.register_keras_serializable(package="tfelg")
class MixturePrior(layers.Layer):
    """A mixture of K diagonal Gaussians, learnable by default.

    Args:
      latent_dim: d.
      num_components: K.
      mean_spread: the initial means are drawn (seeded) from N(0, mean_spread^2).
      component_std: the initial standard deviation of every component.
      learnable: whether means, log-scales and logits are trainable (a fixed
        mixture serves as an AAE target).
      seed: seeds the initial means.
    """

    def __init__(
        self,
        latent_dim: int,
        num_components: int = 5,
        mean_spread: float = 1.0,
        component_std: float = 1.0,
        learnable: bool = True,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        self.num_components = positive_int(num_components, "num_components")
        if not component_std > 0:
            raise ValueError(f"component_std must be > 0, got {component_std!r}")
        if not mean_spread >= 0:
            raise ValueError(f"mean_spread must be >= 0, got {mean_spread!r}")
        self.mean_spread = float(mean_spread)
        self.component_std = float(component_std)
        self.learnable = bool(learnable)
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        means = rng.normal(size=(self.num_components, self.latent_dim)) * self.mean_spread
        shape = (self.num_components, self.latent_dim)
        self.means = self.add_weight(
            shape=shape,
            initializer=keras.initializers.Constant(0.0),
            trainable=self.learnable,
            name="means",
        )
        self.means.assign(means.astype(self.variable_dtype))
        self.log_scales = self.add_weight(
            shape=shape,
            initializer=keras.initializers.Constant(np.log(self.component_std)),
            trainable=self.learnable,
            name="log_scales",
        )
        self.logits = self.add_weight(
            shape=(self.num_components,),
            initializer="zeros",
            trainable=self.learnable,
            name="logits",
        )
        self.built = True

    def components(self) -> tfd.Distribution:
        """The K components as one batched distribution (batch [K], event [d])."""
        return tfd.MultivariateNormalDiag(
            loc=ops.convert_to_tensor(self.means), scale_diag=ops.exp(self.log_scales)
        )

    def distribution(self) -> tfd.Distribution:
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=ops.convert_to_tensor(self.logits)),
            components_distribution=self.components(),
        )

    def log_prob(self, z):
        return self.distribution().log_prob(z)

    def kl_from_gaussian(self, mean, log_var, eps):
        """Single-sample Monte-Carlo KL: log q(z|x) - log p(z), z = mean + sigma * eps."""
        z = mean + ops.exp(0.5 * log_var) * eps
        return gaussian_posterior(mean, log_var).log_prob(z) - self.log_prob(z)

    def component_probabilities(self, z):
        """p(component k | z), shape (batch, K): the prior's components as soft classes."""
        z = ops.cast(z, self.compute_dtype)
        log_joint = ops.log_softmax(ops.convert_to_tensor(self.logits))[None, :] + (
            self.components().log_prob(ops.expand_dims(z, -2))
        )
        return ops.softmax(log_joint, axis=-1)

    def sample(self, num, seed):
        """``num`` draws (num, d): a component by its weight, then its Gaussian."""
        logits = ops.broadcast_to(
            ops.convert_to_tensor(self.logits)[None, :], (num, self.num_components)
        )
        index = ops.squeeze(keras.random.categorical(logits, 1, seed=seed), axis=-1)
        loc = ops.take(self.means, index, axis=0)
        scale = ops.exp(ops.take(self.log_scales, index, axis=0))
        eps = keras.random.normal((num, self.latent_dim), dtype=self.compute_dtype, seed=seed)
        return loc + scale * eps

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "num_components": self.num_components,
                "mean_spread": self.mean_spread,
                "component_std": self.component_std,
                "learnable": self.learnable,
                "seed": self.seed,
            }
        )
        return config


def check_prior_name(prior: str) -> str:
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; known priors: {', '.join(PRIORS)}")
    return prior


def _non_negative_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


#: Mean KL (nats) below which :meth:`VAE.epoch_warning` calls the posterior collapsed.
COLLAPSED_KL = 0.01


@keras.saving.register_keras_serializable(package="tfelg")
class VAE(Autoencoder):
    """Dense variational autoencoder.

    Args:
      num_features: F.
      latent_dim: d.
      hidden_units: encoder widths (mirrored in the decoder); default
        :func:`tfelg.models.dense.default_hidden_units`.
      beta: KL weight (reference: 5e-4).
      noise_std: scale of the reparameterisation noise (reference "STD").
      prior: ``"normal"`` or ``"mog"``.
      prior_components: K for the ``"mog"`` prior.
      log_var_init: initial bias of the log-variance head. The default 0 starts
        every posterior as wide as the prior, so at first the decoder sees
        mostly sampling noise; on inputs where that noise drowns the small
        initial means (the 1,383-pixel spectra) the decoder can learn to ignore
        z for good: reconstruction stays at the mean spectrum (error 1) and the
        KL at 0 from the first epoch. Measured on `emission_lines/synthetic`
        spectra (6,000 galaxies), the CVAE with seed 2000 collapsed at d = 2 and
        d = 4 with 0, and trained with -4 (posterior std 0.14 at the start).
        ``--model_options='{"log_var_init": -4}'`` on the binaries.
      seed: seeds initialisers, the prior's initial means and the sampler.
    """

    def __init__(
        self,
        num_features: int,
        latent_dim: int = 2,
        hidden_units=None,
        beta: float = 5e-4,
        noise_std: float = 1.0,
        prior: str = "normal",
        prior_components: int = 5,
        log_var_init: float = 0.0,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(num_features, latent_dim, seed=seed, **kwargs)
        self._init_dense_trunks(hidden_units)
        self._init_gaussian_latent(beta, noise_std, prior, prior_components, log_var_init)

    def _init_gaussian_latent(
        self, beta, noise_std, prior, prior_components, log_var_init=0.0
    ) -> None:
        """The mean / log-variance heads, the sampler and the prior; then builds."""
        self._beta = _non_negative_float(beta, "beta")
        if isinstance(log_var_init, bool) or not isinstance(log_var_init, numbers.Real):
            raise ValueError(f"log_var_init must be a number, got {log_var_init!r}")
        if not -20.0 <= log_var_init <= 5.0:
            raise ValueError(f"log_var_init must be in [-20, 5], got {log_var_init!r}")
        self._log_var_init = float(log_var_init)
        self._noise_std = _non_negative_float(noise_std, "noise_std")
        self._prior_name = check_prior_name(prior)
        self._prior_components = positive_int(prior_components, "prior_components")
        self.z_mean = layers.Dense(
            self.latent_dim, kernel_initializer=self.initializer(150), name="z_mean"
        )
        self.z_log_var = layers.Dense(
            self.latent_dim,
            kernel_initializer=self.initializer(151),
            bias_initializer=keras.initializers.Constant(self._log_var_init),
            name="z_log_var",
        )
        self.sampling = GaussianSampling(self._noise_std, seed=self.seed, name="sampling")
        if self._prior_name == "normal":
            self.prior = NormalPrior(self.latent_dim, name="prior")
        else:
            self.prior = MixturePrior(
                self.latent_dim,
                self._prior_components,
                mean_spread=1.0,
                component_std=1.0,
                learnable=True,
                seed=self.seed,
                name="prior",
            )
        self.build((None, self.num_features))

    # -- architecture hooks (CVAE overrides these) -------------------------------------
    def _init_dense_trunks(self, hidden_units) -> None:
        if hidden_units is None:
            hidden_units = default_hidden_units(self.num_features, self.latent_dim)
        self._hidden_units = positive_int_tuple(hidden_units, "hidden_units")
        if not self._hidden_units:
            raise ValueError("hidden_units must name at least one layer for a VAE")
        self.encoder = dense_stack(
            self._hidden_units, None, lambda i: self.initializer(100 + i), name="encoder"
        )
        self.decoder = dense_stack(
            self._hidden_units[::-1],
            self.num_features,
            lambda i: self.initializer(200 + i),
            name="decoder",
        )

    def _encoder_input(self, x):
        return x

    def _decoder_output(self, y):
        return y

    def _encoder_input_shape(self):
        return (None, self.num_features)

    def _architecture_config(self) -> dict:
        return {"hidden_units": list(self._hidden_units)}

    def _build_networks(self) -> None:
        build_once(self.encoder, self._encoder_input_shape())
        trunk_shape = self.encoder.compute_output_shape(self._encoder_input_shape())
        build_once(self.z_mean, trunk_shape)
        build_once(self.z_log_var, trunk_shape)
        build_once(self.decoder, (None, self.latent_dim))

    # -- the model ------------------------------------------------------------------------
    @property
    def beta(self) -> float:
        return self._beta

    @property
    def noise_std(self) -> float:
        return self._noise_std

    @property
    def prior_name(self) -> str:
        return self._prior_name

    def epoch_warning(self, train_losses) -> str | None:
        """A warning for the epoch's log line when the posterior has collapsed.

        A mean KL below ``COLLAPSED_KL`` nats means q(z|x) is the prior for
        every galaxy: the latents carry nothing, whatever the reconstruction.
        Seen on the spectra with the default ``log_var_init``; the message
        says what to change.
        """
        kl = train_losses.get("kl")
        if kl is None or not kl < COLLAPSED_KL:
            return None
        return (
            f"posterior collapse: mean KL {kl:.3g} nats, the latents carry nothing; if it "
            f"lasts, retrain with log_var_init=-4 (now {self._log_var_init:g}; "
            "--model_options='{\"log_var_init\": -4}')"
        )

    def encode_distribution(self, x, training=False):
        """(mean, log_var) of q(z|x), each (batch, d)."""
        x, _ = self.cast_inputs(x)
        h = self.encoder(self._encoder_input(x), training=training)
        return self.z_mean(h), self.z_log_var(h)

    def encode(self, x, training=False):
        """The posterior mean (never a sample)."""
        mean, _ = self.encode_distribution(x, training=training)
        return mean

    def decode(self, z, training=False):
        y = self.decoder(ops.cast(z, self.compute_dtype), training=training)
        return self._decoder_output(y)

    def call(self, x, training=False):
        mean, log_var = self.encode_distribution(x, training=training)
        z = self.sampling((mean, log_var)) if training else mean
        return self.decode(z, training=training)

    def kl_divergence(self, mean, log_var, eps=None):
        """KL(q(z|x) || prior) per example (analytic, or Monte-Carlo with ``eps``)."""
        return self.prior.kl_from_gaussian(mean, log_var, eps)

    def per_example_losses(self, x, w=None, training=False) -> dict:
        """``loss`` = ``reconstruction`` + beta * ``kl``, each (batch,).

        Training decodes a reparameterised sample; evaluation decodes the
        mean (as ``call`` does) and, for the ``"mog"`` prior, estimates the
        KL with a fixed noise draw, so evaluating twice gives the same numbers.
        """
        x, w = self.cast_inputs(x, w)
        mean, log_var = self.encode_distribution(x, training=training)
        need_noise = training or self._prior_name == "mog"
        eps = self.sampling.draw_noise(ops.shape(mean), training=training) if need_noise else None
        if training:
            z = mean + self._noise_std * ops.exp(0.5 * log_var) * eps
        else:
            z = mean
        reconstruction = weighted_squared_error(x, self.decode(z, training=training), w)
        kl = self.kl_divergence(mean, log_var, eps)
        return {
            "loss": reconstruction + self._beta * kl,
            "reconstruction": reconstruction,
            "kl": kl,
        }

    def prior_distribution(self) -> tfd.Distribution:
        return self.prior.distribution()

    def prior_component_probabilities(self, z):
        """p(prior component k | z), (batch, K); only for the ``"mog"`` prior.

        Pass :meth:`encode` outputs to read the learnt components as classes.
        """
        if self._prior_name != "mog":
            raise ValueError(
                f"prior_component_probabilities needs prior='mog'; this model has "
                f"prior={self._prior_name!r}"
            )
        return self.prior.component_probabilities(z)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(self._architecture_config())
        config.update(
            {
                "beta": self._beta,
                "noise_std": self._noise_std,
                "prior": self._prior_name,
                "prior_components": self._prior_components,
                "log_var_init": self._log_var_init,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="tfelg")
class CVAE(VAE):
    """Convolutional variational autoencoder: the CAE's conv trunk with Gaussian heads.

    Args:
      num_features, latent_dim, beta, noise_std, prior, prior_components,
      log_var_init, seed: as for :class:`VAE`.
      filters, kernel_size, dense_units, strided: as for
        :class:`tfelg.models.conv.CAE`.
    """

    def __init__(
        self,
        num_features: int,
        latent_dim: int = 2,
        filters=None,
        kernel_size=None,
        dense_units=None,
        strided=None,
        beta: float = 5e-4,
        noise_std: float = 1.0,
        prior: str = "normal",
        prior_components: int = 5,
        log_var_init: float = 0.0,
        seed: int = 0,
        **kwargs,
    ):
        # Skips VAE.__init__ (dense trunks) but shares its Gaussian latent.
        Autoencoder.__init__(self, num_features, latent_dim, seed=seed, **kwargs)
        self.architecture = ConvArchitecture(
            self.num_features, filters, kernel_size, dense_units, strided
        )
        self.encoder = self.architecture.encoder_trunk(
            lambda i: self.initializer(100 + i), None, name="encoder"
        )
        self.decoder = self.architecture.decoder(lambda i: self.initializer(200 + i), "decoder")
        self._init_gaussian_latent(beta, noise_std, prior, prior_components, log_var_init)

    def _encoder_input(self, x):
        return pad_features(x, self.architecture.padded)

    def _decoder_output(self, y):
        return crop_features(y, self.num_features)

    def _encoder_input_shape(self):
        return (None, self.architecture.padded, 1)

    def _architecture_config(self) -> dict:
        return self.architecture.config()
