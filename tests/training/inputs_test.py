"""Tests for tfelg.training.inputs: spooled (x, w) read back as the arrays they came from."""

import os
from unittest import mock

import numpy as np
import tensorflow as tf

from tfelg.preprocessing import Preprocessor
from tfelg.training import inputs


def _line_batches(n, seed=0, size=100):
    rng = np.random.default_rng(seed)
    ew = rng.lognormal(1.0, 1.0, size=(n, 10))
    ew[rng.random(ew.shape) < 0.3] = np.nan
    return [{"ew": ew[i : i + size]} for i in range(0, n, size)], ew


class SpoolTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.batches, ew = _line_batches(1_050)
        self.prep = Preprocessor.fit({"ew": ew})
        self.x, self.w = self.prep.transform({"ew": ew})
        self.directory = self.create_tempdir().full_path
        lines = []
        self.stores = {}
        for where, limit in (("memory", inputs.IN_MEMORY_BYTES), ("disk", 0)):
            directory = os.path.join(self.directory, where)
            os.makedirs(directory)
            with mock.patch.object(inputs, "IN_MEMORY_BYTES", limit):
                self.stores[where] = inputs.spool_inputs(
                    self.prep, lambda split: self.batches, ["train"], directory, log=lines.append
                )["train"]
        self.lines = lines

    def tearDown(self):
        inputs.remove_spool(None, self.stores)
        super().tearDown()

    def test_rows_read_back_as_the_arrays(self):
        # x as float32, the mask as one byte a value: 5 bytes a value on disk.
        self.assertEqual(os.path.getsize(f"{self.directory}/disk/train.x"), 1_050 * 40)
        self.assertEqual(os.path.getsize(f"{self.directory}/disk/train.w"), 1_050 * 10)
        rows = np.random.default_rng(1).permutation(1_050)[:300]
        for where, store in self.stores.items():
            with self.subTest(where=where):
                self.assertEqual(store.num_rows, 1_050)
                x, w = store.take(rows)
                np.testing.assert_array_equal(x, self.x[rows])
                np.testing.assert_array_equal(w, self.w[rows])
                self.assertEqual((x.dtype, w.dtype), (np.float32, np.float32))
                x, w = store.read(1_000, 1_050)
                np.testing.assert_array_equal(x, self.x[1_000:])
                np.testing.assert_array_equal(w, self.w[1_000:])
        self.assertIsNone(self.stores["disk"]._x.array)  # noqa: SLF001 (read row by row)
        self.assertIsNotNone(self.stores["memory"]._x.array)  # noqa: SLF001
        self.assertRegex(self.lines[0], r"^preprocessing train: 1,050 galaxies in [0-9.]+ s$")

    def test_a_truncated_spool_is_an_error_not_zeros(self):
        with open(f"{self.directory}/disk/train.x", "r+b") as f:
            f.truncate(1_000 * 40)
        with self.assertRaisesRegex(OSError, "end early"):
            self.stores["disk"].take(np.array([1_020]))

    def test_tf_ops_give_the_same_rows_and_pad_the_end(self):
        rows = tf.constant([5, 3, 1_049, 0], tf.int64)
        for where, store in self.stores.items():  # tf.gather in memory, reads from disk
            with self.subTest(where=where):
                take = store.tf_take_fn()
                x, w = tf.data.Dataset.from_tensors(rows).map(take).get_single_element()
                self.assertEqual(x.shape, (4, 10))
                self.assertEqual(w.dtype, tf.float32)
                self.assertAllEqual(x, self.x[[5, 3, 1_049, 0]])
                self.assertAllEqual(w, self.w[[5, 3, 1_049, 0]])
                (x, w), mask = store.tf_read_padded(tf.constant(1_040, tf.int64), 16)
                self.assertEqual(x.shape, (16, 10))
                self.assertAllEqual(x[:10], self.x[1_040:])
                self.assertAllEqual(x[10:], np.zeros((6, 10)))
                self.assertAllEqual(w[10:], np.zeros((6, 10)))
                self.assertAllEqual(mask, [1.0] * 10 + [0.0] * 6)

    def test_arrays_in_memory_read_the_same_way(self):
        images = {"image": np.arange(60, dtype=np.float32).reshape(5, 2, 2, 3)}
        store = inputs.ArrayRows(images)
        self.assertEqual(store.num_rows, 5)
        batch = store.tf_take_fn()(tf.constant([4, 0]))
        self.assertAllEqual(batch["image"], images["image"][[4, 0]])
        padded, mask = store.tf_read_padded(tf.constant(3, tf.int64), 4)
        self.assertAllEqual(padded["image"][:2], images["image"][3:])
        self.assertAllEqual(mask, [1, 1, 0, 0])

    def test_spool_folder(self):
        out = self.create_tempdir().full_path
        path = inputs.make_spool_dir(out)
        self.assertEqual(path, os.path.join(out, inputs.INPUTS_DIR))
        open(os.path.join(path, "train.x"), "wb").close()  # left by a killed run
        self.assertEqual(os.listdir(inputs.make_spool_dir(out)), [])
        inputs.remove_spool(path, None)
        self.assertFalse(os.path.exists(path))
        remote = inputs.make_spool_dir("gs://bucket/run")  # mapped files must be local
        self.assertTrue(os.path.isdir(remote))
        inputs.remove_spool(remote, None)


if __name__ == "__main__":
    tf.test.main()
