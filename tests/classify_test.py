"""tfelg.classify on tiny files in the real MPA-JHU and SDSS formats."""

import os

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


if __name__ == "__main__":
    absltest.main()
