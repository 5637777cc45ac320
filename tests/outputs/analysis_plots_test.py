"""Tests for tfelg.outputs.analysis_plots: valid PNGs, clear errors."""

import os

import numpy as np
from absl.testing import absltest
from matplotlib.figure import Figure
from PIL import Image

from tfelg import schemes
from tfelg.outputs import analysis_plots as plots

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sample(n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 4, size=n)
    latent = rng.normal(size=(n, d)) + classes[:, None] * 2.0
    cluster = (classes + (rng.uniform(size=n) < 0.1)) % 4
    return latent, classes, cluster


class AnalysisPlotsTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.latent, self.classes, self.cluster = _sample()

    def assertPng(self, path, expected_path):
        self.assertEqual(path, expected_path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), _PNG_MAGIC)
        with Image.open(path) as image:
            image.verify()
        leftovers = [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
        self.assertEmpty(leftovers)

    def test_latent_pairs(self):
        path = os.path.join(self.dir, "pairs.png")
        out = plots.plot_latent_pairs(
            self.latent, self.classes, schemes.WHAN_NAMES, path, class_label="WHAN"
        )
        self.assertPng(out, path)

    def test_latent_pairs_shows_first_six_of_many(self):
        latent = np.random.default_rng(1).normal(size=(100, 9))
        fig = plots.plot_latent_pairs(latent, np.zeros(100, int), ["all"])
        self.assertIsInstance(fig, Figure)
        visible = [ax for ax in fig.axes if ax.get_visible()]
        self.assertLen(visible, 6 * 7 // 2)
        self.assertIn("first 6 of 9", fig._suptitle.get_text())

    def test_latent_pairs_one_dimension(self):
        fig = plots.plot_latent_pairs(self.latent[:, :1], self.classes, schemes.WHAN_NAMES)
        self.assertIsInstance(fig, Figure)

    def test_subsample_said_in_title(self):
        fig = plots.plot_tsne_map(
            self.latent[:, :2], self.classes, schemes.BPT_NAMES, self.cluster, max_points=100
        )
        self.assertIn("random 100 of 300 shown", fig._suptitle.get_text())
        rows = plots.subsample_for_plot(300, 100, seed=0)
        np.testing.assert_array_equal(rows, plots.subsample_for_plot(300, 100, seed=0))
        self.assertIsNone(plots.subsample_for_plot(300, 300, seed=0))

    def test_clusters_and_classes(self):
        path = os.path.join(self.dir, "clusters_whan.png")
        out = plots.plot_clusters_and_classes(
            self.latent, self.cluster, self.classes, schemes.WHAN_NAMES, path, dims=(1, 2)
        )
        self.assertPng(out, path)

    def test_curves(self):
        ks = np.arange(1, 8)
        bic = (ks - 4.0) ** 2 + 100
        path = os.path.join(self.dir, "curves", "bic.png")
        self.assertPng(plots.plot_information_criteria(ks, bic, 4, path, aic=bic - 5), path)
        path = os.path.join(self.dir, "gap.png")
        gap = np.log(ks) - 0.1 * ks
        self.assertPng(plots.plot_gap_curve(ks, gap, np.full(7, 0.05), 4, path), path)
        path = os.path.join(self.dir, "silhouette.png")
        self.assertPng(plots.plot_silhouette_curve(ks[1:], 1.0 / ks[1:], 2, path), path)

    def test_contingency(self):
        table = np.array([[50, 2, 0], [3, 40, 7], [0, 0, 0], [1, 5, 60]])
        path = os.path.join(self.dir, "contingency.png")
        out = plots.plot_contingency(
            table,
            [f"cluster {i}" for i in range(4)],
            ["star_forming", "retired", "strong_agn"],
            path,
            column_label="WHAN",
        )
        self.assertPng(out, path)

    def test_tsne_map(self):
        path = os.path.join(self.dir, "tsne.png")
        out = plots.plot_tsne_map(
            self.latent[:, :2], self.classes, schemes.BPT_NAMES, self.cluster, path
        )
        self.assertPng(out, path)

    def test_mismatched_lengths(self):
        ks = np.arange(1, 6)
        with self.assertRaisesRegex(ValueError, "ks has 5 values but bic has 4"):
            plots.plot_information_criteria(ks, np.ones(4), 2)
        with self.assertRaisesRegex(ValueError, "aic has 3"):
            plots.plot_information_criteria(ks, np.ones(5), 2, aic=np.ones(3))
        with self.assertRaisesRegex(ValueError, "errors has 4 values"):
            plots.plot_gap_curve(ks, np.ones(5), np.ones(4), 2)
        with self.assertRaisesRegex(ValueError, "silhouette has 6"):
            plots.plot_silhouette_curve(ks, np.ones(6), 2)
        with self.assertRaisesRegex(ValueError, "chosen_k=9"):
            plots.plot_gap_curve(ks, np.ones(5), np.ones(5), 9)
        with self.assertRaisesRegex(ValueError, "classes has 299 values"):
            plots.plot_latent_pairs(self.latent, self.classes[:-1], schemes.WHAN_NAMES)
        with self.assertRaisesRegex(ValueError, "cluster has 10 values"):
            plots.plot_tsne_map(
                self.latent[:, :2], self.classes, schemes.WHAN_NAMES, self.cluster[:10]
            )
        with self.assertRaisesRegex(ValueError, "cluster has 299"):
            plots.plot_clusters_and_classes(
                self.latent, self.cluster[1:], self.classes, schemes.WHAN_NAMES
            )
        with self.assertRaisesRegex(ValueError, "column_names has 2"):
            plots.plot_contingency(np.ones((2, 3)), ["a", "b"], ["x", "y"])
        with self.assertRaisesRegex(ValueError, "row_names has 1"):
            plots.plot_contingency(np.ones((2, 3)), ["a"], ["x", "y", "z"])

    def test_other_bad_input(self):
        with self.assertRaisesRegex(ValueError, r"codes must lie in \[0, 7\)"):
            plots.plot_latent_pairs(self.latent, self.classes + 5, schemes.WHAN_NAMES)
        with self.assertRaisesRegex(ValueError, "tsne must be"):
            plots.plot_tsne_map(self.latent, self.classes, schemes.WHAN_NAMES, self.cluster)
        bad = self.latent.copy()
        bad[3, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "row 3"):
            plots.plot_latent_pairs(bad, self.classes, schemes.WHAN_NAMES)
        with self.assertRaisesRegex(ValueError, "dims"):
            plots.plot_clusters_and_classes(
                self.latent, self.cluster, self.classes, schemes.WHAN_NAMES, dims=(0, 0)
            )

    def test_log_png_to_tensorboard(self):
        import tensorflow as tf

        path = plots.plot_silhouette_curve([2, 3], [0.5, 0.4], 2, os.path.join(self.dir, "s.png"))
        logdir = os.path.join(self.dir, "tb")
        plots.log_png_to_tensorboard(path, logdir, "analysis/silhouette", step=3)
        (event_file,) = [f for f in os.listdir(logdir) if f.startswith("events.out")]
        found = []
        for event in tf.compat.v1.train.summary_iterator(os.path.join(logdir, event_file)):
            for value in event.summary.value:
                found.append((value.tag, event.step))
                tensor = tf.make_ndarray(value.tensor)
                width, height = int(tensor[0]), int(tensor[1])
                decoded = tf.io.decode_png(tensor[2]).numpy()
                self.assertEqual(decoded.shape[:2], (height, width))
        self.assertEqual(found, [("analysis/silhouette", 3)])
        with self.assertRaisesRegex(ValueError, "not a PNG"):
            text = os.path.join(self.dir, "x.txt")
            with open(text, "w") as f:
                f.write("hello")
            plots.log_png_to_tensorboard(text, logdir, "x")


if __name__ == "__main__":
    absltest.main()
