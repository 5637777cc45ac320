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
