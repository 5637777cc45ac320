"""SimCLR: self-supervised pre-training of the small ResNet on galaxy stamps.

Why: ImageNet features were learned on photographs of dogs and cars, and a
random network learns nothing. SimCLR (Chen et al. 2020) learns a
representation from the galaxies themselves: two random *views* of each
stamp go through the encoder (:func:`tfelg.models.features.small_resnet`)
and a projection head, and the NT-Xent loss pulls the two views of a galaxy
together and pushes the other galaxies of the batch away. What is learned
is exactly what the augmentations leave unchanged, so they must be changes
that do not alter what a galaxy *is* (Hayat et al. 2021 for SDSS images):

* rotations by multiples of 90 degrees and flips (a galaxy has no "up");
* small shifts (up to ``max_shift`` pixels) and mild rescaling (apparent
  size by up to ``max_rescale``, i.e. a slightly different distance);
* a Gaussian blur of up to ``max_blur_sigma`` pixels, the same in every band
  (a slightly worse PSF);
* white noise of up to ``max_noise`` sky sigmas (a shallower exposure).

Never hue, saturation or per-band brightness jitter, as natural-image
SimCLR uses: the ratio of the bands is the galaxy's colour, i.e. its stellar
population, dust and redshift, and must not be something the encoder learns
to ignore. Every augmentation above treats the three bands alike and acts
on the flux linearly, so a galaxy's band ratios are kept (tested).

The model sees the loop's stretched values ``y = asinh(x / s_b) / a_b``
(:mod:`tfelg.training.images`). Blur, rescaling and noise are linear in the
*flux*, so each view is made in flux units: ``u = sinh(a_b y) = x / s_b``,
the flux in sky sigmas, then mapped back. ``a_b`` is the inverse of the
sky's spread in stretched units (near zero ``y ~ x / (s_b a_b)`` and ``x``
has spread ``s_b``), estimated from each batch's border pixels (robustly,
with the MAD, as the stretch was fitted): the model needs no constants of
the data set. A wrong estimate would bend the flux scale a little, the same
way for the two views, never the colours of the spatial transforms.

Negatives are the other galaxies of the replica's batch (2(B-1) per
positive pair); batch norm is synchronised across replicas
(``synchronized_bn``), so under a multi-replica strategy a replica cannot
recognise its positives by local batch statistics (SimCLR's "global BN").

Embedding: :meth:`SimCLR.encode` gives the encoder's pooled features (the
representation before the projection head, which Chen et al. found better
for downstream tasks), ``widths[-1]`` numbers; ``latent_dim`` is the size
of the projection the loss works on.

Selection: the validation NT-Xent, with views drawn from a fixed seed so the
same images always give the same loss; ``pair_accuracy`` (how often a view's
nearest neighbour in the batch is its partner) is reported beside it.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tfelg.models import features
from tfelg.models.base import positive_int, positive_int_tuple
from tfelg.models.vae import ReplicaSeedGenerator

# Border (pixels) of each stamp whose pixels estimate the sky's spread.
_SKY_BORDER = 4
# Bounds on the estimated inverse sky spread a_b (a noise-free band has no
# sky spread; float32 sinh(a y) overflows for a y > ~88).
_MIN_STRETCH, _MAX_STRETCH = 1.0, 40.0


def _non_negative(value, name: str) -> float:
    value = float(value)
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def sky_stretch(images):
    """Per-band ``a_b`` of stretched images (B, H, W, C): 1 / robust spread of the border pixels."""
    b = _SKY_BORDER
    border = tf.concat(
        [
            tf.reshape(images[:, :b], [-1, images.shape[-1]]),
            tf.reshape(images[:, -b:], [-1, images.shape[-1]]),
            tf.reshape(images[:, b:-b, :b], [-1, images.shape[-1]]),
            tf.reshape(images[:, b:-b, -b:], [-1, images.shape[-1]]),
        ],
        axis=0,
    )

    def median(x):
        x = tf.sort(x, axis=0)
        return x[tf.shape(x)[0] // 2]

    mad = median(tf.abs(border - median(border)))
    return tf.clip_by_value(1.0 / (1.4826 * mad + 1e-12), _MIN_STRETCH, _MAX_STRETCH)


def _gaussian_matrices(sigma, size: int):
    """(B, size, size) Gaussian blur matrices; zero padding at the edges.

    Rows are normalised by the sum of the untruncated discrete kernel, so a
    pixel far from the edges keeps its flux and flux blurred off the stamp
    is lost, as it would be on the sky.
    """
    pos = tf.range(size, dtype=tf.float32)
    diff = pos[:, None] - pos[None, :]
    sigma = tf.maximum(tf.cast(sigma, tf.float32), 1e-3)[:, None, None]
    kernel = tf.exp(-0.5 * tf.square(diff[None] / sigma))
    offsets = tf.range(-size, size + 1, dtype=tf.float32)[None, None, :]
    norm = tf.reduce_sum(tf.exp(-0.5 * tf.square(offsets / sigma)), axis=-1, keepdims=True)
    return kernel / norm


def blur(u, sigma):
    """Gaussian blur of ``u`` (B, H, W, C) by ``sigma`` (B,) pixels, same kernel in every band."""
    height, width = u.shape[1], u.shape[2]
    gy = _gaussian_matrices(sigma, height)
    gx = _gaussian_matrices(sigma, width)
    return tf.einsum("bij,bjlc,bkl->bikc", gy, u, gx)


def augment(
    images,
    seed,
    *,
    max_shift: float = 4.0,
    max_rescale: float = 0.1,
    max_blur_sigma: float = 1.0,
    max_noise: float = 1.0,
):
    """One random view of each stretched stamp (B, H, W, C), from a stateless ``seed`` (2,).

    See the module docstring; every random choice is per galaxy.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    batch = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=7)
    a = sky_stretch(images)
    u = tf.sinh(a * images)  # flux in sky sigmas

    # 90-degree rotations and flips: exact, pixel for pixel.
    k = tf.random.stateless_uniform([batch], seeds[0], 0, 4, dtype=tf.int32)
    if height == width:
        rotations = tf.stack([tf.image.rot90(u, i) for i in range(4)], axis=1)
        u = tf.gather(rotations, k, axis=1, batch_dims=1)
    flip = tf.random.stateless_uniform([batch], seeds[1]) < 0.5
    u = tf.where(flip[:, None, None, None], u[:, :, ::-1, :], u)

    # Shift and rescale: one bilinear resampling, sky (0) outside the stamp.
    log_r = tf.math.log1p(max_rescale)
    zoom = tf.exp(tf.random.stateless_uniform([batch], seeds[2], -log_r, log_r))
    shift = tf.random.stateless_uniform([batch, 2], seeds[3], -max_shift, max_shift)
    centre_y = 0.5 + shift[:, 0] / (height - 1)
    centre_x = 0.5 + shift[:, 1] / (width - 1)
    half = 0.5 / zoom
    boxes = tf.stack([centre_y - half, centre_x - half, centre_y + half, centre_x + half], axis=1)
    u = tf.image.crop_and_resize(
        u, boxes, tf.range(batch), (height, width), method="bilinear", extrapolation_value=0.0
    )

    # PSF-like blur and extra sky noise.
    sigma = tf.random.stateless_uniform([batch], seeds[4], 0.0, max_blur_sigma)
    if max_blur_sigma > 0:
        u = blur(u, sigma)
    noise_level = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[5], 0.0, max_noise)
    u = u + noise_level * tf.random.stateless_normal(tf.shape(u), seeds[6])
    return tf.asinh(u) / a


def nt_xent(z1, z2, temperature: float):
    """Per-pair NT-Xent loss (B,) and whether each view's nearest other view is its partner (B,).

    ``z1[i]`` and ``z2[i]`` are the projections of two views of galaxy i; the
    other 2B - 2 views of the batch are its negatives.
    """
    z = tf.math.l2_normalize(tf.concat([z1, z2], axis=0), axis=1)
    n = tf.shape(z1)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = logits - 1e9 * tf.eye(2 * n)  # a view is not its own negative
    partner = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=partner, logits=logits)
    correct = tf.cast(
        tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), partner), tf.float32
    )
    return 0.5 * (losses[:n] + losses[n:]), 0.5 * (correct[:n] + correct[n:])


@keras.saving.register_keras_serializable(package="tfelg")
class SimCLR(keras.Model):
    """Contrastive pre-training of the small ResNet (``--model=simclr``).

    Args:
      image_shape: (H, W, C) of the stamps (set by the trainer).
      latent_dim: size of the projection the loss is computed on.
      seed: seeds the initialisers and the augmentations.
      temperature: NT-Xent temperature (0.1 to 0.5 in Chen et al.; lower
        weighs hard negatives more).
      widths, blocks_per_stage, stem_stride: the encoder
        (:func:`tfelg.models.features.small_resnet`).
      projection_units: hidden width of the two-layer projection head.
      max_shift, max_rescale, max_blur_sigma, max_noise: the augmentations
        (pixels, fraction, pixels, sky sigmas).
      synchronized_bn: batch statistics over all replicas.
    """

    INPUT_KIND = "image"
    SELECTION_LOSS = "loss"
    DEFAULT_LATENT_DIM = 64

    def __init__(
        self,
        image_shape=(64, 64, 3),
        latent_dim: int = DEFAULT_LATENT_DIM,
        seed: int = 0,
        temperature: float = 0.2,
        widths=features.SMALL_RESNET_WIDTHS,
        blocks_per_stage: int = 2,
        stem_stride: int = 2,
        projection_units: int = 256,
        max_shift: float = 4.0,
        max_rescale: float = 0.1,
        max_blur_sigma: float = 1.0,
        max_noise: float = 1.0,
        synchronized_bn: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = positive_int_tuple(image_shape, "image_shape")
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {image_shape!r}")
        self.latent_dim = positive_int(latent_dim, "latent_dim")
        self.seed = int(seed)
        self.temperature = float(temperature)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.widths = positive_int_tuple(widths, "widths")
        self.blocks_per_stage = positive_int(blocks_per_stage, "blocks_per_stage")
        self.stem_stride = positive_int(stem_stride, "stem_stride")
        self.projection_units = positive_int(projection_units, "projection_units")
        self.max_shift = _non_negative(max_shift, "max_shift")
        self.max_rescale = _non_negative(max_rescale, "max_rescale")
        self.max_blur_sigma = _non_negative(max_blur_sigma, "max_blur_sigma")
        self.max_noise = _non_negative(max_noise, "max_noise")
        self.synchronized_bn = bool(synchronized_bn)
        self.encoder = features.small_resnet(
            self.image_shape,
            self.widths,
            self.blocks_per_stage,
            stem_stride=self.stem_stride,
            seed=self.seed,
            synchronized_bn=self.synchronized_bn,
            name="encoder",
        )
        init = lambda i: keras.initializers.GlorotUniform(seed=self.seed * 1009 + 500 + i)  # noqa: E731
        self.projection_hidden = keras.layers.Dense(
            self.projection_units, activation="relu", kernel_initializer=init(0), name="proj_hidden"
        )
        self.projection_out = keras.layers.Dense(
            self.latent_dim, kernel_initializer=init(1), name="proj_out"
        )
        self.projection_hidden.build((None, self.widths[-1]))
        self.projection_out.build((None, self.projection_units))
        self.seed_generator = ReplicaSeedGenerator(self.seed, name="view_seed_generator")
        self.built = True

    # -- the model ------------------------------------------------------------------------
    @property
    def feature_dim(self) -> int:
        return self.widths[-1]

    def encode(self, images, training=False):
        """Pooled encoder features (N, widths[-1]) of stretched stamps: the embedding."""
        return self.encoder(ops.cast(images, "float32"), training=training)

    def project(self, h):
        return self.projection_out(self.projection_hidden(h))

    def call(self, images, training=False):
        return self.encode(images, training=training)

    def views(self, images, seed):
        """Two augmented views of each stamp, from one stateless seed."""
        s1, s2 = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2))
        options = dict(
            max_shift=self.max_shift,
            max_rescale=self.max_rescale,
            max_blur_sigma=self.max_blur_sigma,
            max_noise=self.max_noise,
        )
        return augment(images, s1, **options), augment(images, s2, **options)

    def _pair_losses(self, images, seed, training):
        v1, v2 = self.views(images, seed)
        n = tf.shape(v1)[0]
        # Both views through the encoder together: batch norm sees one batch.
        z = self.project(self.encode(tf.concat([v1, v2], axis=0), training=training))
        return nt_xent(z[:n], z[n:], self.temperature)

    def per_example_losses(self, batch, training=False) -> dict:
        """``loss`` (NT-Xent per galaxy) and ``pair_accuracy``; fixed views unless training."""
        seed = self.seed_generator.next() if training else tf.constant([self.seed, 7], tf.int64)
        loss, accuracy = self._pair_losses(batch["image"], seed, training)
        return {"loss": loss, "pair_accuracy": accuracy}

    # -- training on one replica ------------------------------------------------------------
    def make_optimizers(self, learning_rate: float = 1e-3) -> dict:
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, name="simclr_adam")
        optimizer.build(self.trainable_variables)
        return {"main": optimizer}

    def train_step_on_replica(self, batch, optimizers: dict, global_batch_size) -> dict:
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            losses = self.per_example_losses(batch, training=True)
            loss = tf.nn.compute_average_loss(losses["loss"], global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, variables)
        optimizers["main"].apply_gradients(zip(gradients, variables, strict=True))
        return {
            name: tf.nn.compute_average_loss(value, global_batch_size=global_batch_size)
            for name, value in losses.items()
        }

    # -- serialisation ------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "image_shape": list(self.image_shape),
                "latent_dim": self.latent_dim,
                "seed": self.seed,
                "temperature": self.temperature,
                "widths": list(self.widths),
                "blocks_per_stage": self.blocks_per_stage,
                "stem_stride": self.stem_stride,
                "projection_units": self.projection_units,
                "max_shift": self.max_shift,
                "max_rescale": self.max_rescale,
                "max_blur_sigma": self.max_blur_sigma,
                "max_noise": self.max_noise,
                "synchronized_bn": self.synchronized_bn,
            }
        )
        return config
