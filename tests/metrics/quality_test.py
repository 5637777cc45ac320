"""The quality table: rows per class, input checks, the pixel-PCA stand-in, markdown."""

import numpy as np
from absl.testing import absltest

from tfelg.metrics import physics, quality
from tfelg.synthetic import hst_galaxies as synthetic

NAMES = ("elliptical", "late_spiral")


def _summary(name, features, labels, measured=None):
    return quality.SampleSummary(
        name=name, features=np.asarray(features, float), labels=np.asarray(labels), physics=measured
    )


class CompareTest(absltest.TestCase):
    def test_rows_per_class_and_notes(self):
        rng = np.random.default_rng(0)
        labels = np.repeat([0, 1], [60, 5])  # class 1 has fewer samples than features
        real = _summary("real", rng.normal(size=(65, 8)), labels)
        fake = _summary("fake", rng.normal(size=(65, 8)) + 3.0 * labels[:, None], labels)
        rows = quality.compare(real, fake, class_names=NAMES, kid_subsets=5)
        self.assertEqual([r["scope"] for r in rows], ["all", "elliptical", "late_spiral"])
        ell, late = rows[1], rows[2]
        self.assertEqual((ell["n_real"], ell["n_fake"]), (60, 60))
        self.assertLess(ell["fid"], 2.0)  # same distribution in class 0
        self.assertTrue(np.isnan(late["fid"]))
        self.assertIn("no FID: 5 samples for 8 features", late["notes"])
        self.assertGreater(late["kid"], 10 * ell["kid"] + 0.1)  # class 1 shifted by 3
        self.assertLess(late["precision"], 0.5)
        self.assertIsNone(ell["physics"])

    def test_class_missing_from_one_sample_is_named(self):
        rng = np.random.default_rng(1)
        real = _summary("held-out real", rng.normal(size=(20, 2)), np.repeat([0, 1], 10))
        fake = _summary("GAN", rng.normal(size=(20, 2)), np.zeros(20, int))
        with self.assertRaisesRegex(ValueError, "'late_spiral'.*in held-out real but none in GAN"):
            quality.compare(real, fake, class_names=NAMES)

    def test_bad_labels(self):
        with self.assertRaisesRegex(ValueError, "label 2 of image 1 is not a class code 0..1"):
            quality.check_labels([0, 2], 2, 2, "generated")
        with self.assertRaisesRegex(ValueError, "expected 3 labels"):
            quality.check_labels([0, 1], 3, 2, "generated")
        with self.assertRaisesRegex(ValueError, "integer class codes"):
            quality.check_labels([0.0, 1.0], 2, 2, "generated")

    def test_feature_fn_of_wrong_shape(self):
        images = np.random.default_rng(2).normal(size=(4, 8, 8, 3))
        with self.assertRaisesRegex(ValueError, r"feature_fn returned shape \(3, 2\) for 4 images"):
            quality.summarize(
                images,
                [0, 0, 1, 1],
                lambda x: np.zeros((3, 2)),
                num_classes=2,
                name="real",
                measure_physics=False,
            )


class QualityTableOnGalaxiesTest(absltest.TestCase):
    """Real ellipticals and late spirals against a second sample and a label-swapped one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def sample(seed):
            fractions = {"elliptical": 0.5, "late_spiral": 0.5}
            s = synthetic.generate(20, seed, num_workers=1, type_fractions=fractions)
            codes = {synthetic.TRUE_TYPE[n]: i for i, n in enumerate(NAMES)}
            return s.image, np.array([codes[t] for t in s.true_type])

        cls.real_images, cls.real_labels = sample(41)
        cls.other_images, cls.other_labels = sample(42)
        cls.feature_fn = staticmethod(
            quality.pixel_pca_features(cls.real_images, n_components=4, seed=0)
        )

    def test_second_sample_closer_than_swapped_labels(self):
        kwargs = dict(class_names=NAMES, num_workers=1, kid_subsets=20, k=3)
        floor = quality.quality_table(
            self.real_images,
            self.real_labels,
            self.other_images,
            self.other_labels,
            self.feature_fn,
            **kwargs,
        )
        swapped = quality.quality_table(
            self.real_images,
            self.real_labels,
            self.other_images,
            1 - self.other_labels,
            self.feature_fn,
            **kwargs,
        )
        for f, s in zip(floor[1:], swapped[1:], strict=True):
            self.assertEqual(f["scope"], s["scope"])
            # Pixel PCA barely knows galaxy types, and FID/KID scatter a lot at 10 per
            # class: the swap is seen by the physics.
            conc_f = f["physics"]["concentration"]["ks"]
            conc_s = s["physics"]["concentration"]["ks"]
            self.assertLess(conc_f, conc_s, f["scope"])
        # Overall the two label assignments are the same images: identical "all" rows.
        self.assertAlmostEqual(floor[0]["fid"], swapped[0]["fid"])
        text = quality.markdown_tables({"second real sample": floor, "labels swapped": swapped})
        self.assertIn("| elliptical | labels swapped |", text)
        self.assertEqual(text.count("| late_spiral |"), 4)  # two tables x two comparisons

    def test_recoloured_images_far_from_real_in_features(self):
        # Galaxies 2.5 mag bluer in F435W - F160W. (A Gaussian blur is NOT seen by pixel PCA:
        # its leading components hold the light profile, not the pixel noise; measured FID of
        # blurred images below the floor's. A learned extractor is needed for that.)
        recoloured = self.other_images * np.array([3.0, 1.0, 1 / 3.0], np.float32)
        args = dict(num_classes=2, measure_physics=False)
        fn = self.feature_fn
        real = quality.summarize(self.real_images, self.real_labels, fn, name="r", **args)
        other = quality.summarize(self.other_images, self.other_labels, fn, name="o", **args)
        bad = quality.summarize(recoloured, self.other_labels, fn, name="b", **args)
        kwargs = dict(class_names=NAMES, kid_subsets=20)
        floor = quality.compare(real, other, **kwargs)[0]
        baseline = quality.compare(real, bad, **kwargs)[0]
        self.assertGreater(baseline["fid"], 2 * floor["fid"])
        # Measured: floor KID -0.05 +- 0.18, recoloured 1.51 +- 0.33 (subsets of 10 of 20).
        self.assertGreater(baseline["kid"], floor["kid"] + 3 * baseline["kid_stderr"])

    def test_pixel_pca_features(self):
        fn = self.feature_fn
        features = fn(self.other_images)
        self.assertEqual(features.shape, (20, 4))
        again = quality.pixel_pca_features(self.real_images, n_components=4, seed=0)
        np.testing.assert_allclose(again(self.other_images), features, rtol=1e-10, atol=1e-10)
        self.assertIn("pixel PCA (4 components", fn.description)
        with self.assertRaisesRegex(ValueError, "PCA was fitted on"):
            fn(self.other_images[:, :32, :32])
        with self.assertRaisesRegex(ValueError, "20 images for 32 PCA components"):
            quality.pixel_pca_features(self.real_images, n_components=32)
        nan = self.other_images.copy()
        nan[3, 0, 0, 0] = np.nan
        with self.assertRaisesRegex(ValueError, "image 3"):
            fn(nan)

    def test_physics_quantities_listed(self):
        self.assertEqual(len(physics.QUANTITIES), 7)


if __name__ == "__main__":
    absltest.main()
