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
        ("ha_ew_at_05_is_not_passive", 0.5, -0.2, 0.4, "retired"),
        ("nii_ew_at_05_is_not_passive", 0.4, -0.2, 0.5, "retired"),
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
        # The last: W = 3 is not retired, and without [NII] no ratio.
        codes = schemes.whan_class(
            [np.nan, 20.0, 20.0, 20.0, 0.3, 3.0],
            [1.0, 1.0, 1.0, 1.0, np.nan, 1.0],
            [50.0, np.nan, 0.0, -5.0, 10.0, np.nan],
            [100.0, 100.0, 100.0, 100.0, 100.0, 100.0],
        )
        self.assertEqual(_names(codes, W), ["unclassified"] * 6)

    def test_each_line_needs_the_sn(self):
        # [NII] alone or Halpha alone below S/N 3 is enough for low_sn.
        codes = schemes.whan_class(
            [20.0, 20.0, 20.0],
            [2.0, 2.0, 2.0],
            [10.0, 10.0, 10.0],
            [100.0, 100.0, 100.0],
            nii_err=[1.0, 5.0, 1.0],
            ha_err=[1.0, 1.0, 50.0],
        )
        self.assertEqual(_names(codes, W), ["star_forming", "low_sn", "low_sn"])
        # A zero or negative error is no measurement of the S/N.
        for bad in (0.0, -1.0):
            codes = schemes.whan_class([20.0], [2.0], [10.0], [100.0], nii_err=[bad], ha_err=[1.0])
            self.assertEqual(_names(codes, W), ["low_sn"])

    def test_without_errors_no_sn_cut(self):
        codes = schemes.whan_class([20.0], [2.0], [10.0], [100.0])
        self.assertEqual(_names(codes, W), ["star_forming"])


class BptTest(parameterized.TestCase):
    def _bpt(self, x, y, snr=100.0, sii_x=None, oi_x=None, sii_snr=100.0, oi_snr=100.0):
        ha, hb = 300.0, 100.0
        nii = _fluxes_for_ratio(x, ha)
        oiii = _fluxes_for_ratio(y, hb)
        kwargs = {}
        if sii_x is not None:
            sii = _fluxes_for_ratio(sii_x, ha)
            kwargs.update(sii=[sii], sii_err=[sii / sii_snr])
        if oi_x is not None:
            oi = _fluxes_for_ratio(oi_x, ha)
            kwargs.update(oi=[oi], oi_err=[oi / oi_snr])
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

    # Every demarcation curve at three points (two for the straight lines),
    # enough to pin each constant, and just inside/at the end of its domain.
    # Values worked by hand from the published forms (rounded to 1e-6):
    #   Kauffmann03   0.61/(x - 0.05) + 1.3     Kewley01 [NII] 0.61/(x - 0.47) + 1.19
    #   Kewley01 [SII] 0.72/(x - 0.32) + 1.30   Kewley01 [OI]  0.73/(x + 0.59) + 1.33
    #   Kewley06 [SII] 1.89 x + 0.76            Kewley06 [OI]  1.18 x + 1.30
    @parameterized.named_parameters(
        ("kauffmann03", schemes.kauffmann03, {-1.0: 0.719048, -0.5: 0.190909, 0.0: -10.9}, 0.05),
        (
            "kewley01_nii",
            schemes.kewley01_nii,
            {-1.0: 0.775034, -0.5: 0.561134, 0.0: -0.107872},
            0.47,
        ),
        (
            "kewley01_sii",
            schemes.kewley01_sii,
            {-1.0: 0.754545, -0.5: 0.421951, -0.2: -0.084615},
            0.32,
        ),
        (
            "kewley01_oi",
            schemes.kewley01_oi,
            {-2.0: 0.81227, -1.5: 0.527802, -1.0: -0.450488},
            -0.59,
        ),
        ("kewley06_sii", schemes.kewley06_sii, {-0.5: -0.185, -0.2: 0.382, 0.0: 0.76}, None),
        ("kewley06_oi", schemes.kewley06_oi, {-1.0: 0.12, -0.5: 0.71, 0.0: 1.30}, None),
    )
    def test_demarcation_curve_values(self, curve, values, asymptote):
        for x, y in values.items():
            self.assertAlmostEqual(float(curve(x)), y, places=6, msg=f"x = {x}")
        np.testing.assert_allclose(curve(list(values)), list(values.values()), atol=1e-6)
        if asymptote is not None:
            # Defined strictly left of the asymptote, NaN at it and beyond.
            self.assertTrue(np.isfinite(curve(asymptote - 1e-3)))
            self.assertTrue(np.isnan(curve(asymptote)))
            self.assertTrue(np.isnan(curve(asymptote + 1.0)))

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

    # One secondary diagram at a time, the [NII] point an AGN (x = 0: the
    # [NII] Kewley01 curve is at -0.107872; x = 0.5 is beyond its asymptote).
    @parameterized.named_parameters(
        # [OI] at x_o = -1.5: Kewley01 0.527802, Kewley06 -0.47. Below the
        # Kewley01 curve the [OI] diagram calls it star-forming: undecided.
        ("oi_below_kewley01", 0.0, 0.3, None, -1.5, "agn"),
        ("oi_just_below_kewley01", 0.0, 0.52, None, -1.5, "agn"),
        ("oi_just_above_kewley01", 0.0, 0.54, None, -1.5, "seyfert"),
        # [SII] at x_s = -0.5: Kewley01 0.421951, Kewley06 -0.185.
        ("sii_below_kewley01", 0.0, 0.3, -0.5, None, "agn"),
        ("sii_just_below_kewley01", 0.0, 0.41, -0.5, None, "agn"),
        ("sii_just_above_kewley01", 0.0, 0.43, -0.5, None, "seyfert"),
        # Kewley06 [OI] at x_o = -1.0: 0.12 (Kewley01 there: -0.450488).
        ("oi_liner_below_kewley06", 0.5, 0.11, None, -1.0, "liner"),
        ("oi_seyfert_above_kewley06", 0.5, 0.13, None, -1.0, "seyfert"),
        # Kewley06 [SII] at x_s = 0.0: 0.76 (Kewley01 there: -0.95).
        ("sii_liner_below_kewley06", 0.5, 0.75, 0.0, None, "liner"),
        ("sii_seyfert_above_kewley06", 0.5, 0.77, 0.0, None, "seyfert"),
        # Right of the [OI] Kewley01 asymptote (x_o >= -0.59) every point is
        # above it; Kewley06 at x_o = -0.5 is 0.71.
        ("oi_right_of_asymptote_liner", 0.0, 0.70, None, -0.5, "liner"),
        ("oi_right_of_asymptote_seyfert", 0.0, 0.72, None, -0.5, "seyfert"),
        # A point below Kauffmann in [NII] is star-forming whatever the
        # secondary diagrams say.
        ("sf_in_nii_stays_sf", -0.5, 0.0, -0.2, -1.0, "star_forming"),
        ("composite_stays_composite", -0.5, 0.3, -0.2, -1.0, "composite"),
    )
    def test_single_secondary_diagram(self, x, y, sii_x, oi_x, expected):
        self.assertEqual(self._bpt(x, y, sii_x=sii_x, oi_x=oi_x), expected)

    @parameterized.named_parameters(
        # x where the Kewley06 line lies above the Kewley01 curve.
        ("sii", schemes.kewley01_sii, schemes.kewley06_sii, [-0.2, 0.0]),
        ("oi", schemes.kewley01_oi, schemes.kewley06_oi, [-1.1, -0.8, -0.6]),
    )
    def test_exactly_on_a_line(self, k01, k06, x):
        # On a Kewley06 line is LINER (Seyfert is strictly above); on a
        # Kewley01 curve is not above it (no vote). The y values are the
        # curves' own, so the equalities are exact.
        x = np.array(x)
        usable = np.ones(len(x), dtype=bool)
        on_k06 = k06(x)
        self.assertTrue(np.all(on_k06 > k01(x)))
        votes, used = schemes._agn_subclass_votes(on_k06, x, k01, k06, usable)
        self.assertEqual(votes.tolist(), [-1] * len(x))
        self.assertTrue(used.all())
        above_k06 = np.nextafter(on_k06, np.inf)
        votes, _ = schemes._agn_subclass_votes(above_k06, x, k01, k06, usable)
        self.assertEqual(votes.tolist(), [1] * len(x))
        votes, _ = schemes._agn_subclass_votes(k01(x), x, k01, k06, usable)
        self.assertEqual(votes.tolist(), [0] * len(x))
        votes, _ = schemes._agn_subclass_votes(on_k06, x, k01, k06, ~usable)
        self.assertEqual(votes.tolist(), [0] * len(x))

    def test_low_sn_secondary_line_is_not_used(self):
        # y = 0.43: Seyfert in [SII] at x_s = -0.5 (above Kewley01 0.421951
        # and Kewley06 -0.185), LINER in [OI] at x_o = -0.5 (right of the
        # Kewley01 asymptote, below Kewley06 0.71). Together: undecided.
        self.assertEqual(self._bpt(0.0, 0.43, sii_x=-0.5, oi_x=-0.5), "agn")
        # [OI] below S/N 3 drops out: [SII] alone decides.
        self.assertEqual(self._bpt(0.0, 0.43, sii_x=-0.5, oi_x=-0.5, oi_snr=2.9), "seyfert")
        self.assertEqual(self._bpt(0.0, 0.43, sii_x=-0.5, oi_x=-0.5, sii_snr=2.9), "liner")
        self.assertEqual(
            self._bpt(0.0, 0.43, sii_x=-0.5, oi_x=-0.5, sii_snr=2.9, oi_snr=2.9), "agn"
        )

    @parameterized.parameters(0, 1, 2, 3)
    def test_each_nii_diagram_line_needs_the_sn(self, low):
        # One of [NII], Halpha, [OIII], Hbeta at S/N 2.9, the others at 100.
        fluxes = [30.0, 300.0, 50.0, 100.0]
        errors = [f / 100.0 for f in fluxes]
        errors[low] = fluxes[low] / 2.9
        args = [[v] for pair in zip(fluxes, errors, strict=True) for v in pair]
        self.assertEqual(B[schemes.bpt_class(*args)[0]], "low_sn")
        errors[low] = fluxes[low] / 100.0
        args = [[v] for pair in zip(fluxes, errors, strict=True) for v in pair]
        self.assertEqual(B[schemes.bpt_class(*args)[0]], "star_forming")

    @parameterized.named_parameters(
        # Exact (x, y), past NumPy's log10: on a curve is the upper side's
        # complement (strict inequalities), x = 0.47 is AGN.
        ("on_kauffmann", -0.5, float(schemes.kauffmann03(-0.5)), "composite"),
        ("on_kewley01", -0.5, float(schemes.kewley01_nii(-0.5)), "composite"),
        ("above_kewley01", -0.5, float(np.nextafter(schemes.kewley01_nii(-0.5), 2)), "agn"),
        ("x_at_047", 0.47, -5.0, "agn"),
    )
    def test_exactly_on_a_nii_boundary(self, x, y, expected):
        nan = np.array([np.nan])
        ratios = [np.array([x]), np.array([y]), nan, nan]
        with mock.patch.object(schemes, "log_ratio", side_effect=ratios):
            code = schemes.bpt_class([1.0], [0.1], [1.0], [0.1], [1.0], [0.1], [1.0], [0.1])
        self.assertEqual(B[code[0]], expected)

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
        # The bins are closed on the left: z = 0 uses 0.69, z = 1 uses 0.49,
        # z = 2 has no cut.
        ("z_edge_0_uses_069", 1.58, 1.0, 0.0, "quiescent"),
        ("z_edge_0_not_059", 1.56, 1.0, 0.0, "star_forming"),
        ("z_edge_1_uses_049", 1.38, 1.0, 1.0, "quiescent"),
        ("z_just_below_1_uses_059", 1.38, 1.0, 0.999, "star_forming"),
        ("z_edge_2_unclassified", 2.0, 1.0, 2.0, "unclassified"),
        # Horizontal cut U-V > 1.3 (diagonal is lower at V-J = 0.5: 1.13).
        ("below_uv_13", 1.29, 0.5, 0.3, "star_forming"),
        ("above_uv_13", 1.31, 0.5, 0.3, "quiescent"),
        # Vertical cut V-J < 1.6 (diagonal at 1.6: 2.098).
        ("vj_left_of_16", 2.2, 1.59, 0.3, "quiescent"),
        ("vj_right_of_16", 2.2, 1.61, 0.3, "star_forming"),
        # Exactly on each line: star-forming (all three cuts are strict).
        ("on_uv_13", 1.3, 0.5, 0.3, "star_forming"),
        ("on_vj_16", 2.2, 1.6, 0.3, "star_forming"),
        ("on_diagonal", 0.88 * 1.0 + 0.69, 1.0, 0.3, "star_forming"),
        ("above_diagonal", float(np.nextafter(0.88 * 1.0 + 0.69, 3)), 1.0, 0.3, "quiescent"),
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
        # Row b by hand: [NII] (x, y) = (0, 1) is above Kewley01 (-0.107872):
        # AGN. [SII] x_s = log10(200/300) = -0.176091: Kewley01 -0.151573,
        # Kewley06 0.427188, y = 1 above both: Seyfert. [OI] x_o =
        # log10(100/300) = -0.477121, right of the Kewley01 asymptote (-0.59):
        # above it; Kewley06 0.736997 < 1: Seyfert. Both agree: Seyfert.
        self.assertEqual(_names(out["bpt"], B), ["star_forming", "seyfert"])
        np.testing.assert_allclose(out["log_nii_ha"], [-1.0, 0.0])
        np.testing.assert_allclose(out["log_oiii_hb"], [np.log10(0.5), 1.0])
        np.testing.assert_allclose(out["log_sii_ha"], np.log10(200.0 / 300.0))
        np.testing.assert_allclose(out["log_oi_ha"], np.log10(100.0 / 300.0))
        np.testing.assert_array_equal(out["ew_ha"], [20.0, 20.0])

    def _table(self, snr):
        """Row 0 star-forming, row 1 a Seyfert (as above), every line at one S/N."""
        flux = np.full((2, lines.NUM_LINES), 100.0)
        flux[:, lines.line_index("H_ALPHA")] = 300.0
        flux[0, lines.line_index("NII_6584")] = 30.0
        flux[0, lines.line_index("OIII_5007")] = 50.0
        flux[1, lines.line_index("NII_6584")] = 300.0
        flux[1, lines.line_index("OIII_5007")] = 1000.0
        ew = np.full((2, lines.NUM_LINES), 20.0)
        return lines.LineTable(
            object_id=["a", "b"],
            redshift=[0.1, 0.1],
            flux=flux,
            flux_err=flux / snr,
            ew=ew,
            ew_err=ew / snr,
        )

    def test_snr_min_is_passed_to_both_schemes(self):
        # At S/N 3.5 the default cut (3) classifies; a cut of 5 makes both
        # schemes call every galaxy low-S/N.
        table = self._table(snr=3.5)
        out = schemes.classify_table(table)
        self.assertEqual(_names(out["whan"], W), ["star_forming", "strong_agn"])
        self.assertEqual(_names(out["bpt"], B), ["star_forming", "seyfert"])
        out = schemes.classify_table(table, snr_min=5.0)
        self.assertEqual(_names(out["whan"], W), ["low_sn", "low_sn"])
        self.assertEqual(_names(out["bpt"], B), ["low_sn", "low_sn"])
        # At S/N 2.5 the default cut refuses; a cut of 2 classifies.
        table = self._table(snr=2.5)
        out = schemes.classify_table(table)
        self.assertEqual(_names(out["whan"], W), ["low_sn", "low_sn"])
        self.assertEqual(_names(out["bpt"], B), ["low_sn", "low_sn"])
        out = schemes.classify_table(table, snr_min=2.0)
        self.assertEqual(_names(out["whan"], W), ["star_forming", "strong_agn"])
        self.assertEqual(_names(out["bpt"], B), ["star_forming", "seyfert"])

    def test_sii_is_the_doublet_sum_with_errors_in_quadrature(self):
        # Row b with [OI] moved to x_o = -0.1 (Kewley06 1.182 > y = 1): LINER
        # in [OI], Seyfert in [SII]. [SII]6717 at S/N 100 (error 1), 6731 at
        # S/N 2 (error 50): the doublet (200) has error hypot(1, 50) = 50.01,
        # S/N 3.9992 (errors added linearly would give 51, S/N 3.9216).
        table = self._table(snr=100.0)
        oi = lines.line_index("OI_6300")
        table.flux[1, oi] = 300.0 * 10.0**-0.1
        table.flux_err[1, oi] = table.flux[1, oi] / 100.0
        table.flux_err[1, lines.line_index("SII_6731")] = 50.0
        # S/N 3.9992 >= 3.95: both diagrams used, they disagree: undecided.
        out = schemes.classify_table(table, snr_min=3.95)
        self.assertEqual(B[out["bpt"][1]], "agn")
        np.testing.assert_allclose(out["log_sii_ha"][1], np.log10(200.0 / 300.0))
        np.testing.assert_allclose(out["log_oi_ha"][1], -0.1)
        # S/N 3.9992 < 4: [SII] drops out and [OI] alone says LINER.
        out = schemes.classify_table(table, snr_min=4.0)
        self.assertEqual(B[out["bpt"][1]], "liner")

    def test_log_ratio_needs_two_positive_finite_fluxes(self):
        out = schemes.log_ratio(
            [0.0, -1.0, np.inf, np.nan, 10.0, 10.0, 1000.0],
            [1.0, 1.0, 1.0, 1.0, 0.0, np.inf, 10.0],
        )
        np.testing.assert_array_equal(np.isnan(out), [True] * 6 + [False])
        self.assertEqual(out[-1], 2.0)
        # Fluxes below 1 are measurements too.
        self.assertAlmostEqual(float(schemes.log_ratio(0.5, 0.25)[0]), np.log10(2.0))

    def test_class_counts(self):
        self.assertEqual(
            schemes.class_counts([0, 0, 2], schemes.UVJ_NAMES),
            {"star_forming": 2, "quiescent": 0, "unclassified": 1},
        )
        # A code with no name is an error, not silently dropped.
        with self.assertRaises(ValueError):
            schemes.class_counts([0, 3], schemes.UVJ_NAMES)


if __name__ == "__main__":
    absltest.main()
