"""SimCLR (tfelg/models/simclr.py): colour-safe views, NT-Xent, training under the loop."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import tensorflow as tf

from tfelg.models import features, simclr
from tfelg.testing.toy_images import BLUE, RED, toy_stamps
from tfelg.training import images as images_lib
from tfelg.training import loop
from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)

# A small encoder: the tests check the mechanics, not the representation.
SMALL = {"widths": [8, 16], "blocks_per_stage": 1, "projection_units": 32}


def toy_splits(n_train=48, n_other=16, seed=0):
    images, kind = toy_stamps(n_train + 2 * n_other, seed=seed)
    parts = np.split(np.arange(len(images)), [n_train, n_train + n_other])
    return {
        split: {
            "image": images[rows],
            "true_type": kind[rows].astype(np.int64),
            "object_id": np.array([f"g{i}" for i in rows]),
        }
        for split, rows in zip(loop.SPLITS, parts, strict=True)
    }


def config(epochs=2, batch_size=16, **runtime):
    return ExperimentConfig(
        data=DataConfig(dataset="hst_galaxies/synthetic", input="image"),
        model=ModelConfig(name="simclr", latent_dim=8, options=dict(SMALL)),
        trainer=TrainerConfig(epochs=epochs, batch_size=batch_size, learning_rate=3e-3, seed=1),
        runtime=RuntimeConfig(progress_bar=False, **runtime),
    )


class AugmentationTest(tf.test.TestCase):
    def test_views_keep_band_ratios(self):
        """Shifts, rescaling, rotations, flips and blur change where the light is, never its colour."""
        images, kind = toy_stamps(16, seed=3, noise=0.02)
        prep = images_lib.ImagePreprocessor.fit({"image": images})
        y = prep.scale_images(images)
        view = simclr.augment(y, tf.constant([4, 2]), max_blur_sigma=1.5, max_noise=0.0)
        flux = prep.inverse(view.numpy())
        self.assertGreater(np.abs(flux - images).max(), 0.1)  # the views do differ
        # Band ratios of each galaxy's total light within its bright region.
        bright = images.sum(axis=-1) > 0.5 * images.sum(axis=-1).max(axis=(1, 2), keepdims=True)
        for i in range(len(images)):
            colour = RED if kind[i] == 0 else BLUE
            region = flux[i].sum(axis=-1) > 0.5 * flux[i].sum(axis=-1).max()
            ratio = flux[i][region].sum(axis=0) / flux[i][region].sum()
            before = images[i][bright[i]].sum(axis=0) / images[i][bright[i]].sum()
            np.testing.assert_allclose(ratio, colour / colour.sum(), atol=0.02)
            np.testing.assert_allclose(ratio, before, atol=0.02)

    def test_per_galaxy_randomness_and_fixed_eval_views(self):
        images, _ = toy_stamps(8, seed=4)
        y = images_lib.ImagePreprocessor.fit({"image": images}).scale_images(images)
        a = simclr.augment(y, tf.constant([1, 1])).numpy()
        b = simclr.augment(y, tf.constant([1, 1])).numpy()
        c = simclr.augment(y, tf.constant([1, 2])).numpy()
        np.testing.assert_array_equal(a, b)
        self.assertGreater(np.abs(a - c).max(), 0.1)
        model = simclr.SimCLR(latent_dim=4, **SMALL)
        first = model.per_example_losses({"image": y})["loss"].numpy()
        again = model.per_example_losses({"image": y})["loss"].numpy()
        np.testing.assert_array_equal(first, again)
        self.assertEqual(first.shape, (8,))

    def test_blur_conserves_flux_away_from_the_edges(self):
        u = np.zeros((2, 32, 32, 3), np.float32)
        u[:, 16, 16] = [1.0, 2.0, 3.0]
        out = simclr.blur(tf.constant(u), tf.constant([0.0, 2.0])).numpy()
        np.testing.assert_allclose(out[0], u[0], atol=1e-6)  # sigma 0: unchanged
        np.testing.assert_allclose(out[1].sum(axis=(0, 1)), [1.0, 2.0, 3.0], rtol=1e-4)
        self.assertLess(out[1, 16, 16, 0], 0.1)


class NtXentTest(tf.test.TestCase):
    def test_matches_a_direct_computation(self):
        rng = np.random.default_rng(0)
        z1, z2 = rng.normal(size=(2, 5, 4)).astype(np.float32)
        loss, accuracy = simclr.nt_xent(tf.constant(z1), tf.constant(z2), 0.5)
        z = np.concatenate([z1, z2])
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        sim = z @ z.T / 0.5
        expected = []
        for i in range(10):
            j = (i + 5) % 10
            others = np.delete(sim[i], i)
            expected.append(-sim[i, j] + np.log(np.exp(others).sum()))
        expected = np.array(expected)
        np.testing.assert_allclose(loss.numpy(), 0.5 * (expected[:5] + expected[5:]), rtol=1e-5)
        self.assertAllInRange(accuracy.numpy(), 0.0, 1.0)
        # Identical, mutually orthogonal pairs: every view finds its partner.
        eye = np.eye(4, dtype=np.float32)
        loss, accuracy = simclr.nt_xent(tf.constant(eye), tf.constant(eye), 0.1)
        np.testing.assert_array_equal(accuracy.numpy(), np.ones(4))
        self.assertAllLess(loss.numpy(), 1e-3)


class TrainingTest(tf.test.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.splits = toy_splits()

    def test_trains_under_the_loop_saves_and_embeds(self):
        workdir = self.get_temp_dir() + "/run"
        trainer = loop.Trainer(config(epochs=6), workdir, splits=self.splits, log=lambda _: None)
        metrics = trainer.run()
        with open(os.path.join(workdir, loop.HISTORY_FILE)) as f:
            history = json.load(f)
        losses = [h["train"]["loss"] for h in history]
        self.assertTrue(np.all(np.isfinite(losses)))
        # On two easy kinds of blobs the contrastive loss falls from chance, log(2B - 1).
        self.assertAlmostEqual(losses[0], np.log(2 * 16 - 1), delta=0.3)
        self.assertLess(losses[-1], losses[0] - 0.3)
        self.assertIn("pair_accuracy", metrics["losses"]["test"])
        self.assertEqual(metrics["selected_on"], "validation loss")
        trained = loop.load_trained(workdir)
        self.assertIsInstance(trained.model, simclr.SimCLR)
        self.assertEqual(trained.model.get_config()["widths"], SMALL["widths"])
        test = self.splits["test"]["image"]
        y = trained.preprocessor.scale_images(test)
        np.testing.assert_allclose(
            trained.model.encode(y).numpy(), trainer.model.encode(y).numpy(), rtol=1e-5, atol=1e-6
        )
        # The workdir as a feature extractor: the encoder with the run's own scaling.
        extractor = features.simclr_extractor(workdir)
        self.assertEqual(extractor.name, "simclr")
        self.assertEqual(extractor(test).shape, (len(test), SMALL["widths"][-1]))
        np.testing.assert_allclose(
            extractor(test), trained.model.encode(y).numpy(), rtol=1e-5, atol=1e-6
        )

    def test_killed_run_resumes_to_the_uninterrupted_weights(self):
        """The views' seed generator and batch-norm statistics are in the checkpoint."""

        def run(workdir, trainer_class=loop.Trainer):
            trainer = trainer_class(
                config(epochs=3), workdir, splits=self.splits, log=lambda _: None
            )
            trainer.run()
            return trainer

        class Killed(loop.Trainer):
            def _train_epoch_batches(self, epoch):
                if epoch == 2:
                    raise KeyboardInterrupt("killed")
                return super()._train_epoch_batches(epoch)

        whole = run(self.get_temp_dir() + "/whole")
        workdir = self.get_temp_dir() + "/killed"
        with self.assertRaises(KeyboardInterrupt):
            run(workdir, Killed)
        resumed = run(workdir)
        with open(os.path.join(workdir, loop.METRICS_FILE)) as f:
            self.assertEqual(json.load(f)["resumed_from_epoch"], 2)
        for a, b in zip(whole.model.get_weights(), resumed.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(
            whole.model.seed_generator.state.numpy(), resumed.model.seed_generator.state.numpy()
        )

    def test_bad_options_are_refused(self):
        with self.assertRaisesRegex(ValueError, "temperature must be > 0"):
            simclr.SimCLR(temperature=0.0)
        with self.assertRaisesRegex(ValueError, "max_noise must be >= 0"):
            simclr.SimCLR(max_noise=-1)
        model = simclr.SimCLR(latent_dim=4, **SMALL)
        again = simclr.SimCLR.from_config(model.get_config())
        self.assertEqual(again.get_config(), model.get_config())
        self.assertIsInstance(keras.saving.get_registered_object("tfelg>SimCLR"), type)


TWO_REPLICAS = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np
sys.path.insert(0, {tests!r})
from simclr_test import config, toy_splits
from tfelg.training import loop

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
trainer = loop.Trainer(config(epochs=2), {workdir!r}, splits=toy_splits(), strategy=strategy,
                       log=lambda _: None)
metrics = trainer.run()
weights = trainer.model.get_weights()
print(json.dumps({{"replicas": strategy.num_replicas_in_sync,
                  "loss": metrics["losses"]["test"]["loss"], "n": metrics["num_replicas"],
                  "finite": bool(all(np.all(np.isfinite(w)) for w in weights))}}))
"""


class MirroredTest(tf.test.TestCase):
    def test_two_replicas_on_logical_cpus(self):
        workdir = self.get_temp_dir() + "/mirrored"
        script = TWO_REPLICAS.format(tests=os.path.dirname(__file__), workdir=workdir)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertEqual(result["replicas"], 2)
        self.assertTrue(result["finite"])
        self.assertTrue(np.isfinite(result["loss"]))


if __name__ == "__main__":
    tf.test.main()
