"""tfelg.classify on tiny files in the real MPA-JHU and SDSS formats."""

import os
import shutil

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg import classify, schemes
from tfelg.errors import InputError
from tfelg.testing import fits_fixtures


class ClassifyTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path

    def test_mpajhu_pair(self):
        files = fits_fixtures.write_mpajhu_pair(self.dir, n=12, seed=0)
        table = classify.read_input(files.line_path, info_path=files.info_path)
        result = classify.classify(table)
        self.assertLen(result["whan"], 12)
        # The sentinel row has no Halpha or [NII]: never a silent guess.
        row = fits_fixtures.ROW_SENTINEL
        self.assertEqual(schemes.WHAN_NAMES[result["whan"][row]], "unclassified")
        self.assertEqual(schemes.BPT_NAMES[result["bpt"][row]], "unclassified")
        self.assertTrue(result["flags"][row] & classify.FLAG_BITS["HALPHA_MISSING"])
        self.assertTrue(result["flags"][row] & classify.FLAG_BITS["NII_MISSING"])
        # Zero Hbeta: BPT impossible, flagged.
        row = fits_fixtures.ROW_ZERO_FLUX
        self.assertEqual(schemes.BPT_NAMES[result["bpt"][row]], "unclassified")
        self.assertTrue(result["flags"][row] & classify.FLAG_BITS["HBETA_MISSING"])
        self.assertTrue(
            result["flags"][fits_fixtures.ROW_NO_REDSHIFT] & classify.FLAG_BITS["BAD_REDSHIFT"]
        )
        # EWs are stored emission-positive.
        self.assertGreater(np.nanmedian(result["ew_ha"]), 0)

        out = os.path.join(self.dir, "classes.fits")
        classify.write_classification(out, table, result, snr_min=3.0)
        with fits.open(out) as hdul:
            data = hdul["CLASSES"].data
            self.assertLen(data, 12)
            np.testing.assert_array_equal(
                data["WHAN"], np.array(schemes.WHAN_NAMES)[result["whan"]]
            )
            np.testing.assert_array_equal(data["BPT_CODE"], result["bpt"])
            self.assertEqual(list(data["OBJID"]), list(table.object_id))

    def test_spec_folder_and_single_file(self):
        paths = fits_fixtures.write_sdss_spec_folder(os.path.join(self.dir, "spec"), n=3, seed=1)
        folder_table = classify.read_input(os.path.join(self.dir, "spec"))
        self.assertLen(folder_table, 3)
        single = classify.read_input(sorted(paths)[0])
        self.assertLen(single, 1)
        self.assertEqual(single.object_id[0], folder_table.object_id[0])
        np.testing.assert_array_equal(single.flux[0], folder_table.flux[0])
        self.assertEqual(classify.detect_format(paths[0]), "sdss_spec")

    def test_bad_input(self):
        with self.assertRaisesRegex(InputError, "nothing.fits.*not found"):
            classify.read_input(os.path.join(self.dir, "nothing.fits"))
        not_fits = fits_fixtures.write_not_fits(os.path.join(self.dir, "table.fits"))
        with self.assertRaisesRegex(InputError, "table.fits"):
            classify.read_input(not_fits)
        files = fits_fixtures.write_mpajhu_pair(self.dir, n=12, seed=0)
        short_info = fits_fixtures.copy_with_rows(
            files.info_path, os.path.join(self.dir, "short_info.fit"), rows=np.arange(10)
        )
        with self.assertRaisesRegex(InputError, r"short_info\.fit.*10|10.*short_info\.fit"):
            classify.read_input(files.line_path, info_path=short_info)
        no_column = fits_fixtures.copy_without_column(
            files.line_path, os.path.join(self.dir, "no_ha.fit"), "H_ALPHA_FLUX"
        )
        with self.assertRaisesRegex(InputError, "no_ha.fit.*H_ALPHA_FLUX"):
            classify.read_input(no_column, info_path=files.info_path)
        with self.assertRaisesRegex(ValueError, "--info"):
            paths = fits_fixtures.write_sdss_spec_folder(os.path.join(self.dir, "s"), n=1)
            classify.read_input(paths[0], info_path=files.info_path)

    def _doubled_halpha_copy(self, src, dst):
        """A copy of spec file ``src`` at ``dst`` whose Halpha flux is doubled."""
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(src, dst)
        with fits.open(dst, mode="update") as hdul:
            spz = hdul["SPZLINE"].data
            row = int(np.flatnonzero(np.char.strip(spz["LINENAME"]) == "H_alpha")[0])
            spz["LINEAREA"][row] *= 2.0

    def test_duplicate_objects_in_a_folder_are_kept_once(self):
        folder = os.path.join(self.dir, "spectra")
        paths = sorted(fits_fixtures.write_sdss_spec_folder(os.path.join(folder, "b"), n=3))
        original = classify.read_input(paths[0])
        name = os.path.basename(paths[0])
        # The same object twice more: "a/" sorts before "b/", "c/" after it.
        self._doubled_halpha_copy(paths[0], os.path.join(folder, "a", name))
        self._doubled_halpha_copy(paths[1], os.path.join(folder, "c", os.path.basename(paths[1])))
        warnings = []
        table = classify.read_input(folder, warn=warnings.append)
        self.assertLen(table, 3)
        self.assertLen(set(table.object_id), 3)
        self.assertLen(warnings, 1)
        self.assertIn("2 duplicate spectra", warnings[0])
        self.assertIn(f"kept {os.path.join(folder, 'a', name)}", warnings[0])
        self.assertIn(f"skipped {paths[0]}", warnings[0])
        # The first file in path order wins: a/ (doubled) for the first object,
        # b/ (original) for the second.
        ha = table.line("H_ALPHA", "flux")
        row = list(table.object_id).index(original.object_id[0])
        np.testing.assert_allclose(ha[row], 2 * original.line("H_ALPHA", "flux")[0])
        second = classify.read_input(paths[1])
        row = list(table.object_id).index(second.object_id[0])
        np.testing.assert_allclose(ha[row], second.line("H_ALPHA", "flux")[0])
        # Deterministic: the same table again.
        again = classify.read_input(folder, warn=lambda _: None)
        np.testing.assert_array_equal(again.object_id, table.object_id)
        np.testing.assert_array_equal(again.flux, table.flux)

    def test_no_warning_without_duplicates(self):
        folder = os.path.join(self.dir, "unique")
        fits_fixtures.write_sdss_spec_folder(folder, n=3)
        warnings = []
        self.assertLen(classify.read_input(folder, warn=warnings.append), 3)
        self.assertEqual(warnings, [])

    def test_snr_min_must_be_finite(self):
        files = fits_fixtures.write_mpajhu_pair(self.dir, n=12, seed=0)
        table = classify.read_input(files.line_path, info_path=files.info_path)
        for bad in (float("nan"), float("inf"), -1.0, "x"):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, "--snr_min must be"):
                    classify.classify(table, snr_min=bad)
        self.assertEqual(classify.check_snr_min(0), 0.0)


if __name__ == "__main__":
    absltest.main()
