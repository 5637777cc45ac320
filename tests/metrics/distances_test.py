"""FID, KID and precision/recall against closed forms, direct sums and toy distributions."""

import numpy as np
import scipy.linalg
from absl.testing import absltest

from tfelg.metrics import distances


def _exact_moments_sample(rng, n, mean, cov):
    """n points whose sample mean and (ddof=1) covariance are exactly mean and cov."""
    z = rng.normal(size=(n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I
    return mean + z @ np.linalg.cholesky(cov).T


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


class FrechetDistanceTest(absltest.TestCase):
    def test_diagonal_gaussians_closed_form(self):
        # Diagonal covariances commute: FID = |dmu|^2 + sum (sqrt(s_a) - sqrt(s_b))^2.
        mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
        s_a, s_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
        expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(s_a) - np.sqrt(s_b)) ** 2)
        got = distances.frechet_from_moments(mu_a, np.diag(s_a), mu_b, np.diag(s_b))
        self.assertAlmostEqual(got, expected, places=10)
        self.assertAlmostEqual(expected, (0.25 + 4.0) + (4.0 + 1.0 + 0.0), places=12)

    def test_general_covariances_agree_with_sqrtm_formula(self):
        rng = np.random.default_rng(0)
        for d in (2, 5, 12):
            mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
            cov_a, cov_b = _random_cov(rng, d), _random_cov(rng, d)
            root = scipy.linalg.sqrtm(cov_a @ cov_b).real
            expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)
            got = distances.frechet_from_moments(mu_a, cov_a, mu_b, cov_b)
            self.assertAlmostEqual(got, expected, delta=1e-9 * max(1.0, expected))

    def test_samples_with_known_moments(self):
        rng = np.random.default_rng(1)
        d = 4
        mu_a, mu_b = np.zeros(d), np.array([1.0, 0.0, -1.0, 2.0])
        cov_a, cov_b = _random_cov(rng, d), _random_cov(rng, d)
        a = _exact_moments_sample(rng, 300, mu_a, cov_a)
        b = _exact_moments_sample(rng, 500, mu_b, cov_b)
        expected = distances.frechet_from_moments(mu_a, cov_a, mu_b, cov_b)
        self.assertGreater(expected, 6.0)  # |dmu|^2 = 6 alone
        self.assertAlmostEqual(distances.frechet_distance(a, b), expected, places=8)

    def test_self_zero_and_monotonic_in_shift(self):
        rng = np.random.default_rng(2)
        a = rng.normal(size=(2000, 8))
        b = rng.normal(size=(2000, 8))
        self.assertLess(distances.frechet_distance(a, a), 1e-9)
        shifts = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0]
        fids = [distances.frechet_distance(a, b + s) for s in shifts]
        self.assertLess(fids[0], 0.05)  # two samples of one distribution: sampling bias only
        self.assertTrue(np.all(np.diff(fids) > 0), fids)
        # A shift of s along every axis adds about 8 s^2.
        self.assertAlmostEqual(fids[-1], fids[0] + 8 * 4.0, delta=1.0)

    def test_singular_covariance_is_finite(self):
        # Rank-deficient features (a constant column): eigen route stays real and >= 0.
        rng = np.random.default_rng(3)
        a = np.c_[rng.normal(size=(100, 3)), np.zeros(100)]
        b = np.c_[rng.normal(size=(100, 3)), np.zeros(100)]
        value = distances.frechet_distance(a, b)
        self.assertTrue(np.isfinite(value))
        self.assertGreaterEqual(value, 0.0)

    def test_bad_input(self):
        rng = np.random.default_rng(4)
        a = rng.normal(size=(50, 4))
        with self.assertRaisesRegex(ValueError, "4 samples for 8 features.*at least 9"):
            distances.frechet_distance(rng.normal(size=(4, 8)), rng.normal(size=(50, 8)))
        with self.assertRaisesRegex(ValueError, "features_b has 3 features|features_a has 4"):
            distances.frechet_distance(a, rng.normal(size=(50, 3)))
        nan = a.copy()
        nan[7, 2] = np.nan
        with self.assertRaisesRegex(ValueError, r"features_b: 1 samples have NaN.*row 7, column 2"):
            distances.frechet_distance(a, nan)
        with self.assertRaisesRegex(ValueError, "2-D"):
            distances.frechet_distance(a[:, 0], a[:, 0])


class KernelDistanceTest(absltest.TestCase):
    def test_matches_direct_double_sum(self):
        rng = np.random.default_rng(5)
        x, y = rng.normal(size=(7, 3)), rng.normal(1.0, 1.0, size=(9, 3))

        def k(u, v):
            return (u @ v / 3 + 1.0) ** 3

        xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
        yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
        xy = sum(k(x[i], y[j]) for i in range(7) for j in range(9)) / (7 * 9)
        self.assertAlmostEqual(distances.mmd2_unbiased(x, y), xx + yy - 2 * xy, places=10)

    def test_unbiased_mean_zero_and_can_be_negative(self):
        # Pairs of independent samples of one distribution: the estimates scatter around 0.
        rng = np.random.default_rng(6)
        values = np.array(
            [
                distances.mmd2_unbiased(rng.normal(size=(40, 4)), rng.normal(size=(40, 4)))
                for _ in range(300)
            ]
        )
        self.assertLess(abs(values.mean()), 3 * values.std() / np.sqrt(len(values)))
        self.assertGreater((values < 0).mean(), 0.25)
        result = distances.kernel_distance(
            rng.normal(size=(200, 4)), rng.normal(size=(200, 4)), subsets=50, subset_size=100
        )
        self.assertLess(abs(result.mean), 4 * result.std / np.sqrt(5))

    def test_self_zero_and_monotonic_in_shift(self):
        rng = np.random.default_rng(7)
        a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
        kids = [
            distances.kernel_distance(a, b + s, subsets=20, subset_size=500, seed=0)
            for s in (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
        ]
        means = [kid.mean for kid in kids]
        self.assertTrue(np.all(np.diff(means) > 0), means)
        self.assertLess(abs(means[0]), 3 * max(kids[0].stderr, 1e-6))
        self.assertGreater(means[2], 10 * kids[2].stderr)
        # A sample against itself: the same points on both sides, so the cross term keeps
        # the kernel's diagonal that the unbiased self terms leave out:
        # KID = 2 (mean off-diagonal - mean of all) = O(1/n), slightly negative, ~0.
        same = distances.kernel_distance(a, a, subsets=1, subset_size=None, seed=0)
        k = distances.polynomial_kernel(a, a)
        n = len(a)
        expected = 2 * ((k.sum() - np.trace(k)) / (n * (n - 1)) - k.mean())
        self.assertAlmostEqual(same.mean, expected, places=10)
        self.assertLess(abs(same.mean), 0.02 * means[3])

    def test_subsets_seed_and_errors(self):
        rng = np.random.default_rng(8)
        a, b = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
        r1 = distances.kernel_distance(a, b, subsets=10, subset_size=1000, seed=3)
        r2 = distances.kernel_distance(a, b, subsets=10, subset_size=1000, seed=3)
        self.assertEqual(r1.subset_size, 20)
        np.testing.assert_array_equal(r1.values, r2.values)
        self.assertAlmostEqual(r1.stderr, np.std(r1.values, ddof=1) / np.sqrt(10))
        with self.assertRaisesRegex(ValueError, "subset_size must be >= 2"):
            distances.kernel_distance(a, b, subset_size=1)
        with self.assertRaisesRegex(ValueError, "subsets must be >= 1"):
            distances.kernel_distance(a, b, subsets=0)


class PrecisionRecallTest(absltest.TestCase):
    def test_hand_computed(self):
        # 1-D, k = 1: every real ball has radius 1; fake 0.5 is inside, 10 is not.
        real = np.array([[0.0], [1.0], [2.0], [3.0]])
        fake = np.array([[0.5], [10.0], [11.0]])
        result = distances.precision_recall(real, fake, k=1)
        self.assertAlmostEqual(result.precision, 1 / 3)
        # Fake balls: 0.5 reaches 9.5 (its nearest is 10), so every real point is covered.
        self.assertAlmostEqual(result.recall, 1.0)

    def test_toy_distributions(self):
        rng = np.random.default_rng(9)
        real = rng.normal(size=(1000, 2))
        same = distances.precision_recall(real, rng.normal(size=(1000, 2)))
        self.assertGreater(same.precision, 0.9)
        self.assertGreater(same.recall, 0.9)
        identical = distances.precision_recall(real, real)
        self.assertEqual((identical.precision, identical.recall), (1.0, 1.0))
        disjoint = distances.precision_recall(real, rng.normal(20.0, 1.0, size=(1000, 2)))
        self.assertEqual((disjoint.precision, disjoint.recall), (0.0, 0.0))
        # Mode collapse: fakes in a small core of the real distribution.
        collapsed = distances.precision_recall(real, 0.15 * rng.normal(size=(1000, 2)))
        self.assertGreater(collapsed.precision, 0.95)
        self.assertLess(collapsed.recall, 0.2)

    def test_bad_input(self):
        rng = np.random.default_rng(10)
        with self.assertRaisesRegex(ValueError, "fake: 3 samples, at least 4 needed"):
            distances.precision_recall(rng.normal(size=(10, 2)), rng.normal(size=(3, 2)), k=3)
        with self.assertRaisesRegex(ValueError, "k must be >= 1"):
            distances.precision_recall(rng.normal(size=(10, 2)), rng.normal(size=(10, 2)), k=0)


if __name__ == "__main__":
    absltest.main()
