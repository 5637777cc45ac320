"""Streaming reads and block-wise writing of emission_lines: the same data as whole arrays.

A million galaxies do not fit in memory with their spectra (11 GB), so the
synthetic config is written one seed block at a time (each split in its own
pass) and the readers parse only the features they use, or only some rows.
These tests check, on 2,100 galaxies (three seed blocks, the last one short),
that every path gives exactly what the whole-array path gives.
"""

import tempfile

import numpy as np
from absl.testing import absltest

from tfelg import data, schemes
from tfelg.synthetic import emission_lines as synthetic

N, SEED = 2100, 5
SPLITS = ("train", "validation", "test")


class StreamingTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        cls.builder = data.prepare(
            data.make_builder("emission_lines/synthetic", cls._tmp.name, num_galaxies=N, seed=SEED)
        )
        cls.full = {s: data.load_split_arrays(cls.builder, s) for s in SPLITS}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
        super().tearDownClass()

    def test_block_wise_records_are_the_whole_sample(self):
        # What the builder wrote block by block equals synthetic.generate's whole
        # sample (the path that held every spectrum in memory), row for row.
        from tfelg_datasets.emission_lines import emission_lines_dataset_builder as b

        self.assertGreater(synthetic.num_blocks(N), 2)
        sample = synthetic.generate(N, SEED)
        labels = schemes.classify_table(sample.lines)
        index = {str(o): i for i, o in enumerate(sample.lines.object_id)}
        seen = 0
        for split in SPLITS:
            arrays = self.full[split]
            rows = np.array([index[o] for o in arrays["object_id"]])
            self.assertTrue(all(b.split_of(o) == split for o in arrays["object_id"]))
            np.testing.assert_array_equal(arrays["spectrum"], sample.spectrum[rows])
            np.testing.assert_array_equal(arrays["spectrum_ivar"], sample.spectrum_ivar[rows])
            np.testing.assert_array_equal(arrays["ew"], sample.lines.ew[rows].astype(np.float32))
            np.testing.assert_array_equal(
                arrays["redshift"], sample.lines.redshift[rows].astype(np.float32)
            )
            np.testing.assert_array_equal(arrays["true_class"], sample.true_class[rows])
            np.testing.assert_array_equal(arrays["whan"], labels["whan"][rows])
            np.testing.assert_array_equal(arrays["bpt"], labels["bpt"][rows])
            seen += len(rows)
        self.assertEqual(seen, N)

    def test_features_subset_is_the_same_values(self):
        keep = ["object_id", "ew", "whan"]
        for split in SPLITS:
            part = data.load_split_arrays(self.builder, split, batch_size=7, features=keep)
            self.assertEqual(sorted(part), sorted(keep))
            for key in keep:
                np.testing.assert_array_equal(part[key], self.full[split][key])
        with self.assertRaisesRegex(ValueError, "no feature 'spectra'.*features: .*spectrum"):
            data.load_split_arrays(self.builder, "test", features=["spectra"])

    def test_chosen_rows_streamed_in_small_batches(self):
        total = sum(len(self.full[s]["object_id"]) for s in SPLITS)
        everything = {
            k: np.concatenate([self.full[s][k] for s in SPLITS]) for k in ("object_id", "spectrum")
        }
        rows = np.sort(np.random.default_rng(0).choice(total, size=97, replace=False))
        for batch_size in (7, 4096):
            got = data.load_rows(
                self.builder, SPLITS, rows, batch_size=batch_size, features=["spectrum"]
            )
            self.assertEqual(list(got), list(SPLITS))
            spectra = np.concatenate([got[s]["spectrum"] for s in SPLITS])
            np.testing.assert_array_equal(spectra, everything["spectrum"][rows])
        # None: every row; a split with no chosen row gives zero-length arrays.
        got = data.load_rows(self.builder, SPLITS, None, features=["object_id"])
        np.testing.assert_array_equal(
            np.concatenate([got[s]["object_id"] for s in SPLITS]), everything["object_id"]
        )
        got = data.load_rows(self.builder, SPLITS, [0, 1], features=["spectrum"])
        self.assertEqual(got["test"]["spectrum"].shape, (0, everything["spectrum"].shape[1]))
        self.assertLen(got["train"]["spectrum"], 2)

    def test_transform_keeps_its_result_batch_by_batch(self):
        total = sum(len(self.full[s]["object_id"]) for s in SPLITS)
        spectra = np.concatenate([self.full[s]["spectrum"] for s in SPLITS])
        rows = np.sort(np.random.default_rng(1).choice(total, size=41, replace=False))
        seen = []

        def peak_flux(batch):
            seen.append(len(batch["spectrum"]))
            return {"peak": batch["spectrum"].max(axis=1)}

        got = data.load_rows(
            self.builder, SPLITS, rows, batch_size=7, features=["spectrum"], transform=peak_flux
        )
        self.assertEqual(set(got["train"]), {"peak"})
        peaks = np.concatenate([got[s]["peak"] for s in SPLITS])
        np.testing.assert_array_equal(peaks, spectra[rows].max(axis=1))
        self.assertLessEqual(max(seen), 7)  # one batch at a time, never the whole split
        self.assertEqual(sum(seen), len(rows))


if __name__ == "__main__":
    absltest.main()
