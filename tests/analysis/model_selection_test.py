"""BIC, AIC, the gap statistic and the silhouette on mixtures with a known K."""

import json
import math

import numpy as np
import tensorflow as tf
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from tfelg.analysis import gmm, model_selection


def separated(centres, n_per, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.asarray(centres, float)
    x = np.concatenate([c + scale * rng.normal(size=(n_per, centres.shape[1])) for c in centres])
    return x, np.repeat(np.arange(len(centres)), n_per)


def elongated_mixture(seed, n=400, ratio=5.0, sep=8.0):
    """Four elongated, overlapping 2-D Gaussians in a square, at random angles."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [sep, 0], [0, sep], [sep, sep]]) + rng.normal(size=(4, 2))
    labels = rng.integers(0, 4, n)
    angle = rng.uniform(0, np.pi, 4)
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)
    z = rng.normal(size=(n, 2)) * [ratio, 1.0] * 0.6
    return centres[labels] + np.einsum("nij,nj->ni", rot[labels], z)


def sklearn_log_w(data, k, n_init):
    """log W_K of scikit-learn's KMeans (best of n_init), about the cluster means."""
    data = data.astype(np.float64)
    labels = KMeans(k, n_init=n_init, random_state=0, algorithm="lloyd").fit(data).labels_
    w = sum(np.sum((data[labels == j] - data[labels == j].mean(0)) ** 2) for j in range(k))
    return math.log(w)


class KnownKTest(tf.test.TestCase):
    def test_four_clusters_in_2d(self):
        x, _ = separated([[0, 0], [10, 0], [0, 10], [10, 10]], 250)
        result = model_selection.select_k(x, 8, gap_references=10, seed=0)
        self.assertEqual(result.chosen_k["bic"], 4)
        self.assertEqual(result.chosen_k["gap"], 4)
        self.assertEqual(result.chosen_k["silhouette"], 4)
        self.assertEqual(result.chosen_k["aic"], 4)
        # The silhouette of four round, well-separated clusters is high.
        self.assertGreater(result.silhouette[3], 0.7)
        self.assertTrue(np.isnan(result.silhouette[0]))
        self.assertEqual(result.mixture(4).k, 4)

    def test_three_clusters_in_5d(self):
        rng = np.random.default_rng(3)
        centres = 8.0 * np.eye(5)[:3] + rng.normal(scale=0.5, size=(3, 5))
        x, _ = separated(centres, 300, seed=1)
        result = model_selection.select_k(x, 6, covariance_type="diag", seed=1)
        self.assertEqual(result.chosen_k["bic"], 3)
        self.assertEqual(result.chosen_k["gap"], 3)
        self.assertEqual(result.chosen_k["silhouette"], 3)

    def test_uniform_data_has_no_clusters_by_gap(self):
        x = np.random.default_rng(0).uniform(size=(600, 2))
        gap = model_selection.gap_statistic(x, 5, references=10, seed=0)
        self.assertEqual(gap.k, 1)


class GapStatisticTest(tf.test.TestCase):
    def test_one_standard_error_rule(self):
        # Gap rises to K = 3, then flattens: 2 is not within 1 SE of 3, 3 is of 4.
        gap = np.array([0.1, 0.5, 0.9, 0.95, 0.97])
        s = np.array([0.02, 0.02, 0.02, 0.1, 0.1])
        self.assertEqual(model_selection.gap_choice(gap, s), 2)
        # Strictly rising beyond its errors: the last K.
        self.assertEqual(model_selection.gap_choice([0.1, 0.5, 0.9], [0.01, 0.01, 0.01]), 2)
        # Equality counts (Gap(K) >= Gap(K+1) - s_{K+1}).
        self.assertEqual(model_selection.gap_choice([0.5, 0.6], [0.0, 0.1]), 0)

    def test_definitions(self):
        x, _ = separated([[0, 0, 0], [6, 0, 0]], 150, seed=2)
        b = 7
        result = model_selection.gap_statistic(x, 4, references=b, seed=4)
        self.assertEqual(result.log_w_ref.shape, (b, 4))
        mean_ref = result.log_w_ref.mean(axis=0)
        self.assertAllClose(result.gap, mean_ref - result.log_w)
        sd = np.sqrt(np.mean((result.log_w_ref - mean_ref) ** 2, axis=0))
        self.assertAllClose(result.sd, sd)
        self.assertAllClose(result.s, sd * np.sqrt(1 + 1 / b))
        # W_K: pooled within-cluster dispersion, sum_r D_r / (2 n_r).
        for g in range(4):
            lab = result.labels[:, g]
            w = 0.0
            for r in np.unique(lab):
                pts = x[lab == r]
                d_r = np.sum((pts[:, None, :] - pts[None, :, :]) ** 2)
                w += d_r / (2 * len(pts))
            self.assertAllClose(result.log_w[g], np.log(w), rtol=1e-9)
        self.assertEqual(result.k, 2)

    def test_restarts_choose_what_sklearn_best_of_ten_chooses(self):
        # A 4-component mixture where one k-means++ start per K and data set
        # leaves log W_K well above the best of 10 (here by up to ~0.24) and
        # the 1-SE rule picks 6; with the default 10 starts the choice is
        # that of scikit-learn's KMeans(n_init=10) on the same reference
        # sets: 4.
        x = elongated_mixture(5)
        k_max, b = 10, 10
        self.assertEqual(model_selection.GAP_N_INIT, 10)
        ours = model_selection.gap_statistic(x, k_max, references=b, seed=0)
        one = model_selection.gap_statistic(x, k_max, references=b, seed=0, n_init=1)
        self.assertEqual(ours.n_init, 10)
        # gap_statistic's reference sets: drawn around the centred data, seed + 1.
        xc = x - x.mean(axis=0)
        sets = [xc.astype(np.float32), *model_selection.reference_sets(xc, b, seed=1)]
        log_w = np.array([[sklearn_log_w(s, k, 10) for k in range(1, k_max + 1)] for s in sets])
        mean_ref = log_w[1:].mean(axis=0)
        gap = mean_ref - log_w[0]
        sd = np.sqrt(np.mean((log_w[1:] - mean_ref) ** 2, axis=0))
        sklearn_k = 1 + model_selection.gap_choice(gap, sd * math.sqrt(1 + 1 / b))
        self.assertEqual(sklearn_k, 4)
        self.assertEqual(ours.k, sklearn_k)
        self.assertNotEqual(one.k, sklearn_k)
        ours_log_w = np.concatenate([ours.log_w[None], ours.log_w_ref])
        one_log_w = np.concatenate([one.log_w[None], one.log_w_ref])
        # Both best-of-10 searches find the same optimum almost everywhere;
        # one start is far off somewhere.
        self.assertLess(np.median(np.abs(ours_log_w - log_w)), 1e-4)
        self.assertGreater(np.max(one_log_w - log_w), 0.05)
        self.assertAllLessEqual(ours_log_w - one_log_w, 1e-9)
        with self.assertRaisesRegex(ValueError, "n_init"):
            model_selection.gap_statistic(x, 3, n_init=0)

    def test_a_large_offset_changes_nothing(self):
        x, _ = separated([[0, 0], [5, 0], [0, 5]], 100, scale=0.5, seed=3)
        near = model_selection.gap_statistic(x, 4, references=3, seed=0)
        far = model_selection.gap_statistic(x + 1e5, 4, references=3, seed=0)
        self.assertAllClose(near.log_w, far.log_w, rtol=1e-6)
        self.assertAllClose(near.gap, far.gap, atol=1e-5)

    def test_reference_sets_fill_the_principal_box(self):
        rng = np.random.default_rng(0)
        angle = 0.6
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        x = (rng.uniform(-1, 1, size=(4000, 2)) * [5.0, 0.5]) @ rot.T + [3.0, -2.0]
        refs = model_selection.reference_sets(x, 3, seed=1, dtype=np.float64)
        self.assertEqual(refs.shape, (3, 4000, 2))
        xc = x - x.mean(0)
        _, v = np.linalg.eigh(xc.T @ xc)
        data_rot = xc @ v
        for ref in refs:
            ref_rot = (ref - x.mean(0)) @ v
            self.assertAllGreaterEqual(ref_rot - data_rot.min(0), -1e-9)
            self.assertAllLessEqual(ref_rot - data_rot.max(0), 1e-9)
            # Uniform in the box: variance (range^2 / 12) per principal axis.
            span = data_rot.max(0) - data_rot.min(0)
            self.assertAllClose(ref_rot.var(0), span**2 / 12, rtol=0.08)
        # A box aligned with the data's own axes, not the coordinate axes:
        # the reference set is as elongated as the data.
        self.assertAllClose(np.cov(refs[0].T), np.cov(x.T), rtol=0.1, atol=0.05)
        self.assertNotAllClose(refs[0], refs[1])


class SilhouetteTest(tf.test.TestCase):
    def test_equals_sklearn(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(300, 4))
        labelings = [
            rng.integers(0, 2, 300),
            (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0),
            np.r_[np.zeros(299, int), [7]],  # a singleton cluster scores 0
        ]
        ours = model_selection.silhouette_scores(x, labelings, chunk_size=64)
        for value, labels in zip(ours, labelings, strict=True):
            self.assertAllClose(value, silhouette_score(x, labels), rtol=1e-5, atol=1e-7)
        self.assertTrue(np.isnan(model_selection.silhouette_scores(x, [np.zeros(300)])[0]))

    def test_select_k_uses_a_subsample(self):
        x, _ = separated([[0, 0], [8, 8]], 200)
        result = model_selection.select_k(x, 3, silhouette_sample=100, gap_references=3)
        self.assertEqual(result.silhouette_sample, 100)
        sample = np.sort(np.random.default_rng(2).choice(400, size=100, replace=False))
        expected = silhouette_score(x[sample], gmm.predict(result.mixture(2), x[sample]))
        self.assertAllClose(result.silhouette[1], expected)


class SelectKApiTest(tf.test.TestCase):
    def test_curves_and_json(self):
        x, _ = separated([[0, 0], [8, 0], [0, 8]], 100)
        result = model_selection.select_k(x, 4, gap_references=4, seed=0)
        for curve in (result.bic, result.aic, result.log_likelihood, result.gap.gap):
            self.assertEqual(len(curve), 4)
        self.assertAllClose(result.bic, [m.bic for m in result.mixtures])
        d = json.loads(json.dumps(result.to_dict()))
        self.assertEqual(d["ks"], [1, 2, 3, 4])
        self.assertIsNone(d["silhouette"][0])
        self.assertEqual(set(d["chosen_k"]), {"bic", "aic", "gap", "silhouette"})
        self.assertEqual(d["gap_clustering"], "kmeans")
        self.assertEqual(d["gap_n_init"], model_selection.GAP_N_INIT)

    def test_bad_input(self):
        x, _ = separated([[0, 0], [8, 0]], 5)
        with self.assertRaisesRegex(ValueError, "larger than the number of points"):
            model_selection.select_k(x, 11)
        with self.assertRaisesRegex(ValueError, "k_max must be >= 1"):
            model_selection.select_k(x, 0)
        bad = x.copy()
        bad[[1, 4, 6]] = np.nan
        with self.assertRaisesRegex(ValueError, "3 row"):
            model_selection.select_k(bad, 2)
        with self.assertRaisesRegex(ValueError, "at least 2 points"):
            model_selection.gap_statistic(x[:1], 1)
        with self.assertRaisesRegex(ValueError, "references"):
            model_selection.gap_statistic(x, 2, references=0)


if __name__ == "__main__":
    tf.test.main()
