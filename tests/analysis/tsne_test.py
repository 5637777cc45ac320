"""Tests for tfelg.analysis.tsne (small data, few iterations, one thread)."""

import io
import re
import sys
from unittest import mock

import numpy as np
from absl.testing import absltest

from tfelg.analysis import tsne

# Few iterations keep each map under a few seconds on a loaded 2-core machine.
_FAST = dict(early_exaggeration_iter=100, n_iter=150, n_jobs=1)


def _blobs(n_per_cluster=100, n_clusters=5, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 10.0, size=(n_clusters, dims))
    x = np.concatenate([rng.normal(c, 1.0, size=(n_per_cluster, dims)) for c in centres])
    labels = np.repeat(np.arange(n_clusters), n_per_cluster)
    return x.astype(np.float32), labels


def _knn_accuracy(points, labels, k=5):
    """Leave-one-out k-nearest-neighbour accuracy in ``points``."""
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    neighbours = np.argsort(d2, axis=1)[:, :k]
    votes = labels[neighbours]
    predicted = np.array([np.bincount(v).argmax() for v in votes])
    return float((predicted == labels).mean())


class RunTsneTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.x, cls.labels = _blobs()
        cls.result = tsne.run_tsne(cls.x, seed=3, **_FAST)

    def test_shape_dtype_and_kl(self):
        self.assertEqual(self.result.embedding.shape, (500, 2))
        self.assertEqual(self.result.embedding.dtype, np.float32)
        self.assertTrue(np.isfinite(self.result.embedding).all())
        self.assertGreater(self.result.kl_divergence, 0.0)
        self.assertTrue(np.isfinite(self.result.kl_divergence))

    def test_params_recorded(self):
        params = self.result.params
        self.assertEqual(params["perplexity"], 30.0)
        self.assertEqual(params["seed"], 3)
        self.assertEqual(params["n_iter"], 150)
        self.assertEqual(params["early_exaggeration_iter"], 100)
        self.assertEqual(params["early_exaggeration"], 12.0)
        # "auto" (the default) takes Barnes-Hut below 20,000 points.
        self.assertEqual(params["negative_gradient_method"], "bh")
        self.assertEqual(params["negative_gradient_method_requested"], "auto")
        self.assertEqual(params["initialization"], "pca")
        self.assertEqual(params["n_points"], 500)
        self.assertEqual(params["n_dims"], 8)
        self.assertEqual(params["n_jobs"], 1)

    def test_same_seed_same_map(self):
        again = tsne.run_tsne(self.x, seed=3, **_FAST)
        np.testing.assert_array_equal(again.embedding, self.result.embedding)
        self.assertEqual(again.kl_divergence, self.result.kl_divergence)

    def test_separated_clusters_stay_separated(self):
        self.assertGreater(_knn_accuracy(self.result.embedding, self.labels), 0.95)

    def test_fft_also_separates(self):
        result = tsne.run_tsne(self.x, seed=3, negative_gradient_method="fft", **_FAST)
        self.assertEqual(result.params["negative_gradient_method"], "fft")
        self.assertGreater(_knn_accuracy(result.embedding, self.labels), 0.95)

    def test_perplexity_reduced_for_few_points(self):
        with self.assertLogs(logger="absl", level="WARNING") as logs:
            result = tsne.run_tsne(self.x[:40], perplexity=30, seed=0, **_FAST)
        self.assertIn("too high", "\n".join(logs.output))
        self.assertAlmostEqual(result.params["perplexity"], 13.0)
        self.assertEqual(result.params["perplexity_requested"], 30.0)
        self.assertEqual(result.embedding.shape, (40, 2))

    def test_nan_and_inf_rejected(self):
        for bad in (np.nan, np.inf):
            x = self.x[:50].copy()
            x[7, 2] = bad
            with self.assertRaisesRegex(ValueError, "row 7"):
                tsne.run_tsne(x, **_FAST)

    def test_bad_arguments_rejected(self):
        with self.assertRaisesRegex(ValueError, "2-D"):
            tsne.run_tsne(self.x[:, 0], **_FAST)
        with self.assertRaisesRegex(ValueError, "at least 4"):
            tsne.run_tsne(self.x[:3], **_FAST)
        with self.assertRaisesRegex(ValueError, "initialization"):
            tsne.run_tsne(self.x, initialization="umap", **_FAST)
        with self.assertRaisesRegex(ValueError, "negative_gradient_method"):
            tsne.run_tsne(self.x, negative_gradient_method="exact", **_FAST)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


class ProgressTest(absltest.TestCase):
    """openTSNE's callbacks report the optimisation; the map is unchanged by it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.x, _ = _blobs(n_per_cluster=60)
        cls.quiet = tsne.run_tsne(cls.x, seed=3, progress_bar=False, **_FAST)

    def test_lines_with_iteration_and_kl(self):
        lines = []
        result = tsne.run_tsne(self.x, seed=3, log=lines.append, progress_bar=False, **_FAST)
        self.assertIn("t-SNE of 300 points x 8 dims (Barnes-Hut, perplexity 30)", lines[0])
        # 100 early-exaggeration iterations then 150: one line every 50, numbered as one run.
        found = [
            re.fullmatch(r"t-SNE iteration (\d+)/250 \((.+)\): KL (\S+), \d+ s", x)
            for x in lines[1:]
        ]
        self.assertTrue(all(found), lines)
        self.assertEqual([int(m.group(1)) for m in found], [50, 100, 150, 200, 250])
        self.assertEqual([m.group(2) for m in found][1:3], ["early exaggeration", "main phase"])
        kl = [float(m.group(3)) for m in found]
        self.assertTrue(all(np.isfinite(k) and k > 0 for k in kl), kl)
        self.assertLess(kl[-1], kl[2])  # the main phase lowers the divergence
        # Evaluating the KL divergence for the report does not change the map.
        np.testing.assert_array_equal(result.embedding, self.quiet.embedding)
        self.assertEqual(result.kl_divergence, self.quiet.kl_divergence)

    def test_bar_on_a_terminal(self):
        terminal = _Terminal()
        lines = []
        with mock.patch.object(sys, "stderr", terminal):
            result = tsne.run_tsne(self.x, seed=3, log=lines.append, **_FAST)
        shown = terminal.getvalue()
        self.assertIn("t-SNE", shown)
        self.assertIn("250/250", shown)
        self.assertRegex(shown, r"KL=\d")
        self.assertLen(lines, 1, "lines only where there is no bar (after the first)")
        np.testing.assert_array_equal(result.embedding, self.quiet.embedding)

    def test_silent_without_log_or_terminal(self):
        stderr = io.StringIO()
        with mock.patch.object(sys, "stderr", stderr):
            tsne.run_tsne(self.x[:100], seed=3, **_FAST)
        self.assertEqual(stderr.getvalue(), "")


class PlacePointsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        x, cls.labels = _blobs(n_per_cluster=60, dims=4)
        fitted = np.arange(len(x)) % 3 != 0  # two thirds fitted, one third placed
        cls.x, cls.fitted = x, fitted
        cls.result = tsne.run_tsne(x[fitted], seed=1, **_FAST)

    def place(self, points, method, **kwargs):
        return tsne.place_points(self.result, points, self.x[self.fitted], method=method, **kwargs)

    def test_chunks_do_not_change_positions(self):
        rest = self.x[~self.fitted]
        for method in tsne.PLACE_METHODS:
            with self.subTest(method):
                whole = self.place(rest, method, chunk_size=len(rest))
                chunked = self.place(rest, method, chunk_size=7)
                self.assertEqual(whole.shape, (len(rest), 2))
                self.assertEqual(whole.dtype, np.float32)
                np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-4)

    def test_placed_points_land_among_their_class_in_the_maps_frame(self):
        ref, ref_labels = self.result.embedding, self.labels[self.fitted]
        span = np.ptp(ref, axis=0).max()
        for method in tsne.PLACE_METHODS:
            with self.subTest(method):
                placed = self.place(self.x[~self.fitted], method)
                d2 = ((placed[:, None, :] - ref[None, :, :]) ** 2).sum(-1)
                nearest = ref_labels[np.argmin(d2, axis=1)]
                self.assertGreater(float(np.mean(nearest == self.labels[~self.fitted])), 0.95)
                # A fitted point placed again lands near its own position (no shift
                # of frame: openTSNE's transform re-centres the map in place).
                again = self.place(self.x[self.fitted][:50], method)
                distance = np.linalg.norm(again - ref[:50], axis=1)
                self.assertLess(float(np.median(distance)), 0.02 * span)

    def test_median_is_the_median_of_the_nearest_fitted_neighbours(self):
        point = self.x[~self.fitted][:1]
        d = np.linalg.norm(self.x[self.fitted] - point, axis=1)
        nearest = np.argsort(d)[: tsne.PLACE_NEIGHBOURS]
        expected = np.median(self.result.embedding[nearest], axis=0)
        np.testing.assert_allclose(self.place(point, "median")[0], expected, rtol=1e-6)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, r"must be \(n, 4\)"):
            self.place(self.x[:5, :3], "median")
        bad = self.x[:5].copy()
        bad[2, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "NaN"):
            self.place(bad, "transform")
        with self.assertRaisesRegex(ValueError, "method must be one of"):
            self.place(self.x[:5], "nearest")
        with self.assertRaisesRegex(ValueError, "needs fitted_x"):
            tsne.place_points(self.result, self.x[:5], self.x[:5])
        loaded = tsne.TSNEResult(self.result.embedding, 1.0, {"n_dims": 4})
        with self.assertRaisesRegex(ValueError, "no openTSNE embedding"):
            tsne.place_points(loaded, self.x[:5], method="transform")


if __name__ == "__main__":
    absltest.main()
