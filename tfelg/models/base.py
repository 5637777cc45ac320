"""The one interface every tfelg autoencoder offers to the one training loop.

Keras 3's ``Model.fit`` fails under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585), so tfelg trains with a loop of its own:
``strategy.run`` inside a ``tf.function`` over a distributed dataset. For that
loop to stay a single loop for every model and every strategy, each model
exposes the same per-replica pieces here: ``encode`` / ``decode`` /
``per_example_losses`` (pure mathematics on one replica's batch),
``make_optimizers`` (named optimizers, created by the caller under
``strategy.scope()`` so their slots are mirrored like the weights) and
``train_step_on_replica`` (tape, ``tf.nn.compute_average_loss`` against the
*global* batch size, ``apply_gradients``). The losses it returns are already
divided by the global batch size, so the caller's ``strategy.reduce(SUM)``
gives the global mean.

Missing values: the data layer fills a missing feature with 0 after
standardisation and gives it weight 0, so every reconstruction loss here is a
weighted mean that a missing value does not enter.

Weights are created in ``__init__`` (the shapes are known from the
constructor arguments), so a model built under ``strategy.scope()`` has
mirrored variables from the start, and ``model.save`` /
``keras.saving.load_model`` round-trip without a forward pass.
"""

from __future__ import annotations

import numbers

import keras
import tensorflow as tf
from keras import ops


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral | float):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if int(value) < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def positive_int_tuple(values, name: str) -> tuple[int, ...]:
    """A sequence of layer widths as a tuple of ints >= 1 (may be empty)."""
    if isinstance(values, numbers.Integral):
        values = (values,)
    try:
        items = list(values)
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of positive integers, got {values!r}"
        ) from None
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(items))


def weighted_squared_error(x, x_hat, w):
    """Per-example weighted MSE: ``sum(w (x - x_hat)^2) / max(sum(w), 1)``.

    The ``max(., 1)`` keeps an example whose features are all missing from
    dividing by zero (its loss is then 0, and it contributes no gradient).
    """
    squared = w * ops.square(x - x_hat)
    return ops.sum(squared, axis=-1) / ops.maximum(ops.sum(w, axis=-1), 1.0)


def build_once(layer: keras.layers.Layer, input_shape) -> None:
    """Builds ``layer`` unless it already is (``build`` may be called again on load)."""
    if not layer.built:
        layer.build(input_shape)


@keras.saving.register_keras_serializable(package="tfelg")
class Autoencoder(keras.Model):
    """Base class: an encoder to ``latent_dim`` numbers and a decoder back.

    Subclasses create their layers in ``__init__`` (after calling this
    ``__init__``), implement ``_build_networks`` (build every sub-layer from
    the known shapes), ``encode`` and ``decode``, and extend ``get_config``.

    Args:
      num_features: F, the length of one input vector (10 line features, or
        the pixels of a spectrum).
      latent_dim: d, the size of the code.
      seed: seeds every random initialiser and sampler of the model.
      **kwargs: passed to ``keras.Model`` (``name``, ``dtype``, ...).
    """

    def __init__(self, num_features: int, latent_dim: int, seed: int = 0, **kwargs):
        num_features = positive_int(num_features, "num_features")
        latent_dim = positive_int(latent_dim, "latent_dim")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        super().__init__(**kwargs)
        self._num_features = num_features
        self._latent_dim = latent_dim
        self._seed = int(seed)

    # -- shape ---------------------------------------------------------------
    @property
    def num_features(self) -> int:
        return self._num_features

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def seed(self) -> int:
        return self._seed

    def initializer(self, offset: int) -> keras.initializers.Initializer:
        """A Glorot-uniform initialiser seeded from the model's seed.

        ``offset`` makes each layer's draw different but reproducible.
        """
        return keras.initializers.GlorotUniform(seed=self._seed * 1009 + offset)

    def build(self, input_shape=None):
        self._build_networks()
        self.built = True

    def _build_networks(self) -> None:
        raise NotImplementedError

    # -- the model -------------------------------------------------------------
    def cast_inputs(self, x, w=None):
        """``x`` (and ``w``, ones if None) as tensors of the model's dtype."""
        x = ops.cast(x, self.compute_dtype)
        w = ops.ones_like(x) if w is None else ops.cast(w, self.compute_dtype)
        return x, w

    def encode(self, x, training=False):
        """The embedding (batch, d): a deterministic code or a posterior mean."""
        raise NotImplementedError

    def decode(self, z, training=False):
        """The reconstruction (batch, F) of codes ``z``."""
        raise NotImplementedError

    def call(self, x, training=False):
        return self.decode(self.encode(x, training=training), training=training)

    def per_example_losses(self, x, w=None, training=False) -> dict:
        """Per-example losses, each of shape (batch,).

        ``"loss"`` is what training minimises; ``"reconstruction"`` is the
        weighted MSE of :func:`weighted_squared_error`.
        """
        x, w = self.cast_inputs(x, w)
        reconstruction = weighted_squared_error(x, self(x, training=training), w)
        return {"loss": reconstruction, "reconstruction": reconstruction}

    # -- training on one replica -------------------------------------------------
    def make_optimizers(self, learning_rate: float = 1e-3) -> dict:
        """The optimizers the step needs, by name, already built.

        Call under ``strategy.scope()``: the optimizer's slot variables are
        created here (not lazily inside the first ``strategy.run``), so they
        are mirrored like the model's weights and a checkpoint can hold them.
        """
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, name="main_adam")
        optimizer.build(self.trainable_variables)
        return {"main": optimizer}

    def train_step_on_replica(self, x, w, optimizers: dict, global_batch_size) -> dict:
        """One optimisation step on this replica's part of a global batch.

        Returns each per-example loss summed and divided by
        ``global_batch_size`` (a scalar per replica); ``strategy.reduce(SUM)``
        over replicas gives the global batch mean.
        """
        x, w = self.cast_inputs(x, w)
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            losses = self.per_example_losses(x, w, training=True)
            loss = tf.nn.compute_average_loss(losses["loss"], global_batch_size=global_batch_size)
            if self.losses:
                loss += tf.nn.scale_regularization_loss(ops.sum(ops.stack(self.losses)))
        gradients = tape.gradient(loss, variables)
        optimizers["main"].apply_gradients(zip(gradients, variables, strict=True))
        return self.average_losses(losses, global_batch_size)

    def eval_losses_on_replica(self, x, w, global_batch_size) -> dict:
        """The losses of :meth:`train_step_on_replica`, without any update."""
        losses = self.per_example_losses(x, w, training=False)
        return self.average_losses(losses, global_batch_size)

    @staticmethod
    def average_losses(losses: dict, global_batch_size) -> dict:
        return {
            name: tf.nn.compute_average_loss(value, global_batch_size=global_batch_size)
            for name, value in losses.items()
        }

    # -- serialisation ---------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "num_features": self._num_features,
                "latent_dim": self._latent_dim,
                "seed": self._seed,
            }
        )
        return config
