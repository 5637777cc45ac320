"""Tests for tfelg.io.sdss_spec on tiny spec-PLATE-MJD-FIBER.fits files."""

import dataclasses
import io
import os
import shutil

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from astropy.io import fits

from tfelg import lines, spectra
from tfelg.errors import InputError
from tfelg.io import sdss_spec
from tfelg.testing import fits_fixtures as ff


def _spzline(path):
    """{LINENAME: row} of the raw SPZLINE HDU."""
    with fits.open(path, memmap=False) as hdul:
        data = hdul["SPZLINE"].data
        return {
            str(name).strip(): {c: float(data[c][i]) for c in data.columns.names if c != "LINENAME"}
            for i, name in enumerate(data["LINENAME"])
        }


class ReadSpecFileTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.folder = os.path.join(self.dir, "spec")
        self.paths = ff.write_sdss_spec_folder(self.folder, n=3, seed=1)
        self.path = self.paths[2]  # fully measured

    def test_spectrum_and_specobj(self):
        spectrum = sdss_spec.read_spec_file(self.path)
        with fits.open(self.path) as hdul:
            coadd, specobj = hdul["COADD"].data, hdul["SPECOBJ"].data
            plate, mjd, fiber = (int(specobj[c][0]) for c in ("PLATE", "MJD", "FIBERID"))
            self.assertEqual(spectrum.object_id, f"{plate:04d}-{mjd:05d}-{fiber:04d}")
            self.assertEqual(os.path.basename(self.path), f"spec-{spectrum.object_id}.fits")
            self.assertAllClose(spectrum.redshift, specobj["Z"][0])
            self.assertAllClose(spectrum.flux, coadd["flux"])
            self.assertAllClose(spectrum.ivar, coadd["ivar"])
            self.assertAllEqual(spectrum.and_mask, coadd["and_mask"])
        self.assertEqual(spectrum.spec_class, "GALAXY")
        self.assertLen(spectrum.loglam, 3843)
        self.assertAllClose(spectrum.loglam[[0, -1]], [3.5798, 3.9640], atol=1e-6)
        self.assertEqual(spectrum.source, self.path)
        self.assertLen(spectrum.lines, 1)
        self.assertEqual(spectrum.lines.object_id[0], spectrum.object_id)
        self.assertAllClose(spectrum.lines.redshift[0], spectrum.redshift)

    def test_lines_mapped_from_spzline_names(self):
        table = sdss_spec.read_spec_file(self.path).lines
        raw = _spzline(self.path)
        for line, spz in (
            ("H_ALPHA", "H_alpha"),
            ("NII_6584", "[N_II] 6583"),
            ("SII_6717", "[S_II] 6716"),
            ("SII_6731", "[S_II] 6730"),
            ("OIII_5007", "[O_III] 5007"),
        ):
            self.assertAllClose(table.line(line, "flux")[0], raw[spz]["LINEAREA"], msg=line)
            self.assertAllClose(table.line(line, "flux_err")[0], raw[spz]["LINEAREA_ERR"])
            # LINEEW is emission-positive already: no sign change.
            self.assertAllClose(table.line(line, "ew")[0], raw[spz]["LINEEW"], msg=line)
            self.assertGreater(table.line(line, "ew")[0], 0)

    def test_oii_is_the_sum_of_3725_and_3727(self):
        table = sdss_spec.read_spec_file(self.path).lines
        a, b = (_spzline(self.path)[n] for n in ("[O_II] 3725", "[O_II] 3727"))
        self.assertAllClose(table.line("OII_3727", "flux")[0], a["LINEAREA"] + b["LINEAREA"])
        self.assertAllClose(
            table.line("OII_3727", "flux_err")[0], np.hypot(a["LINEAREA_ERR"], b["LINEAREA_ERR"])
        )
        self.assertAllClose(table.line("OII_3727", "ew")[0], a["LINEEW"] + b["LINEEW"])

    def test_not_measured_lines_are_nan(self):
        # File 0 is at z = 0.012: [O_II] falls blueward of the spectrum.
        self.assertLess(_spzline(self.paths[0])["[O_II] 3725"]["LINEAREA_ERR"], 0)
        oii = sdss_spec.read_spec_file(self.paths[0]).lines
        for quantity in ("flux", "flux_err", "ew", "ew_err"):
            self.assertTrue(np.isnan(oii.line("OII_3727", quantity)[0]), quantity)
        self.assertFalse(np.isnan(oii.line("H_ALPHA", "flux")[0]))
        # File 1 has [O_I] 6300 not measured.
        oi = sdss_spec.read_spec_file(self.paths[1]).lines
        self.assertTrue(np.isnan(oi.line("OI_6300", "flux")[0]))
        self.assertTrue(np.isnan(oi.line("OI_6300", "ew")[0]))

    def test_linename_whitespace_and_case_ignored(self):
        with fits.open(self.path) as hdul:
            names = np.array(
                ["  " + str(n).strip().lower() for n in hdul["SPZLINE"].data["LINENAME"]]
            )
        padded = ff.copy_with_column(
            self.path,
            os.path.join(self.dir, "padded", os.path.basename(self.path)),
            "LINENAME",
            names,
            hdu="SPZLINE",
            fits_format="16A",
        )
        expected = sdss_spec.read_spec_file(self.path).lines
        got = sdss_spec.read_spec_file(padded).lines
        self.assertAllClose(got.flux, expected.flux)
        self.assertAllClose(got.ew, expected.ew)

    def test_file_object_with_and_without_name(self):
        with open(self.path, "rb") as f:
            data = f.read()
        named = sdss_spec.read_spec_file(io.BytesIO(data), name=self.path)
        anonymous = sdss_spec.read_spec_file(io.BytesIO(data))
        self.assertEqual(named.object_id, anonymous.object_id)
        self.assertEqual(named.source, self.path)
        self.assertAllClose(named.lines.flux, anonymous.lines.flux)

    def test_id_from_file_name_when_specobj_lacks_it(self):
        dst = os.path.join(self.dir, "renamed", os.path.basename(self.path))
        ff.copy_without_column(self.path, dst, "FIBERID", hdu="SPECOBJ")
        expected = os.path.basename(self.path)[len("spec-") : -len(".fits")]
        self.assertEqual(sdss_spec.read_spec_file(dst).object_id, expected)

    def test_no_id_anywhere(self):
        dst = os.path.join(self.dir, "anonymous.fits")
        ff.copy_without_column(self.path, dst, "PLATE", hdu="SPECOBJ")
        with self.assertRaisesRegex(InputError, r"anonymous.fits, HDU SPECOBJ.*no object id"):
            sdss_spec.read_spec_file(dst)

    def test_file_name_disagrees_with_specobj(self):
        dst = os.path.join(self.dir, "spec-0999-55555-0001.fits")
        shutil.copy(self.path, dst)
        with self.assertRaisesRegex(InputError, r"spec-0999-55555-0001.fits, HDU SPECOBJ.*named"):
            sdss_spec.read_spec_file(dst)

    def test_case_insensitive_coadd_columns(self):
        dst = os.path.join(self.dir, "upper", os.path.basename(self.path))
        with fits.open(self.path, memmap=False) as hdul:
            for name in ("flux", "loglam", "ivar", "and_mask"):
                hdul["COADD"].columns.change_name(name, name.upper())
            os.makedirs(os.path.dirname(dst))
            hdul.writeto(dst)
        self.assertAllClose(
            sdss_spec.read_spec_file(dst).flux, sdss_spec.read_spec_file(self.path).flux
        )


class SpecFileErrorsTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.path = ff.write_sdss_spec_file(
            os.path.join(self.dir, "spec-0266-51602-0001.fits"), 266, 51602, 1, 0.1, seed=4
        )

    def _dst(self, name="spec-0266-51602-0001.fits"):
        folder = os.path.join(self.dir, "broken")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, name)

    @parameterized.parameters("COADD", "SPECOBJ", "SPZLINE")
    def test_missing_hdu(self, hdu):
        dst = ff.copy_without_hdu(self.path, self._dst(), hdu)
        with self.assertRaisesRegex(InputError, rf"broken/spec-0266-51602-0001.fits, HDU {hdu}:"):
            sdss_spec.read_spec_file(dst)

    def test_wrong_hdu_at_its_place(self):
        dst = ff.copy_with_hdu_renamed(self.path, self._dst(), 2, "ZBEST")
        with self.assertRaisesRegex(InputError, r"HDU SPECOBJ: HDU SPECOBJ not found.*'ZBEST'"):
            sdss_spec.read_spec_file(dst)

    def test_truncated_before_spzline(self):
        with fits.open(self.path) as hdul:
            spzline_start = hdul.fileinfo(3)["hdrLoc"]
        dst = ff.copy_truncated(self.path, self._dst(), keep_bytes=spzline_start)
        with self.assertRaisesRegex(InputError, r"spec-0266-51602-0001.fits, HDU SPZLINE: HDU"):
            sdss_spec.read_spec_file(dst)

    def test_image_instead_of_table(self):
        dst = ff.copy_with_image_hdu(self.path, self._dst(), "COADD")
        with self.assertRaisesRegex(InputError, r"HDU COADD: wrong HDU: expected a table"):
            sdss_spec.read_spec_file(dst)

    @parameterized.parameters(
        ("COADD", "ivar"),
        ("COADD", "and_mask"),
        ("COADD", "loglam"),
        ("SPECOBJ", "Z"),
        ("SPECOBJ", "CLASS"),
        ("SPZLINE", "LINENAME"),
        ("SPZLINE", "LINEAREA_ERR"),
        ("SPZLINE", "LINEEW"),
    )
    def test_missing_column(self, hdu, column):
        dst = ff.copy_without_column(self.path, self._dst(), column, hdu=hdu)
        with self.assertRaisesRegex(
            InputError, rf"spec-0266-51602-0001.fits, HDU {hdu}, column '{column}': required"
        ):
            sdss_spec.read_spec_file(dst)

    def test_missing_line_row(self):
        with fits.open(self.path) as hdul:
            names = [str(n).strip() for n in hdul["SPZLINE"].data["LINENAME"]]
        keep = [i for i, n in enumerate(names) if n != "H_alpha"]
        dst = ff.copy_with_rows(self.path, self._dst(), keep, hdu="SPZLINE")
        with self.assertRaisesRegex(InputError, r"HDU SPZLINE, column 'LINENAME': no row.*H_alpha"):
            sdss_spec.read_spec_file(dst)

    def test_duplicate_line_row(self):
        with fits.open(self.path) as hdul:
            names = np.array([str(n).strip() for n in hdul["SPZLINE"].data["LINENAME"]])
        names[names == "H_beta"] = "H_alpha"
        dst = ff.copy_with_column(self.path, self._dst(), "LINENAME", names, hdu="SPZLINE")
        with self.assertRaisesRegex(InputError, r"'H_alpha' appears twice"):
            sdss_spec.read_spec_file(dst)

    def test_unordered_wavelengths(self):
        with fits.open(self.path) as hdul:
            loglam = np.array(hdul["COADD"].data["loglam"])
        loglam[100] = loglam[99]
        dst = ff.copy_with_column(self.path, self._dst(), "loglam", loglam, hdu="COADD")
        with self.assertRaisesRegex(
            InputError, r"HDU COADD, column 'loglam', row 100: .*increasing"
        ):
            sdss_spec.read_spec_file(dst)

    def test_not_fits_and_missing(self):
        with self.assertRaisesRegex(InputError, "x.fits.*not a readable FITS"):
            sdss_spec.read_spec_file(ff.write_not_fits(self._dst("x.fits")))
        with self.assertRaisesRegex(InputError, "absent.fits.*not found"):
            sdss_spec.read_spec_file(self._dst("absent.fits"))

    def test_truncated_data(self):
        dst = ff.copy_truncated(self.path, self._dst())
        with self.assertRaisesRegex(InputError, r"spec-0266-51602-0001.fits, HDU 4: .*truncated"):
            sdss_spec.read_spec_file(dst)


class RestFrameTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.z = 0.1
        path = ff.write_sdss_spec_file(
            os.path.join(self.dir, "spec-0266-51602-0001.fits"), 266, 51602, 1, self.z, seed=5
        )
        self.spectrum = sdss_spec.read_spec_file(path)

    def test_on_the_common_grid(self):
        flux, ivar = sdss_spec.rest_frame_spectrum(self.spectrum)
        self.assertEqual(flux.shape, spectra.REST_LOGLAM.shape)
        self.assertEqual(ivar.dtype, np.float32)
        # H-alpha lands at its rest wavelength: the local peak near 6564.6 A.
        rest = 10**spectra.REST_LOGLAM
        window = np.abs(rest - 6564.61) < 20
        peak = rest[window][np.argmax(flux[window])]
        self.assertLess(abs(peak - lines.LINE_WAVELENGTHS["H_ALPHA"]), 3.0)

    def test_and_mask_pixels_get_no_weight(self):
        flagged = self.spectrum.and_mask != 0
        self.assertTrue(np.any(flagged & (self.spectrum.ivar > 0)))
        _, ivar = sdss_spec.rest_frame_spectrum(self.spectrum)
        _, ivar_unmasked = spectra.resample_to_rest_grid(
            self.spectrum.loglam, self.spectrum.flux, self.spectrum.ivar, self.z
        )
        sky_rest = 5578.5 / (1 + self.z)
        pixel = np.argmin(np.abs(10**spectra.REST_LOGLAM - sky_rest))
        self.assertEqual(ivar[pixel], 0.0)
        self.assertGreater(ivar_unmasked[pixel], 0.0)

    def test_missing_redshift(self):
        spectrum = dataclasses.replace(self.spectrum, redshift=float("nan"))
        with self.assertRaisesRegex(
            InputError, r"spec-0266-51602-0001.fits, HDU SPECOBJ, column 'Z'"
        ):
            sdss_spec.rest_frame_spectrum(spectrum)


class ReadSpecFolderTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.folder = os.path.join(self.dir, "spec")
        self.paths = ff.write_sdss_spec_folder(self.folder, n=3, seed=1)

    def test_reads_all_sorted(self):
        table, fluxes = sdss_spec.read_spec_folder(self.folder)
        self.assertLen(table, 3)
        self.assertEqual(fluxes.shape, (3, len(spectra.REST_LOGLAM)))
        self.assertEqual(fluxes.dtype, np.float32)
        for i, path in enumerate(self.paths):
            spectrum = sdss_spec.read_spec_file(path)
            self.assertEqual(table.object_id[i], spectrum.object_id)
            self.assertAllClose(table.flux[i], spectrum.lines.flux[0])
            self.assertAllClose(fluxes[i], sdss_spec.rest_frame_spectrum(spectrum)[0])
        self.assertEqual(list(table.object_id), sorted(table.object_id))
        self.assertEqual(table.source, self.folder)

    def test_other_files_skipped_with_warning(self):
        with open(os.path.join(self.folder, "README.txt"), "w") as f:
            f.write("downloaded from SAS\n")
        shutil.copy(self.paths[0], os.path.join(self.folder, "copy_of_spectrum.fits"))
        with self.assertLogs(logger="absl", level="WARNING") as logs:
            table, _ = sdss_spec.read_spec_folder(self.folder)
        self.assertLen(table, 3)
        text = "\n".join(logs.output)
        self.assertIn("README.txt", text)
        self.assertIn("copy_of_spectrum.fits", text)

    def test_sub_folders(self):
        sub = os.path.join(self.folder, "0270")
        ff.write_sdss_spec_file(os.path.join(sub, ff.spec_file_name(270, 51909, 5)), 270, 51909, 5)
        table, fluxes = sdss_spec.read_spec_folder(self.folder)
        self.assertLen(table, 4)
        self.assertIn("0270-51909-0005", table.object_id)

    def test_bad_file_is_an_error_naming_it(self):
        bad = os.path.join(self.folder, "spec-0300-51666-0001.fits")
        ff.copy_truncated(self.paths[1], bad)
        with self.assertRaisesRegex(InputError, "spec-0300-51666-0001.fits.*truncated"):
            sdss_spec.read_spec_folder(self.folder)

    def test_non_fits_spec_file_is_an_error(self):
        ff.write_not_fits(os.path.join(self.folder, "spec-0300-51666-0002.fits"))
        with self.assertRaisesRegex(InputError, "spec-0300-51666-0002.fits"):
            sdss_spec.read_spec_folder(self.folder)

    def test_same_object_twice(self):
        copy = os.path.join(self.folder, "again", os.path.basename(self.paths[0]))
        os.makedirs(os.path.dirname(copy))
        shutil.copy(self.paths[0], copy)
        with self.assertRaisesRegex(InputError, "already read"):
            sdss_spec.read_spec_folder(self.folder)

    def test_empty_missing_and_file_instead_of_folder(self):
        empty = self.create_tempdir().full_path
        with open(os.path.join(empty, "notes.txt"), "w") as f:
            f.write("x")
        with self.assertRaisesRegex(InputError, r"no spec-\*.fits files"):
            sdss_spec.read_spec_folder(empty)
        with self.assertRaisesRegex(InputError, "nowhere.*not found"):
            sdss_spec.read_spec_folder(os.path.join(self.dir, "nowhere"))
        with self.assertRaisesRegex(InputError, "found a file"):
            sdss_spec.read_spec_folder(self.paths[0])


if __name__ == "__main__":
    tf.test.main()
