"""The conditional GAN (tfelg/models/gan.py) under tfelg's one training loop.

Tiny runs: 64x64x3 images (the real size) but a dozen of them, base_filters
4, a few steps. In-memory splits skip TFDS (hst_galaxies' GalSim rendering
and statmorph would cost minutes). The images are two kinds of Gaussian
blob with different colours, so that a class means something.
"""

import dataclasses
import json
import os
import subprocess
import sys
from unittest import mock

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest

from tfelg.errors import InputError
from tfelg.models.gan import (
    GAN,
    ConditionalGenerator,
    MinibatchStddev,
    add_sky_noise,
    diff_augment,
)
from tfelg.models.vae import ReplicaSeedGenerator
from tfelg.training import loop
from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)
from tfelg.training.images import ImagePreprocessor

TRUE_TYPES = ["elliptical", "spiral", "unknown"]
SIZES = {"train": 12, "validation": 4, "test": 4}


def blob_images(labels, seed):
    """Class 0: round and red (bright in the last band); class 1: elongated and blue."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:64, :64] - 31.5
    images = []
    for label in labels:
        q = 1.0 if label == 0 else 0.35
        profile = np.exp(-(xx**2 + (yy / q) ** 2) / (2 * 6.0**2))
        colour = np.array([0.2, 0.5, 1.0]) if label == 0 else np.array([1.0, 0.6, 0.3])
        image = 50.0 * profile[..., None] * colour + rng.normal(0, 1.0, (64, 64, 3))
        images.append(image)
    return np.asarray(images, np.float32)


def image_splits(seed=0):
    splits, start = {}, 0
    for split, n in SIZES.items():
        labels = np.arange(n) % 2  # elliptical, spiral
        splits[split] = {
            "object_id": np.array([f"g{start + i}" for i in range(n)]),
            "image": blob_images(labels, seed + start),
            "true_type": labels.astype(np.int64),
            "uvj": (1 - labels).astype(np.int64),
        }
        start += n
    return splits


def gan_config(epochs=2, **options):
    return ExperimentConfig(
        data=DataConfig(dataset="hst_galaxies/synthetic", input="image"),
        model=ModelConfig(
            name="gan",
            latent_dim=8,
            options={"base_filters": 4, "sample_every": 1, "samples_per_class": 2, **options},
        ),
        trainer=TrainerConfig(epochs=epochs, batch_size=4, learning_rate=2e-4, seed=3),
        runtime=RuntimeConfig(progress_bar=False),
    )


def train(config, workdir, splits=None, names=None, trainer_class=None):
    trainer = (trainer_class or loop.Trainer)(
        config,
        workdir,
        splits=splits or image_splits(),
        class_names=names or {"true_type": TRUE_TYPES, "uvj": ["star_forming", "quiescent"]},
        log=lambda _: None,
    )
    trainer.run()
    return trainer


class DiffAugmentTest(tf.test.TestCase):
    def test_geometry_only_colours_kept(self):
        images = tf.constant(blob_images([0, 1, 0, 1, 0, 1], seed=1))
        seed = ReplicaSeedGenerator(0)
        turned = diff_augment(images, seed, max_shift=0).numpy()
        for a, b in zip(images.numpy(), turned, strict=True):
            # Flips and rotations permute pixels: each band keeps its values.
            for band in range(3):
                np.testing.assert_allclose(
                    np.sort(a[..., band].ravel()), np.sort(b[..., band].ravel())
                )
        self.assertFalse(np.allclose(images.numpy(), turned), "nothing was augmented")
        shifted = diff_augment(images, seed, flips=False, rotations=False, max_shift=3).numpy()
        # A shift moves the image and pads zeros (sky): no value is invented.
        for a, b in zip(images.numpy(), shifted, strict=True):
            kept = b[np.abs(b).sum(axis=-1) > 0]
            self.assertTrue(np.isin(kept[:, 0], a[..., 0]).all())

    def test_gradient_reaches_the_images(self):
        images = tf.Variable(blob_images([0, 1], seed=2))
        with tf.GradientTape() as tape:
            out = tf.reduce_sum(diff_augment(images, ReplicaSeedGenerator(1)) ** 2)
        gradient = tape.gradient(out, images)
        self.assertGreater(float(tf.reduce_sum(tf.abs(gradient))), 0.0)


class DiscriminatorHeadTest(tf.test.TestCase):
    def test_minibatch_stddev_tells_a_collapsed_batch_from_a_varied_one(self):
        rng = np.random.default_rng(0)
        varied = rng.normal(0.0, 1.0, (8, 4, 4, 5)).astype(np.float32)
        collapsed = np.repeat(varied[:1], 8, axis=0)
        out_varied = MinibatchStddev()(varied).numpy()
        out_collapsed = MinibatchStddev()(collapsed).numpy()
        self.assertEqual(out_varied.shape, (8, 4, 4, 6))
        np.testing.assert_array_equal(out_varied[..., :5], varied)
        self.assertAllClose(out_collapsed[..., 5], np.full((8, 4, 4), 1e-4), atol=1e-6)
        expected = np.sqrt(varied.var(axis=0) + 1e-8).mean()
        self.assertAllClose(out_varied[..., 5], np.full((8, 4, 4), expected), rtol=1e-5)

    def test_logit_sees_where_the_light_is(self):
        """A centred and an off-centre blob differ in logit (the flattening head), not only at edges."""
        model = GAN(image_shape=(16, 16, 1), base_filters=4, class_names=None, seed=3)
        yy, xx = np.mgrid[:16, :16]
        centred = np.exp(-((xx - 7.5) ** 2 + (yy - 7.5) ** 2) / 4.0)
        shifted = np.exp(-((xx - 3.5) ** 2 + (yy - 7.5) ** 2) / 4.0)
        images = np.stack([centred, shifted])[..., None].astype(np.float32)
        labels = np.zeros(2, np.int32)
        logits = model.discriminator(images, labels).numpy()
        summed = model.discriminator.features(images).numpy()
        self.assertGreater(abs(logits[0] - logits[1]), 1e-4)
        # The exported features (sum over pixels) do not depend on the rest of the batch.
        self.assertAllClose(model.discriminator.features(images[:1]).numpy()[0], summed[0])


class SkyNoiseTest(tf.test.TestCase):
    def test_noise_is_unit_gaussian_in_flux_and_kept_by_generate(self):
        stretch = np.array([6.0, 6.5, 7.5])
        rng = np.random.default_rng(1)
        clean = rng.uniform(-0.2, 0.9, (64, 16, 16, 3)).astype(np.float32)
        noisy = add_sky_noise(clean, stretch, keras.random.SeedGenerator(4)).numpy()
        # In flux units (sky sigma = 1: the stretch's scale s_b) the difference is N(0, 1).
        eps = np.sinh(stretch * noisy.astype(np.float64)) - np.sinh(stretch * clean)
        self.assertAllClose(eps.mean(axis=(0, 1, 2)), np.zeros(3), atol=0.03)
        self.assertAllClose(eps.std(axis=(0, 1, 2)), np.ones(3), atol=0.03)

        model = GAN(image_shape=(16, 16, 3), base_filters=4, image_stretch=stretch, seed=2)
        self.assertTrue(model.noise_model)
        observed = model.generate([0, 0], seed=7).astype(np.float64)
        noiseless = model.generate([0, 0], seed=7, noiseless=True).astype(np.float64)
        eps = np.sinh(stretch * observed) - np.sinh(stretch * noiseless)
        self.assertGreater(eps.std(), 0.8)
        self.assertLess(eps.std(), 1.2)
        self.assertFalse(
            GAN(
                image_shape=(16, 16, 3), base_filters=4, sky_noise=False, image_stretch=stretch
            ).noise_model
        )
        self.assertFalse(GAN(image_shape=(16, 16, 3), base_filters=4).noise_model)
        with self.assertRaisesRegex(ValueError, "image_stretch must be 3 positive numbers"):
            GAN(image_shape=(16, 16, 3), image_stretch=[1.0, -2.0, 3.0])


class GanModelTest(tf.test.TestCase):
    def test_save_load_generate_and_bad_arguments(self):
        model = GAN(image_shape=(32, 32, 3), latent_dim=4, class_names=["a", "b"], base_filters=4)
        path = os.path.join(self.get_temp_dir(), "gan.keras")
        model.save(path)
        again = keras.saving.load_model(path, compile=False)
        np.testing.assert_array_equal(
            model.generate([0, 1, 1], seed=5), again.generate([0, 1, 1], seed=5)
        )
        self.assertEqual(again.class_names, ("a", "b"))
        self.assertEqual(model.generate([0, 1], seed=1).shape, (2, 32, 32, 3))
        self.assertEqual(model.encode(np.zeros((2, 32, 32, 3), np.float32)).shape, (2, 16))
        with self.assertRaisesRegex(ValueError, r"labels must be in \[0, 2\)"):
            model.generate([2])
        with self.assertRaisesRegex(ValueError, "power-of-two size"):
            GAN(image_shape=(48, 48, 3))
        with self.assertRaisesRegex(ValueError, "max_shift must be in"):
            GAN(image_shape=(16, 16, 3), max_shift=8)
        self.assertIsNone(model.check_losses({"discriminator": 2.0}))
        self.assertIn("above max_discriminator_loss", model.check_losses({"discriminator": 1e3}))


class GanTrainingTest(absltest.TestCase):
    def test_trains_and_writes_outputs(self):
        workdir = self.create_tempdir().full_path
        trainer = train(gan_config(), workdir)
        metrics = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(metrics["selected_on"], "last epoch")
        self.assertEqual(metrics["best_epoch"], 2)
        self.assertEqual(metrics["classes"], ["elliptical", "spiral"])  # 'unknown' never
        self.assertEqual(metrics["num_examples"], SIZES)
        self.assertNotIn("reconstruction_error", metrics)
        for split in loop.SPLITS:
            self.assertTrue(all(np.isfinite(v) for v in metrics["losses"][split].values()))
        self.assertEqual(
            set(metrics["losses"]["test"]),
            {"discriminator", "generator", "real_logit", "fake_logit"},
        )
        # The stretch was fitted on train and inverts exactly.
        prep = ImagePreprocessor.load(os.path.join(workdir, "preprocessing.json"))
        images = image_splits()["test"]["image"]
        np.testing.assert_allclose(
            prep.inverse(prep.scale_images(images)), images, rtol=1e-4, atol=1e-4
        )
        self.assertLessEqual(np.abs(prep.scale_images(image_splits()["train"]["image"])).max(), 1.0)
        # The saved model is the EMA generator of the last epoch, with the data's noise model.
        trained = loop.load_trained(workdir)
        self.assertTrue(trained.model.noise_model)
        np.testing.assert_allclose(trained.model.get_config()["image_stretch"], prep.stretch)
        np.testing.assert_array_equal(
            trained.model.generate([0, 1], seed=1), trainer.model.generate([0, 1], seed=1)
        )
        # Embeddings: the discriminator's features (8 x base_filters) of every image.
        z = trained.embed(image_splits()["test"])
        self.assertEqual(z.shape, (SIZES["test"], 32))
        np.testing.assert_allclose(
            z[1], trainer.model.encode(prep.scale_images(images[1:2]))[0], rtol=1e-5
        )
        # A sample grid per epoch (sample_every=1): 2 classes x 2 samples of 64 px.
        tags = {}
        folder = os.path.join(workdir, "tensorboard", "train")
        for name in os.listdir(folder):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
                for value in event.summary.value:
                    tags.setdefault(value.tag, []).append((event.step, value))
        self.assertEqual([step for step, _ in tags["samples"]], [1, 2])
        grid = tf.image.decode_png(tf.make_ndarray(tags["samples"][-1][1].tensor)[2])
        self.assertEqual(tuple(grid.shape), (128, 128, 3))

    def test_killed_run_resumes_to_the_uninterrupted_weights(self):
        config = gan_config(epochs=3)
        whole = train(config, self.create_tempdir().full_path)

        class Killed(loop.Trainer):
            """Dies at the start of the third epoch, after the second epoch's backup."""

            def _train_epoch_batches(self, epoch):
                if epoch == 2:
                    raise KeyboardInterrupt("killed")
                return super()._train_epoch_batches(epoch)

        workdir = self.create_tempdir().full_path
        with self.assertRaises(KeyboardInterrupt):
            train(config, workdir, trainer_class=Killed)
        resumed = train(config, workdir)
        metrics = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(metrics["resumed_from_epoch"], 2)
        for a, b in zip(whole.model.get_weights(), resumed.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        for name in ("discriminator", "generator"):
            for a, b in zip(
                whole.optimizers[name].variables,
                resumed.optimizers[name].variables,
                strict=True,
            ):
                np.testing.assert_array_equal(a.numpy(), b.numpy())

    def test_backup_of_another_model_version_is_refused(self):
        """Same config, other code (no batch normalisation): a clear error, not TF's."""

        class Killed(loop.Trainer):
            def _train_epoch_batches(self, epoch):
                if epoch == 1:
                    raise KeyboardInterrupt("killed")
                return super()._train_epoch_batches(epoch)

        workdir = self.create_tempdir().full_path
        original = ConditionalGenerator.__init__

        def without_batchnorm(self, *args, **kwargs):
            kwargs["batchnorm"] = False
            original(self, *args, **kwargs)

        with mock.patch.object(ConditionalGenerator, "__init__", without_batchnorm):
            with self.assertRaises(KeyboardInterrupt):
                train(gan_config(epochs=2), workdir, trainer_class=Killed)
        with self.assertRaisesRegex(
            InputError, r"does not fit this 'gan' model .*Use a new --workdir"
        ):
            train(gan_config(epochs=2), workdir)

    def test_diverging_discriminator_stops_with_the_last_good_backup(self):
        class Diverges(loop.Trainer):
            """Huge images from the second epoch on: the discriminator loss explodes."""

            def _train_epoch_batches(self, epoch):
                for batch in super()._train_epoch_batches(epoch):
                    if epoch >= 1:
                        batch = dict(batch, image=batch["image"] * 1e6)
                    yield batch

        workdir = self.create_tempdir().full_path
        with self.assertRaisesRegex(
            FloatingPointError,
            r"diverged at epoch 2, step 1: discriminator loss .* above max_discriminator_loss"
            r".*last good epoch \(1\)",
        ):
            train(gan_config(epochs=3), workdir, trainer_class=Diverges)
        backup = os.path.join(workdir, "backup")
        self.assertEqual(tf.train.latest_checkpoint(backup), os.path.join(backup, "ckpt-1"))


class GanBadInputTest(absltest.TestCase):
    def trainer(self, splits, config=None, names=None):
        return train(config or gan_config(epochs=1), self.create_tempdir().full_path, splits, names)

    def test_missing_label_column(self):
        splits = image_splits()
        for arrays in splits.values():
            del arrays["true_type"]
        with self.assertRaisesRegex(InputError, r"no label column 'true_type' to condition on"):
            self.trainer(splits)

    def test_other_label_column_is_used(self):
        workdir = self.create_tempdir().full_path
        train(gan_config(epochs=1, label="uvj"), workdir)
        metrics = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(
            (metrics["label"], metrics["classes"]), ("uvj", ["star_forming", "quiescent"])
        )

    def test_nan_image_names_split_and_row(self):
        splits = image_splits()
        splits["validation"]["image"][2, 10, 10, 1] = np.nan
        with self.assertRaisesRegex(
            InputError, r"split 'validation', row 2 \(object_id g14\): the image has 1 NaN"
        ):
            self.trainer(splits)

    def test_class_without_examples(self):
        # Three named classes, but no irregular (2) in train.
        names = {"true_type": ["elliptical", "spiral", "irregular", "unknown"]}
        with self.assertRaisesRegex(
            InputError,
            r"class\(es\) 'irregular' of column 'true_type' have no example in the train",
        ):
            self.trainer(image_splits(), names=names)
        # ... unless the classes are chosen.
        workdir = self.create_tempdir().full_path
        train(gan_config(epochs=1, classes=["spiral", "elliptical"]), workdir, names=names)
        metrics = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(metrics["classes"], ["spiral", "elliptical"])

    def test_wrong_input_kind(self):
        config = dataclasses.replace(gan_config(), data=DataConfig())
        with self.assertRaisesRegex(ValueError, "model 'gan' trains on images"):
            loop.Trainer(config, self.create_tempdir().full_path, splits=image_splits())


# A fresh interpreter with two logical CPUs: the GAN under a two-replica
# MirroredStrategy through the loop. Spectral normalisation, the EMA and the
# seed generators assign variables inside the replica step: every replica
# must end with the same values.
TWO_REPLICAS = r"""
import json, os, sys, tempfile
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from gan_test import TRUE_TYPES, gan_config, image_splits
from tfelg.training import loop

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with tempfile.TemporaryDirectory() as workdir:
    trainer = loop.Trainer(gan_config(epochs=1), workdir, splits=image_splits(),
                           class_names={"true_type": TRUE_TYPES}, log=lambda _: None,
                           strategy=strategy)
    metrics = trainer.run()
agree = all(
    all(np.array_equal(v.value.values[0].numpy(), c.numpy()) for c in v.value.values[1:])
    for v in trainer.model.variables
)
print(json.dumps({"replicas": metrics["num_replicas"], "agree": agree,
                  "finite": all(np.isfinite(x) for x in metrics["losses"]["test"].values())}))
"""


class TwoReplicaGanTest(absltest.TestCase):
    def test_two_replicas_train_and_stay_in_step(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        done = subprocess.run(
            [sys.executable, "-c", TWO_REPLICAS, os.path.abspath(__file__)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertEqual(result, {"replicas": 2, "agree": True, "finite": True})


if __name__ == "__main__":
    absltest.main()
