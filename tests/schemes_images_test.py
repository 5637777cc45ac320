"""The image schemes of tfelg.schemes: Gini-M20 (Lotz 2008), CAS (Conselice 2003), UVJ.

Points are hand-computed on both sides of every published line, so that a
wrong sign, slope or intercept moves at least one of them to another class.
"""

import numpy as np
from absl.testing import absltest, parameterized

from tfelg import schemes

G = schemes.GINI_M20_NAMES
C = schemes.CAS_NAMES


class GiniM20Test(parameterized.TestCase):
    @parameterized.named_parameters(
        # At M20 = -2.0 the merger line is G = 0.61 and the early/late line G = 0.52.
        ("merger_above_merger_line", 0.62, -2.0, "merger"),
        ("at_merger_line_is_not_merger", 0.61, -2.0, "e_s0_sa"),
        ("early_between_lines", 0.56, -2.0, "e_s0_sa"),
        ("on_early_late_line_is_late", 0.52, -2.0, "sb_ir"),
        ("late_below_both", 0.45, -2.0, "sb_ir"),
        # At M20 = -1.0 the lines are G = 0.47 (merger) and G = 0.66 (early/late):
        # above the merger line wins, whatever the other line says.
        ("merger_where_lines_cross", 0.50, -1.0, "merger"),
        ("late_at_high_m20", 0.46, -1.0, "sb_ir"),
        # A typical elliptical (G ~ 0.6, M20 ~ -2.4) and late disk (0.45, -1.5).
        ("typical_elliptical", 0.60, -2.4, "e_s0_sa"),
        ("typical_late_disk", 0.45, -1.5, "sb_ir"),
    )
    def test_boundaries(self, gini, m20, expected):
        self.assertEqual(G[schemes.gini_m20_class([gini], [m20])[0]], expected)

    def test_lines_are_lotz_2008(self):
        np.testing.assert_allclose(schemes.lotz08_merger_line([-2.0, 0.0]), [0.61, 0.33])
        np.testing.assert_allclose(schemes.lotz08_early_late_line([-2.0, 0.0]), [0.52, 0.80])

    def test_non_finite_is_unclassified(self):
        codes = schemes.gini_m20_class([np.nan, 0.5, np.inf], [-2.0, np.nan, -2.0])
        self.assertEqual([G[c] for c in codes], ["unclassified"] * 3)

    def test_vectorised_and_int8(self):
        codes = schemes.gini_m20_class([0.62, 0.56, 0.45], [-2.0, -2.0, -2.0])
        self.assertEqual(codes.dtype, np.int8)
        self.assertEqual([G[c] for c in codes], ["merger", "e_s0_sa", "sb_ir"])


class CasTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("merger", 3.0, 0.40, 0.10, "merger"),
        ("asymmetric_but_clumpier_is_not_merger", 3.0, 0.40, 0.45, "disk_dominated"),
        ("at_merger_asymmetry_is_not_merger", 4.0, 0.35, 0.0, "bulge_dominated"),
        ("bulge_at_boundary", 3.5, 0.05, 0.0, "bulge_dominated"),
        ("disk_just_below", 3.49, 0.05, 0.0, "disk_dominated"),
        ("elliptical", 4.4, 0.02, 0.0, "bulge_dominated"),
        ("irregular", 2.9, 0.17, 0.40, "disk_dominated"),
        ("merger_even_if_concentrated", 4.5, 0.5, 0.2, "merger"),
    )
    def test_regions(self, c, a, s, expected):
        self.assertEqual(C[schemes.cas_class([c], [a], [s])[0]], expected)

    def test_missing_smoothness_is_unclassified(self):
        # S decides the merger test: without it no class is guessed.
        codes = schemes.cas_class([4.4, 3.0], [0.02, 0.5], [np.nan, np.nan])
        self.assertEqual([C[c] for c in codes], ["unclassified", "unclassified"])


class UvjWilliams2009Test(parameterized.TestCase):
    """UVJ against Williams et al. 2009, ApJ 691, 1879, eq. 4 (three redshift bins)."""

    @parameterized.named_parameters(
        # Diagonal U-V = 0.88 (V-J) + c: with V-J = 1.0, c + 0.88 = 1.57 / 1.47 / 1.37.
        ("low_z_above_diagonal", 1.58, 1.0, 0.3, "quiescent"),
        ("low_z_below_diagonal", 1.56, 1.0, 0.3, "star_forming"),
        ("mid_z_above_diagonal", 1.48, 1.0, 0.7, "quiescent"),
        ("mid_z_below_diagonal", 1.46, 1.0, 0.7, "star_forming"),
        ("high_z_above_diagonal", 1.38, 1.0, 1.5, "quiescent"),
        ("high_z_below_diagonal", 1.36, 1.0, 1.5, "star_forming"),
        # The horizontal cut U-V > 1.3 and the vertical cut V-J < 1.6.
        ("below_horizontal_cut", 1.29, 0.2, 1.5, "star_forming"),
        ("above_horizontal_cut", 1.31, 0.2, 1.5, "quiescent"),
        ("right_of_vertical_cut", 2.5, 1.61, 0.3, "star_forming"),
        ("left_of_vertical_cut", 2.5, 1.59, 0.3, "quiescent"),
        ("beyond_z_2_unclassified", 2.0, 0.5, 2.5, "unclassified"),
    )
    def test_published_cuts(self, uv, vj, z, expected):
        self.assertEqual(schemes.UVJ_NAMES[schemes.uvj_class([uv], [vj], [z])[0]], expected)


if __name__ == "__main__":
    absltest.main()
