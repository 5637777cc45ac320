"""The GAN quality report: its samples, the floor and baseline rows, and the script."""

import os
import subprocess
import sys
from unittest import mock

import numpy as np
from absl.testing import absltest

from tfelg import morphology
from tfelg.metrics import gan_report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = ("elliptical", "late_spiral")


class SamplesTest(absltest.TestCase):
    def test_render_balanced(self):
        a = gan_report.render_balanced(CLASSES, 3, 5, name="a", num_workers=1)
        b = gan_report.render_balanced(CLASSES, 3, 6, name="b", num_workers=1)
        again = gan_report.render_balanced(CLASSES, 3, 5, name="a", num_workers=1)
        np.testing.assert_array_equal(a.labels, [0, 0, 0, 1, 1, 1])
        self.assertEqual(a.images.shape, (6, 64, 64, 3))
        np.testing.assert_array_equal(a.images, again.images)
        for i in range(6):
            self.assertFalse(np.array_equal(a.images[i], b.images[i]))
        cache = self.create_tempdir().full_path
        cached = gan_report.render_balanced(CLASSES, 3, 5, name="c", num_workers=1, cache_dir=cache)
        np.testing.assert_array_equal(cached.images, a.images)
        with mock.patch.object(gan_report.synthetic, "generate", side_effect=AssertionError):
            from_cache = gan_report.render_balanced(CLASSES, 3, 5, name="c", cache_dir=cache)
        np.testing.assert_array_equal(from_cache.images, a.images)
        np.testing.assert_array_equal(from_cache.labels, a.labels)
        with self.assertRaisesRegex(ValueError, "unknown true type 'spiral'"):
            gan_report.render_balanced(["spiral"], 1, 0, name="x")

    def test_blurred_mean_baseline(self):
        rng = np.random.default_rng(0)
        y, x = np.mgrid[:32, :32]
        blob = np.exp(-((x - 15.5) ** 2 + (y - 15.5) ** 2) / 8.0)
        images = np.stack([blob[..., None] * [1.0, 2.0, 3.0] * (k + 1) for k in range(4)])
        images = images + rng.normal(0.0, 0.1, images.shape)
        source = gan_report.LabelledImages("train", images, np.array([0, 0, 1, 1]))
        out = gan_report.blurred_mean_baseline(source, 200, sigma_px=1.0, seed=1)
        self.assertEqual(out.images.shape, (400, 32, 32, 3))
        np.testing.assert_array_equal(np.bincount(out.labels), [200, 200])
        # The class mean of the baseline is the blurred class mean of the source ...
        from scipy import ndimage

        expected = ndimage.gaussian_filter(images[2:].mean(axis=0), sigma=(1, 1, 0))
        np.testing.assert_allclose(out.images[200:].mean(axis=0), expected, atol=0.03)
        # ... and its scatter the source's pixel noise (0.1), in every band.
        noise = [
            morphology.pixel_noise(out.images[0, :, :, b], np.ones((32, 32), bool))
            for b in range(3)
        ]
        np.testing.assert_allclose(noise, 0.1, rtol=0.2)
        np.testing.assert_allclose(out.images[200:].std(axis=0).mean(), 0.1, rtol=0.1)

    def test_load_generated_library(self):
        # A library written the way tfelg-generate writes it (store_as_tfds_dataset).
        import tensorflow as tf
        import tensorflow_datasets as tfds

        names = ["elliptical", "lenticular", "late_spiral"]
        label = np.array([0, 2, 2, 1, 0, 2], np.int64)
        generated = np.array([True, True, True, True, False, False])
        images = np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones(
            (6, 8, 8, 3), np.float32
        )
        features = tfds.features.FeaturesDict(
            {
                "image": tfds.features.Tensor(shape=(8, 8, 3), dtype=np.float32),
                "generated": np.bool_,
                "true_type": tfds.features.ClassLabel(names=names),
            }
        )
        data = {"image": images, "generated": generated, "true_type": label}
        out = self.create_tempdir().full_path
        tfds.dataset_builders.store_as_tfds_dataset(
            name="hst_galaxies_generated",
            version="1.0.0",
            features=features,
            split_datasets={"train": tf.data.Dataset.from_tensor_slices(data)},
            data_dir=out,
        )
        got = gan_report.load_generated(out, CLASSES)
        # Generated only (rows 0-3), the lenticular left out, codes into CLASSES by name.
        order = np.argsort(got.images[:, 0, 0, 0])
        np.testing.assert_array_equal(got.images[order, 0, 0, 0], [0, 1, 2])
        np.testing.assert_array_equal(got.labels[order], [0, 1, 1])
        with self.assertRaisesRegex(
            ValueError, r"no generated images of class\(es\) \['irregular'\]"
        ):
            gan_report.load_generated(out, ["elliptical", "irregular"])
        with self.assertRaisesRegex(ValueError, "has no 'uvj' feature"):
            gan_report.load_generated(out, CLASSES, label="uvj")
        with self.assertRaisesRegex(ValueError, "found 0"):
            gan_report.load_generated(self.create_tempdir().full_path, CLASSES)

    def test_measurements_cached_by_image_content(self):
        calls = []

        def fake_measure(images, num_workers=None, name=""):
            calls.append(name)
            return {
                "gini": np.asarray(images).mean(axis=(1, 2, 3)),
                "trusted": np.ones(len(images)),
            }

        cache = self.create_tempdir().full_path
        images = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype(np.float32)
        with mock.patch.object(gan_report.physics, "measure_images", fake_measure):
            first = gan_report.measure_cached(images, cache, 1, "a")
            again = gan_report.measure_cached(images.copy(), cache, 1, "b")
            other = gan_report.measure_cached(images + 1, cache, 1, "c")
        self.assertEqual(calls, ["a", "c"])  # the same pixels are measured once
        np.testing.assert_array_equal(first["gini"], again["gini"])
        np.testing.assert_allclose(other["gini"], first["gini"] + 1, rtol=1e-6)

    def test_unknown_extractor(self):
        with self.assertRaisesRegex(ValueError, "unknown feature extractor 'inception'"):
            gan_report.feature_functions(["inception"], np.zeros((20, 8, 8, 3)))


class FloorAndBaselineTest(absltest.TestCase):
    """A second real sample is close to the held-out one; the trivial baseline is not."""

    def test_rows(self):
        reference = gan_report.render_balanced(CLASSES, 8, 11, name="held-out real", num_workers=1)
        floor = gan_report.render_balanced(CLASSES, 8, 12, name="second real", num_workers=1)
        train = gan_report.render_balanced(CLASSES, 8, 13, name="train", num_workers=1)
        baseline = gan_report.blurred_mean_baseline(train, 8, seed=0)
        fns = gan_report.feature_functions(
            ["small_resnet", "pixel_pca"], train.images, seed=0, pca_components=3
        )
        by_extractor, physics_rows = gan_report.run(
            reference, [floor, baseline], fns, CLASSES, num_workers=1, kid_subsets=20, log=print
        )
        self.assertLen(by_extractor, 2)
        for desc, results in by_extractor.items():
            f_all, b_all = results["second real"][0], results[baseline.name][0]
            self.assertEqual(f_all["scope"], "all")
            self.assertGreater(f_all["recall"], b_all["recall"] + 0.4, desc)
            self.assertGreater(b_all["kid"], f_all["kid"] + 3 * b_all["kid_stderr"], desc)
        for f_row, b_row in zip(
            physics_rows["second real"][1:], physics_rows[baseline.name][1:], strict=True
        ):
            ks_floor = f_row["physics"]["concentration"]["ks"]
            ks_base = b_row["physics"]["concentration"]["ks"]
            self.assertGreater(ks_base, ks_floor, f_row["scope"])
        text = gan_report.markdown(by_extractor, physics_rows)
        self.assertEqual(text.count("**Features: "), 2)
        self.assertIn("| late_spiral | blurred class mean + noise |", text)


class ScriptTest(absltest.TestCase):
    def test_rewrites_only_the_tables(self):
        out = os.path.join(self.create_tempdir().full_path, "gan_quality.md")
        with open(out, "w") as f:
            f.write(
                "# Title\n\nReading above.\n\n<!-- tables -->\nold\n<!-- /tables -->\n\nBelow.\n"
            )
        cmd = [
            sys.executable,
            os.path.join(ROOT, "scripts", "make_gan_quality_table.py"),
            "--per_class=4",
            "--classes=elliptical,late_spiral",
            "--features=pixel_pca",
            "--pca_components=3",
            "--kid_subsets=5",
            "--num_workers=1",
            f"--output={out}",
        ]
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, timeout=600)
        with open(out) as f:
            text = f.read()
        self.assertTrue(text.startswith("# Title\n\nReading above.\n\n<!-- tables -->\nMade by"))
        self.assertTrue(text.endswith("<!-- /tables -->\n\nBelow.\n"))
        self.assertNotIn("\nold\n", text)
        self.assertIn("No GAN row yet.", text)
        for scope in ("all", "elliptical", "late_spiral"):
            self.assertEqual(
                text.count(f"| {scope} | second real sample |"), 2
            )  # features, physics
            self.assertEqual(text.count(f"| {scope} | blurred class mean + noise |"), 2)


if __name__ == "__main__":
    absltest.main()
