"""TFDS conformance tests of emission_lines, one class per config.

``dummy_data/`` holds tiny files in the real MPA-JHU and SDSS formats,
written by ``python scripts/make_fits_fixtures.py
--output_dir=datasets/emission_lines/dummy_data``. The expected split sizes
follow from the md5 split of the object ids (80/10/10 %): with so few rows
they are not exactly 80/10/10.
"""

import numpy as np
import tensorflow_datasets as tfds

from tfelg import schemes
from tfelg_datasets.emission_lines import emission_lines_dataset_builder as builder_lib


class SyntheticConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        builder_lib.EmissionLinesConfig(name="synthetic_tiny", num_galaxies=120, seed=0)
    ]
    SPLITS = {"train": 97, "validation": 5, "test": 18}
    SKIP_CHECKSUMS = True


class MpajhuConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["mpajhu"]
    SPLITS = {"train": 8, "validation": 1, "test": 3}
    SKIP_CHECKSUMS = True


class SdssSpecConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = ["sdss_spec"]
    SPLITS = {"train": 9, "validation": 1, "test": 2}
    SKIP_CHECKSUMS = True


class SplitTest(tfds.testing.TestCase):
    def test_split_is_deterministic_and_roughly_80_10_10(self):
        ids = [f"SYN-{i:09d}" for i in range(20000)]
        splits = [builder_lib.split_of(i) for i in ids]
        self.assertEqual(splits, [builder_lib.split_of(i) for i in ids])
        fractions = {s: splits.count(s) / len(ids) for s in ("train", "validation", "test")}
        self.assertAlmostEqual(fractions["train"], 0.8, delta=0.01)
        self.assertAlmostEqual(fractions["validation"], 0.1, delta=0.01)
        self.assertAlmostEqual(fractions["test"], 0.1, delta=0.01)


class LabelsTest(tfds.testing.TestCase):
    def test_stored_labels_are_the_schemes_of_the_stored_lines(self):
        """Labels are computed from the noisy measurements, as stored."""
        config = builder_lib.EmissionLinesConfig(name="synthetic_labels", num_galaxies=200, seed=3)
        builder = builder_lib.Builder(config=config, data_dir=self.tmp_dir)
        builder.download_and_prepare()
        batch = tfds.as_numpy(builder.as_dataset(split="train", batch_size=-1))
        from tfelg.dataset_report import table_from_arrays

        arrays = dict(batch)
        arrays["object_id"] = arrays["object_id"].astype(str)
        recomputed = schemes.classify_table(table_from_arrays(arrays))
        np.testing.assert_array_equal(recomputed["whan"], batch["whan"])
        np.testing.assert_array_equal(recomputed["bpt"], batch["bpt"])
        self.assertGreater(len(np.unique(batch["true_class"])), 3)
        self.assertEqual(batch["spectrum"].shape[1], builder.info.metadata["num_pixels"])


if __name__ == "__main__":
    tfds.testing.test_main()
