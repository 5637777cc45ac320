"""Tests for tfelg.outputs.analysis_plots: valid PNGs, clear errors."""

import os

import numpy as np
from absl.testing import absltest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from tfelg import schemes
from tfelg.outputs import analysis_plots as plots
from tfelg.outputs import colours

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

    def test_public_names_are_the_drawing_modules_own(self):
        # Callers import every figure from analysis_plots; the drawing lives in
        # three modules. A stale copy left behind here would drift from them.
        from tfelg.outputs import coded_scatter, latent_plots, selection_plots, training_plots

        modules = (coded_scatter, latent_plots, selection_plots, training_plots)
        for name in plots.__all__:
            if name == "log_png_to_tensorboard":
                continue
            owners = [m for m in modules if getattr(m, name, None) is getattr(plots, name)]
            self.assertTrue(owners, f"analysis_plots.{name} is not a drawing module's object")
        for module in (latent_plots, selection_plots, training_plots):
            drawn = {n for n in vars(module) if n.startswith("plot_")}
            self.assertContainsSubset(drawn, set(plots.__all__), module.__name__)


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _point_colours(ax) -> set:
    found = set()
    for collection in ax.collections:
        found |= {to_hex(rgba[:3]) for rgba in collection.get_facecolors()}
    return found


def _history(n_epochs, kl=0.0):
    def losses(scale):
        return {"loss": scale * (1 + kl), "reconstruction": scale}

    return [
        {"epoch": e, "train": losses(1.0 / e), "validation": losses(1.2 / e)}
        for e in range(1, n_epochs + 1)
    ]


class FigureContentTest(absltest.TestCase):
    """What the figures show, read from the matplotlib objects (issue 11 items 9-12)."""

    def setUp(self):
        super().setUp()
        self.latent, self.classes, self.cluster = _sample(n=400, d=5)

    def test_corner_plot_axes_counts_and_legend_clear_of_titles(self):
        names = ("log_nii_ha", "log_oiii_hb", "log_sii_ha", "log_oi_ha", "asinh_ew_ha")
        fig = plots.plot_latent_pairs(
            self.latent, self.classes, schemes.WHAN_NAMES, axis_names=names, title="a title"
        )
        axes = np.array(fig.axes).reshape(5, 5)
        self.assertEqual(
            [ax.get_xlabel() for ax in axes[-1]], [plots.FEATURE_LABELS[n] for n in names]
        )
        self.assertIn("[O III]", axes[1, 0].get_ylabel())
        self.assertNotIn("z1", [ax.get_xlabel() for ax in axes[-1]])
        for i in range(5):
            diagonal = axes[i, i]
            self.assertEqual(diagonal.get_ylabel(), "count")
            self.assertEqual(diagonal.yaxis.get_label_position(), "right")
            self.assertNotEmpty(diagonal.get_yticks())
            self.assertEqual(diagonal.yaxis.get_ticks_position(), "right")
            self.assertGreaterEqual(diagonal.get_ylim()[1], 1.0)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        self.assertFalse(_boxes_overlap(box, fig._suptitle.get_window_extent(renderer)))
        for ax in fig.axes:
            if ax.get_visible():
                self.assertFalse(_boxes_overlap(box, ax.get_tightbbox(renderer)))
        self.assertTrue(fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1))
        with self.assertRaisesRegex(ValueError, "axis_names has 2 names for 5"):
            plots.plot_latent_pairs(self.latent, self.classes, schemes.WHAN_NAMES, axis_names="ab")

    def test_corner_plot_leaves_missing_values_out(self):
        """Imputed values (0 after scaling) are not drawn as a line of points at 0."""
        latent = self.latent.copy()
        missing = np.zeros(latent.shape, dtype=bool)
        missing[::3, 1] = True
        missing[::5, 3] = True
        latent[missing] = 0.0
        fig = plots.plot_latent_pairs(
            latent, self.classes, schemes.WHAN_NAMES, missing=missing, max_dims=4
        )
        axes = np.array(fig.axes).reshape(4, 4)
        for i in range(4):
            for j in range(i):
                drawn = np.concatenate([c.get_offsets() for c in axes[i, j].collections])
                both = ~missing[:, i] & ~missing[:, j]
                # x is coordinate j, y coordinate i: exactly the measured pairs.
                np.testing.assert_array_equal(np.sort(drawn[:, 0]), np.sort(latent[both, j]))
                np.testing.assert_array_equal(np.sort(drawn[:, 1]), np.sort(latent[both, i]))
            n_missing = int(missing[:, i].sum())
            title = axes[i, i].get_title("left")
            self.assertEqual(title, f"{n_missing:,} missing, not drawn" if n_missing else "")
        self.assertIn("missing (imputed) values not drawn", fig._suptitle.get_text())
        fig = plots.plot_clusters_and_classes(
            latent, self.cluster, self.classes, schemes.WHAN_NAMES, missing=missing, dims=(0, 1)
        )
        left, right = fig.axes[:2]
        for ax in (left, right):
            drawn = np.concatenate([c.get_offsets() for c in ax.collections])
            self.assertLen(drawn, (~missing[:, 1]).sum())
            self.assertFalse((drawn[:, 1] == 0.0).any())
        with self.assertRaisesRegex(ValueError, "missing must be"):
            plots.plot_latent_pairs(latent, self.classes, schemes.WHAN_NAMES, missing=missing[:3])

    def test_cluster_colours_never_reuse_class_colours_beside_them(self):
        names = ("star_forming", "strong_agn", "weak_agn", "retired")
        cluster = np.arange(len(self.latent)) % 12
        for fig in (
            plots.plot_clusters_and_classes(self.latent, cluster, self.classes, names),
            plots.plot_tsne_map(self.latent[:, :2], self.classes, names, cluster),
        ):
            class_ax = [ax for ax in fig.axes if "cluster" not in ax.get_title()][0]
            cluster_ax = [ax for ax in fig.axes if "cluster" in ax.get_title()][0]
            class_seen = _point_colours(class_ax)
            cluster_seen = _point_colours(cluster_ax)
            self.assertEqual(class_seen, {colours.class_colour(n).lower() for n in names})
            self.assertLen(cluster_seen, 12)
            self.assertEmpty(class_seen & cluster_seen)
            numbers = sorted(t.get_text() for t in cluster_ax.texts)
            self.assertEqual(numbers, sorted(str(c) for c in range(12)))

    def test_contingency_colours_by_count_and_says_what_is_left_out(self):
        table = np.array([[50, 2, 0], [0, 0, 0], [0, 1, 0], [1, 5, 60]])
        fig = plots.plot_contingency(
            table,
            [f"cluster {i}" for i in range(4)],
            ["star_forming", "retired", "strong_agn"],
            left_out={"low_sn": 12, "unclassified": 3, "unknown": 0},
            column_label="WHAN",
        )
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_yticklabels()]
        self.assertEqual(labels, ["cluster 0 (n = 52)", "cluster 2 (n = 1)", "cluster 3 (n = 66)"])
        title = ax.get_title()
        self.assertIn("left out of the table: 15 galaxies (low_sn 12, unclassified 3)", title)
        self.assertNotIn("unknown", title)
        self.assertIn("empty, not shown: cluster 1", title)
        self.assertIn("119 galaxies in the table", title)
        (image,) = ax.images
        np.testing.assert_array_equal(image.get_array(), table[[0, 2, 3]])
        # The one-galaxy "pure" cluster is pale; the 60-galaxy cell is dark.
        self.assertLess(image.norm(1), 0.05)
        self.assertGreater(image.norm(60), 0.95)
        texts = {t.get_text() for t in ax.texts}
        self.assertIn("1\n100%", texts)
        self.assertIn("60\n91%", texts)

    def test_gap_plot_states_the_rule_and_marks_choice_and_maximum(self):
        ks = np.arange(1, 9)
        gap = np.array([0.1, 0.4, 0.6, 0.58, 0.65, 0.7, 0.69, np.nan])
        fig = plots.plot_gap_curve(ks, gap, np.full(8, 0.05), 3)
        ax = fig.axes[0]
        self.assertIn("1-SE rule", ax.get_title())
        self.assertIn("Gap(K+1)", ax.get_title())
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        self.assertIn("1-SE choice: K = 3", labels)
        self.assertIn("maximum Gap: K = 6", labels)
        markers = {
            line.get_marker(): (line.get_xdata()[0], line.get_ydata()[0])
            for line in ax.lines
            if len(line.get_xdata()) == 1
        }
        self.assertEqual(markers["*"], (3, 0.6))
        self.assertEqual(markers["D"], (6, 0.7))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legend_box = ax.get_legend().get_window_extent(renderer)
        self.assertFalse(_boxes_overlap(legend_box, ax.get_window_extent(renderer)))

    def test_loss_plot_one_panel_when_loss_is_reconstruction(self):
        fig = plots.plot_loss_history(_history(6))
        self.assertLen(fig.axes, 1)
        self.assertIn("reconstruction", fig.axes[0].get_ylabel())
        fig = plots.plot_loss_history(_history(6, kl=0.5))
        self.assertLen(fig.axes, 2)
        self.assertEqual([ax.get_ylabel() for ax in fig.axes], ["loss", "reconstruction"])
        np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), 1.5 / np.arange(1, 7))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            self.assertFalse(_boxes_overlap(box, ax.get_window_extent(renderer)))
        self.assertEqual(
            [t.get_text() for t in legend.get_texts()],
            ["train (mean over the epoch's steps)", "validation (after the epoch)"],
        )
        with self.assertRaisesRegex(ValueError, "no epochs"):
            plots.plot_loss_history([])

    def test_analysis_names_line_ratio_axes_and_leaves_imputed_values_out(self):
        from tfelg.analysis import figures
        from tfelg.analysis.embeddings import LINE_RATIO_FEATURES, Embeddings

        latent = self.latent.copy()
        latent[::4, 2] = 0.0  # imputed: the training mean after scaling
        n = len(latent)

        def embeddings(representation, info):
            return Embeddings(
                object_id=np.arange(n).astype(str),
                split=np.full(n, "test"),
                latent=latent,
                redshift=np.zeros(n),
                labels={"whan": self.classes},
                class_names={"whan": list(schemes.WHAN_NAMES)},
                representation=representation,
                info=info,
            )

        axes = figures.figure_axes(
            embeddings("line_ratios", {"features": list(LINE_RATIO_FEATURES)})
        )
        self.assertEqual(axes["axis_names"], list(LINE_RATIO_FEATURES))
        np.testing.assert_array_equal(axes["missing"], latent == 0.0)
        self.assertEqual(axes["missing"].sum(), len(latent[::4]))
        self.assertEqual(figures.figure_axes(embeddings("vae", {"latent_dim": 5})), {})

    def test_trainer_loss_plot_uses_it(self):
        from tfelg.training import loop

        widths = []
        for kl in (0.0, 0.5):
            path = os.path.join(self.create_tempdir().full_path, "loss.png")
            loop.write_loss_plot(_history(4, kl=kl), path, title="run")
            with Image.open(path) as image:
                widths.append(image.size[0])
        self.assertLess(widths[0], 0.7 * widths[1])


if __name__ == "__main__":
    absltest.main()
