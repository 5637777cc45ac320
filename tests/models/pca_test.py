"""The PCA baseline: scikit-learn's numbers, the weighted loss, saving."""

import os

import numpy as np
from absl.testing import absltest
from sklearn.decomposition import PCA as SklearnPCA

from tfelg.models import PCA
from tfelg.testing.toy_lines import structured_data


class PcaTest(absltest.TestCase):
    def test_reconstruction_error_equals_sklearn(self):
        x = structured_data()
        for d in (1, 2, 4):
            ours = PCA(10, d).fit(x)
            theirs = SklearnPCA(n_components=d, svd_solver="full").fit(x.astype(np.float64))
            expected = np.mean((x - theirs.inverse_transform(theirs.transform(x))) ** 2, axis=1)
            np.testing.assert_allclose(ours.reconstruction_error(x), expected, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(
                ours.explained_variance_, theirs.explained_variance_, rtol=1e-6
            )
            # The codes agree up to the sign of each component.
            np.testing.assert_allclose(
                np.abs(ours.encode(x)), np.abs(theirs.transform(x)), rtol=1e-3, atol=1e-4
            )

    def test_error_falls_with_latent_dim(self):
        x = structured_data()
        errors = [PCA(10, d).fit(x).reconstruction_error(x).mean() for d in (1, 2, 3, 10)]
        self.assertTrue(np.all(np.diff(errors) < 0))
        self.assertAlmostEqual(errors[-1], 0.0, places=8)

    def test_missing_values_do_not_pull_the_code(self):
        x = structured_data()
        model = PCA(10, 2).fit(x)
        w = np.ones_like(x)
        w[:5, 0] = 0.0
        corrupted = x.copy()
        corrupted[:5, 0] = 50.0  # garbage where the weight is 0
        np.testing.assert_allclose(
            model.encode(corrupted, w)[:5], model.encode(x, w)[:5], rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(
            model.reconstruction_error(corrupted, w), model.reconstruction_error(x, w), rtol=1e-5
        )
        # Without the weights, the garbage drags the code far away.
        self.assertGreater(np.abs(model.encode(corrupted)[:5] - model.encode(x)[:5]).max(), 1.0)

    def test_fit_with_missing_values_ignores_them(self):
        x = structured_data()
        w = np.ones_like(x)
        w[::7, 3] = 0.0
        corrupted = x.copy()
        corrupted[::7, 3] = 1e3
        a = PCA(10, 2).fit(x, w)
        b = PCA(10, 2).fit(corrupted, w)
        np.testing.assert_allclose(a.mean_, b.mean_, atol=1e-9)
        np.testing.assert_allclose(a.components_, b.components_, atol=1e-9)

    def _svd_fit(self, x, w, d):
        """The fit by an SVD of the whole weighted matrix (how PCA was fitted before it
        was summed batch by batch): mean, components (signs as PCA fixes them), variance."""
        total = w.sum(axis=0)
        mean = np.where(total > 0, (w * x).sum(axis=0) / np.maximum(total, 1e-300), 0.0)
        _, singular, vt = np.linalg.svd(np.sqrt(w) * (x - mean), full_matrices=False)
        vt = vt[:d]
        vt *= np.sign(vt[np.arange(d), np.argmax(np.abs(vt), axis=1)])[:, None]
        return mean, vt, singular[:d] ** 2 / (len(x) - 1)

    def test_batches_equal_the_whole_matrix_and_its_svd(self):
        rng = np.random.default_rng(3)
        x = structured_data(500).astype(np.float64)
        w = rng.uniform(0, 1, x.shape) * (rng.uniform(size=x.shape) > 0.1)
        for offset in (0.0, 1e6):  # far from the origin: the shift keeps the precision
            shifted = x + offset
            whole = PCA(10, 3).fit(shifted, w)
            batched = PCA(10, 3).fit_batches(
                (shifted[i : i + 64], w[i : i + 64]) for i in range(0, len(x), 64)
            )
            mean, components, variance = self._svd_fit(shifted, w, 3)
            for model in (whole, batched):
                np.testing.assert_allclose(model.mean_, mean, rtol=1e-12)
                np.testing.assert_allclose(model.components_, components, atol=1e-7)
                np.testing.assert_allclose(model.explained_variance_, variance, rtol=1e-7)
            np.testing.assert_allclose(batched.components_, whole.components_, atol=1e-9)

    def test_a_feature_never_measured_has_mean_zero(self):
        x = structured_data(100).astype(np.float64)
        w = np.ones_like(x)
        w[:, 4] = 0.0
        model = PCA(10, 2).fit_batches([(x[:50], w[:50]), (x[50:], w[50:])])
        self.assertEqual(model.mean_[4], 0.0)
        np.testing.assert_allclose(model.components_[:, 4], 0.0, atol=1e-12)
        with self.assertRaisesRegex(ValueError, "at least 2 examples, got 1"):
            PCA(10, 2).fit_batches([(x[:1], None)])

    def test_save_and_load(self):
        x = structured_data(64)
        model = PCA(10, 3).fit(x)
        for name in ("pca.npz", "pca.json"):
            path = os.path.join(self.create_tempdir().full_path, name)
            model.save(path)
            loaded = PCA.load(path)
            self.assertEqual(loaded.get_config(), model.get_config())
            np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
            self.assertEqual(os.listdir(os.path.dirname(path)), [name])  # no temp files left
        self.assertEqual(PCA.from_dict(model.to_dict()).latent_dim, 3)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "latent_dim must be >= 1"):
            PCA(10, 0)
        with self.assertRaisesRegex(ValueError, "cannot exceed num_features"):
            PCA(10, 11)
        with self.assertRaisesRegex(ValueError, "not fitted"):
            PCA(10, 2).encode(np.zeros((3, 10)))
        with self.assertRaisesRegex(ValueError, r"shape \(N, 10\)"):
            PCA(10, 2).fit(np.zeros((5, 9)))
        with self.assertRaisesRegex(ValueError, "NaN"):
            PCA(10, 2).fit(np.full((5, 10), np.nan))


if __name__ == "__main__":
    absltest.main()
