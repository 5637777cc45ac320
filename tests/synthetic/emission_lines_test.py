"""The synthetic galaxies obey the physics real catalogues obey, and classify sensibly."""

import numpy as np
from absl.testing import absltest, parameterized

from tfelg import schemes
from tfelg.lines import LINE_NAMES, line_index
from tfelg.spectra import REST_LOGLAM
from tfelg.synthetic import emission_lines as el

N = 4000
SEED = 7
_LAMBDA = 10.0**REST_LOGLAM


def _col(array, name):
    return array[:, line_index(name)]


def _snr(sample, name):
    return _col(sample.lines.flux, name) / _col(sample.lines.flux_err, name)


def _fractions(codes, mask, names):
    counts = np.bincount(codes[mask], minlength=len(names))
    return dict(zip(names, counts / max(mask.sum(), 1), strict=True))


class GenerateTest(parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sample = el.generate(N, SEED)
        cls.ratios = schemes.classify_table(cls.sample.lines)

    def test_shapes_types_and_ids(self):
        s = self.sample
        self.assertLen(s, N)
        self.assertLen(s.lines, N)
        self.assertEqual(s.true_class.dtype, np.int8)
        self.assertEqual(s.true_class.shape, (N,))
        self.assertEqual(s.spectrum.shape, (N, len(REST_LOGLAM)))
        self.assertEqual(s.spectrum.dtype, np.float32)
        self.assertEqual(s.spectrum_ivar.shape, s.spectrum.shape)
        self.assertEqual(s.spectrum_ivar.dtype, np.float32)
        self.assertTrue(np.all(s.spectrum_ivar >= 0))
        self.assertTrue(np.all(np.isfinite(s.spectrum)))
        self.assertEqual(s.lines.object_id[42], "SYN-000000042")
        self.assertLen(np.unique(s.lines.object_id), N)
        self.assertTrue(np.all(np.isfinite(s.lines.flux)))
        self.assertTrue(np.all(s.lines.flux_err > 0))
        self.assertTrue(np.all(s.lines.ew_err > 0))

    def test_redshifts_are_sdss_like(self):
        z = self.sample.lines.redshift
        self.assertGreaterEqual(z.min(), 0.02)
        self.assertLessEqual(z.max(), 0.30)
        self.assertBetween(float(np.median(z)), 0.07, 0.13)

    def test_class_proportions_follow_the_defaults(self):
        counts = np.bincount(self.sample.true_class, minlength=len(el.TRUE_CLASS_NAMES))
        for name, count in zip(el.TRUE_CLASS_NAMES, counts, strict=True):
            self.assertAlmostEqual(count / N, el.DEFAULT_CLASS_FRACTIONS[name], delta=0.03)

    def test_same_seed_same_sample_other_seed_other_sample(self):
        a = el.generate(200, 11)
        b = el.generate(200, 11)
        c = el.generate(200, 12)
        np.testing.assert_array_equal(a.lines.flux, b.lines.flux)
        np.testing.assert_array_equal(a.lines.ew_err, b.lines.ew_err)
        np.testing.assert_array_equal(a.true_class, b.true_class)
        np.testing.assert_array_equal(a.spectrum, b.spectrum)
        self.assertFalse(np.array_equal(a.lines.flux, c.lines.flux))
        self.assertFalse(np.array_equal(a.spectrum, c.spectrum))

    def test_line_table_does_not_depend_on_with_spectrum(self):
        a = el.generate(200, 11)
        b = el.generate(200, 11, with_spectrum=False)
        self.assertIsNone(b.spectrum)
        self.assertIsNone(b.spectrum_ivar)
        np.testing.assert_array_equal(a.lines.flux, b.lines.flux)
        np.testing.assert_array_equal(a.lines.ew, b.lines.ew)
        np.testing.assert_array_equal(a.true_class, b.true_class)

    def test_class_fractions_argument(self):
        only_seyferts = el.generate(50, 1, with_spectrum=False, class_fractions={"seyfert": 2.0})
        self.assertTrue(np.all(only_seyferts.true_class == el.TRUE_CLASS["seyfert"]))
        as_sequence = el.generate(50, 1, with_spectrum=False, class_fractions=[0, 0, 0, 0, 1])
        self.assertTrue(np.all(as_sequence.true_class == el.TRUE_CLASS["passive"]))

    @parameterized.named_parameters(
        ("unknown_name", {"quasar": 1.0}, "unknown classes"),
        ("negative", {"seyfert": -1.0, "liner": 2.0}, ">= 0"),
        ("all_zero", [0, 0, 0, 0, 0], "not all zero"),
        ("wrong_length", [1, 1], "expected 5"),
    )
    def test_bad_class_fractions(self, fractions, message):
        with self.assertRaisesRegex(ValueError, message):
            el.generate(10, 0, class_fractions=fractions)

    @parameterized.named_parameters(
        ("negative_size", -1, 0),
        ("float_size", 2.5, 0),
        ("bool_size", True, 0),
        ("float_seed", 10, 1.5),
    )
    def test_bad_size_or_seed(self, size, seed):
        with self.assertRaises(ValueError):
            el.generate(size, seed)

    def test_empty_sample(self):
        s = el.generate(0, 0)
        self.assertLen(s, 0)
        self.assertEqual(s.spectrum.shape, (0, len(REST_LOGLAM)))

    # --- Physics ------------------------------------------------------------

    def test_atomic_ratios(self):
        true = self.sample.truth["flux"]
        ratio = _col(true, "NII_6584") / _col(true, "NII_6548")
        # Fixed 3.05 emitted; the dust between 6548 and 6584 A shifts it < 3%.
        k6548, k6584 = el.cardelli_k([6549.86, 6585.27])
        e_bv = self.sample.truth["a_v"] / el.R_V
        expected = el.NII_6584_TO_6548 * 10.0 ** (-0.4 * e_bv * (k6584 - k6548))
        np.testing.assert_allclose(ratio, expected, rtol=1e-9)
        np.testing.assert_allclose(ratio, 3.05, rtol=0.03)
        # Measured, where [NII]6548 is well detected.
        f, e = self.sample.lines.flux, self.sample.lines.flux_err
        good = _snr(self.sample, "NII_6548") > 15
        self.assertGreater(good.sum(), 50)
        measured = _col(f, "NII_6584")[good] / _col(f, "NII_6548")[good]
        self.assertAlmostEqual(float(np.median(measured)), 3.05, delta=0.1)
        sigma = measured * np.hypot(
            _col(e, "NII_6584")[good] / _col(f, "NII_6584")[good],
            _col(e, "NII_6548")[good] / _col(f, "NII_6548")[good],
        )
        self.assertLess(np.mean(np.abs(measured - 3.05) > 4 * sigma), 0.01)

    def test_balmer_decrements(self):
        true = self.sample.truth["flux"]
        ha_hb = _col(true, "H_ALPHA") / _col(true, "H_BETA")
        hg_hb = _col(true, "H_GAMMA") / _col(true, "H_BETA")
        self.assertTrue(np.all(ha_hb >= 2.86 - 1e-9))
        self.assertTrue(np.all(hg_hb <= 0.468 + 1e-9))
        dust_free = self.sample.truth["a_v"] < 0.02
        np.testing.assert_allclose(hg_hb[dust_free], 0.468, atol=0.005)
        np.testing.assert_allclose(ha_hb[dust_free], 2.86, atol=0.03)
        # Measured Halpha/Hbeta of high-S/N galaxies: >= 2.86 within the errors,
        # and a median typical of dusty SDSS galaxies.
        f, e = self.sample.lines.flux, self.sample.lines.flux_err
        good = (_snr(self.sample, "H_ALPHA") > 20) & (_snr(self.sample, "H_BETA") > 20)
        self.assertGreater(good.sum(), 200)
        ha, hb = _col(f, "H_ALPHA")[good], _col(f, "H_BETA")[good]
        ratio = ha / hb
        sigma = ratio * np.hypot(_col(e, "H_ALPHA")[good] / ha, _col(e, "H_BETA")[good] / hb)
        self.assertLess(np.mean((ratio - 2.86) / sigma < -3), 0.01)
        self.assertBetween(float(np.median(ratio)), 3.2, 5.0)

    def test_sii_doublet_ratio(self):
        true = self.sample.truth["flux"]
        ratio = _col(true, "SII_6717") / _col(true, "SII_6731")
        self.assertGreaterEqual(ratio.min(), 0.43)
        self.assertLessEqual(ratio.max(), 1.45)
        self.assertAlmostEqual(float(el.sii_doublet_ratio(1.0)), 1.45, delta=0.01)
        self.assertAlmostEqual(float(el.sii_doublet_ratio(1e6)), 0.43, delta=0.01)
        f, e = self.sample.lines.flux, self.sample.lines.flux_err
        good = (_snr(self.sample, "SII_6717") > 15) & (_snr(self.sample, "SII_6731") > 15)
        self.assertGreater(good.sum(), 100)
        s1, s2 = _col(f, "SII_6717")[good], _col(f, "SII_6731")[good]
        measured = s1 / s2
        sigma = measured * np.hypot(_col(e, "SII_6717")[good] / s1, _col(e, "SII_6731")[good] / s2)
        outside = ((measured - 1.45) / sigma > 3) | ((0.43 - measured) / sigma > 3)
        self.assertLess(np.mean(outside), 0.02)

    def test_cardelli_law(self):
        k_hb, k_ha = el.cardelli_k([4862.68, 6564.61])
        self.assertAlmostEqual(float(k_hb), 3.61, delta=0.01)
        self.assertAlmostEqual(float(k_ha), 2.53, delta=0.01)

    def test_true_equivalent_widths_respect_the_whan_boundaries(self):
        ew = self.sample.truth["ew"]
        w, w_nii = _col(ew, "H_ALPHA"), _col(ew, "NII_6584")
        cls = self.sample.true_class
        sf, sy, li = (cls == el.TRUE_CLASS[k] for k in ("star_forming", "seyfert", "liner"))
        ret, pas = cls == el.TRUE_CLASS["retired"], cls == el.TRUE_CLASS["passive"]
        self.assertGreaterEqual(w[sf].min(), 2.5)
        self.assertGreater(np.median(w[sf]), 10.0)
        self.assertGreaterEqual(w[sy].min(), 6.0 - 1e-9)
        self.assertBetween(float(np.median(w[li])), 3.0, 6.0)
        self.assertGreaterEqual(w[ret].min(), 0.5 - 1e-9)
        self.assertLessEqual(w[ret].max(), 3.2 + 1e-9)
        self.assertLess(w[pas].max(), 0.5)
        self.assertLess(w_nii[pas].max(), 0.5)

    def test_errors_are_honest(self):
        # (measured - true) / error is standard normal for every line.
        pull = (self.sample.lines.flux - self.sample.truth["flux"]) / self.sample.lines.flux_err
        for j, name in enumerate(LINE_NAMES):
            with self.subTest(line=name):
                self.assertAlmostEqual(float(np.mean(pull[:, j])), 0.0, delta=0.08)
                self.assertAlmostEqual(float(np.std(pull[:, j])), 1.0, delta=0.08)
        ew_pull = (self.sample.lines.ew - self.sample.truth["ew"]) / self.sample.lines.ew_err
        np.testing.assert_allclose(np.std(ew_pull, axis=0), 1.0, atol=0.08)

    def test_spectrum_noise_matches_ivar(self):
        # Between adjacent pixels of a line-free, smooth stretch the difference
        # is almost all noise: normalised by the ivar it must have unit spread.
        region = (_LAMBDA > 5300) & (_LAMBDA < 5800)
        f = self.sample.spectrum[:, region]
        var = 1.0 / self.sample.spectrum_ivar[:, region]
        pull = (f[:, 1:] - f[:, :-1]) / np.sqrt(var[:, 1:] + var[:, :-1])
        self.assertAlmostEqual(float(np.std(pull)), 1.0, delta=0.05)

    def test_blue_end_outside_coverage_is_masked(self):
        s = self.sample
        z = s.lines.redshift
        first_pixel_seen = s.spectrum_ivar[:, 0] > 0
        edge = 10.0 ** (REST_LOGLAM[0] - (REST_LOGLAM[1] - REST_LOGLAM[0]) / 2)
        self.assertTrue(np.array_equal(first_pixel_seen, edge * (1 + z) >= 3800.0))
        self.assertTrue(np.all(s.spectrum[~(s.spectrum_ivar > 0)] == 0))

    def test_4000_break_grows_with_stellar_age(self):
        red = self.sample.spectrum[:, (_LAMBDA > 4000) & (_LAMBDA < 4100)].mean(axis=1)
        blue = self.sample.spectrum[:, (_LAMBDA > 3850) & (_LAMBDA < 3950)].mean(axis=1)
        dn4000 = red / blue
        medians = [
            float(np.median(dn4000[self.sample.true_class == c]))
            for c in range(len(el.TRUE_CLASS_NAMES))
        ]
        star_forming, seyfert, liner, retired, passive = medians
        self.assertLess(star_forming, 1.5)
        self.assertLess(star_forming, seyfert)
        self.assertLess(seyfert, liner)
        self.assertLess(liner, retired)
        self.assertGreater(passive, 1.7)

    # --- What the classical schemes make of it -------------------------------------------

    def test_whan_classes_follow_the_true_classes(self):
        whan, cls = self.ratios["whan"], self.sample.true_class
        names = schemes.WHAN_NAMES

        def frac(true_name):
            return _fractions(whan, cls == el.TRUE_CLASS[true_name], names)

        self.assertGreater(frac("star_forming")["star_forming"], 0.6)
        self.assertGreater(frac("seyfert")["strong_agn"], 0.9)
        self.assertGreater(frac("liner")["weak_agn"], 0.6)
        self.assertGreater(frac("retired")["retired"], 0.85)
        passive = frac("passive")
        self.assertGreater(passive["passive"], 0.6)
        self.assertGreater(passive["passive"] + passive["retired"], 0.99)

    def test_bpt_classes_follow_the_true_classes(self):
        bpt, cls = self.ratios["bpt"], self.sample.true_class
        names = schemes.BPT_NAMES

        def frac(true_name):
            return _fractions(bpt, cls == el.TRUE_CLASS[true_name], names)

        self.assertGreater(frac("star_forming")["star_forming"], 0.55)
        self.assertGreater(frac("seyfert")["seyfert"], 0.85)
        liner = frac("liner")
        self.assertGreater(liner["liner"] + liner["agn"] + liner["composite"], 0.5)
        self.assertLess(liner["seyfert"] + liner["star_forming"], 0.05)
        # Weak lines are weak: retired and passive galaxies mostly cannot be
        # placed on the BPT diagram at S/N >= 3, as in real data.
        retired = frac("retired")
        self.assertGreater(retired["low_sn"] + retired["unclassified"], 0.7)
        passive = frac("passive")
        self.assertGreater(passive["low_sn"] + passive["unclassified"], 0.99)
        # The composite region between the wings is populated.
        self.assertGreater(np.mean(bpt == schemes.BPT["composite"]), 0.03)


class WideRedshiftTest(parameterized.TestCase):
    """``redshift_range``: uniform redshifts, the same galaxies, lines leaving the coverage."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.default = el.generate(2500, SEED)
        cls.wide = el.generate(2500, SEED, redshift_range=el.WIDE_REDSHIFT_RANGE)

    def test_redshifts_are_uniform_over_the_range_and_independent_of_the_class(self):
        z = self.wide.lines.redshift
        low, high = el.WIDE_REDSHIFT_RANGE
        self.assertGreaterEqual(z.min(), low)
        self.assertLessEqual(z.max(), high)
        # Uniform: each fifth of the range holds a fifth of the galaxies
        # (binomial std ~8 of 500); the default sample has most below 0.15.
        counts, _ = np.histogram(z, bins=5, range=(low, high))
        np.testing.assert_allclose(counts, 500, atol=60)
        self.assertGreater(np.mean(self.default.lines.redshift < 0.15), 0.7)
        for c in range(len(el.TRUE_CLASS_NAMES)):
            chosen = self.wide.true_class == c
            if chosen.sum() > 100:
                self.assertBetween(float(np.median(z[chosen])), 0.17, 0.24)

    def test_same_galaxies_at_other_redshifts(self):
        np.testing.assert_array_equal(self.wide.true_class, self.default.true_class)
        for key, value in self.default.truth.items():
            np.testing.assert_array_equal(self.wide.truth[key], value, err_msg=key)
        self.assertFalse(np.allclose(self.wide.lines.redshift, self.default.lines.redshift))

    def test_halpha_stays_measured_and_sii_leaves_the_coverage(self):
        z = self.wide.lines.redshift
        for name in ("H_ALPHA", "NII_6584", "H_BETA", "OIII_5007"):
            self.assertTrue(np.all(np.isfinite(_col(self.wide.lines.ew, name))), name)
        sii_missing = np.isnan(_col(self.wide.lines.ew, "SII_6731"))
        # [SII]6731 is outside 9,200 A observed above z = 9200 / 6732.7 - 1 = 0.3665.
        self.assertTrue(np.all(sii_missing[z > 0.37]))
        self.assertFalse(np.any(sii_missing[z < 0.36]))
        self.assertGreater(int(sii_missing.sum()), 50)
        self.assertTrue(np.all(np.isfinite(self.default.lines.ew)))

    def test_red_end_of_the_spectrum_is_masked_at_high_redshift(self):
        z = self.wide.lines.redshift
        last_pixel_seen = self.wide.spectrum_ivar[:, -1] > 0
        edge = 10.0 ** (REST_LOGLAM[-1] + (REST_LOGLAM[1] - REST_LOGLAM[0]) / 2)
        np.testing.assert_array_equal(last_pixel_seen, edge * (1 + z) <= 9200.0)
        self.assertGreater(int((~last_pixel_seen).sum()), 200)
        self.assertTrue(np.all(self.default.spectrum_ivar[:, -1] > 0))

    def test_blocks_match_the_whole_sample(self):
        block = el.generate_block(2500, SEED, 1, redshift_range=el.WIDE_REDSHIFT_RANGE)
        np.testing.assert_array_equal(block.lines.ew, self.wide.lines.ew[1000:2000])

    @parameterized.parameters(
        ((0.1,), "two numbers"),
        ((0.2, 0.1), "0 <= low < high"),
        ((-0.1, 0.2), "0 <= low < high"),
        ((0.02, 0.45), "Halpha leave the observed range"),
    )
    def test_bad_range(self, redshift_range, message):
        with self.assertRaisesRegex(ValueError, message):
            el.generate(10, 0, redshift_range=redshift_range)


if __name__ == "__main__":
    absltest.main()
