"""The hst_images pipeline end to end on tiny data: outputs, caching, what a GAN change re-runs.

One run of the whole pipeline in sweep mode (120 synthetic galaxies, one
GAN and one SimCLR epoch with networks a few filters wide, a library of 4
galaxies per class, K <= 3, a short t-SNE) is shared by the tests; the
feature model is trained twice, on the real galaxies and on real + the GAN
library, so both branches and the comparison table are exercised. Each
further test re-runs on the same root.
"""

import os
import shutil
import tempfile

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg.testing.pipeline_params import tiny_image_run
from tfelg_components import common, images
from tfelg_components.base import ParameterError
from tfelg_components.pipeline import run_pipeline
from tfelg_pipelines import hst_images, registry

N = 120
SMALL = tiny_image_run(
    num_galaxies=N,
    dataset_seed=1,
    gan_epochs=1,
    gan_batch_size=16,
    gan_options={"base_filters": 4, "sample_every": 1, "samples_per_class": 2},
    per_class=4,
    train_on_sweep=["real", "real_and_generated"],
)
CHAIN = (
    "feature_trainer",
    "embedding_exporter",
    "model_selector",
    "clusterer",
    "tsne",
    "catalog_writer",
    "reporter",
    "projector_writer",
    "image_figures",
)
SHARED = ("dataset_gen", "gan_trainer", "library_generator")
FIRST_CHAIN = ("simclr", "small_resnet_random", "gan", "pixel_pca", "morphology")


def _run(root, **params):
    lines = []
    result = run_pipeline(hst_images.PIPELINE, root, params, log=lines.append)
    return result, lines


def _statuses(result):
    return {r.node: r.status for r in result.nodes}


class HstImagesPipelineTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="hst_images_test_")
        cls.first, cls.lines = _run(cls.root, **SMALL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def output(self, node, name):
        return self.first[node].outputs[name]

    def test_registered_and_described(self):
        self.assertIs(registry.get_pipeline("hst_images"), hst_images.PIPELINE)
        names = set(hst_images.PIPELINE.params)
        self.assertContainsSubset(
            {"gan_epochs", "per_class", "train_on", "representations", "train_on_sweep", "k_max"},
            names,
        )

    def test_bad_parameter_is_refused_by_name(self):
        with self.assertRaisesRegex(ParameterError, "train_on"):
            _run(tempfile.mkdtemp(prefix="hst_images_bad_"), train_on="generated_only")
        with self.assertRaisesRegex(ParameterError, "representations"):
            _run(tempfile.mkdtemp(prefix="hst_images_bad_"), representations=["inception"])

    def test_image_models_are_the_librarys(self):
        from tfelg import models

        self.assertEqual(set(images.IMAGE_MODELS), set(models.model_names("image")))

    def test_end_to_end_outputs(self):
        chains = [f"{n}_{t}" for t in ("real", "real_and_generated") for n in CHAIN]
        expected = {*SHARED, *chains, "comparison_real", "comparison"}
        self.assertEqual(_statuses(self.first), dict.fromkeys(expected, "ran"))

        # The library: balanced, classes by name (the dataset's true types, unknown left out).
        library = common.read_json(self.output("library_generator", "library").path("library.json"))
        self.assertNotIn("unknown", library["classes"])
        self.assertContainsSubset({"elliptical"}, set(library["classes"]))
        self.assertEqual(set(library["counts"]["generated"].values()), {4})

        # The SimCLR run on real + generated saw the library's galaxies, the other did not.
        seen = {}
        for train_on in ("real", "real_and_generated"):
            model = self.output(f"feature_trainer_{train_on}", "model")
            metrics = common.read_json(model.path("metrics.json"))
            seen[train_on] = metrics["num_examples"]["train"]
            self.assertTrue(os.path.isfile(model.path(common.LOSS_PLOT)))
        self.assertEqual(seen["real_and_generated"] - seen["real"], 4 * len(library["classes"]))

        embeddings = self.output("embedding_exporter_real", "embeddings")
        listing = common.read_json(embeddings.path(common.EMBEDDINGS_JSON))
        self.assertEqual(listing["representations"], list(FIRST_CHAIN))
        self.assertEqual(listing["skipped"], {})
        second = self.output("embedding_exporter_real_and_generated", "embeddings")
        self.assertEqual(
            common.read_json(second.path(common.EMBEDDINGS_JSON))["representations"], ["simclr"]
        )
        morphology = common.load_embeddings(embeddings, "morphology")
        self.assertLen(morphology, N)
        train = morphology.latent[morphology.split == "train"]
        np.testing.assert_allclose(train.mean(0), 0.0, atol=1e-5)  # standardised on train

        catalogue = self.output("catalog_writer_real", "catalogue")
        for name in FIRST_CHAIN:
            with fits.open(catalogue.path(f"{name}.fits")) as hdul:
                table = hdul[1].data
                self.assertLen(table, N)
                for column in ("OBJID", "LATENT", "TSNE_1", "CLUSTER"):
                    self.assertIn(column, table.columns.names)

        logdir = self.output("projector_writer_real", "projector")
        runs = common.read_json(logdir.path("projector_runs.json"))
        self.assertEqual(set(runs), set(FIRST_CHAIN))
        self.assertTrue(all(run["sprite"] for run in runs.values()))

        pictures = self.output("image_figures_real", "figures")
        for name in FIRST_CHAIN:
            for png in ("thumbnail_map.png", "map_by_class.png", "uvj_by_cluster.png"):
                self.assertGreater(os.path.getsize(pictures.path(name, png)), 10_000, (name, png))

        report = self.output("reporter_real", "report")
        summary = common.read_json(report.path(common.SUMMARY_JSON))
        self.assertEqual([r["representation"] for r in summary["results"]], list(FIRST_CHAIN))
        for row in summary["results"]:
            for scheme in images.SCHEMES:
                self.assertIn(f"{scheme}_accuracy", row)
        self.assertTrue(os.path.isfile(os.path.join(self.root, summary["dataset_plot"])))

        table = self.output("comparison", "table")
        rows = common.read_json(table.path(common.COMPARISON_JSON))["rows"]
        self.assertEqual(
            sorted(
                (r["chain"], r["representation"]) for r in rows if r["representation"] == "simclr"
            ),
            [("real", "simclr"), ("real_and_generated", "simclr")],
        )

    def test_summary_text(self):
        text = hst_images.summary_text(self.root)
        self.assertIn("simclr features (d = 8, 1 epochs, trained on real_and_generated)", text)
        self.assertRegex(text, r"vs uvj \(test split\): matched accuracy \d\.\d{3} ± \d\.\d{3}")
        self.assertIn("projector:", text)
        self.assertIn("thumbnail_map.png", text)
        self.assertIn("| representation |", text)

    def test_rerun_executes_nothing(self):
        second, lines = _run(self.root, **SMALL)
        self.assertEqual(set(_statuses(second).values()), {"cached"})
        self.assertNotIn("running", " ".join(lines))

    def test_gan_epochs_reruns_only_what_depends_on_the_gan(self):
        result, _ = _run(self.root, **{**SMALL, "gan_epochs": 2})
        statuses = _statuses(result)
        # The GAN, its library, the feature model trained on the library, and the
        # exporters (which take the GAN for its discriminator's features).
        for node in (
            "gan_trainer",
            "library_generator",
            "feature_trainer_real_and_generated",
            "embedding_exporter_real",
        ):
            self.assertEqual(statuses[node], "ran", node)
        # The dataset and the feature model trained on real galaxies only do not.
        self.assertEqual(statuses["dataset_gen"], "cached")
        self.assertEqual(statuses["feature_trainer_real"], "cached")
        self.assertEqual(
            result["feature_trainer_real"].outputs["model"].uri,
            self.output("feature_trainer_real", "model").uri,
        )
        # The real chain's GAN features changed, so its analysis re-runs too; with
        # the GAN features left out, nothing after the real-only exporter re-runs.
        self.assertEqual(statuses["model_selector_real"], "ran")
        reps = [r for r in FIRST_CHAIN if r != "gan"]
        reps[reps.index("small_resnet_random")] = "small_resnet"
        result, _ = _run(self.root, **{**SMALL, "representations": reps})
        result, _ = _run(self.root, **{**SMALL, "representations": reps, "gan_epochs": 2})
        statuses = _statuses(result)
        self.assertEqual(statuses["gan_trainer"], "cached")  # made by the run before
        self.assertEqual(statuses["embedding_exporter_real"], "ran")  # it takes the GAN
        for node in ("feature_trainer", *CHAIN[2:]):  # its bytes did not change
            self.assertEqual(statuses[f"{node}_real"], "cached", node)


if __name__ == "__main__":
    absltest.main()
