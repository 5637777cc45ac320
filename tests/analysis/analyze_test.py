"""The whole analysis of one representation, on planted clusters."""

import json
import os

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg import schemes
from tfelg.analysis import analyze
from tfelg.analysis.embeddings import Embeddings, default_class_names


def planted_embeddings(n=600, seed=0) -> Embeddings:
    """Three well-separated 2-D blobs that are exactly three WHAN classes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, size=n)
    centres = np.array([[-6.0, 0.0], [6.0, 0.0], [0.0, 8.0]])
    latent = centres[truth] + rng.normal(size=(n, 2))
    whan = np.array(
        [schemes.WHAN["star_forming"], schemes.WHAN["strong_agn"], schemes.WHAN["retired"]]
    )[truth]
    bpt = np.array([schemes.BPT["star_forming"], schemes.BPT["seyfert"], schemes.BPT["low_sn"]])[
        truth
    ]
    split = np.array(["train", "validation", "test"])[rng.choice(3, size=n, p=[0.6, 0.1, 0.3])]
    return Embeddings(
        object_id=np.array([f"G{i:05d}" for i in range(n)]),
        split=split,
        latent=latent,
        redshift=rng.uniform(0.02, 0.2, size=n),
        labels={"whan": whan, "bpt": bpt, "true_class": truth},
        class_names=default_class_names(["a", "b", "c", "unknown"]),
        representation="planted",
    )


class AnalyzeEmbeddingsTest(absltest.TestCase):
    def test_recovers_planted_classes_and_writes_everything(self):
        emb = planted_embeddings()
        out = self.create_tempdir().full_path
        config = analyze.AnalysisConfig(
            k_max=5, gap_references=3, n_bootstrap=20, tsne_n_iter=250, tsne_perplexity=20
        )
        summary = analyze.analyze_embeddings(emb, out, config, log=lambda _: None)

        self.assertEqual(summary["chosen_k"]["bic"], 3)
        self.assertEqual(summary["n_clusters"], 3)
        whan = summary["comparisons"]["whan"]
        self.assertAlmostEqual(whan["match"]["accuracy"], 1.0, places=2)
        self.assertGreater(whan["match"]["ari"], 0.95)
        # BPT: the low-S/N blob is left out and counted, the rest match.
        bpt = summary["comparisons"]["bpt"]["match"]
        self.assertGreater(bpt["ignored_counts"]["low_sn"], 0)
        # Scored on the test split only.
        n_test = int(np.sum(emb.split == "test"))
        self.assertEqual(int(np.sum(whan["match"]["contingency"])), n_test)

        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["n_clusters"], 3)
        for path in summary["figures"].values():
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with fits.open(summary["catalogue"]) as hdul:
            data = hdul[1].data
            self.assertLen(data, len(emb))
            np.testing.assert_allclose(data["CLUSTER_PROB"].sum(axis=1), 1.0, atol=1e-5)
            self.assertTrue(np.all(np.isfinite(data["TSNE_1"])))
        self.assertTrue(os.path.exists(os.path.join(out, "projector", "projector_config.pbtxt")))

        row = analyze.headline(summary)
        self.assertEqual(row["k_bic"], 3)
        self.assertIn("| planted | 2 | 3 |", analyze.results_table([row]))

    def test_nan_embeddings_are_refused_with_the_row(self):
        emb = planted_embeddings(n=60)
        emb.latent[7, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "1 of 60 galaxies.*row 7.*G00007"):
            analyze.analyze_embeddings(emb, self.create_tempdir().full_path)

    def test_bad_config(self):
        with self.assertRaisesRegex(ValueError, "k_max"):
            analyze.AnalysisConfig(k_max=1)
        with self.assertRaisesRegex(ValueError, "covariance_type"):
            analyze.AnalysisConfig(covariance_type="spherical")
        # Below 2 resamples the bootstrap fails, which infer_classes would
        # read as "nothing to compare" and drop every comparison silently.
        for n_bootstrap in (1, 0, -5):
            with self.assertRaisesRegex(ValueError, "n_bootstrap must be >= 2"):
                analyze.AnalysisConfig(n_bootstrap=n_bootstrap)


class EmbeddingsTest(absltest.TestCase):
    def test_save_load_round_trip(self):
        emb = planted_embeddings(n=50)
        path = os.path.join(self.create_tempdir().full_path, "e.npz")
        emb.save(path)
        back = Embeddings.load(path)
        np.testing.assert_array_equal(back.latent, emb.latent)
        np.testing.assert_array_equal(back.object_id, emb.object_id)
        np.testing.assert_array_equal(back.labels["whan"], emb.labels["whan"])
        self.assertEqual(back.class_names, emb.class_names)
        self.assertEqual(back.for_split("test").latent.shape[0], int(np.sum(emb.split == "test")))


if __name__ == "__main__":
    absltest.main()
