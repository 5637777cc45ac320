"""A class-conditional GAN for 64x64 three-band galaxy stamps, built for small data.

The reference work's idea (issue 13): a GAN trained on the observed galaxies
generates a balanced library, every class equally represented. With a few
thousand training galaxies a plain GAN overfits its discriminator and
collapses, so this one takes the standard remedies for small data:

* **Spectral normalisation** of every discriminator weight (Miyato et al.
  2018; :mod:`tfelg.models.spectral`, not Keras's wrapper, whose gradient
  skips sigma): the discriminator stays ~1-Lipschitz, its gradients stay
  informative.
* **Hinge loss** (Lim & Ye 2017; the SN-GAN / BigGAN loss): the
  discriminator minimises ``relu(1 - D(real)) + relu(1 + D(fake))``, the
  generator ``-D(fake)``.
* **Projection conditioning** (Miyato & Koyama 2018): the discriminator's
  logit adds ``<embed(class), features>``; the generator gets the class
  embedding concatenated to its noise.
* **An exponential moving average of the generator's weights** (Karras et
  al. 2018; Yazici et al. 2019): the averaged generator gives visibly better
  and more stable samples than the last iterate. It is the one saved, used
  for samples, validation and ``tfelg-generate``.
* **DiffAugment** (Zhao et al. 2020): random flips, 90-degree rotations and
  small integer shifts (zero padding = sky) applied, with the same policy and
  independent draws per image, to real *and* generated images before the
  discriminator sees them, in both the discriminator's and the generator's
  step, so the discriminator cannot memorise the few real images and the
  generator is not taught the augmentations. All are symmetries of a galaxy
  on the sky. No colour jitter, no brightness or contrast change: colours
  and surface brightness are physics (the classes differ by them).

Training is under tfelg's one loop (:mod:`tfelg.training.trainer`): one
discriminator step and one generator step per batch, two Adam optimizers
(``beta_1 = 0.5``, ``beta_2 = 0.999``, SN-GAN's for one discriminator step
per generator step), the EMA updated after each
generator step. Random numbers come from :class:`ReplicaSeedGenerator`
states (checkpointed: a resumed run continues the same noise).

Selection: a GAN's validation losses are adversarial (they measure the
discriminator of the moment, not the samples) and do not rank epochs, so
``SELECTION_LOSS = None``: the weights kept are the **last epoch's**, with
the EMA generator. The validation losses are still computed each epoch, as
a monitor: ``real_logit`` on validation far below its value on train is the
discriminator memorising the training images (Karras et al. 2020's
overfitting signal). Sample quality is measured by tfelg's metrics (FID,
KID, morphology distances), not by these losses.

Divergence: a non-finite loss stops training (the loop), and so does a
discriminator loss above ``max_discriminator_loss`` (:meth:`check_losses`;
at balance the hinge loss is about 2); the backup keeps the last good epoch.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from tfelg.models.base import positive_int
from tfelg.models.spectral import SNConv2D, SNDense
from tfelg.models.vae import ReplicaSeedGenerator

IMAGE_KEY = "image"
LABEL_KEY = "label"
LEAKY_SLOPE = 0.2


def _init(seed: int, offset: int) -> keras.initializers.Initializer:
    return keras.initializers.GlorotUniform(seed=seed * 1009 + offset)


@keras.saving.register_keras_serializable(package="tfelg")
class ConditionalGenerator(layers.Layer):
    """Noise and class to a (size, size, bands) image in [-1, 1] (tanh).

    ``concat(z, embed(class))`` -> dense to 4x4 -> [nearest upsampling x2,
    3x3 conv, batch normalisation, LeakyReLU] until ``size`` -> 3x3 conv to
    ``bands`` -> tanh. Upsampling then convolution, not transposed
    convolution: no checkerboard. Batch normalisation (as in DCGAN and
    SN-GAN's generators): without it, a 1,500-step run on hst_galaxies
    produced column stripes and no class difference while the discriminator's
    loss fell to 0.04.
    """

    def __init__(
        self, size, bands, latent_dim, num_classes, filters, seed=0, batchnorm=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.batchnorm = bool(batchnorm)
        self.size, self.bands = int(size), int(bands)
        self.latent_dim, self.num_classes = int(latent_dim), int(num_classes)
        self.filters, self.seed = tuple(int(f) for f in filters), int(seed)
        self.embedding = layers.Embedding(
            max(self.num_classes, 1),
            self.latent_dim,
            embeddings_initializer=keras.initializers.RandomNormal(seed=self.seed * 1009 + 1),
            name="class_embedding",
        )
        norm = self.batchnorm

        def normalise(i):
            # Synchronised: replicas share batch statistics, and their moving
            # averages (what the EMA generator samples with) stay identical.
            if not norm:
                return []
            return [
                layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"batchnorm_{i}")
            ]

        stack = [
            layers.Dense(
                4 * 4 * self.filters[0], use_bias=not norm, kernel_initializer=_init(self.seed, 2)
            ),
            layers.Reshape((4, 4, self.filters[0])),
            *normalise(0),
            layers.LeakyReLU(LEAKY_SLOPE),
        ]
        for i, f in enumerate(self.filters):
            stack += [
                layers.UpSampling2D(2, interpolation="nearest"),
                layers.Conv2D(
                    f,
                    3,
                    padding="same",
                    use_bias=not norm,
                    kernel_initializer=_init(self.seed, 10 + i),
                ),
                *normalise(i + 1),
                layers.LeakyReLU(LEAKY_SLOPE),
            ]
        stack += [
            layers.Conv2D(self.bands, 3, padding="same", kernel_initializer=_init(self.seed, 3)),
            layers.Activation("tanh"),
        ]
        self.stack = keras.Sequential(stack, name="stack")

    def build(self, input_shape=None):
        if not self.embedding.built:
            self.embedding.build((None,))
        if not self.stack.built:
            self.stack.build((None, 2 * self.latent_dim))
        self.built = True

    def call(self, z, labels, training=False):
        code = self.embedding(ops.cast(labels, "int32"))
        return self.stack(ops.concatenate([z, code], axis=-1), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            size=self.size,
            bands=self.bands,
            latent_dim=self.latent_dim,
            num_classes=self.num_classes,
            filters=list(self.filters),
            seed=self.seed,
            batchnorm=self.batchnorm,
        )
        return config


@keras.saving.register_keras_serializable(package="tfelg")
class MinibatchStddev(layers.Layer):
    """Appends the batch's mean per-feature standard deviation as one more channel.

    Karras et al. (2018)'s remedy for mode collapse: a discriminator that
    sees one image at a time cannot tell a generator that draws the same
    galaxy for every noise vector from one that draws a varied population;
    with this channel a collapsed batch (std near 0) is recognisable at a
    glance. The statistic is over this replica's batch (at least 2 images
    for a meaningful value; a batch of one gets ~0).
    """

    def call(self, x):
        std = ops.sqrt(ops.var(x, axis=0) + 1e-8)
        channel = ops.ones_like(x[..., :1]) * ops.mean(std)
        return ops.concatenate([x, channel], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


@keras.saving.register_keras_serializable(package="tfelg")
class ProjectionDiscriminator(layers.Layer):
    """Image and class to a logit, every weight spectrally normalised (:mod:`tfelg.models.spectral`).

    3x3 conv, then 4x4 stride-2 convs down to 4x4 (LeakyReLU), then the head:
    the minibatch standard deviation channel (:class:`MinibatchStddev`), a
    3x3 conv, **flatten** and a dense layer, whose output ``h`` gives the
    logit ``dense(h) + <embed(class), h>`` (projection; the embedding is not
    spectrally normalised, it starts small, std 0.02).

    Why a flattening head, not SN-GAN's sum over pixels: a sum over the 4x4
    map makes the logit nearly blind to *where* the light is (only the
    zero-padded borders leak position), and on hst_galaxies, whose galaxies
    sit at the stamp's centre, a 750-step run converged to one blob 21 px
    off-centre for every noise vector and class. Flattening keeps the 4x4
    positions apart; the minibatch channel penalises drawing one galaxy.

    :meth:`features` (the representation tfelg exports, ``tfelg-embed``)
    is the conv stack's output summed over pixels: it does not depend on the
    other images of the batch, unlike the head's input.
    """

    def __init__(self, size, bands, num_classes, filters, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.bands = int(size), int(bands)
        self.num_classes, self.filters, self.seed = int(num_classes), tuple(filters), int(seed)
        stack = [
            SNConv2D(
                self.filters[-1],
                3,
                padding="same",
                kernel_initializer=_init(seed, 40),
                power_seed=seed * 1009 + 80,
            ),
            layers.LeakyReLU(LEAKY_SLOPE),
        ]
        for i, f in enumerate(reversed(self.filters)):
            stack += [
                SNConv2D(
                    f,
                    4,
                    strides=2,
                    padding="same",
                    kernel_initializer=_init(seed, 50 + i),
                    power_seed=seed * 1009 + 81 + i,
                ),
                layers.LeakyReLU(LEAKY_SLOPE),
            ]
        self.stack = keras.Sequential(stack, name="stack")
        width = self.filters[0]
        self.head = keras.Sequential(
            [
                MinibatchStddev(name="minibatch_stddev"),
                SNConv2D(
                    width,
                    3,
                    padding="same",
                    kernel_initializer=_init(seed, 70),
                    power_seed=seed * 1009 + 90,
                ),
                layers.LeakyReLU(LEAKY_SLOPE),
                layers.Flatten(),
                SNDense(width, kernel_initializer=_init(seed, 71), power_seed=seed * 1009 + 91),
                layers.LeakyReLU(LEAKY_SLOPE),
            ],
            name="head",
        )
        self.logit = SNDense(
            1, kernel_initializer=_init(seed, 60), power_seed=seed * 1009 + 92, name="logit"
        )
        # Not normalised (as in Miyato & Koyama 2018's projection).
        self.embedding = layers.Embedding(
            max(self.num_classes, 1),
            width,
            embeddings_initializer=keras.initializers.RandomNormal(
                stddev=0.02, seed=seed * 1009 + 61
            ),
            name="class_projection",
        )

    def build(self, input_shape=None):
        if not self.stack.built:
            self.stack.build((None, self.size, self.size, self.bands))
        if not self.head.built:
            self.head.build((None, 4, 4, self.filters[0]))
        if not self.logit.built:
            self.logit.build((None, self.filters[0]))
        if not self.embedding.built:
            self.embedding.build((None,))
        self.built = True

    def features(self, images, training=False):
        """The exported representation (batch, filters[0]): the conv stack summed over 4x4 pixels."""
        return ops.sum(self.stack(images, training=training), axis=(1, 2))

    def call(self, images, labels, training=False):
        h = self.head(self.stack(images, training=training), training=training)
        projection = ops.sum(self.embedding(ops.cast(labels, "int32")) * h, axis=-1)
        return ops.squeeze(self.logit(h, training=training), -1) + projection

    def get_config(self):
        config = super().get_config()
        config.update(
            size=self.size,
            bands=self.bands,
            num_classes=self.num_classes,
            filters=list(self.filters),
            seed=self.seed,
        )
        return config


def diff_augment(images, seed, *, flips=True, rotations=True, max_shift=4):
    """DiffAugment for galaxies: per-image random flip, k*90 degree rotation, integer shift.

    Differentiable in ``images`` (only selections, transposes and gathers).
    Shifts pad with zeros, the sky level of the stretched images. Square
    images only (rotations). ``seed``: a SeedGenerator.
    """
    batch = ops.shape(images)[0]
    size = images.shape[1]
    if flips:
        flip = keras.random.uniform((batch, 1, 1, 1), seed=seed) < 0.5
        images = ops.where(flip, ops.flip(images, axis=2), images)
    if rotations:
        k = keras.random.randint((batch,), 0, 4, seed=seed)
        turned = [images]
        for _ in range(3):
            turned.append(ops.flip(ops.transpose(turned[-1], (0, 2, 1, 3)), axis=2))
        choice = ops.reshape(ops.one_hot(k, 4, dtype=images.dtype), (batch, 4, 1, 1, 1))
        images = ops.sum(ops.stack(turned, axis=1) * choice, axis=1)
    if max_shift > 0:
        shift = keras.random.randint((batch, 2), -max_shift, max_shift + 1, seed=seed)
        padded = ops.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
        base = ops.arange(size)[None, :] + max_shift
        rows = base - shift[:, :1]
        cols = base - shift[:, 1:]
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    return images


def add_sky_noise(images, stretch, seed, noise=None):
    """Observed images: Gaussian sky noise added in flux units, then re-stretched.

    tfelg's image stretch is ``y = asinh(x / s_b) / a_b`` per band. Sky
    noise of standard deviation ``r_b * s_b`` in flux (``noise`` = r_b, the
    sky sigma measured on the stamps' frames over ``s_b``; default 1) is,
    in the stretched scale, ``asinh(sinh(a_b * y) + r_b * eps) / a_b``: only
    ``a_b`` and ``r_b`` are needed. Differentiable in ``images``.

    Why (issue 13): the real stamps are mostly sky noise, white and
    Gaussian. A convolutional generator cannot draw white noise well, so a
    discriminator told nothing else wins on the noise texture alone, and the
    generator answered with stripes and then one image for every input (two
    CPU runs, 750 steps each). With the known noise added to the generator's
    output before the discriminator sees it, the generator models the
    noiseless galaxy and the comparison is fair.
    """
    eps = keras.random.normal(ops.shape(images), seed=seed, dtype=images.dtype)
    return observe(images, stretch, eps, noise)


def observe(images, stretch, eps, noise=None):
    """``asinh(sinh(a_b * y) + r_b * eps) / a_b``: :func:`add_sky_noise` with given ``eps``.

    Works on tensors and on NumPy arrays alike (in their dtype), so that
    :meth:`GAN.generate` can draw ``eps`` with NumPy.
    """
    a = ops.reshape(ops.convert_to_tensor(stretch, images.dtype), (1, 1, 1, -1))
    if noise is not None:
        eps = eps * ops.reshape(ops.convert_to_tensor(noise, images.dtype), (1, 1, 1, -1))
    return ops.arcsinh(ops.sinh(a * images) + eps) / a


def _per_band(values, name: str, bands: int) -> tuple[float, ...] | None:
    """``values`` as one positive finite float per band (None stays None)."""
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.shape != (bands,) or not np.all(np.isfinite(array) & (array > 0)):
        raise ValueError(f"{name} must be {bands} positive numbers (one per band), got {values!r}")
    return tuple(float(v) for v in array)


@keras.saving.register_keras_serializable(package="tfelg")
class GAN(keras.Model):
    """Conditional SN-GAN with hinge loss, generator EMA and DiffAugment.

    Args:
      image_shape: (size, size, bands); size a power of two >= 8 (set by the
        trainer from the data).
      latent_dim: size of the noise vector (default 64).
      class_names: the classes, in label order (set by the trainer from the
        label column); None: unconditional (one class).
      label: the dataset's label column to condition on (read by the
        trainer: ``true_type`` by default; ``uvj``, ``gini_m20``, ... or a
        real catalogue's column).
      classes: condition on these classes of ``label`` only (default: all
        named classes with examples; ``unknown``/``unclassified`` never).
      base_filters: width of the 64x64 layers; the others double towards
        4x4 (capped at 8x).
      ema_decay: decay of the generator's moving average (warmed up as
        ``min(decay, (1 + t) / (10 + t))`` over generator steps t).
      augment: apply DiffAugment.
      max_shift: largest DiffAugment shift, pixels.
      sample_every: write the fixed-noise sample grid to TensorBoard every
        this many epochs (and at the last).
      samples_per_class: columns of that grid.
      max_discriminator_loss: stop training above this discriminator loss.
      sky_noise: add the training images' sky noise to every generated image
        (:func:`add_sky_noise`): the generator draws noiseless galaxies, the
        discriminator and :meth:`generate` see them as observed.
      image_stretch: the per-band asinh stretch ``a_b`` of the data
        (:class:`tfelg.training.images.ImagePreprocessor`; set by the
        trainer). Without it there is no noise model and ``sky_noise`` is off.
      image_noise: per band, the sky sigma over the stretch's scale ``s_b``
        (set by the trainer from the stamps' frames; default 1).
      batchnorm: batch normalisation in the generator (see
        :class:`ConditionalGenerator`).
      seed: seeds initialisers, noise and augmentation.
    """

    INPUT_KIND = "image"
    USES_IMAGE_STRETCH = True  # the trainer passes ``image_stretch``
    DEFAULT_LATENT_DIM = 64
    SELECTION_LOSS = None  # adversarial losses do not rank epochs: the last is kept

    def __init__(
        self,
        image_shape=(64, 64, 3),
        latent_dim: int = DEFAULT_LATENT_DIM,
        class_names=None,
        label: str | None = "true_type",
        classes=None,
        base_filters: int = 32,
        ema_decay: float = 0.999,
        augment: bool = True,
        max_shift: int = 4,
        sample_every: int = 5,
        samples_per_class: int = 8,
        max_discriminator_loss: float = 50.0,
        sky_noise: bool = True,
        image_stretch=None,
        image_noise=None,
        batchnorm: bool = True,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        shape = tuple(int(d) for d in image_shape)
        if len(shape) != 3 or shape[0] != shape[1]:
            raise ValueError(f"image_shape must be (size, size, bands), got {image_shape!r}")
        size = shape[0]
        if size < 8 or size & (size - 1):
            raise ValueError(
                f"the GAN needs square images of a power-of-two size >= 8, got {shape}"
            )
        if not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
        if isinstance(max_shift, bool) or not isinstance(max_shift, numbers.Integral):
            raise ValueError(f"max_shift must be an integer number of pixels, got {max_shift!r}")
        if not 0 <= max_shift < size // 2:
            raise ValueError(f"max_shift must be in [0, {size // 2}), got {max_shift}")
        self._image_shape = shape
        self._latent_dim = positive_int(latent_dim, "latent_dim")
        self._class_names = None if class_names is None else tuple(str(c) for c in class_names)
        self._label = label
        self._classes = None if classes is None else [str(c) for c in classes]
        self._base_filters = positive_int(base_filters, "base_filters")
        self._ema_decay = float(ema_decay)
        self._augment = bool(augment)
        self._max_shift = int(max_shift)
        self._sample_every = positive_int(sample_every, "sample_every")
        self._samples_per_class = positive_int(samples_per_class, "samples_per_class")
        self._max_discriminator_loss = float(max_discriminator_loss)
        self._sky_noise = bool(sky_noise)
        self._batchnorm = bool(batchnorm)
        self._image_stretch = _per_band(image_stretch, "image_stretch", shape[2])
        self._image_noise = _per_band(image_noise, "image_noise", shape[2])
        self._seed = int(seed)
        num_classes = len(self._class_names) if self._class_names else 1
        levels = int(np.log2(size)) - 2  # 4x4 -> size
        # Widest at 4x4: base_filters * 2^(levels-1), capped at 8 * base_filters.
        filters = tuple(self._base_filters * min(2 ** (levels - 1 - i), 8) for i in range(levels))
        bands = shape[2]

        def generator(name):  # the trained one and its EMA: the same network
            return ConditionalGenerator(
                size,
                bands,
                self._latent_dim,
                num_classes,
                filters,
                seed=self._seed,
                batchnorm=self._batchnorm,
                name=name,
            )

        self.generator = generator("generator")
        self.ema_generator = generator("ema_generator")
        self.discriminator = ProjectionDiscriminator(
            size, bands, num_classes, filters, seed=self._seed + 7, name="discriminator"
        )
        self.noise_seed_generator = ReplicaSeedGenerator(self._seed, name="noise_seed_generator")
        self.augment_seed_generator = ReplicaSeedGenerator(
            self._seed + 1, name="augment_seed_generator"
        )
        self.build()

    def build(self, input_shape=None):
        for layer in (self.generator, self.ema_generator, self.discriminator):
            if not layer.built:
                layer.build()
        self.ema_generator.trainable = False
        for ema, weight in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            ema.assign(weight)
        self.built = True

    # -- the trainer's hooks --------------------------------------------------------------
    @classmethod
    def label_column(cls, options) -> str | None:
        """The dataset column the trainer reads as the class (None: unconditional)."""
        return options.get("label", "true_type")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def class_names(self) -> tuple[str, ...] | None:
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self._class_names) if self._class_names else 1

    def _labels(self, batch):
        if LABEL_KEY in batch:
            return ops.cast(batch[LABEL_KEY], "int32")
        return ops.zeros((ops.shape(batch[IMAGE_KEY])[0],), "int32")

    @property
    def noise_model(self) -> bool:
        """Whether generated images get the sky noise (``sky_noise`` and a known stretch)."""
        return self._sky_noise and self._image_stretch is not None

    def _observed(self, images, seed):
        if not self.noise_model:
            return images
        return add_sky_noise(images, self._image_stretch, seed, self._image_noise)

    def _augmented(self, images):
        if not self._augment:
            return images
        return diff_augment(images, self.augment_seed_generator, max_shift=self._max_shift)

    def make_optimizers(self, learning_rate: float = 2e-4) -> dict:
        """Adam for each network, built on its variables.

        Betas (0.5, 0.999): Miyato et al. (2018)'s setting for one
        discriminator step per generator step; (0, 0.9) is theirs for five.
        """
        discriminator = keras.optimizers.Adam(
            learning_rate, beta_1=0.5, beta_2=0.999, name="discriminator_adam"
        )
        discriminator.build(self.discriminator.trainable_variables)
        generator = keras.optimizers.Adam(
            learning_rate, beta_1=0.5, beta_2=0.999, name="generator_adam"
        )
        generator.build(self.generator.trainable_variables)
        return {"discriminator": discriminator, "generator": generator}

    def train_step_on_replica(self, batch, optimizers: dict, global_batch_size) -> dict:
        """One discriminator and one generator step on this replica's images.

        Returns the per-example hinge losses and mean logits, each summed and
        divided by ``global_batch_size``.
        """
        real = ops.cast(batch[IMAGE_KEY], self.compute_dtype)
        labels = self._labels(batch)
        n = ops.shape(real)[0]

        def average(values):
            return tf.nn.compute_average_loss(values, global_batch_size=global_batch_size)

        # 1. Discriminator: real -> above +1, fake -> below -1.
        z = keras.random.normal((n, self._latent_dim), seed=self.noise_seed_generator)
        fake = ops.stop_gradient(self.generator(z, labels, training=True))
        fake = self._observed(fake, self.noise_seed_generator)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logit = self.discriminator(self._augmented(real), labels, training=True)
            fake_logit = self.discriminator(self._augmented(fake), labels, training=True)
            d_loss = ops.relu(1.0 - real_logit) + ops.relu(1.0 + fake_logit)
            loss = average(d_loss)
        gradients = tape.gradient(loss, variables)
        optimizers["discriminator"].apply_gradients(zip(gradients, variables, strict=True))

        # 2. Generator: raise the discriminator's logit of its (augmented) images.
        z = keras.random.normal((n, self._latent_dim), seed=self.noise_seed_generator)
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self._observed(
                self.generator(z, labels, training=True), self.noise_seed_generator
            )
            g_loss = -self.discriminator(self._augmented(fake), labels, training=True)
            loss = average(g_loss)
        gradients = tape.gradient(loss, variables)
        optimizers["generator"].apply_gradients(zip(gradients, variables, strict=True))

        # 3. The moving average of the generator, warmed up over its first steps.
        t = ops.cast(optimizers["generator"].iterations, "float32")
        decay = ops.minimum(self._ema_decay, (1.0 + t) / (10.0 + t))
        for ema, weight in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            ema.assign(decay * ema.value + (1.0 - decay) * weight.value)

        return {
            "discriminator": average(d_loss),
            "generator": average(g_loss),
            "real_logit": average(real_logit),
            "fake_logit": average(fake_logit),
        }

    def per_example_losses(self, batch, training=False) -> dict:
        """Validation/test monitor: the same losses, EMA generator, fixed noise, no augmentation."""
        real = ops.cast(batch[IMAGE_KEY], self.compute_dtype)
        labels = self._labels(batch)
        z = keras.random.normal(
            (ops.shape(real)[0], self._latent_dim), seed=self._seed + 101, dtype=self.compute_dtype
        )
        fake = self._observed(self.ema_generator(z, labels, training=False), self._seed + 102)
        real_logit = self.discriminator(real, labels, training=False)
        fake_logit = self.discriminator(fake, labels, training=False)
        return {
            "discriminator": ops.relu(1.0 - real_logit) + ops.relu(1.0 + fake_logit),
            "generator": -fake_logit,
            "real_logit": real_logit,
            "fake_logit": fake_logit,
        }

    def check_losses(self, losses) -> str | None:
        """A reason to stop: a discriminator loss above ``max_discriminator_loss``."""
        value = losses.get("discriminator")
        if value is not None and value > self._max_discriminator_loss:
            return (
                f"discriminator loss {value:.4g} above max_discriminator_loss "
                f"{self._max_discriminator_loss:g} (about 2 at balance)"
            )
        return None

    # -- using it ---------------------------------------------------------------------
    def generate(
        self, labels, noise=None, seed: int = 0, batch_size: int = 256, noiseless: bool = False
    ) -> np.ndarray:
        """Images (N, size, size, bands) in the stretched scale from the EMA generator.

        ``labels``: class indices (N,); ``noise``: (N, latent_dim), default
        standard normal from ``seed`` (NumPy, so the same on every machine).
        With the noise model (:attr:`noise_model`) the images are observed:
        sky noise drawn from ``seed`` is added, unless ``noiseless``.
        """
        labels = np.asarray(labels, dtype=np.int32).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got {labels.max()}")
        if noise is None:
            noise = np.random.default_rng(seed).standard_normal((len(labels), self._latent_dim))
        noise = np.asarray(noise, dtype=np.float32)
        parts = [
            keras.ops.convert_to_numpy(
                self.ema_generator(noise[i : i + batch_size], labels[i : i + batch_size])
            )
            for i in range(0, len(labels), batch_size)
        ]
        if not parts:
            return np.zeros((0, *self._image_shape), np.float32)
        images = np.concatenate(parts).astype(np.float64)
        if self.noise_model and not noiseless:
            eps = np.random.default_rng([seed, 3]).standard_normal(images.shape)
            images = ops.convert_to_numpy(
                observe(images, self._image_stretch, eps, self._image_noise)
            )
        return images.astype(np.float32)

    def sample_grid(self, per_class: int | None = None) -> np.ndarray:
        """Fixed-noise samples, one row per class, the same noise in every row.

        The same noise across rows shows what the class alone changes.
        Returns (classes, per_class, size, size, bands), stretched scale.
        """
        per_class = per_class or self._samples_per_class
        noise = np.random.default_rng([self._seed, 2]).standard_normal(
            (per_class, self._latent_dim)
        )
        rows = [self.generate(np.full(per_class, k), noise=noise) for k in range(self.num_classes)]
        return np.stack(rows)

    def write_epoch_summaries(self, epoch: int, final: bool = False) -> None:
        """The fixed-noise grid as ``tf.summary.image("samples")`` every ``sample_every`` epochs.

        Rows are classes (``class_names`` order), F160W/F850LP/F435W shown as
        red/green/blue, sky black.
        """
        if not (final or epoch % self._sample_every == 0):
            return
        from tfelg.training.images import display_rgb

        grid = self.sample_grid()
        k, n, size, _, _ = grid.shape
        if grid.shape[-1] != 3:
            grid = grid[..., :1].repeat(3, axis=-1)
        rgb = display_rgb(grid).transpose(0, 2, 1, 3, 4).reshape(k * size, n * size, 3)
        names = ", ".join(self._class_names or ("all",))
        tf.summary.image(
            "samples",
            rgb[None],
            description=f"EMA generator, fixed noise; rows: {names}",
        )

    def encode(self, images, training=False):
        """The discriminator's penultimate features (N, filters) of stretched images."""
        return self.discriminator.features(ops.cast(images, self.compute_dtype), training=training)

    def call(self, inputs, training=False):
        z, labels = inputs
        return self.ema_generator(z, labels, training=training)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "image_shape": list(self._image_shape),
                "latent_dim": self._latent_dim,
                "class_names": None if self._class_names is None else list(self._class_names),
                "label": self._label,
                "classes": self._classes,
                "base_filters": self._base_filters,
                "ema_decay": self._ema_decay,
                "augment": self._augment,
                "max_shift": self._max_shift,
                "sample_every": self._sample_every,
                "samples_per_class": self._samples_per_class,
                "max_discriminator_loss": self._max_discriminator_loss,
                "sky_noise": self._sky_noise,
                "image_noise": None if self._image_noise is None else list(self._image_noise),
                "batchnorm": self._batchnorm,
                "image_stretch": (
                    None if self._image_stretch is None else list(self._image_stretch)
                ),
                "seed": self._seed,
            }
        )
        return config
