"""Tests for tfelg.io.mpajhu on tiny DR7/DR8 catalogues in the real format."""

import io
import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from astropy.io import fits

from tfelg import lines
from tfelg.errors import InputError
from tfelg.io import mpajhu
from tfelg.testing import fits_fixtures as ff

N = 12


def _raw(path, column):
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul[1].data[column], dtype=np.float64)


def _col(table, line, quantity):
    return table.line(line, quantity)


def _write_dr8(directory):
    return ff.write_mpajhu_pair(os.path.join(directory, "dr8"), n=N, release="dr8", seed=3)


class MpajhuValuesTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.dr7 = ff.write_mpajhu_pair(os.path.join(self.dir, "dr7"), n=N, release="dr7", seed=3)
        self.table = mpajhu.read_mpajhu(self.dr7.line_path, self.dr7.info_path)

    def test_shape_and_source(self):
        self.assertLen(self.table, N)
        self.assertEqual(self.table.flux.shape, (N, lines.NUM_LINES))
        self.assertIn("gal_line_dr7_v5_2.fit", self.table.source)
        self.assertIn("gal_info_dr7_v5_2.fit", self.table.source)

    def test_dr7_ids_are_zero_padded_plate_mjd_fiber(self):
        plate = _raw(self.dr7.info_path, "PLATEID").astype(int)
        mjd = _raw(self.dr7.info_path, "MJD").astype(int)
        fiber = _raw(self.dr7.info_path, "FIBERID").astype(int)
        expected = [f"{p:04d}-{m:05d}-{f:04d}" for p, m, f in zip(plate, mjd, fiber, strict=True)]
        self.assertEqual(list(self.table.object_id), expected)
        self.assertRegex(self.table.object_id[0], r"^02\d\d-5\d{4}-\d{4}$")

    def test_redshift_from_info_with_sentinel_masked(self):
        z = _raw(self.dr7.info_path, "Z")
        self.assertEqual(z[ff.ROW_NO_REDSHIFT], -9999.0)
        self.assertTrue(np.isnan(self.table.redshift[ff.ROW_NO_REDSHIFT]))
        keep = np.arange(N) != ff.ROW_NO_REDSHIFT
        self.assertAllClose(self.table.redshift[keep], z[keep])

    def test_oii_is_the_sum_of_the_doublet(self):
        row = 0
        line = self.dr7.line_path
        f1, f2 = _raw(line, "OII_3726_FLUX")[row], _raw(line, "OII_3729_FLUX")[row]
        e1, e2 = _raw(line, "OII_3726_FLUX_ERR")[row], _raw(line, "OII_3729_FLUX_ERR")[row]
        w1, w2 = _raw(line, "OII_3726_EQW")[row], _raw(line, "OII_3729_EQW")[row]
        self.assertAllClose(_col(self.table, "OII_3727", "flux")[row], f1 + f2)
        self.assertAllClose(_col(self.table, "OII_3727", "flux_err")[row], np.hypot(e1, e2))
        self.assertAllClose(_col(self.table, "OII_3727", "ew")[row], -(w1 + w2))

    def test_oii_missing_if_either_half_is(self):
        row = ff.ROW_OII_HALF_MISSING
        self.assertTrue(np.isnan(_col(self.table, "OII_3727", "flux")[row]))
        self.assertTrue(np.isnan(_col(self.table, "OII_3727", "flux_err")[row]))
        # The EWs of both halves are fine, so the summed EW is too.
        self.assertGreater(_col(self.table, "OII_3727", "ew")[row], 0)

    def test_ew_flipped_to_emission_positive(self):
        raw = _raw(self.dr7.line_path, "H_ALPHA_EQW")[0]
        self.assertLess(raw, 0, "MPA-JHU writes emission EWs as negative")
        self.assertAllClose(_col(self.table, "H_ALPHA", "ew")[0], -raw)
        self.assertAllClose(
            _col(self.table, "H_ALPHA", "ew_err")[0], _raw(self.dr7.line_path, "H_ALPHA_EQW_ERR")[0]
        )
        ok = ~np.isnan(self.table.ew)
        self.assertTrue(np.all(self.table.ew[ok] > 0))

    def test_emission_positive_convention_keeps_sign(self):
        table = mpajhu.read_mpajhu(
            self.dr7.line_path, self.dr7.info_path, ew_convention="emission_positive"
        )
        raw = _raw(self.dr7.line_path, "H_ALPHA_EQW")[0]
        self.assertAllClose(_col(table, "H_ALPHA", "ew")[0], raw)
        self.assertAllClose(table.flux, self.table.flux)

    def test_fluxes_returned_as_stored(self):
        raw = _raw(self.dr7.line_path, "NII_6584_FLUX")
        self.assertAllClose(_col(self.table, "NII_6584", "flux")[0], raw[0])

    def test_sentinel_row_is_nan_not_999(self):
        row = ff.ROW_SENTINEL
        for line in ("H_ALPHA", "NII_6584"):
            for quantity in ("flux", "flux_err", "ew", "ew_err"):
                self.assertTrue(np.isnan(_col(self.table, line, quantity)[row]), (line, quantity))
        self.assertFalse(np.isnan(_col(self.table, "H_BETA", "flux")[row]))

    def test_nan_zero_flux_bad_error_and_ew_sentinel(self):
        self.assertTrue(np.isnan(_col(self.table, "OIII_5007", "flux")[ff.ROW_NAN_FLUX]))
        self.assertTrue(np.isnan(_col(self.table, "OIII_5007", "flux_err")[ff.ROW_NAN_FLUX]))
        self.assertTrue(np.isnan(_col(self.table, "H_BETA", "flux")[ff.ROW_ZERO_FLUX]))
        # A bad error masks the error only; the flux stays.
        self.assertTrue(np.isnan(_col(self.table, "SII_6717", "flux_err")[ff.ROW_BAD_ERROR]))
        self.assertGreater(_col(self.table, "SII_6717", "flux")[ff.ROW_BAD_ERROR], 0)
        self.assertTrue(np.isnan(_col(self.table, "H_GAMMA", "ew")[ff.ROW_EW_SENTINEL]))
        self.assertFalse(np.isnan(_col(self.table, "H_GAMMA", "flux")[ff.ROW_EW_SENTINEL]))

    def test_mask_report_counts_exactly_the_defects(self):
        report = mpajhu.mask_report(self.table)
        expected = {"REDSHIFT": 1, "OII_3727_FLUX": 1, "OII_3727_FLUX_ERR": 1}
        expected.update({"H_GAMMA_EW": 1, "H_GAMMA_EW_ERR": 1})
        expected.update({"H_BETA_FLUX": 1, "H_BETA_FLUX_ERR": 1})
        expected.update({"OIII_5007_FLUX": 1, "OIII_5007_FLUX_ERR": 1, "SII_6717_FLUX_ERR": 1})
        for line in ("H_ALPHA", "NII_6584"):
            expected.update({f"{line}_{s}": 1 for s in ("FLUX", "FLUX_ERR", "EW", "EW_ERR")})
        self.assertEqual({k: v for k, v in report.items() if v}, expected)

    def test_masking_is_logged(self):
        with self.assertLogs(logger="absl", level="INFO") as logs:
            mpajhu.read_mpajhu(self.dr7.line_path, self.dr7.info_path)
        text = "\n".join(logs.output)
        self.assertIn("H_ALPHA_FLUX 1 (sentinel 1)", text)
        self.assertIn("H_BETA_FLUX 1 (non_positive 1)", text)
        self.assertIn("OIII_5007_FLUX 1 (non_finite 1)", text)

    def test_dr8_uses_specobjid(self):
        self.dr8 = _write_dr8(self.dir)
        table = mpajhu.read_mpajhu(self.dr8.line_path, self.dr8.info_path)
        with fits.open(self.dr8.info_path) as hdul:
            expected = [s.strip() for s in hdul[1].data["SPECOBJID"]]
        self.assertEqual(list(table.object_id), expected)
        self.assertEqual(table.object_id[0], str(int(expected[0])))
        # Same seed, same measurements as DR7.
        self.assertAllClose(table.flux, self.table.flux)
        self.assertAllClose(table.ew, self.table.ew)

    def test_integer_specobjid(self):
        self.dr8 = _write_dr8(self.dir)
        with fits.open(self.dr8.info_path) as hdul:
            ids = np.array([int(s) for s in hdul[1].data["SPECOBJID"]], np.int64)
        info = ff.copy_with_column(
            self.dr8.info_path,
            os.path.join(self.dir, "info_int.fits"),
            "SPECOBJID",
            ids,
            fits_format="K",
        )
        line = ff.copy_with_column(
            self.dr8.line_path,
            os.path.join(self.dir, "line_int.fits"),
            "SPECOBJID",
            ids,
            fits_format="K",
        )
        table = mpajhu.read_mpajhu(line, info)
        self.assertEqual(list(table.object_id), [str(i) for i in ids])

    def test_file_objects(self):
        with open(self.dr7.line_path, "rb") as line, open(self.dr7.info_path, "rb") as info:
            table = mpajhu.read_mpajhu(
                io.BytesIO(line.read()),
                io.BytesIO(info.read()),
                line_name="line.fit",
                info_name="info.fit",
            )
        self.assertAllClose(table.flux, self.table.flux)
        self.assertEqual(list(table.object_id), list(self.table.object_id))
        self.assertEqual(table.source, "line.fit + info.fit")

    def test_line_file_alone_with_z(self):
        z = _raw(self.dr7.info_path, "Z")
        line = ff.copy_with_column(
            self.dr7.line_path, os.path.join(self.dir, "line_z.fits"), "Z", z
        )
        table = mpajhu.read_mpajhu(line)
        self.assertAllClose(table.redshift, self.table.redshift)
        self.assertEqual(list(table.object_id), list(self.table.object_id))

    def test_bad_ew_convention(self):
        with self.assertRaisesRegex(ValueError, "ew_convention"):
            mpajhu.read_mpajhu(self.dr7.line_path, self.dr7.info_path, ew_convention="positive")


class MpajhuErrorsTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.dr7 = ff.write_mpajhu_pair(os.path.join(self.dir, "dr7"), n=N, release="dr7", seed=3)

    def _path(self, name):
        return os.path.join(self.dir, name)

    def test_row_count_mismatch_names_both_files_and_counts(self):
        info = ff.copy_with_rows(self.dr7.info_path, self._path("short_info.fit"), slice(0, 10))
        with self.assertRaises(InputError) as cm:
            mpajhu.read_mpajhu(self.dr7.line_path, info)
        message = str(cm.exception)
        for part in ("gal_line_dr7_v5_2.fit", "short_info.fit", f"{N} rows", "10 rows"):
            self.assertIn(part, message)

    def test_specobjid_mismatch_names_row(self):
        self.dr8 = _write_dr8(self.dir)
        with fits.open(self.dr8.info_path) as hdul:
            ids = np.array([s.strip() for s in hdul[1].data["SPECOBJID"]])
        ids[5] = "1234567890123456789"
        info = ff.copy_with_column(self.dr8.info_path, self._path("bad_ids.fits"), "SPECOBJID", ids)
        with self.assertRaisesRegex(InputError, r"bad_ids.fits.*column 'SPECOBJID', row 5") as cm:
            mpajhu.read_mpajhu(self.dr8.line_path, info)
        self.assertIn("galSpecLine-dr8.fits", str(cm.exception))
        self.assertEqual(cm.exception.row, 5)

    def test_fiber_mismatch_names_row(self):
        fiber = _raw(self.dr7.info_path, "FIBERID").astype(np.int16)
        fiber[4] += 1
        info = ff.copy_with_column(self.dr7.info_path, self._path("shifted.fit"), "FIBERID", fiber)
        with self.assertRaisesRegex(InputError, r"shifted.fit.*column 'FIBERID', row 4"):
            mpajhu.read_mpajhu(self.dr7.line_path, info)

    @parameterized.parameters("H_ALPHA_EQW", "OII_3729_FLUX_ERR", "SII_6731_FLUX")
    def test_missing_line_column(self, column):
        line = ff.copy_without_column(self.dr7.line_path, self._path("no_col.fit"), column)
        with self.assertRaisesRegex(InputError, rf"no_col.fit, HDU 1, column '{column}'") as cm:
            mpajhu.read_mpajhu(line, self.dr7.info_path)
        self.assertIn("closest columns present", str(cm.exception))
        self.assertEqual(cm.exception.column, column)

    def test_missing_column_lists_close_match(self):
        line = ff.copy_without_column(self.dr7.line_path, self._path("no_eqw.fit"), "H_ALPHA_EQW")
        with self.assertRaisesRegex(InputError, "H_ALPHA_EQW_ERR"):
            mpajhu.read_mpajhu(line, self.dr7.info_path)

    def test_missing_z_in_info(self):
        info = ff.copy_without_column(self.dr7.info_path, self._path("no_z.fit"), "Z")
        with self.assertRaisesRegex(InputError, r"no_z.fit, HDU 1, column 'Z'"):
            mpajhu.read_mpajhu(self.dr7.line_path, info)

    def test_line_file_alone_without_z(self):
        with self.assertRaisesRegex(
            InputError, r"gal_line_dr7_v5_2.fit, HDU 1, column 'Z'.*info catalogue"
        ):
            mpajhu.read_mpajhu(self.dr7.line_path)

    def test_no_object_id_columns(self):
        z = _raw(self.dr7.info_path, "Z")
        line = ff.copy_with_column(self.dr7.line_path, self._path("z.fit"), "Z", z)
        line = ff.copy_without_column(line, self._path("no_plate.fit"), "PLATEID")
        with self.assertRaisesRegex(InputError, r"no_plate.fit.*SPECOBJID.*PLATEID"):
            mpajhu.read_mpajhu(line)

    def test_missing_file(self):
        with self.assertRaisesRegex(InputError, "nowhere.fit.*not found"):
            mpajhu.read_mpajhu(self.dr7.line_path, self._path("nowhere.fit"))

    def test_not_fits(self):
        line = ff.write_not_fits(self._path("gal_line.fit"))
        with self.assertRaisesRegex(InputError, "gal_line.fit.*not a readable FITS"):
            mpajhu.read_mpajhu(line, self.dr7.info_path)

    @parameterized.parameters("line", "info")
    def test_truncated(self, which):
        src = getattr(self.dr7, f"{which}_path")
        cut = ff.copy_truncated(src, self._path(f"cut_{which}.fit"))
        args = (cut, self.dr7.info_path) if which == "line" else (self.dr7.line_path, cut)
        with self.assertRaisesRegex(InputError, rf"cut_{which}.fit, HDU 1: .*truncated"):
            mpajhu.read_mpajhu(*args)

    def test_no_table_hdu(self):
        line = ff.copy_without_hdu(self.dr7.line_path, self._path("primary_only.fit"), 1)
        with self.assertRaisesRegex(InputError, r"primary_only.fit, HDU 1: HDU missing"):
            mpajhu.read_mpajhu(line, self.dr7.info_path)

    def test_image_instead_of_table(self):
        info = ff.copy_with_image_hdu(self.dr7.info_path, self._path("image.fit"), 1)
        with self.assertRaisesRegex(InputError, r"image.fit, HDU 1: wrong HDU"):
            mpajhu.read_mpajhu(self.dr7.line_path, info)


if __name__ == "__main__":
    tf.test.main()
