"""FITS tables are written whole or not at all."""

import os
from unittest import mock

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg.outputs import fits_table


class WriteFitsTableTest(absltest.TestCase):
    def test_round_trip(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        fits_table.write_fits_table(
            path,
            {
                "OBJID": np.array(["a", "bcd"]),
                "Z": np.array([0.1, 0.2]),
                "CODE": np.array([1, 2], dtype=np.int8),
                "LATENT": np.arange(6, dtype=np.float32).reshape(2, 3),
            },
            header={"SNRMIN": 3.0, "A_LONG_KEY": "x"},
            units={"Z": ""},
            descriptions={"Z": "redshift"},
        )
        with fits.open(path) as hdul:
            data = hdul["CATALOG"].data
            self.assertEqual(list(data["OBJID"]), ["a", "bcd"])
            np.testing.assert_allclose(data["Z"], [0.1, 0.2])
            self.assertEqual(list(data["CODE"]), [1, 2])
            np.testing.assert_allclose(data["LATENT"][1], [3, 4, 5])
            self.assertEqual(hdul[0].header["SNRMIN"], 3.0)
            self.assertEqual(hdul[0].header["A_LONG_KEY"], "x")
            self.assertEqual(hdul["CATALOG"].header["TCOMM2"], "redshift")

    def test_refuses_to_overwrite(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        fits_table.write_fits_table(path, {"A": np.arange(3)})
        with self.assertRaisesRegex(FileExistsError, "overwrite"):
            fits_table.write_fits_table(path, {"A": np.arange(4)})
        fits_table.write_fits_table(path, {"A": np.arange(4)}, overwrite=True)
        with fits.open(path) as hdul:
            self.assertLen(hdul[1].data, 4)

    def test_failure_leaves_old_file_and_no_temporary(self):
        directory = self.create_tempdir().full_path
        path = os.path.join(directory, "t.fits")
        fits_table.write_fits_table(path, {"A": np.arange(3)})
        with mock.patch.object(fits.HDUList, "writeto", side_effect=OSError("disk full")):
            with self.assertRaisesRegex(OSError, "disk full"):
                fits_table.write_fits_table(path, {"A": np.arange(9)}, overwrite=True)
        self.assertEqual(os.listdir(directory), ["t.fits"])
        with fits.open(path) as hdul:
            self.assertLen(hdul[1].data, 3)

    def test_mismatched_lengths(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        with self.assertRaisesRegex(ValueError, "different lengths"):
            fits_table.write_fits_table(path, {"A": np.arange(3), "B": np.arange(2)})
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    absltest.main()
