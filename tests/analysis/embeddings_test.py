"""Embeddings written batch by batch: the same files as written whole, and bad batches refused."""

import os
from unittest import mock

import numpy as np
from absl.testing import absltest

from tests.analysis.imputation_test import synthetic_splits
from tfelg.analysis import embeddings as emb_lib
from tfelg.synthetic import emission_lines as synthetic


def batches_of(splits, size):
    """fn(split) -> that split's rows in batches of ``size`` (as tfelg.data.split_batches)."""

    def batches(split):
        arrays = splits[split]
        n = len(arrays["object_id"])
        for start in range(0, n, size):
            yield {k: v[start : start + size] for k, v in arrays.items()}

    return batches


def assert_same_embeddings(test, a: emb_lib.Embeddings, b: emb_lib.Embeddings, atol=0.0):
    for name in ("object_id", "split", "redshift"):
        x, y = getattr(a, name), getattr(b, name)
        test.assertEqual(x.dtype, y.dtype, name)
        np.testing.assert_array_equal(x, y, err_msg=name)
    test.assertEqual(a.latent.dtype, b.latent.dtype)
    np.testing.assert_allclose(a.latent, b.latent, rtol=0, atol=atol)
    test.assertEqual(sorted(a.labels), sorted(b.labels))
    for key in a.labels:
        test.assertEqual(a.labels[key].dtype, b.labels[key].dtype, key)
        np.testing.assert_array_equal(a.labels[key], b.labels[key], err_msg=key)
    if a.imputed is None:
        test.assertIsNone(b.imputed)
    else:
        np.testing.assert_array_equal(a.imputed, b.imputed)
    test.assertEqual(a.representation, b.representation)
    test.assertEqual(a.class_names, b.class_names)
    test.assertEqual(a.info, b.info)


class EmbeddingsWriterTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        rng = np.random.default_rng(0)
        n = 1000
        self.whole = emb_lib.Embeddings(
            # ids of growing width: the widest batch comes last
            object_id=np.array([f"G{i}" for i in range(n)]),
            split=np.array(["train"] * 700 + ["validation"] * 100 + ["test"] * 200),
            latent=rng.normal(size=(n, 3)),
            redshift=rng.uniform(0, 0.3, n),
            labels={"whan": rng.integers(0, 5, n), "bpt": rng.integers(0, 5, n)},
            class_names={"whan": list("abcde"), "bpt": list("vwxyz")},
            representation="toy",
            info={"note": "written in batches"},
            imputed=rng.uniform(size=(n, 3)) < 0.1,
        )

    def write_in_batches(self, path, size, **kwargs):
        e = self.whole
        with emb_lib.EmbeddingsWriter(
            path, e.representation, e.class_names, e.info, tuple(e.labels), **kwargs
        ) as writer:
            for start in range(0, len(e), size):
                rows = slice(start, start + size)
                writer.append(
                    object_id=e.object_id[rows],
                    split=e.split[rows],
                    latent=e.latent[rows],
                    redshift=e.redshift[rows],
                    labels={k: v[rows] for k, v in e.labels.items()},
                    imputed=e.imputed[rows],
                )
        return path

    def test_batches_give_the_file_save_gives(self):
        whole = self.whole.save(os.path.join(self.dir, "whole.npz"))
        # 7 rows at a time, read back 64 rows at a time: pieces straddle batches.
        with mock.patch.object(emb_lib, "WRITE_ROWS", 64):
            batched = self.write_in_batches(os.path.join(self.dir, "batched.npz"), 7)
        a, b = emb_lib.Embeddings.load(whole), emb_lib.Embeddings.load(batched)
        assert_same_embeddings(self, a, b)
        self.assertEqual(b.object_id.dtype, np.dtype("<U4"))  # the widest id, "G999"
        self.assertEqual(b.split.dtype, np.dtype("<U10"))
        # Every member stored (uncompressed), so that load() maps them.
        with mock.patch.object(emb_lib, "MMAP_MIN_BYTES", 1):
            mapped = emb_lib.Embeddings.load(batched)
        self.assertIsInstance(mapped.latent.base, np.memmap)
        np.testing.assert_array_equal(mapped.latent, a.latent)
        self.assertEqual(sorted(os.listdir(self.dir)), ["batched.npz", "whole.npz"])  # no spool
        # What numpy itself reads: the members and dtypes np.savez wrote before the writer.
        with np.load(batched) as z:
            self.assertEqual(
                z.files,
                ["object_id", "split", "latent", "redshift", "meta", "label_whan", "label_bpt"]
                + ["imputed"],
            )
            self.assertEqual(z["latent"].dtype, np.float32)
            self.assertEqual(z["label_whan"].dtype, np.int16)
            self.assertEqual(z["imputed"].dtype, bool)

    def test_a_failure_leaves_no_file_and_no_spool(self):
        path = os.path.join(self.dir, "e.npz")
        with self.assertRaisesRegex(RuntimeError, "stop"):
            with emb_lib.EmbeddingsWriter(path, "toy", {}, {}, ()) as writer:
                writer.append(
                    object_id=["a"], split="train", latent=[[1.0]], redshift=[0.1], labels={}
                )
                raise RuntimeError("stop")
        self.assertEqual(os.listdir(self.dir), [])

    def test_bad_batches_are_refused_by_name(self):
        writer = emb_lib.EmbeddingsWriter(os.path.join(self.dir, "e.npz"), "toy", {}, {}, ("whan",))
        good = dict(object_id=["a", "b"], split="train", latent=np.zeros((2, 2)), redshift=[0, 0])
        with self.assertRaisesRegex(ValueError, r"latent has shape \(2,\), expected \(2, d\)"):
            writer.append(**{**good, "latent": np.zeros(2)}, labels={"whan": [0, 1]})
        with self.assertRaisesRegex(ValueError, r"labels \['bpt'\], expected \['whan'\]"):
            writer.append(**good, labels={"bpt": [0, 1]})
        with self.assertRaisesRegex(ValueError, "label_whan has 3 rows in this batch, expected 2"):
            writer.append(**good, labels={"whan": [0, 1, 2]})
        writer.append(**good, labels={"whan": [0, 1]})
        with self.assertRaisesRegex(ValueError, r"latent has shape \(1, 3\) in this batch"):
            writer.append(
                object_id=["c"],
                split="test",
                latent=np.zeros((1, 3)),
                redshift=[0],
                labels={"whan": [0]},
            )
        writer.discard()
        self.assertEqual(os.listdir(self.dir), [])

    def test_non_finite_coordinates_are_refused_naming_the_row(self):
        self.whole.latent[803, 1] = np.nan
        self.whole.latent[950, 0] = np.inf
        path = os.path.join(self.dir, "e.npz")
        with self.assertRaisesRegex(
            ValueError,
            r"toy embeddings have NaN or infinite coordinates \(first: row 803, "
            r"object 'G803'; 1 in its batch of 100\)",
        ):
            self.write_in_batches(path, 100, require_finite=True)
        self.assertEqual(os.listdir(self.dir), [])
        # Coordinates made at the end (finish) are checked at the end, over every row.
        with self.assertRaisesRegex(
            ValueError,
            r"NaN or infinite coordinates in 2 of 1000 galaxies \(first: row 803, "
            r"object 'G803'\)",
        ):
            self.write_in_batches(
                path, 100, require_finite=True, finish=lambda x, split: (x, None, {})
            )
        self.assertEqual(os.listdir(self.dir), [])
        # Not asked to check, the writer keeps what it is given (as save() does).
        self.write_in_batches(path, 100)
        self.assertTrue(np.isnan(emb_lib.Embeddings.load(path).latent[803, 1]))


class WriteStreamedTest(absltest.TestCase):
    """The streamed baselines equal the ones computed on splits held whole."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.splits = synthetic_splits(n=3000)
        cls.names = emb_lib.default_class_names(synthetic.TRUE_CLASS_NAMES)

    def test_pca_and_line_ratios_equal_the_in_memory_ones(self):
        out = self.create_tempdir().full_path
        encoders = [emb_lib.PCAEncoder(2), emb_lib.LineRatioEncoder(seed=4)]
        paths = [os.path.join(out, f"{e.representation}.npz") for e in encoders]
        lines = []
        n = emb_lib.write_streamed(
            batches_of(self.splits, 256), encoders, paths, self.names, log=lines.append
        )
        self.assertEqual(n, 3000)
        self.assertEqual(lines[-1], "test: 300 galaxies embedded (3,000 in all)")

        def saved(emb):  # what the exporter wrote before: whole splits, Embeddings.save
            path = os.path.join(out, f"whole_{emb.representation}.npz")
            return emb_lib.Embeddings.load(emb.save(path))

        pca = saved(emb_lib.pca_embeddings(self.splits, 2, self.names))
        ratios = saved(emb_lib.line_ratio_embeddings(self.splits, self.names, seed=4))
        streamed_pca = emb_lib.Embeddings.load(paths[0])
        assert_same_embeddings(self, pca, streamed_pca, atol=1e-5)
        # The imputation runs on the whole column either way: the same draws.
        assert_same_embeddings(self, ratios, emb_lib.Embeddings.load(paths[1]))
        self.assertGreater(ratios.imputed.sum(), 0)
        self.assertEqual(
            sorted(os.listdir(out)),
            ["line_ratios.npz", "pca.npz", "whole_line_ratios.npz", "whole_pca.npz"],
        )

    def test_a_diverged_batch_leaves_no_file(self):
        class Diverged(emb_lib.BatchEncoder):
            representation = "diverged"

            def encode(self, batch):
                latent = np.zeros((len(batch["object_id"]), 2))
                latent[batch["object_id"] == self.bad] = np.nan
                return latent

        encoder = Diverged()
        encoder.bad = self.splits["validation"]["object_id"][5]
        out = self.create_tempdir().full_path
        paths = [os.path.join(out, "pca.npz"), os.path.join(out, "diverged.npz")]
        with self.assertRaisesRegex(
            ValueError,
            rf"diverged embeddings .* \(first: row 2405, object '{encoder.bad}'; "
            r"1 in its batch of 300\)",
        ):
            emb_lib.write_streamed(
                batches_of(self.splits, 500), [emb_lib.PCAEncoder(2), encoder], paths, self.names
            )
        self.assertEqual(os.listdir(out), [])


if __name__ == "__main__":
    absltest.main()
