"""Tests for tfelg.io.fits_open: checked opening, HDU/column lookup, masking."""

import io
import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from astropy.io import fits

from tfelg import lines
from tfelg.errors import InputError
from tfelg.io import fits_open
from tfelg.testing import fits_fixtures


def _write_table_file(path, columns, extname=None):
    hdu = fits.BinTableHDU.from_columns(columns, name=extname)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


class SourceNameTest(tf.test.TestCase):
    def test_path_and_pathlike(self):
        self.assertEqual(fits_open.source_name("/a/b.fits"), "/a/b.fits")
        self.assertEqual(fits_open.source_name(tf.io.gfile.join("/a", "c.fits")), "/a/c.fits")

    def test_explicit_name_wins(self):
        self.assertEqual(fits_open.source_name(io.BytesIO(b""), "x.fits"), "x.fits")

    def test_file_object(self):
        path = os.path.join(self.create_tempdir().full_path, "f.fits")
        with open(path, "wb") as f:
            self.assertEqual(fits_open.source_name(f), path)
        self.assertEqual(fits_open.source_name(io.BytesIO(b"")), "<BytesIO file object>")


class _CountingReader:
    """A binary file object (local or ``tf.io.gfile``) that counts the bytes read from it."""

    def __init__(self, path: str, gfile: bool = False):
        self._file = tf.io.gfile.GFile(path, "rb") if gfile else open(path, "rb")  # noqa: SIM115
        self.name = path
        self.bytes_read = 0
        self.largest_read = 0

    def read(self, n=-1):
        data = self._file.read(n)
        self.bytes_read += len(data)
        self.largest_read = max(self.largest_read, len(data))
        return data

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset, whence=io.SEEK_SET):
        return self._file.seek(offset, whence)

    def tell(self):
        return self._file.tell()

    @property
    def closed(self):
        return self._file.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


class OpenFitsTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.spec = fits_fixtures.write_sdss_spec_file(
            os.path.join(self.dir, "spec-0266-51602-0001.fits"), 266, 51602, 1, 0.1, seed=0
        )

    def test_reads_path_and_file_object_alike(self):
        with fits_open.open_fits(self.spec) as hdul:
            names_from_path = [hdu.name for hdu in hdul]
        with open(self.spec, "rb") as f:
            with fits_open.open_fits(f) as hdul:
                names_from_file = [hdu.name for hdu in hdul]
            self.assertFalse(f.closed, "a caller's file object must stay open")
        self.assertEqual(names_from_path, names_from_file)
        self.assertEqual(names_from_path[:4], ["PRIMARY", "COADD", "SPECOBJ", "SPZLINE"])

    def test_missing_file(self):
        path = os.path.join(self.dir, "missing.fits")
        with self.assertRaisesRegex(InputError, "missing.fits.*not found"):
            with fits_open.open_fits(path):
                pass

    def test_folder_instead_of_file(self):
        with self.assertRaisesRegex(InputError, "found a folder"):
            with fits_open.open_fits(self.dir):
                pass

    def test_not_fits(self):
        path = fits_fixtures.write_not_fits(os.path.join(self.dir, "page.fits"))
        with self.assertRaisesRegex(InputError, "page.fits.*not a readable FITS file") as cm:
            with fits_open.open_fits(path):
                pass
        self.assertIsNotNone(cm.exception.__cause__, "the astropy error must be chained")

    def test_empty_file(self):
        path = os.path.join(self.dir, "empty.fits")
        open(path, "wb").close()
        with self.assertRaisesRegex(InputError, "empty.fits.*empty"):
            with fits_open.open_fits(path):
                pass

    @parameterized.named_parameters(
        ("inside_primary_header", 100),
        ("inside_first_table_header", 2880 + 10),
        ("inside_coadd_data", 40_000),
        ("one_block_short", -2880),
        ("one_byte_short", -1),
    )
    def test_truncated(self, keep_bytes):
        size = os.path.getsize(self.spec)
        keep = keep_bytes if keep_bytes > 0 else size + keep_bytes
        path = fits_fixtures.copy_truncated(self.spec, os.path.join(self.dir, "cut.fits"), keep)
        with self.assertRaisesRegex(InputError, r"cut.fits, HDU \d+: .*truncated"):
            with fits_open.open_fits(path) as hdul:
                for hdu in hdul:
                    _ = hdu.data

    def test_every_cut_is_an_input_error(self):
        """No cut point lets an astropy or NumPy exception escape, path or file object."""
        with open(self.spec, "rb") as f:
            data = f.read()
        for keep in range(1, len(data), 7919):
            with self.subTest(keep=keep):
                with self.assertRaisesRegex(InputError, "cut.fits"):
                    with fits_open.open_fits(io.BytesIO(data[:keep]), name="cut.fits") as hdul:
                        fits_open.table_hdu(hdul, 3, path="cut.fits", extname="SPZLINE")
                        for index in range(1, 4):
                            fits_open.read_table_data(hdul[index], path="cut.fits", hdu_label=index)

    def test_truncated_through_gfile(self):
        """tf.io.gfile raises on a short read: the HDU cut short is still named."""
        path = fits_fixtures.copy_truncated(self.spec, os.path.join(self.dir, "cut.fits"), 50_000)
        with tf.io.gfile.GFile(path, "rb") as f:
            with self.assertRaisesRegex(InputError, r"cut.fits, HDU 1: .*truncated"):
                with fits_open.open_fits(f):
                    pass

    def _sparse(self, name: str, head: bytes, size: int) -> str:
        """A file of ``size`` bytes that starts with ``head``; the rest is a hole."""
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(head)
            f.truncate(size)
        return path

    def test_large_non_fits_file_is_not_read_whole(self):
        """A big file named spec-*.fits that is not FITS: only a bounded prefix is read."""
        size = 64 << 20
        path = self._sparse("spec-0266-51602-0002.fits", b"<!DOCTYPE html><html>", size)
        with _CountingReader(path) as f:
            with self.assertRaisesRegex(InputError, "spec-0266-51602-0002.fits.*not a readable"):
                with fits_open.open_fits(f, name=path):
                    pass
            self.assertLess(f.bytes_read, 1 << 20, "the error path read the file whole")
            self.assertLess(f.largest_read, 1 << 20)

    def test_large_truncated_fits_through_gfile_is_not_read_whole(self):
        """A header promising 1 GiB of data on 64 MiB, read through tf.io.gfile (short reads raise)."""
        header = fits.PrimaryHDU(data=np.zeros((2, 2), np.int32)).header
        header["NAXIS1"] = header["NAXIS2"] = 16384  # 1 GiB of int32
        path = self._sparse("spec-0266-51602-0003.fits", header.tostring().encode(), 64 << 20)
        with _CountingReader(path, gfile=True) as f:
            with self.assertRaisesRegex(InputError, r"0003.fits, HDU 0: .*truncated"):
                with fits_open.open_fits(f, name=path) as hdul:
                    _ = hdul[0].data
            self.assertLess(f.bytes_read, 1 << 20, "the error path read the file whole")

    def test_zero_padding_after_last_hdu_is_accepted(self):
        with open(self.spec, "ab") as f:
            f.write(b"\0" * 2880)
        with fits_open.open_fits(self.spec) as hdul:
            self.assertLen(hdul, 5)


class TableHduTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.path = _write_table_file(
            os.path.join(self.dir, "t.fits"),
            [
                fits.Column("H_ALPHA_FLUX", "E", array=np.array([1.0, 2.0])),
                fits.Column("H_ALPHA_FLUX_ERR", "E", array=np.array([0.1, 0.2])),
                fits.Column("NAME", "8A", array=np.array(["  a ", "b"])),
                fits.Column("VECTOR", "3E", array=np.zeros((2, 3))),
            ],
            extname="LINES",
        )

    def test_by_index_and_by_name(self):
        with fits_open.open_fits(self.path) as hdul:
            self.assertEqual(fits_open.table_hdu(hdul, 1, path=self.path).name, "LINES")
            self.assertEqual(
                fits_open.table_hdu(hdul, 1, path=self.path, extname="lines").name, "LINES"
            )

    def test_missing_hdu(self):
        with fits_open.open_fits(self.path) as hdul:
            with self.assertRaisesRegex(InputError, r"t.fits, HDU 3: HDU missing.*0 PRIMARY"):
                fits_open.table_hdu(hdul, 3, path=self.path)

    def test_wrong_hdu_name(self):
        with fits_open.open_fits(self.path) as hdul:
            with self.assertRaisesRegex(InputError, r"t.fits, HDU COADD: .*'LINES'") as cm:
                fits_open.table_hdu(hdul, 1, path=self.path, extname="COADD")
        self.assertEqual(cm.exception.hdu, "COADD")

    def test_unnamed_table_at_index_is_accepted(self):
        path = _write_table_file(
            os.path.join(self.dir, "u.fits"), [fits.Column("A", "E", array=np.ones(2))]
        )
        with fits_open.open_fits(path) as hdul:
            self.assertIsNotNone(fits_open.table_hdu(hdul, 1, path=path, extname="COADD"))

    def test_image_is_not_a_table(self):
        path = os.path.join(self.dir, "image.fits")
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2)))]).writeto(path)
        with fits_open.open_fits(path) as hdul:
            with self.assertRaisesRegex(InputError, "image.fits, HDU 1: wrong HDU.*ImageHDU"):
                fits_open.table_hdu(hdul, 1, path=path)

    def test_columns(self):
        with fits_open.open_fits(self.path) as hdul:
            data = fits_open.read_table_data(hdul[1], path=self.path, hdu_label=1)
        flux = fits_open.read_column(data, "h_alpha_flux", path=self.path, hdu_label=1)
        self.assertEqual(flux.dtype, np.float64)
        self.assertAllClose(flux, [1.0, 2.0])
        names = fits_open.read_column(data, "name", path=self.path, hdu_label=1, dtype=None)
        self.assertEqual(list(names), ["a", "b"])

    def test_missing_column_lists_close_matches(self):
        with fits_open.open_fits(self.path) as hdul:
            data = fits_open.read_table_data(hdul[1], path=self.path, hdu_label=1)
        with self.assertRaisesRegex(
            InputError, r"t.fits, HDU 1, column 'H_ALPHA_EQW': .*closest.*H_ALPHA_FLUX"
        ) as cm:
            fits_open.read_column(data, "H_ALPHA_EQW", path=self.path, hdu_label=1)
        self.assertEqual(cm.exception.column, "H_ALPHA_EQW")

    def test_array_column_rejected(self):
        with fits_open.open_fits(self.path) as hdul:
            data = fits_open.read_table_data(hdul[1], path=self.path, hdu_label=1)
        with self.assertRaisesRegex(InputError, "column 'VECTOR'.*one value per row"):
            fits_open.read_column(data, "VECTOR", path=self.path, hdu_label=1)


class ObjectIdTest(tf.test.TestCase):
    def test_zero_padded_like_spec_file_names(self):
        self.assertEqual(fits_open.sdss_object_id(266, 51602, 1), "0266-51602-0001")
        self.assertEqual(fits_open.sdss_object_id(10000, 58000, 1000), "10000-58000-1000")

    def test_arrays(self):
        ids = fits_open.sdss_object_id(np.array([266, 3586]), [51602, 55181], np.int16([12, 640]))
        self.assertEqual(list(ids), ["0266-51602-0012", "3586-55181-0640"])


class MaskingTest(tf.test.TestCase):
    def test_invalid_values(self):
        values = np.array([1.0, -99.0, -999.0, -9999.0, -1234.5, np.nan, np.inf, 0.0, -3.0, -98.0])
        reasons = fits_open.invalid_values(values, positive=True)
        self.assertEqual(list(np.flatnonzero(reasons["sentinel"])), [1, 2, 3, 4])
        self.assertEqual(list(np.flatnonzero(reasons["non_finite"])), [5, 6])
        self.assertEqual(list(np.flatnonzero(reasons["non_positive"])), [7, 8, 9])
        signed = fits_open.invalid_values(values, positive=False)
        self.assertNotIn("non_positive", signed)

    def test_masked_counts(self):
        values, counts = fits_open.masked(np.float32([5.0, -999.0, np.nan, 0.0]), positive=True)
        self.assertEqual(counts, {"sentinel": 1, "non_finite": 1, "non_positive": 1})
        self.assertAllClose(values, [5.0, np.nan, np.nan, np.nan])
        values, _ = fits_open.masked(np.array([-5.0, -999.0]), positive=False)
        self.assertAllClose(values, [-5.0, np.nan])

    def test_mask_report(self):
        n = 3
        flux = np.ones((n, lines.NUM_LINES))
        flux[0, lines.line_index("H_ALPHA")] = np.nan
        flux[2, lines.line_index("H_ALPHA")] = np.nan
        table = lines.LineTable(
            object_id=["a", "b", "c"],
            redshift=[0.1, np.nan, 0.2],
            flux=flux,
            flux_err=np.ones((n, lines.NUM_LINES)),
            ew=np.ones((n, lines.NUM_LINES)),
            ew_err=np.ones((n, lines.NUM_LINES)),
        )
        report = fits_open.mask_report(table)
        self.assertLen(report, 1 + 4 * lines.NUM_LINES)
        self.assertEqual(report["REDSHIFT"], 1)
        self.assertEqual(report["H_ALPHA_FLUX"], 2)
        self.assertEqual(sum(report.values()), 3)
        self.assertEqual(
            list(report)[1:5],
            ["OII_3727_FLUX", "OII_3727_FLUX_ERR", "OII_3727_EW", "OII_3727_EW_ERR"],
        )


if __name__ == "__main__":
    tf.test.main()
