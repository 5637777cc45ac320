"""hst_images on unlabelled stamps (the Hubble Deep Field): no GAN, no classes, clusters and maps.

The Hubble Deep Field config holds display-stretched stamps with no labels
and no colours (issue 14 item 4): the pipeline must neither condition a GAN
on classes it does not have nor score clusters against them. The wiring is
checked on the node list (no run); one tiny run (the field's 80 largest
sources instead of all, 1 SimCLR epoch of a network a few filters wide, a
short t-SNE) checks that every step runs on such stamps and writes the
thumbnail map and the map by cluster, and no UVJ diagram or comparison.
"""

import os
import shutil
import tempfile
from unittest import mock

from absl.testing import absltest

from tfelg.errors import InputError
from tfelg.testing.pipeline_params import tiny_image_run
from tfelg_components import common, images
from tfelg_components.pipeline import run_pipeline
from tfelg_pipelines import hst_images, registry

HDF = "hst_galaxies/hubble_deep_field"
TINY = tiny_image_run(dataset=HDF, thumbnail_grid=6)


def _nodes(**params):
    pipeline = registry.get_pipeline("hst_images")
    return {node.id: node for node in pipeline.nodes(pipeline.resolve_params(params))}


class WiringTest(absltest.TestCase):
    def test_no_gan_and_only_label_free_representations(self):
        nodes = _nodes(dataset=HDF)
        self.assertNotIn("gan_trainer", nodes)
        self.assertNotIn("library_generator", nodes)
        self.assertIsNone(nodes["dataset_gen"].params["num_galaxies"])
        self.assertIsNone(nodes["dataset_gen"].params["seed"])
        exporter = nodes["embedding_exporter"]
        self.assertEqual(
            list(exporter.params["representations"]), list(images.UNLABELLED_REPRESENTATIONS)
        )
        self.assertIsNone(exporter.inputs.get("gan"))
        self.assertIn("image_figures", nodes)

    def test_synthetic_keeps_its_gan(self):
        nodes = _nodes()
        self.assertIn("gan_trainer", nodes)
        self.assertEqual(
            list(nodes["embedding_exporter"].params["representations"]),
            list(images.REPRESENTATIONS),
        )
        self.assertIsNotNone(nodes["embedding_exporter"].inputs.get("gan"))

    def test_label_needing_choices_are_refused_by_name(self):
        with self.assertRaisesRegex(InputError, "real_and_generated"):
            _nodes(dataset=HDF, train_on="real_and_generated")
        with self.assertRaisesRegex(InputError, "'morphology'"):
            _nodes(dataset=HDF, representations=["simclr", "morphology"])
        with self.assertRaisesRegex(InputError, "'gan'"):
            _nodes(dataset=HDF, representations=["gan"])


class TinyRunTest(absltest.TestCase):
    def test_clusters_and_maps_without_labels(self):
        from tfelg import data as tfelg_data

        tfelg_data._register_builders()
        import tensorflow_datasets as tfds

        config = next(
            c for c in tfds.builder_cls("hst_galaxies").BUILDER_CONFIGS if c.name == HDF[13:]
        )
        root = tempfile.mkdtemp(prefix="hst_images_hdf_test_")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        with mock.patch.object(config, "max_sources", 80):
            result = run_pipeline(hst_images.PIPELINE, root, TINY, log=lambda line: None)
        statuses = {r.node: r.status for r in result.nodes}
        self.assertNotIn("gan_trainer", statuses)
        for node in ("clusterer", "tsne", "reporter", "projector_writer", "image_figures"):
            self.assertEqual(statuses[node], "ran", node)
        figures = result["image_figures"].outputs["figures"]
        for rep in ("simclr", "small_resnet_random", "pixel_pca"):
            made = sorted(os.listdir(figures.path(rep)))
            self.assertEqual(made, ["map_by_class.png", "thumbnail_map.png"], rep)
        report = result["reporter"].outputs["report"]
        summary = common.read_json(report.path(common.SUMMARY_JSON))
        self.assertLen(summary["results"], 3)
        for row in summary["results"]:
            self.assertFalse([k for k in row if k.endswith("_ari")], row["representation"])
        self.assertIn("hubble_deep_field", hst_images.summary_text(root))


if __name__ == "__main__":
    absltest.main()
