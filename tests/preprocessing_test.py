"""Tests for tfelg.preprocessing: fitted on train only, missing values, spectra, JSON."""

import os

import numpy as np
from absl.testing import absltest

from tfelg import lines
from tfelg.errors import InputError
from tfelg.preprocessing import Preprocessor


def line_arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    ew = rng.lognormal(1.0, 1.2, size=(n, lines.NUM_LINES)) - 0.5  # some negative EWs
    flux = rng.lognormal(2.0, 1.0, size=(n, lines.NUM_LINES))
    return {"ew": ew, "flux": flux}


def spectrum_arrays(n, pixels=50, seed=0):
    rng = np.random.default_rng(seed)
    shape = 1.0 + 0.3 * np.sin(np.linspace(0, 6, pixels))
    scale = rng.lognormal(1.0, 1.0, size=(n, 1))
    spectrum = scale * shape * (1 + 0.05 * rng.normal(size=(n, pixels)))
    ivar = np.ones_like(spectrum)
    return {"spectrum": spectrum.astype(np.float32), "spectrum_ivar": ivar.astype(np.float32)}


class LinesTest(absltest.TestCase):
    def test_standardised_with_training_statistics_only(self):
        train, other = line_arrays(500, seed=1), line_arrays(200, seed=2)
        other["ew"] = other["ew"] * 3 + 10  # a different distribution must not move the scaling
        prep = Preprocessor.fit(train)
        raw = np.arcsinh(train["ew"])
        np.testing.assert_allclose(prep.mean, raw.mean(axis=0))
        np.testing.assert_allclose(prep.std, raw.std(axis=0))
        x, w = prep.transform(train)
        self.assertEqual(x.dtype, np.float32)
        np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(x.std(axis=0), 1, atol=1e-4)
        x_other, _ = prep.transform(other)
        expected = (np.arcsinh(other["ew"]) - prep.mean) / prep.std
        np.testing.assert_allclose(x_other, expected, rtol=1e-5, atol=1e-5)
        self.assertTrue(np.all(w == 1))
        self.assertEqual(prep.feature_names[6], "asinh_ew_H_ALPHA")

    def test_missing_values_get_zero_and_weight_zero_and_do_not_enter_the_fit(self):
        train = line_arrays(300)
        train["ew"][:100, 3] = np.nan
        train["ew"][5, :] = np.nan
        prep = Preprocessor.fit(train)
        np.testing.assert_allclose(prep.mean[3], np.arcsinh(train["ew"][100:, 3]).mean())
        self.assertEqual(prep.num_unusable, 1)
        x, w = prep.transform(train)
        self.assertTrue(np.all(x[:100, 3] == 0) and np.all(w[:100, 3] == 0))
        self.assertTrue(np.all(w[5] == 0) and np.all(x[5] == 0))
        self.assertTrue(np.all(w[100:, 3] == 1))
        self.assertTrue(np.all(np.isfinite(x)))

    def test_negative_equivalent_widths_are_kept(self):
        train = line_arrays(100)
        train["ew"][0, 0] = -5.0
        x, w = Preprocessor.fit(train).transform(train)
        self.assertEqual(w[0, 0], 1)
        self.assertLess(x[0, 0], x[:, 0].mean())

    def test_line_ratios_are_appended_and_missing_for_non_positive_flux(self):
        train = line_arrays(200)
        ha = lines.line_index("H_ALPHA")
        nii = lines.line_index("NII_6584")
        train["flux"][0, nii] = -1.0
        train["flux"][1, ha] = 0.0
        prep = Preprocessor.fit(train, line_features="ew_and_ratios")
        self.assertEqual(prep.num_features, 19)
        name = "log_NII_6584_over_H_ALPHA"
        column = prep.feature_names.index(name)
        x, w = prep.transform(train)
        self.assertEqual(w[0, column], 0)
        self.assertTrue(np.all(w[1, 10:] == 0))  # no Halpha: every ratio missing
        self.assertTrue(np.all(w[1, :10] == 1))  # the EWs are still there
        raw = np.log10(train["flux"][2:, nii] / train["flux"][2:, ha])
        np.testing.assert_allclose(prep.mean[column], raw.mean(), rtol=1e-6)

    def test_inverse_transform_recovers_equivalent_widths(self):
        train = line_arrays(50)
        prep = Preprocessor.fit(train)
        x, _ = prep.transform(train)
        np.testing.assert_allclose(prep.inverse_transform(x), train["ew"], rtol=1e-4, atol=1e-4)

    def test_batches_give_the_same_fit_bit_for_bit(self):
        # The loop streams the training split in batches; the preprocessing must not depend
        # on how the rows are cut, or a streamed run and an in-memory one would differ.
        train = line_arrays(10_000, seed=5)
        train["ew"][np.random.default_rng(6).random(train["ew"].shape) < 0.2] = np.nan
        train["ew"][:9_000, 4] = np.nan  # a feature measured in the last blocks only
        whole = Preprocessor.fit(train, line_features="ew_and_ratios")
        for size in (1, 999, 4096, 5000):
            batches = (
                {k: v[i : i + size] for k, v in train.items()} for i in range(0, 10_000, size)
            )
            cut = Preprocessor.fit_batches(batches, line_features="ew_and_ratios")
            self.assertEqual(cut, whole)  # mean and std equal exactly
            self.assertEqual((cut.num_fitted, cut.num_unusable), (10_000, whole.num_unusable))
        raw = np.arcsinh(train["ew"])
        np.testing.assert_allclose(whole.mean[:10], np.nanmean(raw, axis=0), rtol=1e-12)
        np.testing.assert_allclose(whole.std[:10], np.nanstd(raw, axis=0), rtol=1e-12)

    def test_required_features(self):
        self.assertEqual(Preprocessor.required_features("lines"), ("ew",))
        self.assertEqual(Preprocessor.required_features("lines", "ew_and_ratios"), ("ew", "flux"))
        self.assertEqual(Preprocessor.required_features("spectrum"), ("spectrum", "spectrum_ivar"))

    def test_errors(self):
        with self.assertRaisesRegex(InputError, "'ew'"):
            Preprocessor.fit({"flux": np.ones((3, 10))})
        with self.assertRaisesRegex(InputError, "empty"):
            Preprocessor.fit({"ew": np.zeros((0, 10))})
        with self.assertRaisesRegex(InputError, "no feature is measured"):
            Preprocessor.fit({"ew": np.full((4, 10), np.nan)})
        with self.assertRaisesRegex(InputError, r"\(N, 10\)"):
            Preprocessor.fit({"ew": np.zeros((4, 9))})
        with self.assertRaisesRegex(ValueError, "unknown input"):
            Preprocessor.fit(line_arrays(5), input="image")


class SpectrumTest(absltest.TestCase):
    def test_median_normalisation_removes_brightness(self):
        train = spectrum_arrays(200)
        prep = Preprocessor.fit(train, input="spectrum")
        self.assertEqual(prep.num_features, 50)
        x, w = prep.transform(train)
        brighter = dict(train, spectrum=train["spectrum"] * 7.0)
        x_bright, _ = prep.transform(brighter)
        np.testing.assert_allclose(x_bright, x, atol=1e-4)
        np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-4)
        self.assertTrue(np.all(w == 1))

    def test_bad_pixels_and_unusable_spectra(self):
        train = spectrum_arrays(100)
        train["spectrum_ivar"][0, :10] = 0
        train["spectrum"][0, :10] = 1e6  # garbage under ivar = 0 must not count
        train["spectrum_ivar"][1] = 0  # no good pixel at all
        train["spectrum"][2] = -1.0  # negative median: cannot be normalised
        prep = Preprocessor.fit(train, input="spectrum")
        self.assertEqual(prep.num_unusable, 2)
        x, w = prep.transform(train)
        self.assertTrue(np.all(w[0, :10] == 0) and np.all(x[0, :10] == 0))
        self.assertTrue(np.all(w[0, 10:] == 1))
        self.assertTrue(np.all(w[1] == 0) and np.all(w[2] == 0))
        self.assertLess(np.abs(prep.mean).max(), 10)

    def test_lines_only_data_is_a_clear_error(self):
        with self.assertRaisesRegex(InputError, "'spectrum'.*does not have"):
            Preprocessor.fit(line_arrays(10), input="spectrum")

    def test_other_wavelength_grid_is_refused(self):
        prep = Preprocessor.fit(spectrum_arrays(20, pixels=50), input="spectrum")
        with self.assertRaisesRegex(InputError, "fitted on 50"):
            prep.transform(spectrum_arrays(20, pixels=40))


class PersistenceTest(absltest.TestCase):
    def test_json_round_trip(self):
        for prep in (
            Preprocessor.fit(line_arrays(40), line_features="ew_and_ratios"),
            Preprocessor.fit(spectrum_arrays(30), input="spectrum"),
        ):
            path = os.path.join(self.create_tempdir().full_path, "preprocessing.json")
            prep.save(path)
            loaded = Preprocessor.load(path)
            self.assertEqual(loaded, prep)
            self.assertEqual(loaded.num_fitted, prep.num_fitted)
            self.assertEqual(os.listdir(os.path.dirname(path)), ["preprocessing.json"])

    def test_bad_files(self):
        folder = self.create_tempdir()
        with self.assertRaisesRegex(InputError, "not found"):
            Preprocessor.load(os.path.join(folder.full_path, "missing.json"))
        bad = folder.create_file("bad.json", content="{not json")
        with self.assertRaisesRegex(InputError, "bad.json.*not valid JSON"):
            Preprocessor.load(bad.full_path)
        other = folder.create_file("other.json", content='{"format": "something else"}')
        with self.assertRaisesRegex(InputError, "not a tfelg preprocessing file"):
            Preprocessor.load(other.full_path)


if __name__ == "__main__":
    absltest.main()
