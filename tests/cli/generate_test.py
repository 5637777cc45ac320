"""tfelg-generate and tfelg.training.generate: a balanced library that tfds.load reads.

One tiny GAN (base_filters 4, one epoch on 16 toy stamps) is trained for the
class; the library is then written by the function and by the binary (a
subprocess: absl flags are process-global) and read back with tfds.load.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow_datasets as tfds
from absl.testing import absltest

import tfelg
from tfelg.errors import InputError
from tfelg.testing.toy_images import toy_stamps
from tfelg.training import generate, loop
from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tfelg.__file__)))
# Like hst_galaxies' true_type: 'unknown' is a class name without examples.
NAMES = ["elliptical", "spiral", "unknown"]


def toy_splits():
    splits = {}
    for i, (split, n) in enumerate((("train", 16), ("validation", 4), ("test", 4))):
        images, kind = toy_stamps(n, seed=10 + i)
        kind[:2] = [0, 1]  # both classes in every split
        splits[split] = {
            "image": images,
            "true_type": kind.astype(np.int64),
            "object_id": np.array([f"{split}_{j}" for j in range(n)]),
        }
    return splits


def load_library(data_dir):
    ds = tfds.load(generate.DATASET_NAME, data_dir=data_dir, split="train")
    rows = list(tfds.as_numpy(ds))
    return rows, tfds.builder(generate.DATASET_NAME, data_dir=data_dir).info


class GenerateTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A fresh folder: the default test tmpdir outlives the run, and a
        # workdir left by an earlier version of the model would be resumed.
        cls._tmp = tempfile.TemporaryDirectory()
        cls.workdir = os.path.join(cls._tmp.name, "gan_run")
        config = ExperimentConfig(
            data=DataConfig(dataset="hst_galaxies/synthetic", input="image"),
            model=ModelConfig(name="gan", latent_dim=8, options={"base_filters": 4}),
            trainer=TrainerConfig(epochs=1, batch_size=8, seed=1),
            runtime=RuntimeConfig(progress_bar=False),
        )
        cls.splits = toy_splits()
        loop.train_and_evaluate(
            config,
            cls.workdir,
            splits=cls.splits,
            log=lambda _: None,
            class_names={"true_type": NAMES},
        )

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
        super().tearDownClass()

    def test_balanced_library_reads_like_real_data(self):
        out = self.create_tempdir().full_path
        record = generate.write_library(self.workdir, out, per_class=3, seed=4)
        rows, info = load_library(out)
        self.assertLen(rows, 6)
        self.assertEqual(info.features["true_type"].names, NAMES)  # the dataset's indices
        labels = [int(r["true_type"]) for r in rows]
        self.assertEqual(sorted(labels), [0, 0, 0, 1, 1, 1])
        self.assertTrue(all(r["generated"] for r in rows))
        self.assertEqual(record["counts"]["generated"], {"elliptical": 3, "spiral": 3})
        # Images in flux: the EMA generator's output through the inverted stretch.
        trained = loop.load_trained(self.workdir)
        noise = np.random.default_rng([4, 1]).standard_normal((3, 8))
        expected = trained.preprocessor.inverse(
            trained.model.generate([1, 1, 1], noise=noise, seed=generate.sky_noise_seed(4, 1))
        )
        by_id = {r["object_id"].decode(): r["image"] for r in rows}
        np.testing.assert_allclose(by_id["generated_spiral_2"], expected[2], rtol=1e-5)
        self.assertEqual(by_id["generated_spiral_2"].shape, (64, 64, 3))
        # The same seed, the same library.
        again = self.create_tempdir().full_path
        generate.write_library(self.workdir, again, per_class=3, seed=4)
        other = {r["object_id"].decode(): r["image"] for r in load_library(again)[0]}
        for key, image in by_id.items():
            np.testing.assert_array_equal(image, other[key])

    def test_noiseless_library_is_the_same_galaxies_without_sky_noise(self):
        noisy_dir, clean_dir = self.create_tempdir().full_path, self.create_tempdir().full_path
        generate.write_library(self.workdir, noisy_dir, per_class=2, seed=4)
        record = generate.write_library(
            self.workdir, clean_dir, per_class=2, seed=4, noiseless=True
        )
        self.assertTrue(record["noiseless"])
        noisy = {r["object_id"].decode(): r["image"] for r in load_library(noisy_dir)[0]}
        clean = {r["object_id"].decode(): r["image"] for r in load_library(clean_dir)[0]}
        self.assertEqual(sorted(noisy), sorted(clean))
        # The generator's output as it is, through the inverted stretch.
        trained = loop.load_trained(self.workdir)
        self.assertTrue(trained.model.noise_model)
        noise = np.random.default_rng([4, 0]).standard_normal((2, 8))
        expected = trained.preprocessor.inverse(
            trained.model.generate([0, 0], noise=noise, noiseless=True)
        )
        np.testing.assert_allclose(clean["generated_elliptical_1"], expected[1], rtol=1e-5)
        # The noise model adds sigma_sky * eps in flux, per band: the difference
        # between the two libraries is that noise, of the training frames' sky
        # sigma (the stretch's scale s_b times the model's image_noise).
        keys = sorted(noisy)
        difference = np.stack([noisy[k] - clean[k] for k in keys]).astype(np.float64)
        sky_sigma = np.asarray(trained.preprocessor.scale) * np.asarray(
            trained.model.get_config()["image_noise"] or 1.0
        )
        np.testing.assert_allclose(difference.std(axis=(0, 1, 2)), sky_sigma, rtol=0.05)
        # Each image has its own noise: not the same pattern for the i-th image of
        # every class, and another seed draws other noise.
        by_key = dict(zip(keys, difference, strict=True))
        self.assertGreater(
            np.abs(by_key["generated_elliptical_0"] - by_key["generated_spiral_0"]).mean(),
            0.5 * sky_sigma.min(),
        )
        self.assertNotEqual(generate.sky_noise_seed(4, 0), generate.sky_noise_seed(5, 0))
        # So the noiseless frames are quieter: lower outer-frame MAD in every band.
        frame = np.ones((64, 64), bool)
        frame[8:-8, 8:-8] = False

        def frame_mad(images):
            values = np.stack([images[k] for k in keys])[:, frame]  # (N, pixels, bands)
            return np.median(np.abs(values - np.median(values, axis=1, keepdims=True)), axis=1)

        self.assertTrue(np.all(frame_mad(clean) < frame_mad(noisy)))

    def test_mixed_with_the_real_training_split(self):
        out = self.create_tempdir().full_path
        real = self.splits["train"]
        record = generate.write_library(self.workdir, out, per_class=2, real=real)
        rows, _ = load_library(out)
        real_rows = [r for r in rows if not r["generated"]]
        self.assertLen(real_rows, 16)
        self.assertLen(rows, 16 + 4)
        counts = np.bincount(real["true_type"], minlength=2)
        self.assertEqual(
            record["counts"]["real"], {"elliptical": int(counts[0]), "spiral": int(counts[1])}
        )
        by_id = {r["object_id"].decode(): r for r in real_rows}
        np.testing.assert_array_equal(by_id["train_5"]["image"], real["image"][5])
        self.assertEqual(int(by_id["train_5"]["true_type"]), int(real["true_type"][5]))

    def test_refusals(self):
        out = self.create_tempdir().full_path
        with self.assertRaisesRegex(ValueError, "per_class must be an integer >= 1"):
            generate.write_library(self.workdir, out, per_class=0)
        with self.assertRaisesRegex(InputError, "no trained model here"):
            generate.write_library(out, out, per_class=1)
        generate.write_library(self.workdir, out, per_class=1)
        with self.assertRaisesRegex(InputError, "a generated library is already there"):
            generate.write_library(self.workdir, out, per_class=1)

    def _binary(self, out, *extra):
        """tfelg-generate on the run, in a subprocess (its flags are process-global)."""
        env = dict(
            os.environ,
            CUDA_VISIBLE_DEVICES="",
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])),
        )
        command = [
            sys.executable,
            "-m",
            "tfelg.cli.generate",
            f"--workdir={self.workdir}",
            f"--output={out}",
            "--per_class=2",
            *extra,
        ]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    def test_binary(self):
        out = self.create_tempdir().full_path
        done = self._binary(out)
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertEqual(
            json.loads(done.stdout.strip().splitlines()[-1]),
            {"generated": {"elliptical": 2, "spiral": 2}, "real": {"elliptical": 0, "spiral": 0}},
        )
        rows, _ = load_library(out)
        self.assertEqual(sorted(int(r["true_type"]) for r in rows), [0, 0, 1, 1])
        with open(os.path.join(out, generate.DATASET_NAME, generate.PROVENANCE_FILE)) as f:
            self.assertFalse(json.load(f)["noiseless"])
        again = self._binary(out)
        self.assertEqual(again.returncode, 2)
        self.assertIn("a generated library is already there", again.stderr)

    def test_binary_noiseless(self):
        out, reference = self.create_tempdir().full_path, self.create_tempdir().full_path
        done = self._binary(out, "--noiseless", "--seed=3")
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        with open(os.path.join(out, generate.DATASET_NAME, generate.PROVENANCE_FILE)) as f:
            self.assertTrue(json.load(f)["noiseless"])
        generate.write_library(self.workdir, reference, per_class=2, seed=3, noiseless=True)
        expected = {r["object_id"].decode(): r["image"] for r in load_library(reference)[0]}
        written = {r["object_id"].decode(): r["image"] for r in load_library(out)[0]}
        self.assertEqual(sorted(written), sorted(expected))
        for key, image in written.items():
            np.testing.assert_array_equal(image, expected[key])


if __name__ == "__main__":
    absltest.main()
