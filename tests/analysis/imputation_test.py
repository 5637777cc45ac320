"""Missing features drawn given the measured ones, and the line-ratio baseline that uses it."""

import numpy as np
from absl.testing import absltest

from tfelg import schemes
from tfelg.analysis import embeddings as emb_lib
from tfelg.analysis import gmm
from tfelg.analysis.imputation import conditional_gaussian_impute
from tfelg.synthetic import emission_lines as synthetic


def correlated_sample(n=40_000, seed=0):
    """x1 = 2 x0 + N(0, 0.5^2), x0 ~ N(1, 1); 30% of x1 missing."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(1.0, 1.0, n)
    x1 = 2.0 * x0 + rng.normal(0.0, 0.5, n)
    x = np.stack([x0, x1], axis=1)
    drop = rng.random(n) < 0.3
    with_gaps = x.copy()
    with_gaps[drop, 1] = np.nan
    return x, with_gaps, drop


class ConditionalGaussianImputeTest(absltest.TestCase):
    def test_draws_follow_the_regression_and_keep_its_scatter(self):
        _, x, drop = correlated_sample()
        filled, imputed = conditional_gaussian_impute(x, np.ones(len(x), bool), seed=3)
        np.testing.assert_array_equal(imputed[:, 1], drop)
        self.assertFalse(imputed[:, 0].any())
        np.testing.assert_array_equal(filled[~drop], x[~drop])  # measured values untouched
        x0, x1 = filled[drop, 0], filled[drop, 1]
        slope, intercept = np.polyfit(x0, x1, 1)
        self.assertAlmostEqual(slope, 2.0, delta=0.03)
        self.assertAlmostEqual(intercept, 0.0, delta=0.05)
        self.assertAlmostEqual(np.std(x1 - 2.0 * x0), 0.5, delta=0.02)
        # Continuous draws: no two filled values coincide (the mean-filling did).
        self.assertEqual(len(np.unique(x1)), len(x1))

    def test_seeded_and_only_donor_rows_give_the_moments(self):
        _, x, _ = correlated_sample(n=2000)
        donors = np.arange(len(x)) < 1000
        a, _ = conditional_gaussian_impute(x, donors, seed=1)
        b, _ = conditional_gaussian_impute(x, donors, seed=1)
        c, _ = conditional_gaussian_impute(x, donors, seed=2)
        np.testing.assert_array_equal(a, b)
        self.assertFalse(np.array_equal(a, c))
        shifted = x.copy()
        shifted[~donors] += 100.0  # the non-donor rows must not move the moments
        d, _ = conditional_gaussian_impute(shifted, donors, seed=1)
        np.testing.assert_allclose(d[donors], a[donors])

    def test_a_row_with_nothing_measured_gets_the_marginal(self):
        x, _, _ = correlated_sample(n=5000)
        x[:10] = np.nan
        filled, imputed = conditional_gaussian_impute(x, np.arange(len(x)) >= 10, seed=0)
        self.assertTrue(imputed[:10].all())
        self.assertTrue(np.all(np.isfinite(filled)))

    def test_no_gaps_returns_the_input(self):
        x, _, _ = correlated_sample(n=100)
        filled, imputed = conditional_gaussian_impute(x, np.ones(100, bool))
        np.testing.assert_array_equal(filled, x)
        self.assertFalse(imputed.any())

    def test_bad_input_is_refused(self):
        _, x, _ = correlated_sample(n=100)
        with self.assertRaisesRegex(ValueError, r"expected \(N, d\)"):
            conditional_gaussian_impute(x[:, 0], np.ones(100, bool))
        bad = x.copy()
        bad[0, 0] = np.inf
        with self.assertRaisesRegex(ValueError, "1 infinite"):
            conditional_gaussian_impute(bad, np.ones(100, bool))
        few = np.zeros(100, bool)
        few[np.flatnonzero(~np.isnan(x[:, 1]))[:2]] = True
        with self.assertRaisesRegex(ValueError, "only 2 donor rows have all 2"):
            conditional_gaussian_impute(x, few)


def synthetic_splits(n=6000, seed=0):
    sample = synthetic.generate(n, seed, with_spectrum=False)
    t = sample.lines
    arrays = {
        "object_id": t.object_id,
        "redshift": t.redshift,
        "flux": t.flux,
        "flux_err": t.flux_err,
        "ew": t.ew,
        "ew_err": t.ew_err,
        "true_class": sample.true_class.astype(np.int64),
    }
    r = schemes.classify_table(t)
    arrays.update(whan=r["whan"], bpt=r["bpt"])
    bounds = {"train": (0, int(0.8 * n)), "validation": (int(0.8 * n), int(0.9 * n))}
    bounds["test"] = (int(0.9 * n), n)
    return {s: {k: v[a:b] for k, v in arrays.items()} for s, (a, b) in bounds.items()}


class LineRatioEmbeddingsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.splits = synthetic_splits()
        cls.names = emb_lib.default_class_names(synthetic.TRUE_CLASS_NAMES)

    def test_missing_ratios_are_marked_and_measured_ones_kept(self):
        emb = emb_lib.line_ratio_embeddings(self.splits, self.names, seed=0)
        raw = np.concatenate([emb_lib.line_ratio_features(self.splits[s]) for s in emb_lib.SPLITS])
        np.testing.assert_array_equal(emb.imputed, np.isnan(raw))
        self.assertGreater(emb.imputed[:, 3].mean(), 0.05)  # [OI]/Halpha is often missing
        mean, std = np.array(emb.info["mean"]), np.array(emb.info["std"])
        measured = ~emb.imputed
        np.testing.assert_allclose(
            emb.latent[measured], ((raw - mean) / std)[measured], rtol=1e-5, atol=1e-6
        )
        self.assertEqual(emb.info["imputation"], "conditional_gaussian")

    def test_the_mask_survives_save_subset_and_load(self):
        emb = emb_lib.line_ratio_embeddings(self.splits, self.names)
        path = emb.save(self.create_tempfile(file_path="line_ratios.npz").full_path)
        back = emb_lib.Embeddings.load(path)
        np.testing.assert_array_equal(back.imputed, emb.imputed)
        np.testing.assert_array_equal(
            back.for_split("test").imputed, emb.imputed[emb.split == "test"]
        )
        with self.assertRaisesRegex(ValueError, "imputed has shape"):
            emb_lib.Embeddings(**{**back.__dict__, "imputed": back.imputed[:, :2]})

    def test_no_mixture_component_collapses_onto_filled_values(self):
        # With every missing ratio set to the training mean, a 9-component
        # mixture put components on those planes (smallest covariance
        # eigenvalue = the 1e-6 floor); drawn values leave nothing to collapse on.
        emb = emb_lib.line_ratio_embeddings(self.splits, self.names).for_split("train")
        for seed in (0, 1):
            fit = gmm.fit_gmm(emb.latent, 9, seed=seed)
            smallest = min(np.linalg.eigvalsh(c).min() for c in np.asarray(fit.covariances))
            self.assertGreater(smallest, 1e-3, f"seed {seed}")


if __name__ == "__main__":
    absltest.main()
