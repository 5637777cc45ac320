"""tfelg-embed and tfelg.analysis.image_embeddings: image features in the analysis' format.

One tiny hst_galaxies/synthetic dataset (GalSim + statmorph, ~1-2 minutes on
a loaded 2-core machine) is built once in a temporary data_dir; each test
embeds it and, in one, runs the emission-line analysis on the result.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
from absl.testing import absltest

from tfelg.analysis import analyze, image_embeddings
from tfelg.analysis.embeddings import Embeddings
from tfelg.errors import InputError

DATASET = "hst_galaxies/synthetic"
N = 100


def quick_analysis():
    return analyze.AnalysisConfig(
        k_max=4,
        gap_references=2,
        gap_n_init=2,
        n_bootstrap=5,
        tsne_perplexity=5.0,
        tsne_n_iter=100,
        tsne_early_exaggeration_iter=50,
    )


class EmbedTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="tfelg_embed_test_")
        cls.data_dir = os.path.join(cls.tmp, "tfds")
        cls.splits, cls.class_names = image_embeddings.load_image_splits(
            DATASET, cls.data_dir, num_galaxies=N, seed=0
        )

    def test_small_resnet_embedded_and_analysed_unchanged(self):
        out = os.path.join(self.tmp, "small_resnet.npz")
        analysis_dir = os.path.join(self.tmp, "small_resnet_analysis")
        config = image_embeddings.EmbedConfig(representation="small_resnet", reduce_dim=6)
        result = image_embeddings.embed_dataset(
            DATASET,
            out,
            config,
            data_dir=self.data_dir,
            num_galaxies=N,
            dataset_seed=0,
            analysis_dir=analysis_dir,
            analysis_config=quick_analysis(),
            log=lambda _: None,
        )
        emb = Embeddings.load(out)
        self.assertEqual(emb.representation, "small_resnet_random")
        self.assertEqual(result["latent_dim"], 6)
        self.assertEqual(emb.latent.shape, (N, 6))
        self.assertEqual(sorted(emb.labels), ["gini_m20", "true_type", "uvj"])
        self.assertEqual(emb.class_names["uvj"], ["star_forming", "quiescent", "unclassified"])
        ids = np.concatenate([self.splits[s]["object_id"] for s in ("train", "validation", "test")])
        np.testing.assert_array_equal(emb.object_id, ids.astype(str))
        true_type = np.concatenate(
            [self.splits[s]["true_type"] for s in ("train", "validation", "test")]
        )
        np.testing.assert_array_equal(emb.labels["true_type"], true_type)
        self.assertEqual(emb.info["features_before_pca"], 256)
        self.assertEqual(emb.info["preprocessing"]["kind"], "bands")
        # The analysis: clusters of every galaxy, matched to the image schemes on test.
        summary = result["analysis"]
        rep = os.path.join(analysis_dir, "small_resnet_random")
        with np.load(os.path.join(rep, "clusters.npz")) as z:
            self.assertEqual(z["cluster"].shape, (N,))
        row = summary["results"][0]
        for scheme in ("true_type", "uvj"):
            self.assertBetween(row[f"{scheme}_accuracy"], 0.0, 1.0)
            self.assertIn(f"{scheme}_ari", row)
        with open(os.path.join(analysis_dir, "results.md"), encoding="utf-8") as f:
            self.assertIn("true_type accuracy", f.read())
        for name in ("tsne_true_type.png", "clusters_vs_true_type.png", "contingency_uvj.png"):
            self.assertTrue(os.path.isfile(os.path.join(rep, "figures", name)), name)
        from astropy.table import Table

        table = Table.read(os.path.join(rep, "catalogue.fits"))
        self.assertContainsSubset({"TRUE_TYPE", "UVJ_CODE", "GINI_M20", "CLUSTER"}, table.colnames)
        self.assertNotIn("WHAN", table.colnames)
        with open(os.path.join(rep, "projector", "metadata.tsv"), encoding="utf-8") as f:
            header = f.readline().strip().split("\t")
        self.assertEqual(header[:4], ["id", "true_type", "uvj", "cluster"])
        # A second run into the same places is refused without overwrite.
        with self.assertRaisesRegex(InputError, "small_resnet.npz: exists"):
            image_embeddings.embed_dataset(DATASET, out, config, data_dir=self.data_dir)

    def test_pixel_pca_and_untrusted_gini_m20(self):
        config = image_embeddings.EmbedConfig(representation="pixel_pca", reduce_dim=5)
        emb = image_embeddings.image_embeddings(self.splits, self.class_names, config)
        self.assertEqual((emb.representation, emb.latent_dim), ("pixel_pca", 5))
        self.assertAlmostEqual(
            emb.info["explained_variance_total"], sum(emb.info["explained_variance_ratio"]), 6
        )
        trusted = np.concatenate(
            [self.splits[s]["trust_nonparametric"] for s in ("train", "validation", "test")]
        )
        unclassified = self.class_names["gini_m20"].index("unclassified")
        self.assertTrue(np.all(emb.labels["gini_m20"][~trusted] == unclassified))
        self.assertLess((~trusted).sum(), N)  # some are trusted
        kept = image_embeddings.image_embeddings(
            self.splits,
            self.class_names,
            image_embeddings.EmbedConfig(
                representation="pixel_pca", reduce_dim=5, trusted_gini_m20_only=False
            ),
        )
        raw = np.concatenate([self.splits[s]["gini_m20"] for s in ("train", "validation", "test")])
        np.testing.assert_array_equal(kept.labels["gini_m20"], raw)

    def test_gan_discriminator_features_of_a_run(self):
        from tfelg.training import loop
        from tfelg.training.config import (
            DataConfig,
            ExperimentConfig,
            ModelConfig,
            RuntimeConfig,
            TrainerConfig,
        )

        workdir = os.path.join(self.tmp, "gan")
        config = ExperimentConfig(
            data=DataConfig(dataset=DATASET, input="image"),
            model=ModelConfig(name="gan", latent_dim=8, options={"base_filters": 4}),
            trainer=TrainerConfig(epochs=1, batch_size=16),
            runtime=RuntimeConfig(progress_bar=False),
        )
        loop.Trainer(
            config, workdir, splits=self.splits, class_names=self.class_names, log=lambda _: None
        ).run()
        emb = image_embeddings.image_embeddings(
            self.splits,
            self.class_names,
            image_embeddings.EmbedConfig(representation="gan", workdir=workdir, reduce_dim=0),
        )
        trained = loop.load_trained(workdir)
        test = self.splits["test"]["image"]
        expected = trained.model.encode(trained.preprocessor.scale_images(test)).numpy()
        np.testing.assert_allclose(emb.for_split("test").latent, expected, rtol=1e-5, atol=1e-6)
        self.assertEqual(emb.representation, "gan")
        with self.assertRaisesRegex(InputError, "no trained model here"):
            image_embeddings.image_embeddings(
                self.splits,
                self.class_names,
                image_embeddings.EmbedConfig(representation="simclr", workdir=self.tmp),
            )

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "needs a training workdir"):
            image_embeddings.EmbedConfig(representation="simclr")
        with self.assertRaisesRegex(ValueError, "unknown representation 'vgg'"):
            image_embeddings.EmbedConfig(representation="vgg")
        broken = {s: dict(v) for s, v in self.splits.items()}
        broken["test"]["image"] = broken["test"]["image"].copy()
        broken["test"]["image"][1, 3, 3, 0] = np.nan
        with self.assertRaisesRegex(InputError, "row 1.*NaN"):
            image_embeddings.image_embeddings(broken, self.class_names)
        del broken["test"]["uvj"]
        broken["test"]["image"][1, 3, 3, 0] = 0.0
        with self.assertRaisesRegex(InputError, "no 'uvj' column"):
            image_embeddings.image_embeddings(
                broken, self.class_names, image_embeddings.EmbedConfig(representation="pixel_pca")
            )

    def test_binary(self):
        out = os.path.join(self.tmp, "cli", "pixel_pca.npz")
        command = [
            sys.executable,
            "-m",
            "tfelg.cli.embed",
            f"--dataset={DATASET}",
            f"--data_dir={self.data_dir}",
            f"--num_galaxies={N}",
            "--dataset_seed=0",
            "--representation=pixel_pca",
            "--reduce_dim=4",
            f"--output={out}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertIn("(pixel_pca, d = 4)", done.stdout)
        self.assertEqual(Embeddings.load(out).latent.shape, (N, 4))
        again = subprocess.run(command, capture_output=True, text=True, timeout=600)
        self.assertEqual(again.returncode, 2)
        self.assertIn("pixel_pca.npz: exists; pass overwrite", again.stderr)
        bad = subprocess.run(
            [
                *command[:-3],
                "--representation=resnet50",
                "--weights=/no/such.h5",
                f"--output={out}.x.npz",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.assertEqual(bad.returncode, 2)
        self.assertIn("/no/such.h5: weights file not found", bad.stderr)


if __name__ == "__main__":
    absltest.main()
