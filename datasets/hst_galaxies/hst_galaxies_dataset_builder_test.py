"""TFDS conformance of hst_galaxies (one class per config), alignment and bad input.

``dummy_data/candels/`` holds tiny mosaics and a catalogue in the real
CANDELS formats, written by ``python scripts/make_hst_fixtures.py
--output_dir=datasets/hst_galaxies/dummy_data``: seven galaxies pass the
cuts, seven rows are skipped (one per cut, off the mosaic, near its edge, on
a NaN patch). Split sizes follow from the md5 split of the object ids.
"""

import contextlib
import io
import os
import shutil
import tempfile

import numpy as np
import tensorflow_datasets as tfds
from astropy.io import fits

from tfelg import schemes
from tfelg.errors import InputError
from tfelg.io import mosaics
from tfelg.synthetic import hst_galaxies as hst
from tfelg.testing import hst_fixtures
from tfelg_datasets.hst_galaxies import hst_galaxies_dataset_builder as builder_lib

DUMMY = os.path.join(os.path.dirname(__file__), "dummy_data")


class SyntheticConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        builder_lib.HstGalaxiesConfig(name="synthetic_tiny", num_galaxies=16, seed=0)
    ]
    SPLITS = {"train": 14, "validation": 1, "test": 1}
    SKIP_CHECKSUMS = True


class CandelsConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["candels"]
    SPLITS = {"train": 5, "validation": 1, "test": 1}
    SKIP_CHECKSUMS = True


class HubbleDeepFieldConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        builder_lib.HstGalaxiesConfig(
            name="hubble_deep_field_tiny", source="hubble_deep_field", max_sources=35
        )
    ]
    SPLITS = {"train": 32, "validation": 1, "test": 2}
    SKIP_CHECKSUMS = True


def _build(config, manual_dir, data_dir):
    builder = builder_lib.Builder(config=config, data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
    )
    return builder


def _all(builder):
    parts = [tfds.as_numpy(builder.as_dataset(split=s, batch_size=-1)) for s in builder.info.splits]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class AlignmentTest(tfds.testing.TestCase):
    def test_planted_galaxy_is_centred_in_its_cutout_in_all_bands(self):
        """A galaxy planted at a known RA/DEC comes out at the stamp centre, every band."""
        from astropy.wcs import WCS

        wcs = WCS(hst_fixtures.mosaic_header("F160W"))
        sky = wcs.pixel_to_world(*hst_fixtures.ALIGN_PIXEL)
        folder = os.path.join(DUMMY, "candels")
        for band in mosaics.BANDS:
            path = os.path.join(folder, hst_fixtures.FILE_NAMES[band])
            with mosaics.open_mosaic(path, band) as mosaic:
                stamp, where, in_stamp = mosaics.cutout(mosaic, sky.ra.deg, sky.dec.deg, 64)
            np.testing.assert_allclose(where, hst_fixtures.ALIGN_PIXEL, atol=1e-6)
            centre = stamp[24:40, 24:40].astype(np.float64)
            weights = np.clip(centre, 0, None)
            yy, xx = np.mgrid[24:40, 24:40]
            cx, cy = (weights * xx).sum() / weights.sum(), (weights * yy).sum() / weights.sum()
            self.assertAlmostEqual(cx, in_stamp[0], delta=0.5, msg=band)
            self.assertAlmostEqual(cy, in_stamp[1], delta=0.5, msg=band)
            self.assertAlmostEqual(in_stamp[0], 31.5, delta=1.0)
            self.assertAlmostEqual(in_stamp[1], 31.5, delta=1.0)

    def test_stored_example_is_the_planted_galaxy(self):
        builder = _build("candels", DUMMY, self.tmp_dir)
        data = _all(builder)
        ids = data["object_id"].astype(str)
        i = list(ids).index(f"CANDELS-{hst_fixtures.ALIGN_ID}")
        self.assertAlmostEqual(float(data["x"][i]), hst_fixtures.ALIGN_PIXEL[0], places=3)
        self.assertAlmostEqual(float(data["y"][i]), hst_fixtures.ALIGN_PIXEL[1], places=3)
        yy, xx = np.mgrid[24:40, 24:40]
        for b in range(3):  # light centroid of the central 16 x 16 pixels, every band
            w = np.clip(data["image"][i][24:40, 24:40, b], 0, None)
            self.assertAlmostEqual((w * xx).sum() / w.sum(), 31.5, delta=1.0)
            self.assertAlmostEqual((w * yy).sum() / w.sum(), 31.5, delta=1.0)
        # Fluxes are nJy: the planted galaxy's F160W stamp sum is its catalogue H (within 10 %).
        with fits.open(os.path.join(DUMMY, "candels", hst_fixtures.CATALOGUE_NAME)) as hdul:
            row = hdul[1].data[hdul[1].data["ID"] == hst_fixtures.ALIGN_ID][0]
        expected = 10 ** (-0.4 * (row["Hmag"] - 31.4)) * 6.0  # planted 6x brighter than listed
        self.assertAlmostEqual(data["image"][i][:, :, 2].sum() / expected, 1.0, delta=0.1)
        # UVJ from the catalogue's rest-frame colours.
        np.testing.assert_array_equal(
            data["uvj"], schemes.uvj_class(data["u_minus_v"], data["v_minus_j"], data["redshift"])
        )


class BadInputTest(tfds.testing.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._template = tempfile.mkdtemp()
        shutil.copytree(os.path.join(DUMMY, "candels"), os.path.join(cls._template, "candels"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._template)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.manual = os.path.join(self.tmp_dir, "manual")
        shutil.copytree(self._template, self.manual)
        self.folder = os.path.join(self.manual, "candels")

    def _path(self, band):
        return os.path.join(self.folder, hst_fixtures.FILE_NAMES[band])

    def _rewrite_header(self, band, **cards):
        with fits.open(self._path(band)) as hdul:
            data, header = hdul[0].data.copy(), hdul[0].header.copy()
        for key, value in cards.items():
            if value is None:
                del header[key]
            else:
                header[key] = value
        fits.PrimaryHDU(data, header=header).writeto(self._path(band), overwrite=True)

    def _prepare(self, config="candels"):
        _build(config, self.manual, os.path.join(self.tmp_dir, "data"))

    def test_missing_band(self):
        os.remove(self._path("F850LP"))
        with self.assertRaisesRegex(InputError, "no F850LP mosaic"):
            self._prepare()

    def test_bands_on_different_grids(self):
        self._rewrite_header("F160W", CRPIX1=100.0)
        with self.assertRaisesRegex(InputError, "F160W.*different WCS.*reproject"):
            self._prepare()

    def test_band_with_other_shape(self):
        with fits.open(self._path("F435W")) as hdul:
            data, header = hdul[0].data[:300].copy(), hdul[0].header.copy()
        fits.PrimaryHDU(data, header=header).writeto(self._path("F435W"), overwrite=True)
        with self.assertRaisesRegex(InputError, "shape"):
            self._prepare()

    def test_image_without_wcs(self):
        self._rewrite_header("F435W", CTYPE1=None, CTYPE2=None)
        with self.assertRaisesRegex(InputError, "f435w.*no celestial WCS"):
            self._prepare()

    def test_no_photometric_calibration(self):
        self._rewrite_header("F850LP", PHOTFLAM=None)
        with self.assertRaisesRegex(InputError, "f850l.*no photometric calibration"):
            self._prepare()

    def test_truncated_mosaic(self):
        path = self._path("F160W")
        with open(path, "rb") as f:
            content = f.read()
        with open(path, "wb") as f:
            f.write(content[: len(content) // 2])
        with self.assertRaisesRegex(InputError, "f160w.*truncated"):
            self._prepare()

    def test_empty_selection_after_cuts(self):
        config = builder_lib.HstGalaxiesConfig(
            name="candels_bright", source="candels", max_hmag=10.0
        )
        with self.assertRaisesRegex(InputError, "no object left after the selection cuts.*H >= 10"):
            self._prepare(config)

    def test_all_zero_and_nan_cutouts_are_skipped_and_counted(self):
        # Blank the F850LP pixels under object 1003 (stamp box at x0 = 120, y0 = 30).
        with fits.open(self._path("F850LP")) as hdul:
            data, header = hdul[0].data.copy(), hdul[0].header.copy()
        data[30:94, 120:184] = 0.0
        fits.PrimaryHDU(data, header=header).writeto(self._path("F850LP"), overwrite=True)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            builder = _build("candels", self.manual, os.path.join(self.tmp_dir, "data"))
        self.assertIn("6 of 14 catalogue objects kept", printed.getvalue())
        self.assertIn("all_zero 1", printed.getvalue())
        self.assertIn("nan_pixels 1", printed.getvalue())
        self.assertIn("off_mosaic 1", printed.getvalue())
        self.assertIn("near_edge 1", printed.getvalue())
        ids = set(_all(builder)["object_id"].astype(str))
        self.assertNotIn("CANDELS-1003", ids)
        self.assertNotIn("CANDELS-2006", ids)  # on the F435W NaN patch

    def test_catalogue_without_redshift_column(self):
        path = os.path.join(self.folder, hst_fixtures.CATALOGUE_NAME)
        with fits.open(path) as hdul:
            table = hdul[1].data
            cols = [c for c in hdul[1].columns if c.name != "zbest"]
            hdu = fits.BinTableHDU.from_columns(fits.ColDefs(cols), nrows=len(table))
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
        with self.assertRaisesRegex(InputError, "column 'zbest'"):
            self._prepare()


class SyntheticLabelsTest(tfds.testing.TestCase):
    def test_labels_are_the_schemes_of_the_stored_values(self):
        config = builder_lib.HstGalaxiesConfig(name="synthetic_labels", num_galaxies=20, seed=4)
        data = _all(_build(config, None, self.tmp_dir))
        np.testing.assert_array_equal(
            data["uvj"], schemes.uvj_class(data["u_minus_v"], data["v_minus_j"], data["redshift"])
        )
        np.testing.assert_array_equal(
            data["gini_m20"], schemes.gini_m20_class(data["gini"], data["m20"])
        )
        self.assertEqual(data["image"].shape[1:], (64, 64, 3))
        self.assertGreater(len(np.unique(data["true_type"])), 3)
        unknown = builder_lib.TRUE_TYPE_NAMES.index("unknown")
        self.assertFalse(np.any(data["true_type"] == unknown))
        self.assertTrue(np.all(np.isnan(data["ra"])))
        self.assertLen(hst.BANDS, 3)


class SersicOptionTest(tfds.testing.TestCase):
    def test_sersic_is_fitted_only_when_asked_and_changes_nothing_else(self):
        """Default: no Sersic fit (sersic_n NaN, untrusted); `sersic=True` fits it, same Gini."""
        data_dir = self.create_tempdir().full_path
        made = {}
        for sersic in (False, True):
            config = builder_lib.HstGalaxiesConfig(
                name=f"synthetic_n10_sersic{int(sersic)}", num_galaxies=10, seed=1, sersic=sersic
            )
            builder = builder_lib.Builder(config=config, data_dir=data_dir)
            made[sersic] = builder._morphology(builder._synthetic_rows())
        self.assertTrue(np.all(np.isnan(made[False]["sersic_n"])))
        self.assertFalse(made[False]["trust_sersic"].any())
        self.assertGreater(np.isfinite(made[True]["sersic_n"]).sum(), 5)
        for name in ("gini", "m20", "concentration", "rhalf_circ", "trust_nonparametric"):
            np.testing.assert_array_equal(made[False][name], made[True][name], err_msg=name)
        names = {c.name: c for c in builder_lib.Builder.BUILDER_CONFIGS}
        self.assertFalse(names["synthetic"].sersic)
        self.assertTrue(names["synthetic_sersic"].sersic)


if __name__ == "__main__":
    tfds.testing.test_main()
