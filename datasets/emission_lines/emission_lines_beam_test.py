"""emission_lines generated through Apache Beam = generated in process (issue 15 item 2).

Every config is built twice, in process and by Beam's DirectRunner in
multi-processing mode with two workers (separate Python processes, as on a
cluster), and every record is compared: keys, split of each key, split
sizes, every decoded feature bit for bit, and the stored bytes of each
split (its shard files in order: TFDS's Beam writer may cut a large split
into shards at other places than its in-process writer, but not these
single-shard splits, whose files are compared too). In-process builds go
through ``tfelg.data.prepare``, whose serialisation is deterministic, and
Beam workers serialise the same way.
Each Beam run also checks that Beam did the generating (through the API:
the builder handed TFDS Beam transforms; from a command line: both SDK
workers logged their start), since TFDS ignores Beam options for a builder
whose split generators are plain Python generators, and the comparison
would then pass on its own. The runs are small (a Beam
start-up with two workers dominates), one per config and path: mpajhu
through the Python API, sdss_spec through `tfelg-dataset --beam_runner`,
synthetic (two seed blocks) through the real `tfds build
--beam_pipeline_options`.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
from unittest import mock

import apache_beam as beam
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from tfelg import data
from tfelg.synthetic import emission_lines as synthetic
from tfelg_datasets.emission_lines import emission_lines_dataset_builder as builder_lib

DUMMY_DATA = os.path.join(os.path.dirname(__file__), "dummy_data")
BIN = os.path.dirname(sys.executable)
TWO_WORKERS = ["direct_num_workers=2", "direct_running_mode=multi_processing"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _records(builder) -> dict[str, tuple[str, dict]]:
    """object_id -> (split, decoded example) of a prepared builder."""
    records = {}
    for split in builder.info.splits:
        for example in tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)):
            key = example["object_id"].decode()
            assert key not in records, key
            records[key] = (split, example)
    return records


def _in_process(config, data_dir: str, manual_dir: str | None = None):
    builder = builder_lib.Builder(config=config, data_dir=data_dir)
    return data.prepare(builder, manual_dir=manual_dir)


def _record_files(builder) -> dict[str, bytes]:
    return {
        os.path.basename(path): epath.Path(path).read_bytes()
        for path in glob.glob(os.path.join(builder.data_path, "*.tfrecord-*"))
    }


def _split_bytes(builder) -> dict[str, bytes]:
    """Each split's shard files, concatenated in shard order."""
    files = _record_files(builder)
    return {
        split: b"".join(files[name] for name in sorted(files) if f"-{split}.tfrecord-" in name)
        for split in builder.info.splits
    }


class BeamEqualsInProcessTest(tfds.testing.TestCase):
    def assertSameRecords(self, expected, actual):
        self.assertEqual(
            {name: split.num_examples for name, split in expected.info.splits.items()},
            {name: split.num_examples for name, split in actual.info.splits.items()},
        )
        want, got = _records(expected), _records(actual)
        self.assertEqual(sorted(want), sorted(got))
        self.assertEqual(len(want), sum(s.num_examples for s in expected.info.splits.values()))
        for key, (split, example) in want.items():
            self.assertEqual(got[key][0], split, key)
            self.assertEqual(sorted(got[key][1]), sorted(example), key)
            for feature, value in example.items():
                # NaN (an unmeasured line) equals NaN here.
                np.testing.assert_array_equal(got[key][1][feature], value, err_msg=key)
        want_bytes, got_bytes = _split_bytes(expected), _split_bytes(actual)
        for split, content in want_bytes.items():
            self.assertNotEmpty(content)
            self.assertEqual(got_bytes[split], content, f"{split}: other bytes, same records")
        want_files = _record_files(expected)
        self.assertLen(want_files, 3)  # one shard per split: the files themselves
        self.assertEqual(_record_files(actual), want_files)

    def _with_beam(self, config, data_dir: str, manual_dir: str | None = None):
        """Built by two Beam worker processes; asserts Beam did the generating."""
        builder = builder_lib.Builder(config=config, data_dir=data_dir)
        options = beam.options.pipeline_options.PipelineOptions(
            flags=["--runner=DirectRunner"] + [f"--{o}" for o in TWO_WORKERS]
        )
        made = []
        original = builder._split_generators

        def split_generators(dl_manager):
            made.append(original(dl_manager))
            return made[-1]

        with mock.patch.object(builder, "_split_generators", split_generators):
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    manual_dir=manual_dir, beam_options=options
                )
            )
        (generators,) = made
        self.assertEqual(sorted(generators), ["test", "train", "validation"])
        for generator in generators.values():
            self.assertIsInstance(generator, beam.PTransform)
        return builder

    def test_mpajhu(self):
        manual = os.path.join(self.tmp_dir, "manual")
        shutil.copytree(os.path.join(DUMMY_DATA, "mpajhu"), os.path.join(manual, "mpajhu"))
        expected = _in_process("mpajhu", os.path.join(self.tmp_dir, "in_process"), manual)
        actual = self._with_beam("mpajhu", os.path.join(self.tmp_dir, "beam"), manual)
        self.assertSameRecords(expected, actual)
        # The manual files' fingerprints are recorded either way.
        self.assertEqual(
            expected.info.metadata["manual_files"], actual.info.metadata["manual_files"]
        )

    def test_tfelg_dataset_beam_runner_sdss_spec(self):
        manual = os.path.join(self.tmp_dir, "manual")
        shutil.copytree(os.path.join(DUMMY_DATA, "sdss_spec"), os.path.join(manual, "sdss_spec"))
        beam_dir = os.path.join(self.tmp_dir, "beam")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tfelg.cli.dataset",
                "--dataset=emission_lines/sdss_spec",
                f"--data_dir={beam_dir}",
                f"--manual_dir={manual}",
                "--beam_runner=DirectRunner",
                f"--beam_pipeline_options={','.join(TWO_WORKERS)}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=ENV,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        # The DirectRunner's two SDK workers said they started.
        self.assertGreaterEqual(result.stderr.count("Python sdk harness starting"), 2)
        expected = _in_process("sdss_spec", os.path.join(self.tmp_dir, "in_process"), manual)
        actual = builder_lib.Builder(config="sdss_spec", data_dir=beam_dir)
        self.assertSameRecords(expected, actual)
        self.assertEqual(
            expected.info.metadata["manual_files"].keys(),
            actual.info.metadata["manual_files"].keys(),
        )

    def test_tfds_build_with_beam_pipeline_options(self):
        """TFDS's own command line, as a user runs it on a cluster.

        1,100 galaxies: two seed blocks (1,000 and 100) for the two workers.
        """
        name = f"synthetic_n{synthetic.SEED_BLOCK + 100}_s4"
        beam_dir = os.path.join(self.tmp_dir, "beam")
        result = subprocess.run(
            [
                os.path.join(BIN, "tfds"),
                "build",
                f"emission_lines/{name}",
                "--imports=tfelg_datasets.emission_lines",
                f"--data_dir={beam_dir}",
                "--beam_pipeline_options=" + ",".join(["runner=DirectRunner", *TWO_WORKERS]),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=ENV,
        )
        log = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, log[-3000:])
        self.assertNotIn("Traceback", log)
        self.assertGreaterEqual(log.count("Python sdk harness starting"), 2)
        version = str(builder_lib.Builder.VERSION)
        folder = os.path.join(beam_dir, "emission_lines", name, version)
        with open(os.path.join(folder, "dataset_info.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["version"], version)
        expected = _in_process(name, os.path.join(self.tmp_dir, "in_process"))
        actual = builder_lib.Builder(config=name, data_dir=beam_dir)
        self.assertSameRecords(expected, actual)
        self.assertEqual(
            sum(s.num_examples for s in actual.info.splits.values()), synthetic.SEED_BLOCK + 100
        )


class BeamErrorsTest(tfds.testing.TestCase):
    def test_object_in_two_spec_files_names_both(self):
        """As in process (rows of one table), an id read twice stops the build, naming both files.

        The in-memory DirectRunner runs the same transforms as the workers,
        in this process (no start-up of worker processes for an error).
        """
        folder = os.path.join(self.tmp_dir, "manual", "sdss_spec")
        shutil.copytree(os.path.join(DUMMY_DATA, "sdss_spec"), folder)
        first = sorted(os.listdir(folder))[0]
        os.makedirs(os.path.join(folder, "again"))
        shutil.copy(os.path.join(folder, first), os.path.join(folder, "again", first))
        options = beam.options.pipeline_options.PipelineOptions(flags=["--runner=DirectRunner"])
        builder = builder_lib.Builder(config="sdss_spec", data_dir=self.tmp_dir)
        with self.assertRaisesRegex(Exception, "is in more than one file") as caught:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    manual_dir=os.path.dirname(folder), beam_options=options
                )
            )
        message = str(caught.exception)
        self.assertIn(os.path.join(folder, first), message)
        self.assertIn(os.path.join(folder, "again", first), message)
        self.assertFalse(os.path.exists(builder.data_path))

    def test_tfelg_dataset_refuses_beam_for_a_dataset_without_it(self):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tfelg.cli.dataset",
                "--dataset=hst_galaxies/synthetic",
                f"--data_dir={self.tmp_dir}",
                "--beam_runner=DirectRunner",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            env=ENV,
        )
        self.assertEqual(result.returncode, 2, result.stderr[-3000:])
        self.assertIn("hst_galaxies has no Beam generation", result.stderr)
        self.assertNotIn("preparing", result.stdout)


class SyntheticBlocksTest(tfds.testing.TestCase):
    """What lets Beam workers make a synthetic sample in independent pieces."""

    def test_each_block_alone_is_those_rows_of_the_sample(self):
        n = 2 * synthetic.SEED_BLOCK + 37
        whole = synthetic.generate(n, 5)
        self.assertEqual(synthetic.num_blocks(n), 3)
        for block in range(3):
            part = synthetic.generate_block(n, 5, block)
            rows = slice(block * synthetic.SEED_BLOCK, (block + 1) * synthetic.SEED_BLOCK)
            np.testing.assert_array_equal(part.lines.object_id, whole.lines.object_id[rows])
            np.testing.assert_array_equal(part.true_class, whole.true_class[rows])
            for name in ("redshift", "flux", "flux_err", "ew", "ew_err"):
                np.testing.assert_array_equal(
                    getattr(part.lines, name), getattr(whole.lines, name)[rows]
                )
            np.testing.assert_array_equal(part.spectrum, whole.spectrum[rows])
            np.testing.assert_array_equal(part.spectrum_ivar, whole.spectrum_ivar[rows])
            for key, value in part.truth.items():
                np.testing.assert_array_equal(value, whole.truth[key][rows])

    def test_full_blocks_do_not_depend_on_the_sample_size(self):
        """A block's galaxies depend on its seed and its length only."""
        small = synthetic.generate(synthetic.SEED_BLOCK + 10, 2, with_spectrum=False)
        large = synthetic.generate(3 * synthetic.SEED_BLOCK, 2, with_spectrum=False)
        rows = slice(0, synthetic.SEED_BLOCK)
        np.testing.assert_array_equal(small.lines.flux[rows], large.lines.flux[rows])
        self.assertFalse(
            np.array_equal(small.lines.flux[rows], large.lines.flux[synthetic.SEED_BLOCK :])
        )

    def test_bad_block(self):
        with self.assertRaisesRegex(ValueError, "block 3 is outside the 3 blocks of 2001"):
            synthetic.generate_block(2001, 0, 3)
        with self.assertRaisesRegex(ValueError, "seed must be >= 0"):
            synthetic.generate_block(10, -1, 0)
