"""Hand-computed points on both sides of every boundary of WHAN, BPT and UVJ."""

from unittest import mock

import numpy as np
from absl.testing import absltest, parameterized

from tfelg import lines, schemes

W = schemes.WHAN_NAMES
B = schemes.BPT_NAMES


def _names(codes, names):
    return [names[c] for c in codes]


def _fluxes_for_ratio(log_ratio, denominator=100.0):
    """Numerator flux giving log10(num/den) = log_ratio."""
    return denominator * 10.0**log_ratio


class WhanTest(parameterized.TestCase):
    def _whan(self, w, x, w_nii=1.0, snr=100.0):
        ha = 100.0
        nii = _fluxes_for_ratio(x, ha)
        args = ([w], [w_nii], [nii], [ha])
        errors = dict(nii_err=[nii / snr], ha_err=[ha / snr])
        if x == schemes.WHAN_X_SPLIT and schemes.log_ratio([nii], [ha])[0] != x:
            # On the split itself: NumPy's log10 is not correctly rounded and
            # differs between SIMD paths (on AVX-512 no flux ratio gives
            # exactly -0.4), so hand whan_class the exact ratio.
            with mock.patch.object(schemes, "log_ratio", return_value=np.array([x])):
                code = schemes.whan_class(*args, **errors)
        else:
            code = schemes.whan_class(*args, **errors)
        return W[code[0]]

    @parameterized.named_parameters(
        # (W, x, EW[NII]) -> class; each pair straddles one boundary.
        ("passive", 0.4, -0.2, 0.4, "passive"),
        ("nii_ew_above_passive", 0.4, -0.2, 0.6, "retired"),
        ("ha_ew_above_passive", 0.6, -0.2, 0.4, "retired"),
        ("retired_below_3", 2.99, -0.8, 2.0, "retired"),
        ("sf_just_above_3", 3.01, -0.8, 2.0, "star_forming"),
        ("sf_at_3_is_not_retired", 3.0, -0.8, 2.0, "star_forming"),
        ("sf_left_of_split", 50.0, -0.41, 5.0, "star_forming"),
        ("agn_right_of_split", 50.0, -0.39, 5.0, "strong_agn"),
        ("split_exactly_is_agn", 50.0, -0.4, 5.0, "strong_agn"),
        ("weak_agn_below_6", 5.99, -0.2, 3.0, "weak_agn"),
        ("weak_agn_at_6", 6.0, -0.2, 3.0, "weak_agn"),
        ("strong_agn_above_6", 6.01, -0.2, 3.0, "strong_agn"),
        ("weak_agn_above_3", 3.01, 0.1, 3.0, "weak_agn"),
        ("retired_even_with_agn_ratio", 2.99, 0.1, 3.0, "retired"),
    )
    def test_boundaries(self, w, x, w_nii, expected):
        self.assertEqual(self._whan(w, x, w_nii), expected)

    def test_low_sn_only_where_a_ratio_is_needed(self):
        self.assertEqual(self._whan(20.0, -0.8, snr=2.0), "low_sn")
        self.assertEqual(self._whan(20.0, -0.8, snr=3.0), "star_forming")
        # Retired galaxies are defined by weak lines: no S/N cut applies.
        self.assertEqual(self._whan(1.0, -0.8, snr=0.5), "retired")

    def test_missing_inputs_are_unclassified(self):
        codes = schemes.whan_class(
            [np.nan, 20.0, 20.0, 20.0, 0.3],
            [1.0, 1.0, 1.0, 1.0, np.nan],
            [50.0, np.nan, 0.0, -5.0, 10.0],
            [100.0, 100.0, 100.0, 100.0, 100.0],
        )
        self.assertEqual(_names(codes, W), ["unclassified"] * 5)

    def test_without_errors_no_sn_cut(self):
        codes = schemes.whan_class([20.0], [2.0], [10.0], [100.0])
        self.assertEqual(_names(codes, W), ["star_forming"])


class BptTest(parameterized.TestCase):
    def _bpt(self, x, y, snr=100.0, sii_x=None, oi_x=None):
        ha, hb = 300.0, 100.0
        nii = _fluxes_for_ratio(x, ha)
        oiii = _fluxes_for_ratio(y, hb)
        kwargs = {}
        if sii_x is not None:
            sii = _fluxes_for_ratio(sii_x, ha)
            kwargs.update(sii=[sii], sii_err=[sii / 100.0])
        if oi_x is not None:
            oi = _fluxes_for_ratio(oi_x, ha)
            kwargs.update(oi=[oi], oi_err=[oi / 100.0])
        codes = schemes.bpt_class(
            [nii], [nii / snr], [ha], [ha / snr], [oiii], [oiii / snr], [hb], [hb / snr], **kwargs
        )
        return B[codes[0]]

    # At x = -0.5: Kauffmann y = 0.61/(-0.55) + 1.3 = 0.19091,
    #              Kewley    y = 0.61/(-0.97) + 1.19 = 0.56113.
    # At x = 0.2 (right of the Kauffmann asymptote): Kewley y = -1.06926.
    # At x = -2.0 the curves have crossed: Kauffmann 1.00244 > Kewley 0.94304.
    @parameterized.named_parameters(
        ("sf_below_kauffmann", -0.5, 0.18, "star_forming"),
        ("composite_above_kauffmann", -0.5, 0.20, "composite"),
        ("composite_below_kewley", -0.5, 0.55, "composite"),
        ("agn_above_kewley", -0.5, 0.57, "agn"),
        ("composite_right_of_asymptote", 0.2, -1.08, "composite"),
        ("agn_right_of_asymptote", 0.2, -1.06, "agn"),
        ("agn_beyond_047", 0.5, -1.5, "agn"),
        ("sf_where_curves_cross", -2.0, 0.97, "star_forming"),
        ("agn_where_curves_cross", -2.0, 1.01, "agn"),
    )
    def test_nii_diagram(self, x, y, expected):
        self.assertEqual(self._bpt(x, y), expected)

    def test_kauffmann_value(self):
        self.assertAlmostEqual(float(schemes.kauffmann03(-0.5)), 0.61 / -0.55 + 1.3)
        self.assertTrue(np.isnan(schemes.kauffmann03(0.06)))

    # An AGN at (x, y) = (0.0, 1.0). [SII] diagram at x_s = -0.2: Seyfert line
    # 1.89*(-0.2) + 0.76 = 0.382, Kewley01 0.72/(-0.52) + 1.30 = -0.0846.
    # [OI] diagram at x_o = -1.0: Seyfert line 1.18*(-1.0) + 1.30 = 0.12,
    # Kewley01 0.73/(-0.41) + 1.33 = -0.4505.
    def test_seyfert_liner_split(self):
        self.assertEqual(self._bpt(0.0, 1.0, sii_x=-0.2, oi_x=-1.0), "seyfert")
        self.assertEqual(self._bpt(0.0, 1.0, sii_x=-0.2), "seyfert")
        # y = 0.3 is below both Seyfert lines: (0.3 < 0.382 and, at x_o=-0.8,
        # 1.18*-0.8+1.3 = 0.356) and above both Kewley01 lines.
        self.assertEqual(self._bpt(0.0, 0.3, sii_x=-0.2, oi_x=-0.8), "liner")
        # Disagreement between the diagrams: undecided AGN.
        self.assertEqual(self._bpt(0.0, 0.3, sii_x=-0.2, oi_x=-1.5), "agn")
        # No secondary diagram: undecided AGN.
        self.assertEqual(self._bpt(0.0, 0.3), "agn")
        # Just either side of the [SII] Seyfert line at x_s = -0.2.
        self.assertEqual(self._bpt(0.1, 0.39, sii_x=-0.2), "seyfert")
        self.assertEqual(self._bpt(0.1, 0.37, sii_x=-0.2), "liner")

    def test_low_sn_and_unclassified(self):
        self.assertEqual(self._bpt(-0.5, 0.0, snr=2.9), "low_sn")
        self.assertEqual(self._bpt(-0.5, 0.0, snr=3.0), "star_forming")
        codes = schemes.bpt_class(
            [np.nan, 10.0, 10.0],
            [1.0, 1.0, 1.0],
            [100.0, 0.0, 100.0],
            [1.0, 1.0, 1.0],
            [10.0, 10.0, -10.0],
            [1.0, 1.0, 1.0],
            [30.0, 30.0, 30.0],
            [1.0, 1.0, 1.0],
        )
        self.assertEqual(_names(codes, B), ["unclassified"] * 3)

    def test_coarse(self):
        codes = np.arange(len(B))
        self.assertEqual(
            [schemes.BPT_COARSE_NAMES[c] for c in schemes.bpt_coarse(codes)],
            ["star_forming", "composite", "agn", "agn", "agn", "low_sn", "unclassified"],
        )


class UvjTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # At V-J = 1.0 the diagonal is 0.88 + c: 1.57 (z<0.5), 1.47, 1.37.
        ("q_low_z", 1.58, 1.0, 0.3, "quiescent"),
        ("sf_low_z", 1.56, 1.0, 0.3, "star_forming"),
        ("q_mid_z", 1.48, 1.0, 0.7, "quiescent"),
        ("sf_mid_z", 1.46, 1.0, 0.7, "star_forming"),
        ("q_high_z", 1.38, 1.0, 1.5, "quiescent"),
        ("sf_high_z", 1.36, 1.0, 1.5, "star_forming"),
        ("z_edge_05_uses_059", 1.48, 1.0, 0.5, "quiescent"),
        # Horizontal cut U-V > 1.3 (diagonal is lower at V-J = 0.5: 1.13).
        ("below_uv_13", 1.29, 0.5, 0.3, "star_forming"),
        ("above_uv_13", 1.31, 0.5, 0.3, "quiescent"),
        # Vertical cut V-J < 1.6 (diagonal at 1.6: 2.098).
        ("vj_left_of_16", 2.2, 1.59, 0.3, "quiescent"),
        ("vj_right_of_16", 2.2, 1.61, 0.3, "star_forming"),
        ("z_out_of_range", 2.0, 1.0, 2.5, "unclassified"),
        ("negative_z", 2.0, 1.0, -0.1, "unclassified"),
        ("nan_colour", np.nan, 1.0, 0.3, "unclassified"),
    )
    def test_boundaries(self, uv, vj, z, expected):
        code = schemes.uvj_class([uv], [vj], [z])[0]
        self.assertEqual(schemes.UVJ_NAMES[code], expected)


class ClassifyTableTest(absltest.TestCase):
    def test_table(self):
        n = 2
        flux = np.full((n, lines.NUM_LINES), 100.0)
        flux[:, lines.line_index("H_ALPHA")] = 300.0
        flux[0, lines.line_index("NII_6584")] = 30.0  # x = -1
        flux[0, lines.line_index("OIII_5007")] = 50.0  # y = log(0.5)
        flux[1, lines.line_index("NII_6584")] = 300.0  # x = 0
        flux[1, lines.line_index("OIII_5007")] = 1000.0  # y = 1
        ew = np.full((n, lines.NUM_LINES), 20.0)
        table = lines.LineTable(
            object_id=["a", "b"],
            redshift=[0.1, 0.1],
            flux=flux,
            flux_err=flux / 50,
            ew=ew,
            ew_err=ew / 50,
        )
        out = schemes.classify_table(table)
        self.assertEqual(_names(out["whan"], W), ["star_forming", "strong_agn"])
        self.assertEqual(B[out["bpt"][0]], "star_forming")
        self.assertIn(B[out["bpt"][1]], ("seyfert", "liner", "agn"))
        np.testing.assert_allclose(out["log_nii_ha"], [-1.0, 0.0])
        np.testing.assert_allclose(out["log_sii_ha"], np.log10(200.0 / 300.0))

    def test_class_counts(self):
        self.assertEqual(
            schemes.class_counts([0, 0, 2], schemes.UVJ_NAMES),
            {"star_forming": 2, "quiescent": 0, "unclassified": 1},
        )


if __name__ == "__main__":
    absltest.main()
