"""tfelg.synthetic.redshift on hand-made inputs: coverage mask, sky noise, the draws.

The generator's tests (emission_lines_test.WideRedshiftTest) check the same
code through whole samples; these pin each piece to numbers worked out by hand.
"""

import numpy as np
from absl.testing import absltest

from tfelg.synthetic import emission_lines as el
from tfelg.synthetic import redshift


class RedshiftTest(absltest.TestCase):
    def test_public_names_are_still_importable_from_emission_lines(self):
        for name in ("WIDE_REDSHIFT_RANGE", "MAX_HALPHA_REDSHIFT", "OBSERVED_RED_LIMIT"):
            self.assertIs(getattr(el, name), getattr(redshift, name))

    def test_uncovered_pixels_are_those_not_wholly_inside_the_window(self):
        # Rest pixels [3000, 4000), [4000, 5000), ..., [8000, 9000) Angstrom.
        edges = np.arange(3000.0, 9001.0, 1000.0)
        mask = redshift.uncovered_pixels(np.array([1.0, 1.25]), edges)
        # z = 0: observed = rest; [3000, 4000) starts below 3,800 A, the rest fit in 9,200.
        np.testing.assert_array_equal(mask[0], [True, False, False, False, False, False])
        # z = 0.25: [3000, 4000) -> [3750, 5000) still starts below 3,800;
        # [7000, 8000) -> [8750, 10000) ends above 9,200.
        np.testing.assert_array_equal(mask[1], [True, False, False, False, True, True])

    def test_measurable_needs_most_of_every_line_on_covered_pixels(self):
        design = np.zeros((3, 4, 2))
        design[:, :2, 0] = 1.0  # line 0 on pixels 0-1
        design[:, 2:, 1] = 1.0  # line 1 on pixels 2-3
        weights = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], float)
        # Half of line 1 seen is not "most": the group is not measured.
        np.testing.assert_array_equal(redshift.measurable(design, weights), [True, False, False])

    def test_sky_sigma_rises_at_both_observed_ends(self):
        rest = np.array([3800.0, 6000.0, 9200.0])
        sky = redshift.sky_sigma(np.array([1.0]), rest, 0.3)
        self.assertEqual(sky.dtype, np.float32)
        np.testing.assert_allclose(sky[0], [0.9, 0.3, 0.3 * 1.55], rtol=1e-3)
        # At z = 0.5 the rest-frame 6,000 A pixel is observed at 9,000 A: noisier.
        moved = redshift.sky_sigma(np.array([1.5]), rest, 0.3)
        np.testing.assert_allclose(moved[0, 1], 0.3 * 1.5, rtol=1e-4)

    def test_the_range_changes_the_redshifts_but_not_the_draws_after_them(self):
        shape = np.array([2.2, 2.6, 2.6])
        default_rng, wide_rng = np.random.default_rng(5), np.random.default_rng(5)
        default = redshift.draw_redshifts(default_rng, shape, None)
        wide = redshift.draw_redshifts(wide_rng, shape, (0.1, 0.2))
        self.assertTrue(np.all((default >= 0.02) & (default <= 0.30)))
        self.assertTrue(np.all((wide >= 0.1) & (wide <= 0.2)))
        self.assertEqual(default_rng.integers(1 << 30), wide_rng.integers(1 << 30))


if __name__ == "__main__":
    absltest.main()
