"""BPT/WHAN figures are written whole, as PNGs, and bad input is refused clearly."""

import os

import numpy as np
from absl.testing import absltest

from tfelg import schemes
from tfelg.outputs import diagrams
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


if __name__ == "__main__":
    absltest.main()
