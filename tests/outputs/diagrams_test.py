"""BPT/WHAN figures: what they show (curves, classes, colours), whole PNGs, clear errors."""

import os
import re

import numpy as np
from absl.testing import absltest
from matplotlib.colors import to_hex, to_rgba

from tfelg import schemes
from tfelg.outputs import analysis_plots, colours, diagrams
from tfelg.synthetic import emission_lines as el

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class DiagramsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sample = el.generate(300, 3, with_spectrum=False)
        cls.ratios = schemes.classify_table(cls.sample.lines)

    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path

    def assert_png(self, path):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as f:
            head = f.read(8)
        self.assertEqual(head, PNG_MAGIC)
        self.assertGreater(os.path.getsize(path), 5000)
        leftovers = [n for n in os.listdir(os.path.dirname(path)) if n.endswith(".tmp")]
        self.assertEmpty(leftovers)

    def test_bpt_from_line_table(self):
        path = os.path.join(self.dir, "bpt.png")
        out = diagrams.plot_bpt(
            self.sample.lines, self.sample.true_class, el.TRUE_CLASS_NAMES, path
        )
        self.assertEqual(out, path)
        self.assert_png(path)

    def test_whan_from_ratios_creates_folders(self):
        path = os.path.join(self.dir, "sub", "dir", "whan.png")
        diagrams.plot_whan(self.ratios, self.ratios["whan"], schemes.WHAN_NAMES, path)
        self.assert_png(path)

    def test_bpt_from_pair_and_overwrite(self):
        path = os.path.join(self.dir, "pair.png")
        xy = (self.ratios["log_nii_ha"], self.ratios["log_oiii_hb"])
        diagrams.plot_bpt(xy, self.ratios["bpt"], schemes.BPT_NAMES, path, title="pair")
        diagrams.plot_bpt(xy, self.ratios["bpt"], schemes.BPT_NAMES, path, title="again")
        self.assert_png(path)

    def test_two_panels_with_separate_classes(self):
        path = os.path.join(self.dir, "both.png")
        diagrams.plot_bpt_whan(
            self.sample.lines,
            self.ratios["bpt"],
            schemes.BPT_NAMES,
            path,
            title="BPT and WHAN",
            whan_classes=self.ratios["whan"],
            whan_class_names=schemes.WHAN_NAMES,
        )
        self.assert_png(path)

    def test_grid_of_panels_and_empty_sample(self):
        path = os.path.join(self.dir, "grid.png")
        empty = np.array([], dtype=np.int8)
        panels = [
            diagrams.DiagramPanel("bpt", [], [], empty, ("a",), "empty"),
            diagrams.DiagramPanel(
                "whan",
                self.ratios["log_nii_ha"],
                self.ratios["ew_ha"],
                self.sample.true_class,
                el.TRUE_CLASS_NAMES,
            ),
            diagrams.DiagramPanel("bpt", [0.0], [0.0], [0], ("unknown_colour_name",)),
        ]
        diagrams.plot_panels(panels, path, title="grid")
        self.assert_png(path)

    def test_mismatched_lengths_are_refused(self):
        path = os.path.join(self.dir, "bad.png")
        with self.assertRaisesRegex(ValueError, "one length.*300.*300.*299"):
            diagrams.plot_bpt(
                self.sample.lines, self.sample.true_class[:-1], el.TRUE_CLASS_NAMES, path
            )
        with self.assertRaisesRegex(ValueError, "one length"):
            diagrams.plot_whan(([0.1, 0.2], [1.0]), [0, 0], ("a",), path)
        with self.assertRaisesRegex(ValueError, "one length"):
            diagrams.plot_bpt_whan(
                self.ratios,
                self.ratios["bpt"],
                schemes.BPT_NAMES,
                path,
                whan_classes=self.ratios["whan"][:10],
                whan_class_names=schemes.WHAN_NAMES,
            )
        self.assertFalse(os.path.exists(path))

    def test_bad_codes_and_inputs_are_refused(self):
        path = os.path.join(self.dir, "bad.png")
        with self.assertRaisesRegex(ValueError, r"class codes must lie in \[0, 2\)"):
            diagrams.plot_bpt(([0.0, 0.1], [0.0, 0.1]), [0, 2], ("a", "b"), path)
        with self.assertRaisesRegex(ValueError, "integer codes"):
            diagrams.plot_bpt(([0.0], [0.0]), [0.5], ("a",), path)
        with self.assertRaisesRegex(ValueError, "lacks"):
            diagrams.plot_whan({"log_nii_ha": [0.0]}, [0], ("a",), path)
        with self.assertRaisesRegex(ValueError, "LineTable"):
            diagrams.plot_bpt("not data", [0], ("a",), path)
        with self.assertRaisesRegex(ValueError, "both whan_classes"):
            diagrams.plot_bpt_whan(
                self.ratios,
                self.ratios["bpt"],
                schemes.BPT_NAMES,
                path,
                whan_classes=self.ratios["whan"],
            )
        with self.assertRaisesRegex(ValueError, "class_names must be a sequence of class names"):
            # Codes where the names belong (an easy slip with two code arrays).
            diagrams.plot_bpt_whan(self.ratios, self.ratios["whan"], self.ratios["bpt"], path)
        with self.assertRaisesRegex(ValueError, "kind"):
            diagrams.DiagramPanel("uvj", [0.0], [0.0], [0], ("a",))
        self.assertFalse(os.path.exists(path))

    def test_failed_write_leaves_nothing_behind(self):
        target = os.path.join(self.dir, "a_directory")
        os.mkdir(target)
        with self.assertRaises(OSError):
            diagrams.plot_bpt(([0.0], [0.0]), [0], ("a",), target)
        self.assertEqual(os.listdir(self.dir), ["a_directory"])


def _legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _collection(ax, gid):
    (found,) = [c for c in ax.collections if c.get_gid() == gid]
    return found


class DiagramContentTest(absltest.TestCase):
    """The figures are inspected as matplotlib objects: what an astronomer would check."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sample = el.generate(600, 5, with_spectrum=False)
        cls.ratios = schemes.classify_table(cls.sample.lines)

    def test_every_curve_is_named_in_the_legend(self):
        panels = diagrams.bpt_whan_panels(
            self.sample.lines, self.sample.true_class, el.TRUE_CLASS_NAMES
        )
        fig = diagrams.draw_panels(panels, ncols=4)
        nii, sii, oi, whan = fig.axes
        self.assertContainsSubset(
            [diagrams.LABEL_KAUFFMANN03, diagrams.LABEL_KEWLEY01], _legend_labels(nii)
        )
        self.assertNotIn(diagrams.LABEL_KEWLEY06, _legend_labels(nii))
        for ax in (sii, oi):
            self.assertContainsSubset(
                [diagrams.LABEL_KEWLEY01, diagrams.LABEL_KEWLEY06], _legend_labels(ax)
            )
        self.assertIn(diagrams.LABEL_WHAN, _legend_labels(whan))
        self.assertIn("[S II]", sii.get_xlabel())
        self.assertIn("[O I]", oi.get_xlabel())
        self.assertIn("[O III]", oi.get_ylabel())

    def test_secondary_diagrams_draw_the_schemes_curves(self):
        """The drawn lines are the classifier's functions; Kewley+06 only above Kewley+01."""
        for kind, k01, k06, pole in (
            ("sii", schemes.kewley01_sii, schemes.kewley06_sii, 0.32),
            ("oi", schemes.kewley01_oi, schemes.kewley06_oi, -0.59),
        ):
            panel = diagrams.DiagramPanel(kind, [-0.5], [0.0], [0], ("seyfert",))
            (ax,) = diagrams.draw_panels([panel]).axes
            solid, dashdot = ax.lines
            x, y = solid.get_xdata(), solid.get_ydata()
            np.testing.assert_allclose(y, k01(x))
            self.assertLess(x.max(), pole)
            x, y = dashdot.get_xdata(), np.asarray(dashdot.get_ydata(), float)
            drawn = np.isfinite(y)
            self.assertGreater(drawn.sum(), 50)
            np.testing.assert_allclose(y[drawn], k06(x[drawn]))
            with np.errstate(invalid="ignore"):
                above = np.isnan(k01(x[drawn])) | (y[drawn] >= k01(x[drawn]))
            self.assertTrue(above.all(), kind)
            # Where Kewley+06 lies below Kewley+01 it separates nothing: not drawn.
            with np.errstate(invalid="ignore"):
                below = np.isfinite(k01(x)) & (k06(x) < k01(x))
            self.assertTrue(below.any())
            self.assertFalse(drawn[below].any())

    def test_low_sn_points_are_small_and_faint(self):
        n = 400
        rng = np.random.default_rng(0)
        low = np.arange(n) % 4 == 0
        panel = diagrams.DiagramPanel(
            "bpt",
            rng.normal(-0.5, 0.1, n),
            rng.normal(0, 0.1, n),
            np.zeros(n, int),
            ("star_forming",),
            low_sn=low,
        )
        (ax,) = diagrams.draw_panels([panel]).axes
        faint, bright = _collection(ax, "faint points"), _collection(ax, "points")
        self.assertLen(faint.get_offsets(), low.sum())
        self.assertLen(bright.get_offsets(), (~low).sum())
        self.assertLess(faint.get_sizes().max(), bright.get_sizes().min())
        self.assertLessEqual(faint.get_facecolors()[:, 3].max(), 0.15)
        self.assertGreater(bright.get_facecolors()[:, 3].min(), 0.5)
        self.assertTrue(any("S/N < 3" in label for label in _legend_labels(ax)))
        # The low_sn class is faint whatever the mask says.
        panel = diagrams.DiagramPanel("bpt", [0.0, 0.1], [0.0, 0.1], [0, 1], ("liner", "low_sn"))
        (ax,) = diagrams.draw_panels([panel]).axes
        self.assertLen(_collection(ax, "faint points").get_offsets(), 1)

    def test_low_sn_from_a_line_table_uses_each_diagrams_lines(self):
        lines = self.sample.lines

        def weak(name):
            if name == "SII":
                flux = lines.line("SII_6717") + lines.line("SII_6731")
                err = np.hypot(
                    lines.line("SII_6717", "flux_err"), lines.line("SII_6731", "flux_err")
                )
            else:
                flux, err = lines.line(name), lines.line(name, "flux_err")
            return ~(flux / err >= 3.0)

        common = weak("H_BETA") | weak("OIII_5007") | weak("H_ALPHA")
        for kind, line in (("bpt", "NII_6584"), ("sii", "SII"), ("oi", "OI_6300")):
            expected = common | weak(line)
            self.assertTrue(0 < expected.sum() < len(expected))
            np.testing.assert_array_equal(diagrams.diagram_low_sn(lines, kind), expected)
        np.testing.assert_array_equal(
            diagrams.diagram_low_sn(lines, "whan"), self.ratios["whan"] == schemes.WHAN["low_sn"]
        )
        np.testing.assert_array_equal(
            diagrams.diagram_low_sn(self.ratios, "oi"), self.ratios["bpt"] == schemes.BPT["low_sn"]
        )
        self.assertIsNone(diagrams.diagram_low_sn(([0.0], [0.0]), "bpt"))

    def test_one_colour_per_class_in_every_figure(self):
        names = ("retired", "star_forming", "passive", "seyfert")
        codes = np.arange(400) % 4
        xy = np.random.default_rng(1).normal(0, 0.3, size=(400, 2))
        panel = diagrams.DiagramPanel("bpt", xy[:, 0], xy[:, 1], codes, names)
        (ax,) = diagrams.draw_panels([panel]).axes
        drawn = _collection(ax, "points").get_facecolors()
        seen = {to_hex(rgba[:3]) for rgba in drawn}
        expected = {colours.class_colour(name).lower() for name in names}
        self.assertEqual(seen, expected)
        fig = analysis_plots.plot_latent_pairs(xy, codes, names)
        for name, handle in zip(names, fig.legends[0].legend_handles, strict=True):
            self.assertEqual(to_hex(handle.get_color()), colours.class_colour(name).lower())
        # Synonyms across schemes share a colour; distinct physics does not.
        self.assertEqual(colours.class_colour("seyfert"), colours.class_colour("strong_agn"))
        self.assertEqual(colours.class_colour("liner"), colours.class_colour("weak_agn"))
        distinct = ["star_forming", "composite", "seyfert", "liner", "agn", "retired", "passive"]
        self.assertLen({colours.class_colour(n) for n in distinct + ["low_sn"]}, 8)
        self.assertEqual(diagrams.CLASS_COLOURS, colours.CLASS_COLOURS)
        self.assertContainsSubset(
            {colours.class_colour(n) for n in distinct}, set(colours.OKABE_ITO.values())
        )

    def test_no_class_hides_under_another(self):
        """Random drawing order: both classes among the first and last points drawn."""
        n = 2000
        codes = (np.arange(n) >= n // 2).astype(int)
        panel = diagrams.DiagramPanel("bpt", np.zeros(n), np.zeros(n), codes, ("liner", "seyfert"))
        (ax,) = diagrams.draw_panels([panel]).axes
        faces = _collection(ax, "points").get_facecolors()
        liner = np.isclose(faces[:, :3], to_rgba(colours.class_colour("liner"))[:3]).all(1)
        for part in (liner[:100], liner[-100:]):
            self.assertTrue(0.2 < part.mean() < 0.8, part.mean())
        # A small class is drawn more opaque than a big one.
        self.assertGreater(diagrams.class_alpha(50), diagrams.class_alpha(10_000))

    def test_whan_floor_keeps_weak_and_negative_halpha_visible(self):
        w = np.array([0.05, -0.3, 0.0, 2.0, 30.0])
        panel = diagrams.DiagramPanel(
            "whan", np.zeros(5), w, [0, 0, 0, 1, 2], schemes.WHAN_NAMES[3:6]
        )
        (ax,) = diagrams.draw_panels([panel]).axes
        floor = _collection(ax, "floor points")
        self.assertLen(floor.get_offsets(), 3)
        np.testing.assert_allclose(
            np.asarray(floor.get_offsets())[:, 1], diagrams.WHAN_WLIM[0] * 1.12
        )
        self.assertGreater(floor.get_offsets()[:, 1].min(), ax.get_ylim()[0])
        self.assertTrue(any("at the floor (3)" in label for label in _legend_labels(ax)))
        self.assertIn("retired (3)", _legend_labels(ax))

    def test_colour_table_for_the_projector(self):
        metadata = {
            "whan": ["star_forming", "retired"],
            "bpt": ["seyfert", "custom"],
            "id": ["a", "b"],
        }
        columns = colours.projector_colour_columns(metadata)
        self.assertEqual(
            columns,
            {
                "whan_colour": ["blue #0072B2", "sky blue #56B4E9"],
                "bpt_colour": ["vermillion #D55E00", "none"],
            },
        )

    def test_cluster_colours_are_never_class_colours(self):
        class_hex = set(colours.CLASS_COLOURS.values()) | set(colours.FALLBACK_COLOURS)
        for code in range(30):
            colour = colours.cluster_colour(code)
            self.assertNotIn(colour, class_hex)
            for other in colours.CLASS_COLOURS.values():
                self.assertGreaterEqual(
                    colours.colour_distance(colour, other), colours.MIN_CLUSTER_CLASS_DISTANCE
                )
        self.assertEqual(colours.cluster_marker(0), "o")
        self.assertNotEqual(colours.cluster_marker(len(colours.CLUSTER_PALETTE)), "o")
        self.assertAlmostEqual(colours.colour_distance("#000000", "#FFFFFF"), 100.0, places=3)

    def test_sprite_glyph_colours_are_never_read_as_classes(self):
        from tfelg.outputs import sprites

        glyph = [
            "#" + "".join(f"{v:02X}" for v in c)
            for c in (sprites.POSITIVE_COLOUR, sprites.NEGATIVE_COLOUR)
        ]
        for colour in glyph:
            for other in colours.CLASS_COLOURS.values():
                self.assertGreaterEqual(colours.colour_distance(colour, other), 25.0, colour)
        self.assertGreater(colours.colour_distance(*glyph), 50.0)


class CitationsTest(absltest.TestCase):
    def test_every_drawn_curve_and_diagram_is_cited(self):
        """The papers the legends name are in the dataset's CITATIONS.bib."""
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "datasets", "emission_lines", "CITATIONS.bib")) as f:
            text = f.read()
        self.assertEqual(text.count("{"), text.count("}"))
        entries, keys = {}, []
        for chunk in text.split("@article{")[1:]:
            key = chunk.split(",", 1)[0]
            keys.append(key)
            fields = dict(re.findall(r"(\w+)\s*=\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", chunk))
            entries[key] = (fields["journal"], fields["volume"], fields["pages"], fields["year"])
        expected = {
            ("PASP", "93", "5", "1981"),  # Baldwin, Phillips & Terlevich: the diagrams
            ("ApJ", "556", "121", "2001"),  # Kewley et al.: maximum starburst
            ("MNRAS", "346", "1055", "2003"),  # Kauffmann et al.
            ("MNRAS", "372", "961", "2006"),  # Kewley et al.: Seyfert / LINER
            ("MNRAS", "413", "1687", "2011"),  # Cid Fernandes et al.: WHAN
        }
        self.assertContainsSubset(expected, set(entries.values()))
        self.assertLen(set(keys), len(keys))


if __name__ == "__main__":
    absltest.main()
