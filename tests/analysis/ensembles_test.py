"""Tests for tfelg.analysis.ensembles on hand-computed numbers."""

import math

from absl.testing import absltest

from tfelg.analysis import ensembles


class AggregateTest(absltest.TestCase):
    def test_mean_std_sem_boot_by_hand(self):
        stats = ensembles.aggregate([0.50, 0.56, 0.62], [0.03, 0.04, 0.00])
        self.assertAlmostEqual(stats["mean"], 0.56)
        self.assertAlmostEqual(stats["std"], 0.06)  # sqrt((0.06^2 + 0 + 0.06^2) / 2)
        self.assertAlmostEqual(stats["sem"], 0.06 / math.sqrt(3))
        self.assertAlmostEqual(stats["boot"], math.sqrt((0.0009 + 0.0016) / 3))
        self.assertAlmostEqual(stats["error"], math.sqrt(0.0012 + 0.0025 / 3))
        self.assertEqual(stats["n"], 3)

    def test_deterministic_and_single_seed(self):
        pca = ensembles.aggregate([0.4], [0.01], deterministic=True)
        self.assertEqual(pca["std"], 0.0)
        self.assertAlmostEqual(pca["error"], 0.01)
        one = ensembles.aggregate([0.4], [0.01])
        self.assertTrue(math.isnan(one["std"]))
        self.assertTrue(math.isnan(one["error"]))

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "one bootstrap error per value"):
            ensembles.aggregate([0.1, 0.2], [0.01])
        with self.assertRaisesRegex(ValueError, "non-empty"):
            ensembles.aggregate([], [])
        with self.assertRaisesRegex(ValueError, "finite"):
            ensembles.aggregate([math.nan], [0.01])


class CompareTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.pca = ensembles.aggregate([0.50], [0.01], deterministic=True)

    def test_significant_above_and_below(self):
        # mean 0.56, std 0 -> sigma = sqrt(0.01^2 + 0.01^2) = 0.01414; 0.06 > 2 sigma.
        better = ensembles.aggregate([0.56, 0.56, 0.56], [0.01, 0.01, 0.01])
        result = ensembles.compare(better, self.pca)
        self.assertAlmostEqual(result["sigma"], math.sqrt(2) * 0.01)
        self.assertTrue(result["significant"])
        self.assertEqual(result["mark"], "+")
        worse = ensembles.aggregate([0.44, 0.44, 0.44], [0.01, 0.01, 0.01])
        self.assertEqual(ensembles.compare(worse, self.pca)["mark"], "−")

    def test_seed_spread_makes_it_not_significant(self):
        # The same mean difference 0.06, but std 0.1 over 3 seeds: sem 0.0577,
        # sigma = sqrt(0.0577^2 + 2 * 0.01^2) = 0.0594 -> 0.06 < 2 sigma.
        spread = ensembles.aggregate([0.46, 0.56, 0.66], [0.01, 0.01, 0.01])
        result = ensembles.compare(spread, self.pca)
        self.assertAlmostEqual(result["sigma"], math.sqrt(0.01 / 3 + 2e-4))
        self.assertFalse(result["significant"])
        self.assertEqual(result["mark"], "")
        # A threshold of 1 sigma calls it significant.
        self.assertEqual(ensembles.compare(spread, self.pca, n_sigma=1.0)["mark"], "+")

    def test_single_seed_claims_nothing(self):
        one = ensembles.aggregate([0.9], [0.01])
        result = ensembles.compare(one, self.pca)
        self.assertIsNone(result["significant"])
        self.assertEqual(result["mark"], "?")

    def test_format_cell(self):
        stats = ensembles.aggregate([0.50, 0.56, 0.62], [0.01, 0.01, 0.01])
        self.assertEqual(ensembles.format_cell(stats, "+"), "0.560 ± 0.060 [0.010] +")
        self.assertEqual(ensembles.format_cell(self.pca), "0.500 [0.010]")


if __name__ == "__main__":
    absltest.main()
