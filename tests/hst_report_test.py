"""Synthetic HST galaxies against the classical schemes, and the figures and tables of them.

The direction of the relations the literature reports is checked on a small
rendered sample: ellipticals quiescent in UVJ and in the E/S0/Sa region of
Gini-M20 more often than late spirals and irregulars.
"""

import os

import numpy as np
from absl.testing import absltest
from PIL import Image

from tfelg import hst_report, morphology, schemes
from tfelg.synthetic import hst_galaxies as hst

NAMES = tuple(hst.TRUE_TYPE_NAMES) + ("unknown",)


class RelationsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fractions = {"elliptical": 1.0, "late_spiral": 0.5, "irregular": 0.5}
        sample = hst.generate(24, seed=11, type_fractions=fractions)
        results = morphology.measure_many(
            list(sample.image[:, :, :, hst.BANDS.index(morphology.MORPHOLOGY_BAND)]), sersic=False
        )
        columns = morphology.as_columns(results)
        cls.arrays = {
            "image": sample.image,
            "true_type": sample.true_type.astype(np.int64),
            "redshift": sample.redshift,
            "u_minus_v": sample.truth["u_minus_v"],
            "v_minus_j": sample.truth["v_minus_j"],
            "uvj": schemes.uvj_class(
                sample.truth["u_minus_v"], sample.truth["v_minus_j"], sample.redshift
            ),
            "gini": columns["gini"],
            "m20": columns["m20"],
            "gini_m20": columns["gini_m20_class"],
            "trust_nonparametric": columns["trust_nonparametric"],
        }

    def _fraction(self, key, code, kinds):
        a = self.arrays
        sel = np.isin(a["true_type"], [hst.TRUE_TYPE[k] for k in kinds])
        if key == "gini_m20":
            sel &= a["trust_nonparametric"]
        self.assertGreater(int(sel.sum()), 2, f"too few trusted {kinds}")
        return float(np.mean(a[key][sel] == code))

    def test_ellipticals_quiescent_disks_star_forming(self):
        early = self._fraction("uvj", schemes.UVJ["quiescent"], ["elliptical"])
        late = self._fraction("uvj", schemes.UVJ["quiescent"], ["late_spiral", "irregular"])
        self.assertGreater(early, 0.8)
        self.assertLess(late, 0.2)

    def test_ellipticals_in_the_early_gini_m20_region_more_than_late_types(self):
        code = schemes.GINI_M20["e_s0_sa"]
        early = self._fraction("gini_m20", code, ["elliptical"])
        late = self._fraction("gini_m20", code, ["late_spiral", "irregular"])
        self.assertGreater(early, late + 0.3)

    def test_rgb_composites_blue_for_irregulars_red_for_ellipticals(self):
        # Red minus blue light of each composite's central 16 x 16 pixels, as
        # drawn in rgb_by_type.png (one display for all stamps).
        from tfelg.outputs import hst_plots

        images = self.arrays["image"]
        display = hst_plots.rgb_display(images)
        c = images.shape[1] // 2
        red_minus_blue = []
        for image in images:
            centre = hst_plots.lupton_rgb(image, display)[c - 8 : c + 8, c - 8 : c + 8]
            totals = centre.reshape(-1, 3).astype(float).sum(0)
            red_minus_blue.append(totals[0] - totals[2])
        red_minus_blue = np.array(red_minus_blue)
        types = self.arrays["true_type"]
        elliptical = red_minus_blue[types == hst.TRUE_TYPE["elliptical"]]
        irregular = red_minus_blue[types == hst.TRUE_TYPE["irregular"]]
        # Not all: the faintest ellipticals' F435W is sky noise.
        self.assertGreaterEqual(np.mean(elliptical > 0), 0.8, elliptical)
        self.assertGreaterEqual(np.mean(irregular < 0), 0.8, irregular)

    def test_figures_and_tables(self):
        folder = self.create_tempdir().full_path
        paths = hst_report.write_plots(self.arrays, NAMES, folder, "F850LP")
        self.assertEqual(
            [os.path.basename(p) for p in paths], ["rgb_by_type.png", "uvj.png", "gini_m20.png"]
        )
        for path in paths:
            with Image.open(path) as image:
                self.assertGreater(min(image.size), 300)
        tables = hst_report.class_tables(self.arrays, NAMES)
        self.assertIn("| elliptical |", tables["uvj"])
        self.assertNotIn("| lenticular |", tables["uvj"])  # empty rows are left out
        n_elliptical = int(np.sum(self.arrays["true_type"] == hst.TRUE_TYPE["elliptical"]))
        self.assertRegex(tables["uvj"], rf"\| elliptical \|.*\| {n_elliptical} \|")


if __name__ == "__main__":
    absltest.main()
