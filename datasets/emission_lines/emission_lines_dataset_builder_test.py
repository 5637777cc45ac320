"""TFDS conformance tests of emission_lines, one class per config.

``dummy_data/`` holds tiny files in the real MPA-JHU and SDSS formats,
written by ``python scripts/make_fits_fixtures.py
--output_dir=datasets/emission_lines/dummy_data``. The expected split sizes
follow from the md5 split of the object ids (80/10/10 %): with so few rows
they are not exactly 80/10/10.
"""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import tensorflow_datasets as tfds

from tfelg import data, schemes
from tfelg.errors import InputError
from tfelg.synthetic import emission_lines as synthetic
from tfelg.testing.split_counts import md5_split_counts
from tfelg_datasets.emission_lines import emission_lines_dataset_builder as builder_lib


class SyntheticConfigTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = builder_lib.Builder
    BUILDER_CONFIG_NAMES_TO_TEST = [
        builder_lib.EmissionLinesConfig(name="synthetic_tiny", num_galaxies=120, seed=0)
    ]
    # What the md5 split rule gives for these 120 galaxies' ids (97/5/18).
    SPLITS = md5_split_counts(synthetic.generate(120, 0, with_spectrum=False).lines.object_id)
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


DUMMY_DATA = os.path.join(os.path.dirname(__file__), "dummy_data")
AN_HOUR_AGO = time.time() - 3600


def _manual_copy(parent: str, source: str) -> str:
    """A manual folder holding a copy of the dummy files of ``source``, dated an hour ago."""
    root = os.path.join(parent, "manual")
    shutil.copytree(os.path.join(DUMMY_DATA, source), os.path.join(root, source))
    for dirpath, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(dirpath, name), (AN_HOUR_AGO, AN_HOUR_AGO))
    return root


def _prepare(config: str, data_dir: str, manual_dir: str | None, **download_kwargs):
    """A fresh builder (as in a new process) prepared with ``manual_dir``."""
    builder = builder_lib.Builder(config=config, data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir, **download_kwargs)
    )
    return builder


class MissingManualDataTest(tfds.testing.TestCase):
    """Issue 11 item 8: one line saying which files to put where, not TFDS's AssertionError."""

    def test_mpajhu_without_files_names_the_catalogues_and_the_folder(self):
        manual = os.path.join(self.tmp_dir, "manual")
        os.makedirs(os.path.join(manual, "sdss_spec"))  # a manual folder, but no mpajhu/
        with self.assertRaises(builder_lib.ManualDataMissing) as caught:
            _prepare("mpajhu", self.tmp_dir, manual)
        message = str(caught.exception)
        self.assertIsInstance(caught.exception, InputError)  # what tfelg's binaries print
        self.assertNotIn("\n", message)
        self.assertIn(os.path.join(manual, "mpajhu"), message)
        for name in ("gal_line_dr7_v5_2.fit", "gal_info_dr7_v5_2.fit", "galSpecLine-dr8.fits"):
            self.assertIn(name, message)
        self.assertFalse(os.path.exists(os.path.join(self.tmp_dir, "emission_lines", "mpajhu")))

    def test_default_manual_folder_absent(self):
        # No manual_dir: TFDS's default <data_dir>/downloads/manual, which
        # does not exist; TFDS alone raises an AssertionError here.
        with self.assertRaisesRegex(
            builder_lib.ManualDataMissing,
            r"downloads/manual/sdss_spec: no SDSS spectra here: put spec-\*\.fits files",
        ):
            _prepare("sdss_spec", self.tmp_dir, None)

    def test_tfds_load_raises_the_same_error(self):
        with self.assertRaisesRegex(builder_lib.ManualDataMissing, "no MPA-JHU catalogues"):
            tfds.load("emission_lines/mpajhu", data_dir=self.tmp_dir)

    def test_tfelg_dataset_prints_one_line_and_no_traceback(self):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tfelg.cli.dataset",
                "--dataset=emission_lines/mpajhu",
                f"--data_dir={self.tmp_dir}",  # no --manual_dir: TFDS's default, absent
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
        )
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        errors = [line for line in result.stderr.splitlines() if "error:" in line]
        self.assertLen(errors, 1)
        folder = os.path.join(self.tmp_dir, "downloads", "manual", "mpajhu")
        self.assertIn(f"{folder}: no MPA-JHU catalogues", errors[0])
        self.assertIn("gal_line_dr7_v5_2.fit", errors[0])


class ManualFingerprintTest(tfds.testing.TestCase):
    """Issue 11 item 19: a manual dataset built from other files is not reused silently."""

    def test_changed_catalogue_same_size_is_refused(self):
        manual = _manual_copy(self.tmp_dir, "mpajhu")
        _prepare("mpajhu", self.tmp_dir, manual)
        path = os.path.join(manual, "mpajhu", "gal_line_dr7_v5_2.fit")
        with open(path, "r+b") as f:  # one byte of the data unit, same size
            f.seek(-100, os.SEEK_END)
            byte = f.read(1)
            f.seek(-100, os.SEEK_END)
            f.write(bytes([byte[0] ^ 1]))
        with self.assertRaises(builder_lib.StaleManualDataset) as caught:
            _prepare("mpajhu", self.tmp_dir, manual)
        message = str(caught.exception)
        self.assertIsInstance(caught.exception, InputError)
        self.assertNotIn("\n", message)
        self.assertIn("changed: gal_line_dr7_v5_2.fit", message)
        self.assertNotIn("gal_info", message)
        self.assertIn(os.path.join(self.tmp_dir, "emission_lines", "mpajhu", "2.0.0"), message)
        # Rebuilding on request uses the new files and records them.
        _prepare(
            "mpajhu",
            self.tmp_dir,
            manual,
            download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS,
        )
        _prepare("mpajhu", self.tmp_dir, manual)

    def test_changed_mtime_alone_or_files_moved_away_are_reused(self):
        manual = _manual_copy(self.tmp_dir, "mpajhu")
        built = _prepare("mpajhu", self.tmp_dir, manual)
        recorded = built.info.metadata["manual_files"]
        self.assertEqual(sorted(recorded), ["gal_info_dr7_v5_2.fit", "gal_line_dr7_v5_2.fit"])
        self.assertEqual(
            recorded["gal_info_dr7_v5_2.fit"]["size"],
            os.path.getsize(os.path.join(manual, "mpajhu", "gal_info_dr7_v5_2.fit")),
        )
        # Same bytes, copied again (new mtimes): compared by content, reused.
        shutil.rmtree(manual)
        _manual_copy(self.tmp_dir, "mpajhu")
        for name in recorded:
            os.utime(os.path.join(manual, "mpajhu", name))
        _prepare("mpajhu", self.tmp_dir, manual)
        # Catalogues deleted after building: nothing to compare, reused.
        shutil.rmtree(manual)
        reused = _prepare("mpajhu", self.tmp_dir, manual)
        self.assertEqual(reused.info.splits["train"].num_examples, 8)

    def test_added_and_removed_spec_files_are_refused(self):
        manual = _manual_copy(self.tmp_dir, "sdss_spec")
        _prepare("sdss_spec", self.tmp_dir, manual)
        folder = os.path.join(manual, "sdss_spec")
        names = sorted(os.listdir(folder))
        os.makedirs(os.path.join(folder, "more"))
        shutil.move(
            os.path.join(folder, names[0]),
            os.path.join(folder, "more", "spec-0001-50000-0001.fits"),
        )
        with self.assertRaisesRegex(
            builder_lib.StaleManualDataset,
            rf"new: more/spec-0001-50000-0001.fits; gone: {names[0]}",
        ):
            _prepare("sdss_spec", self.tmp_dir, manual)


class SyntheticConfigNameTest(tfds.testing.TestCase):
    def test_name_with_size_and_seed_is_a_config(self):
        """The names tfelg.data.make_builder gives custom samples work in plain TFDS."""
        builder = tfds.builder("emission_lines/synthetic_n40_s3", data_dir=self.tmp_dir)
        self.assertEqual(builder.builder_config.num_galaxies, 40)
        self.assertEqual(builder.builder_config.seed, 3)
        self.assertEqual(builder.builder_config.source, "synthetic")
        made = data.make_builder("emission_lines/synthetic", self.tmp_dir, num_galaxies=40, seed=3)
        self.assertEqual(made.builder_config.name, "synthetic_n40_s3")
        self.assertEqual(made.data_dir, builder.data_dir)
        builder.download_and_prepare()
        total = sum(split.num_examples for split in builder.info.splits.values())
        self.assertEqual(total, 40)
        # Built under that name, read back by tfds.load with only the name.
        ds = tfds.load("emission_lines/synthetic_n40_s3:2.0.0", split="test", data_dir=self.tmp_dir)
        self.assertEqual(len(ds), builder.info.splits["test"].num_examples)

    def test_wide_redshift_config_by_name(self):
        """synthetic_wide_z_n<N>_s<SEED>: the same galaxies as synthetic_n<N>_s<SEED>, other z."""
        wide = tfds.builder("emission_lines/synthetic_wide_z_n40_s3", data_dir=self.tmp_dir)
        self.assertEqual(wide.builder_config.redshift_range, synthetic.WIDE_REDSHIFT_RANGE)
        made = data.make_builder(
            "emission_lines/synthetic_wide_z", self.tmp_dir, num_galaxies=40, seed=3
        )
        self.assertEqual(made.builder_config.name, "synthetic_wide_z_n40_s3")
        self.assertEqual(made.data_dir, wide.data_dir)
        self.assertIsNone(
            tfds.builder("emission_lines/synthetic_n40_s3").builder_config.redshift_range
        )
        wide.download_and_prepare()
        expected = synthetic.generate(40, 3, redshift_range=synthetic.WIDE_REDSHIFT_RANGE)
        ds = tfds.load(
            "emission_lines/synthetic_wide_z_n40_s3", split="train", data_dir=self.tmp_dir
        )
        rows = {
            ex["object_id"].decode(): (float(ex["redshift"]), int(ex["true_class"]))
            for ex in tfds.as_numpy(ds)
        }
        self.assertNotEmpty(rows)
        for i, object_id in enumerate(expected.lines.object_id):
            if object_id in rows:
                z, true_class = rows[object_id]
                self.assertAlmostEqual(z, expected.lines.redshift[i], places=6)
                self.assertEqual(true_class, expected.true_class[i])

    def test_too_small_sample_is_refused(self):
        with self.assertRaisesRegex(ValueError, "num_galaxies must be >= 10"):
            tfds.builder("emission_lines/synthetic_n5_s0", data_dir=self.tmp_dir)


if __name__ == "__main__":
    tfds.testing.test_main()
