"""Tests for tfelg.outputs.catalogue: round trip through astropy."""

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
        tsne[2, 0] = np.nan  # one coordinate only: an error naming the row
        with self.assertRaisesRegex(InputError, "TSNE.*row 2"):
            catalogue.write_catalogue(path + "2", **inputs)

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
        np.testing.assert_array_equal(table["WHAN_CODE"], inputs["whan"])
        self.assertEqual(list(table["WHAN"]), [schemes.WHAN_NAMES[c] for c in inputs["whan"]])
        self.assertEqual(list(table["BPT"]), [schemes.BPT_NAMES[c] for c in inputs["bpt"]])
        self.assertEqual(
            list(table["TRUE_CLASS"]), [TRUE_CLASS_NAMES[c] for c in inputs["true_class"]]
        )
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
        latent = _inputs()["latent"]
        latent[5, 0] = np.nan
        with self.assertRaisesRegex(ValueError, "column 'LATENT', row 5"):
            catalogue.write_catalogue(path, **{**_inputs(), "latent": latent})
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    absltest.main()
