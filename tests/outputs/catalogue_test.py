"""Tests for tfelg.outputs.catalogue: round trip through astropy, headers read back."""

import datetime
import os

import numpy as np
from absl.testing import absltest
from astropy.io import fits
from astropy.table import Table

from tfelg import schemes
from tfelg.errors import InputError
from tfelg.outputs import catalogue
from tfelg.synthetic.emission_lines import TRUE_CLASS_NAMES


def _inputs(n=12, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(k), size=n)
    return dict(
        object_id=np.array([f"spec-0266-51602-{i:04d}" for i in range(n)]),
        latent=rng.normal(size=(n, d)).astype(np.float32),
        tsne=rng.normal(size=(n, 2)),
        cluster=proba.argmax(1),
        cluster_proba=proba,
        whan=rng.integers(0, len(schemes.WHAN_NAMES), size=n).astype(np.int8),
        bpt=rng.integers(0, len(schemes.BPT_NAMES), size=n).astype(np.int8),
        redshift=rng.uniform(0.01, 0.3, size=n),
        true_class=rng.integers(0, len(TRUE_CLASS_NAMES), size=n).astype(np.int8),
    )


class WriteCatalogueTest(absltest.TestCase):
    def test_galaxies_outside_a_subsampled_map(self):
        path = os.path.join(self.create_tempdir().full_path, "vac.fits")
        inputs = _inputs()
        tsne = np.array(inputs["tsne"], dtype=np.float64)
        tsne[1] = np.nan
        inputs["tsne"] = tsne
        catalogue.write_catalogue(path, **inputs)
        table = Table.read(path, hdu=1)
        self.assertFalse(table["TSNE_MAPPED"][1])
        self.assertTrue(table["TSNE_MAPPED"][0])
        tsne[2, 0] = np.nan  # one coordinate only: an error naming the (first) row
        tsne[6, 1] = np.inf
        with self.assertRaisesRegex(InputError, "TSNE.*row 2"):
            catalogue.write_catalogue(path + "2", **inputs)

    def test_placed_galaxies_are_flagged(self):
        path = os.path.join(self.create_tempdir().full_path, "vac.fits")
        inputs = _inputs()
        tsne = np.array(inputs["tsne"], dtype=np.float64)
        tsne[1] = np.nan
        placed = np.zeros(12, bool)
        placed[[3, 7]] = True
        catalogue.write_catalogue(path, **{**inputs, "tsne": tsne}, tsne_placed=placed)
        table = Table.read(path, hdu=1)
        np.testing.assert_array_equal(np.asarray(table["TSNE_PLACED"]), placed)
        self.assertFalse(table["TSNE_MAPPED"][1])
        with fits.open(path) as hdul:
            comments = [v for k, v in hdul[1].header.items() if k.startswith("TCOMM")]
        self.assertTrue(any("openTSNE transform" in c for c in comments))
        placed[1] = True  # no coordinates, yet "placed"
        with self.assertRaisesRegex(InputError, "TSNE_PLACED.*row 1"):
            catalogue.write_catalogue(path, **{**inputs, "tsne": tsne}, tsne_placed=placed)
        with self.assertRaisesRegex(InputError, "TSNE_PLACED.*11 rows"):
            catalogue.write_catalogue(path, **{**inputs, "tsne": tsne}, tsne_placed=placed[:11])
        with self.assertRaisesRegex(InputError, "TSNE_PLACED.*without t-SNE"):
            catalogue.write_catalogue(path, **{**inputs, "tsne": None}, tsne_placed=placed)
        catalogue.write_catalogue(path + "2", **inputs)  # no flags given: no column
        self.assertNotIn("TSNE_PLACED", Table.read(path + "2", hdu=1).colnames)

    def test_imputed_coordinates_are_flagged(self):
        path = os.path.join(self.create_tempdir().full_path, "vac.fits")
        inputs = _inputs()
        imputed = np.zeros((12, 4), bool)
        imputed[[2, 5], [3, 0]] = True
        catalogue.write_catalogue(path, **inputs, latent_imputed=imputed)
        table = Table.read(path, hdu=1)
        np.testing.assert_array_equal(np.asarray(table["LATENT_IMPUTED"]), imputed)
        with fits.open(path) as hdul:
            comments = [v for k, v in hdul[1].header.items() if k.startswith("TCOMM")]
        self.assertTrue(any("not measured" in c for c in comments))
        catalogue.write_catalogue(
            path + "c", **inputs, latent_imputed=imputed, latent_as_columns=True
        )
        columns = Table.read(path + "c", hdu=1)
        np.testing.assert_array_equal(np.asarray(columns["LATENT_4_IMPUTED"]), imputed[:, 3])
        with self.assertRaisesRegex(InputError, "LATENT_IMPUTED.*expected \\(12, 4\\)"):
            catalogue.write_catalogue(path + "2", **inputs, latent_imputed=imputed[:, :3])
        with self.assertRaisesRegex(InputError, "LATENT_IMPUTED.*dtype"):
            catalogue.write_catalogue(path + "2", **inputs, latent_imputed=imputed.astype(float))
        catalogue.write_catalogue(path + "3", **inputs)  # not given: no column
        self.assertNotIn("LATENT_IMPUTED", Table.read(path + "3", hdu=1).colnames)

    def test_round_trip(self):
        path = os.path.join(self.create_tempdir().full_path, "vac.fits")
        inputs = _inputs()
        written = catalogue.write_catalogue(
            path, **inputs, extra_header={"MODEL": "vae", "run_id": "2024-01-01T00", "SEED": 7}
        )
        self.assertEqual(written, path)
        table = Table.read(path, hdu=1)
        self.assertEqual(
            table.colnames,
            [
                "OBJID",
                "Z",
                "LATENT",
                "TSNE_1",
                "TSNE_2",
                "TSNE_MAPPED",
                "CLUSTER",
                "CLUSTER_PROB",
                "WHAN",
                "WHAN_CODE",
                "BPT",
                "BPT_CODE",
                "TRUE_CLASS",
                "TRUE_CLASS_CODE",
            ],
        )
        self.assertEqual(list(table["OBJID"]), list(inputs["object_id"]))
        np.testing.assert_allclose(table["Z"], inputs["redshift"])
        self.assertEqual(table["LATENT"].shape, (12, 4))
        np.testing.assert_array_equal(table["LATENT"], inputs["latent"])
        np.testing.assert_allclose(table["TSNE_1"], inputs["tsne"][:, 0], rtol=1e-6)
        np.testing.assert_allclose(table["TSNE_2"], inputs["tsne"][:, 1], rtol=1e-6)
        np.testing.assert_array_equal(table["CLUSTER"], inputs["cluster"])
        self.assertEqual(table["CLUSTER_PROB"].shape, (12, 3))
        np.testing.assert_allclose(table["CLUSTER_PROB"], inputs["cluster_proba"], rtol=1e-6)
        # Every code column against its own input (the three code inputs
        # differ, so a column written from the wrong one fails here).
        self.assertTrue(np.any(inputs["whan"] != inputs["bpt"]))
        self.assertTrue(np.any(inputs["whan"] != inputs["true_class"]))
        for column, key in (
            ("WHAN_CODE", "whan"),
            ("BPT_CODE", "bpt"),
            ("TRUE_CLASS_CODE", "true_class"),
            ("CLUSTER", "cluster"),
        ):
            with self.subTest(column=column):
                self.assertEqual(table[column].tolist(), inputs[key].tolist())
        self.assertEqual(list(table["WHAN"]), [schemes.WHAN_NAMES[c] for c in inputs["whan"]])
        self.assertEqual(list(table["BPT"]), [schemes.BPT_NAMES[c] for c in inputs["bpt"]])
        self.assertEqual(
            list(table["TRUE_CLASS"]), [TRUE_CLASS_NAMES[c] for c in inputs["true_class"]]
        )
        # Fractions, not percent.
        np.testing.assert_allclose(np.sum(table["CLUSTER_PROB"], axis=1), 1.0, rtol=1e-6)
        with fits.open(path) as hdus:
            header = hdus[0].header
            self.assertEqual(hdus[1].name, "VACAT")
            self.assertEqual(header["MODEL"], "vae")
            self.assertEqual(header["RUN_ID"], "2024-01-01T00")
            self.assertEqual(header["SEED"], 7)
            self.assertEqual(header["NOBJ"], 12)
            self.assertEqual(header["NLATENT"], 4)
            self.assertEqual(header["NCLUSTER"], 3)
            self.assertTrue(header["CREATOR"].startswith("tfelg"))

    def test_headers_comments_date_and_provenance(self):
        path = os.path.join(self.create_tempdir().full_path, "vac.fits")
        inputs = _inputs()
        inputs["tsne"][3] = np.nan
        catalogue.write_catalogue(
            path, **inputs, extra_header={"MODEL": "vae", "REPRESENTATION": "vae", "SEED": 7}
        )
        with fits.open(path) as hdus:
            header = hdus["VACAT"].header
            names = [header[f"TTYPE{i}"] for i in range(1, header["TFIELDS"] + 1)]
            comments = {name: header.get(f"TCOMM{i}") for i, name in enumerate(names, 1)}
            units = {name: header.get(f"TUNIT{i}") for i, name in enumerate(names, 1)}
            # Provenance where TOPCAT and STILTS show it (the table HDU), and
            # still in the primary header.
            for hdu in hdus:
                with self.subTest(hdu=hdu.name):
                    for key, value in (("MODEL", "vae"), ("REPRESENTATION", "vae"), ("SEED", 7)):
                        self.assertEqual(hdu.header[key], value)
                    self.assertEqual(hdu.header["NOBJ"], 12)
                    self.assertEqual(hdu.header["NCLUSTER"], 3)
                    self.assertEqual(hdu.header["NLATENT"], 4)
                    self.assertTrue(hdu.header["HASTSNE"])
                    self.assertTrue(hdu.header["CREATOR"].startswith("tfelg "))
                    written = datetime.datetime.fromisoformat(hdu.header["DATE"])
                    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
                    self.assertLess(abs((now - written).total_seconds()), 3600)
        self.assertEqual(
            {name for name, comment in comments.items() if not comment}, set(), comments
        )
        # Every quantity in the catalogue is dimensionless: no invented units.
        self.assertEqual({name: unit for name, unit in units.items() if unit}, {})
        self.assertIn("fraction", comments["CLUSTER_PROB"])
        self.assertIn("TSNE_MAPPED", comments["TSNE_1"])
        # The code columns' comments give the whole mapping, read back here
        # whole although longer than one 80-column card (CONTINUE).
        for column, class_names in (
            ("WHAN_CODE", schemes.WHAN_NAMES),
            ("BPT_CODE", schemes.BPT_NAMES),
            ("TRUE_CLASS_CODE", TRUE_CLASS_NAMES),
        ):
            with self.subTest(column=column):
                mapping = comments[column].split(" code: ", 1)[1]
                self.assertEqual(
                    mapping, ", ".join(f"{i}={name}" for i, name in enumerate(class_names))
                )
        self.assertGreater(len(comments["WHAN_CODE"]), 68)

    def test_optional_columns_and_scalar_latents(self):
        path = os.path.join(self.create_tempdir().full_path, "minimal.fits")
        inputs = _inputs(d=3)
        inputs.update(tsne=None, redshift=None, true_class=None, object_id=np.arange(12) + 10**15)
        catalogue.write_catalogue(path, **inputs, latent_as_columns=True)
        table = Table.read(path, hdu=1)
        for absent in ("Z", "TSNE_1", "TRUE_CLASS", "LATENT"):
            self.assertNotIn(absent, table.colnames)
        self.assertEqual(
            [c for c in table.colnames if c.startswith("LATENT_")],
            ["LATENT_1", "LATENT_2", "LATENT_3"],
        )
        np.testing.assert_array_equal(table["LATENT_2"], inputs["latent"][:, 1])
        np.testing.assert_array_equal(table["OBJID"], np.arange(12) + 10**15)
        with fits.open(path) as hdus:
            header = hdus[1].header
            comments = {header[f"TTYPE{i}"]: header[f"TCOMM{i}"] for i in range(1, 4)}
        self.assertEqual(comments["LATENT_2"], "latent coordinate 2 (posterior mean)")

    def test_the_smallest_catalogue_and_object_ids(self):
        # One galaxy, one latent dimension, one cluster; ids as Python objects.
        path = os.path.join(self.create_tempdir().full_path, "one.fits")
        inputs = _inputs(n=1, d=1, k=1)
        inputs["object_id"] = np.array(["spec-0266-51602-0001"], dtype=object)
        catalogue.write_catalogue(path, **inputs)
        table = Table.read(path, hdu=1)
        self.assertEqual(list(table["OBJID"]), ["spec-0266-51602-0001"])
        # FITS reads a vector of length 1 (TFORM 1E) back as a scalar.
        self.assertEqual(np.ravel(table["CLUSTER_PROB"]).tolist(), [1.0])
        self.assertEqual(np.ravel(table["LATENT"]).tolist(), [inputs["latent"][0, 0]])

    def test_overwrite(self):
        path = os.path.join(self.create_tempdir().full_path, "twice.fits")
        catalogue.write_catalogue(path, **_inputs())
        with self.assertRaises(FileExistsError):
            catalogue.write_catalogue(path, **_inputs())
        catalogue.write_catalogue(path, **_inputs(n=5), overwrite=True)
        self.assertLen(Table.read(path, hdu=1), 5)

    def test_bad_shapes_name_the_column(self):
        path = os.path.join(self.create_tempdir().full_path, "bad.fits")
        cases = {
            "OBJID": dict(object_id=np.array([], dtype=str)),
            "LATENT": dict(latent=np.zeros((11, 4))),
            "CLUSTER_PROB": dict(cluster_proba=np.zeros(12)),
            "TSNE": dict(tsne=np.zeros((12, 3))),
            "CLUSTER": dict(cluster=np.zeros(13, dtype=int)),
            "WHAN": dict(whan=np.full(12, 99)),
            "BPT": dict(bpt=np.zeros(12)),  # Floats are not codes.
            "Z": dict(redshift=np.zeros((12, 2))),
            "TRUE_CLASS": dict(true_class=np.full(12, -1)),
        }
        for column, override in cases.items():
            with self.subTest(column=column):
                with self.assertRaisesRegex(InputError, f"column '{column}'"):
                    catalogue.write_catalogue(path, **{**_inputs(), **override})
        messages = {
            "no objects": dict(object_id=np.array([], dtype=str)),
            "has 11 rows, expected 12": dict(latent=np.zeros((11, 4))),
            "has no dimensions": dict(latent=np.zeros((12, 0))),
            "has no clusters": dict(cluster_proba=np.zeros((12, 0))),
        }
        for message, override in messages.items():
            with self.subTest(message=message):
                with self.assertRaisesRegex(InputError, message):
                    catalogue.write_catalogue(path, **{**_inputs(), **override})
        latent = _inputs()["latent"]
        latent[5, 0] = np.nan
        latent[8, 3] = np.inf
        with self.assertRaisesRegex(ValueError, "column 'LATENT', row 5"):
            catalogue.write_catalogue(path, **{**_inputs(), "latent": latent})
        self.assertFalse(os.path.exists(path))

    def test_codes_one_past_the_end_name_the_column_and_row(self):
        # The first out-of-range value is at row 4; one past the last valid
        # code (a cluster code equal to K, WHAN or BPT code 7) must be an
        # InputError, not a silent row or a raw IndexError.
        path = os.path.join(self.create_tempdir().full_path, "bad.fits")
        inputs = _inputs(k=3)
        cases = {
            "CLUSTER": ("cluster", 3),
            "WHAN": ("whan", len(schemes.WHAN_NAMES)),
            "BPT": ("bpt", len(schemes.BPT_NAMES)),
            "TRUE_CLASS": ("true_class", len(TRUE_CLASS_NAMES)),
        }
        for column, (key, bad) in cases.items():
            for value in (bad, -1):
                with self.subTest(column=column, value=value):
                    codes = np.array(inputs[key], dtype=np.int64)
                    codes[4] = value
                    codes[9] = value
                    with self.assertRaisesRegex(
                        InputError, rf"column '{column}', row 4: codes must lie in \[0, "
                    ):
                        catalogue.write_catalogue(path, **{**inputs, key: codes})
        # The last valid codes are accepted.
        top = {key: np.full(12, bad - 1) for key, bad in cases.values()}
        catalogue.write_catalogue(path, **{**inputs, **top})
        self.assertEqual(Table.read(path, hdu=1)["CLUSTER"].tolist(), [2] * 12)

    def test_probabilities_are_fractions_summing_to_one(self):
        path = os.path.join(self.create_tempdir().full_path, "bad.fits")
        inputs = _inputs(k=3)
        percent = inputs["cluster_proba"].copy()
        percent[7:] *= 100
        with self.assertRaisesRegex(InputError, "CLUSTER_PROB', row 7: .*not percent"):
            catalogue.write_catalogue(path, **{**inputs, "cluster_proba": percent})
        halved = inputs["cluster_proba"].copy()
        halved[[7, 9]] /= 2  # in [0, 1] but not a distribution
        with self.assertRaisesRegex(InputError, "CLUSTER_PROB', row 7: .*sum to 1, got 0.5"):
            catalogue.write_catalogue(path, **{**inputs, "cluster_proba": halved})
        # Rounding of 1e-6 either side of [0, 1] is accepted, 2e-6 is not.
        for row in ([1 + 2e-6, 0.0, 0.0], [-2e-6, 0.5 + 1e-6, 0.5 + 1e-6]):
            with self.subTest(row=row):
                bad = inputs["cluster_proba"].copy()
                bad[3] = row
                with self.assertRaisesRegex(InputError, "CLUSTER_PROB', row 3: .*fractions"):
                    catalogue.write_catalogue(path, **{**inputs, "cluster_proba": bad})
        self.assertFalse(os.path.exists(path))
        edges = inputs["cluster_proba"].copy()
        edges[3] = [1.0, 0.0, 0.0]
        edges[4] = [1 + 1e-6, -1e-6, 0.0]
        catalogue.write_catalogue(path, **{**inputs, "cluster_proba": edges}, overwrite=True)
        self.assertEqual(Table.read(path, hdu=1)["CLUSTER_PROB"][3].tolist(), [1.0, 0.0, 0.0])
        # float32 rounding of a true posterior is accepted.
        catalogue.write_catalogue(
            path,
            **{**inputs, "cluster_proba": inputs["cluster_proba"].astype(np.float32)},
            overwrite=True,
        )


if __name__ == "__main__":
    absltest.main()
