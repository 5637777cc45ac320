"""Tests for tfelg.analysis.redshift: latents that are, or are not, redshift."""

import numpy as np
from absl.testing import absltest

from tfelg.analysis import redshift


def latents(n, seed):
    """Dimension 0 is redshift (scaled), dimension 1 is independent noise."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.3, n)
    latent = np.stack([3.0 * z - 0.4, rng.normal(size=n)], axis=1)
    return latent, z


class RedshiftDependenceTest(absltest.TestCase):
    def test_redshift_dimension_and_independent_dimension(self):
        train, z_train = latents(2000, 0)
        test, z_test = latents(1000, 1)
        result = redshift.redshift_dependence(train, z_train, test, z_test, seed=0)
        r2 = result["r2_linear_per_dim"]
        self.assertGreater(r2[0], 0.999)
        self.assertLess(abs(r2[1]), 0.01)
        mi = result["mutual_information"]
        self.assertGreater(mi[0], 2.0)  # a deterministic function: large MI
        self.assertLess(mi[1], 0.03)
        self.assertGreater(result["r2_linear"], 0.999)
        self.assertGreater(result["r2_gbm"], 0.99)

    def test_non_monotonic_dependence_found_by_mutual_information_not_by_a_line(self):
        rng = np.random.default_rng(3)
        z = rng.uniform(0.02, 0.3, 3000)
        latent = np.cos(2 * np.pi * (z - 0.02) / 0.28)[:, None]  # symmetric: no linear trend
        result = redshift.redshift_dependence(latent[:2000], z[:2000], latent[2000:], z[2000:])
        self.assertLess(result["r2_linear"], 0.05)
        self.assertGreater(result["mutual_information"][0], 0.5)

    def test_only_noise(self):
        rng = np.random.default_rng(4)
        latent = rng.normal(size=(3000, 3))
        z = rng.uniform(0.02, 0.3, 3000)
        result = redshift.redshift_dependence(latent[:2000], z[:2000], latent[2000:], z[2000:])
        self.assertLess(result["r2_linear"], 0.01)
        self.assertLess(result["r2_gbm"], 0.02)
        self.assertLess(max(result["mutual_information"]), 0.03)

    def test_bad_input_names_the_rows(self):
        train, z = latents(100, 0)
        train[5, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "train: 1 rows .* row 5"):
            redshift.redshift_dependence(train, z, train, z)
        with self.assertRaisesRegex(ValueError, "must be"):
            redshift.redshift_dependence(train[:, 0], z, train, z)


class AgreementInBinsTest(absltest.TestCase):
    def test_partition_that_fails_only_at_high_redshift(self):
        rng = np.random.default_rng(0)
        n = 3000
        z = rng.uniform(0.0, 0.3, n)
        classes = rng.integers(0, 2, n)
        clusters = classes.copy()
        high = z >= 0.2
        clusters[high] = rng.integers(0, 2, int(high.sum()))  # random above z = 0.2
        edges = np.array([0.0, 0.1, 0.2, 0.3])
        rows = redshift.agreement_in_bins(clusters, classes, ["a", "b"], z, edges)
        self.assertEqual(
            [r["n"] for r in rows], [int(np.sum((z >= e) & (z < e + 0.1))) for e in edges[:-1]]
        )
        self.assertEqual(rows[0]["ari"], 1.0)
        self.assertEqual(rows[1]["accuracy"], 1.0)
        self.assertLess(abs(rows[2]["ari"]), 0.02)
        self.assertLess(rows[2]["accuracy"], 0.56)

    def test_quantile_bins(self):
        z = np.linspace(0, 1, 101)
        np.testing.assert_allclose(redshift.redshift_bins(z, 4), [0, 0.25, 0.5, 0.75, 1.0])
        with self.assertRaisesRegex(ValueError, "concentrated"):
            redshift.redshift_bins(np.zeros(10), 2)


class LatentVarianceShareTest(absltest.TestCase):
    def test_a_latent_that_is_redshift_and_one_that_is_not(self):
        train, z_train = latents(3000, 0)
        test, z_test = latents(1000, 1)
        only_z = redshift.latent_variance_share(train[:, :1], z_train, test[:, :1], z_test)
        self.assertGreater(only_z, 0.99)
        self.assertEqual(redshift.redshift_verdict(only_z), "mostly redshift")
        noise = redshift.latent_variance_share(train[:, 1:], z_train, test[:, 1:], z_test)
        self.assertLess(abs(noise), 0.02)
        self.assertEqual(redshift.redshift_verdict(noise), "no")
        # Both: the redshift dimension's variance is 0.84**2 * 0.0065 = small against the
        # noise's 1, so the share is that dimension's part of the total variance.
        both = redshift.latent_variance_share(train, z_train, test, z_test)
        expected = np.var(test[:, 0]) / (np.var(test[:, 0]) + np.var(test[:, 1]))
        self.assertAlmostEqual(both, expected, delta=0.02)

    def test_non_monotonic_dependence_counts(self):
        rng = np.random.default_rng(5)
        z = rng.uniform(0.02, 0.4, 4000)
        latent = np.stack([np.cos(2 * np.pi * z / 0.38), 0.5 * rng.normal(size=4000)], axis=1)
        share = redshift.latent_variance_share(latent[:3000], z[:3000], latent[3000:], z[3000:])
        # cos has variance 0.5, the noise 0.25: redshift explains about two thirds.
        self.assertAlmostEqual(share, 0.5 / 0.75, delta=0.05)
        self.assertEqual(redshift.redshift_verdict(share), "mostly redshift")
        self.assertEqual(redshift.redshift_verdict(0.3), "partly redshift")
        self.assertEqual(redshift.redshift_verdict(None), "–")

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "n_bins must be >= 1"):
            redshift.latent_variance_share(
                np.zeros((20, 1)), np.arange(20.0), np.zeros((20, 1)), np.arange(20.0), n_bins=0
            )
        with self.assertRaisesRegex(ValueError, "train has d = 2, test d = 1"):
            redshift.latent_variance_share(
                np.zeros((20, 2)), np.arange(20.0), np.zeros((20, 1)), np.arange(20.0)
            )


if __name__ == "__main__":
    absltest.main()
