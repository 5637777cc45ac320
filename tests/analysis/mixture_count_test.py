"""The free-parameter count of a mixture (BIC's penalty): exact, by its definition."""

import math

from absl.testing import absltest

from tfelg.analysis import mixture


def count_by_definition(k: int, d: int, covariance_type: str) -> int:
    """K mean vectors, K covariances (the d(d+1)/2 entries on and above the
    diagonal, counted as pairs with repetition; or the d variances), and K - 1
    free weights (they sum to 1)."""
    per_covariance = math.comb(d + 1, 2) if covariance_type == "full" else d
    return k * d + k * per_covariance + (k - 1)


class NParametersTest(absltest.TestCase):
    def test_count_is_an_exact_int_by_the_definition(self):
        # The last size is past 2^53 parameters, where a count computed in
        # floating point (d (d + 1) / 2) rounds; the count is integer
        # arithmetic throughout, at any size.
        for k, d in ((1, 1), (1, 2), (3, 2), (10, 16), (7, 5), (1, 2**27 + 1)):
            for covariance_type in ("full", "diag"):
                with self.subTest(k=k, d=d, covariance_type=covariance_type):
                    got = mixture.n_parameters(k, d, covariance_type)
                    self.assertIs(type(got), int)
                    self.assertEqual(got, count_by_definition(k, d, covariance_type))

    def test_unknown_covariance_type_is_refused(self):
        with self.assertRaisesRegex(ValueError, "covariance_type must be one of"):
            mixture.n_parameters(2, 3, "spherical")


if __name__ == "__main__":
    absltest.main()
