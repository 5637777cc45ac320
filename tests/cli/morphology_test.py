"""tfelg-morphology as a real process, and its library (tfelg.morphology_table).

``tests/testdata/elliptical_f814w.fits`` is a realistic HST ACS F814W-like
image of an elliptical that fits its frame, written by
``python scripts/make_hst_fixtures.py --output_dir=datasets/hst_galaxies/dummy_data
--elliptical=tests/testdata/elliptical_f814w.fits``.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg import morphology_table
from tfelg.errors import InputError
from tfelg.testing import hst_fixtures

ELLIPTICAL = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "testdata", "elliptical_f814w.fits"
)


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "tfelg.cli.morphology", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


class BinaryTest(absltest.TestCase):
    def test_elliptical_is_e_s0_sa_and_trusted(self):
        out = os.path.join(self.create_tempdir().full_path, "morph.fits")
        result = _run(f"--input={ELLIPTICAL}", f"--output={out}", "--num_workers=1")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("e_s0_sa", result.stdout)
        with fits.open(out) as hdul:
            row = hdul["MORPHOLOGY"].data[0]
            self.assertEqual(row["GINI_M20_CLASS"], "e_s0_sa")
            self.assertTrue(row["TRUST_NONPARAMETRIC"])
            self.assertEqual(row["FLAG_NAMES"].split("|")[0] in ("OK", "STATMORPH_SUSPECT"), True)
            self.assertGreater(row["CONCENTRATION"], 3.0)
            self.assertEqual(row["BAND"], "F814W")

    def test_bad_input_is_an_error_naming_the_file(self):
        tmp = self.create_tempdir().full_path
        truncated = os.path.join(tmp, "cut.fits")
        with open(ELLIPTICAL, "rb") as f:
            content = f.read()
        with open(truncated, "wb") as f:
            f.write(content[: len(content) // 2])
        result = _run(f"--input={truncated}", f"--output={os.path.join(tmp, 'o.fits')}")
        self.assertEqual(result.returncode, 2)
        self.assertIn("tfelg-morphology: error:", result.stderr)
        self.assertIn("cut.fits", result.stderr)
        self.assertIn("truncated", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(tmp, "o.fits")))


class TableTest(absltest.TestCase):
    def test_overfilling_elliptical_is_measured_but_not_trusted(self):
        path = os.path.join(self.create_tempdir().full_path, "big.fits")
        hst_fixtures.write_elliptical(path, size=120, hlr_arcsec=4.0)
        columns = morphology_table.measure_files([path], num_workers=1, sersic=False)
        self.assertFalse(columns["TRUST_NONPARAMETRIC"][0])
        self.assertRegex(columns["FLAG_NAMES"][0], "EDGE|NO_SKY")

    def test_ra_dec_needs_a_wcs(self):
        tmp = self.create_tempdir().full_path
        path = os.path.join(tmp, "nowcs.fits")
        with fits.open(ELLIPTICAL) as hdul:
            header = hdul[0].header.copy()
            data = hdul[0].data.copy()
        for key in ("CTYPE1", "CTYPE2"):
            del header[key]
        fits.PrimaryHDU(data, header=header).writeto(path)
        with self.assertRaisesRegex(InputError, "nowcs.fits.*no celestial WCS"):
            morphology_table.measure_files([path], ra=187.444, dec=8.0, num_workers=1)
        with self.assertRaisesRegex(ValueError, "both --ra and --dec"):
            morphology_table.measure_files([path], ra=187.444, num_workers=1)

    def test_catalogue_targets_and_a_position_off_the_image(self):
        tmp = self.create_tempdir().full_path
        catalogue = os.path.join(tmp, "targets.csv")
        with open(catalogue, "w") as f:
            f.write("ID,RA,DEC\ngalaxy,187.444,8.0004\nfar,187.6,8.2\n")
        folder = os.path.join(tmp, "images")
        os.makedirs(folder)
        shutil.copy(ELLIPTICAL, folder)
        columns = morphology_table.measure_files(
            morphology_table.list_inputs(folder), catalogue=catalogue, num_workers=1, sersic=False
        )
        self.assertEqual(list(columns["OBJECT_ID"]), ["galaxy", "far"])
        self.assertEqual(columns["GINI_M20_CLASS"][0], "e_s0_sa")
        self.assertAlmostEqual(columns["X"][0], 99.5, delta=0.01)  # CRPIX 100.5 is 1-based
        self.assertIn("NO_SOURCE", columns["FLAG_NAMES"][1])
        self.assertIn("outside the image", columns["ERROR"][1])
        self.assertTrue(np.isnan(columns["GINI"][1]))

    def test_output_refused_before_any_input_is_read(self):
        tmp = self.create_tempdir().full_path
        # The input does not exist: an error about --output shows it was checked first.
        result = _run(f"--input={os.path.join(tmp, 'missing.fits')}", f"--output={tmp}")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(
            result.stderr.strip().splitlines()[-1],
            f"tfelg-morphology: error: --output={tmp} is a folder; give a file name, "
            f"e.g. {os.path.join(tmp, 'morphology.fits')}",
        )
        self.assertNotIn("Traceback", result.stderr)

    def test_missing_input_and_empty_folder(self):
        tmp = self.create_tempdir().full_path
        with self.assertRaisesRegex(InputError, "no FITS files"):
            morphology_table.list_inputs(tmp)
        with self.assertRaisesRegex(InputError, "file not found"):
            morphology_table.list_inputs(os.path.join(tmp, "missing.fits"))


if __name__ == "__main__":
    absltest.main()
