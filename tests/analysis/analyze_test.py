"""The whole analysis of one representation, on planted clusters, and its output folder."""

import dataclasses
import json
import mmap
import os
import subprocess
import sys
import time
from unittest import mock

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg import atomic, schemes
from tfelg.analysis import analyze
from tfelg.analysis import embeddings as embeddings_lib
from tfelg.analysis.embeddings import Embeddings, default_class_names
from tfelg.errors import InputError
from tfelg.outputs.tensorboard_command import tensorboard_command
from tfelg.testing.tensorboard_server import SERVER_TIMEOUT_S, TensorBoardServer


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


def _event_dirs(logdir):
    """Sub-folders TensorBoard treats as runs (those holding an event file), with their count."""
    return {
        os.path.relpath(folder, logdir): sum(f.startswith("events.out.tfevents") for f in files)
        for folder, _, files in os.walk(logdir)
        if any(f.startswith("events.out.tfevents") for f in files)
    }


def _hidden(folder):
    return sorted(
        os.path.relpath(os.path.join(d, n), folder)
        for d, dirs, files in os.walk(folder)
        for n in dirs + files
        if n.startswith(".")
    )


def _training_curves(logdir):
    """A TensorBoard log like tfelg-train's: a loss per epoch in train/ and validation/."""
    import tensorflow as tf

    for split in ("train", "validation"):
        writer = tf.summary.create_file_writer(os.path.join(logdir, split))
        with writer.as_default():
            for epoch in range(3):
                tf.summary.scalar("loss", 1.0 / (epoch + 1), step=epoch)
        writer.close()


FAST = analyze.AnalysisConfig(
    k_max=3,
    gap_references=2,
    n_bootstrap=2,
    silhouette_sample=200,
    tsne_n_iter=50,
    tsne_early_exaggeration_iter=50,
    tsne_perplexity=10,
)


class WriteAnalysisTest(absltest.TestCase):
    """The analysis folder: one TensorBoard log for everything, replaced whole."""

    def setUp(self):
        super().setUp()
        self.parent = self.create_tempdir().full_path
        self.out = os.path.join(self.parent, "analysis")
        self.first = dataclasses.replace(planted_embeddings(n=150), representation="first")
        self.second = dataclasses.replace(
            planted_embeddings(n=150, seed=1), representation="second"
        )

    def test_one_logdir_for_projectors_and_curves_replaced_whole(self):
        training = os.path.join(self.create_tempdir().full_path, "tensorboard")
        _training_curves(training)
        summary = analyze.write_analysis(
            [self.first, self.second], self.out, FAST, training_logdir=training, log=lambda _: None
        )
        self.assertEqual(summary["tensorboard_logdir"], self.out)
        self.assertEqual(summary["tensorboard_command"], tensorboard_command(self.out))
        events = _event_dirs(self.out)
        self.assertEqual(
            set(events),
            {"first/projector", "second/projector", "training/train", "training/validation"},
        )
        # Paths in the summaries name the final folder, not the one built aside.
        with open(summary["representations"]["first"], encoding="utf-8") as f:
            first = json.load(f)
        self.assertStartsWith(first["catalogue"], os.path.join(self.out, "first") + os.sep)
        self.assertStartsWith(first["projector"]["logdir"], os.path.join(self.out, "first"))
        for path in first["figures"].values():
            self.assertTrue(os.path.isfile(path), path)

        # What the printed command opens: both projectors and the curves.
        server = TensorBoardServer(self.out)
        self.addCleanup(server.stop)
        server.wait_until_serving(time.monotonic() + SERVER_TIMEOUT_S)
        runs = json.loads(server.get("data/plugin/projector/runs"))
        self.assertContainsSubset({"first/projector", "second/projector"}, runs)
        scalars = json.loads(server.get("data/plugin/scalars/tags"))
        for run in ("training/train", "training/validation"):
            self.assertIn("loss", scalars[run])
        # The 2-D latent reaches the projector with its zero column.
        info = json.loads(server.get("data/plugin/projector/info", run="first/projector"))
        (shape,) = [e["tensorShape"] for e in info["embeddings"]]
        self.assertEqual([int(v) for v in shape], [150, 3])
        server.stop()

        # Again, without the second representation: refused without overwrite.
        with self.assertRaisesRegex(InputError, "already holds an analysis; pass overwrite"):
            analyze.write_analysis([self.first], self.out, FAST, log=lambda _: None)
        # A killed earlier run left its half-built folder beside the output.
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        killed = os.path.join(self.parent, f".analysis.{atomic._TAG}-{dead.pid}.abcdefgh.tmp")
        os.makedirs(os.path.join(killed, "first"))
        summary = analyze.write_analysis(
            [self.first], self.out, FAST, overwrite=True, log=lambda _: None
        )
        self.assertEqual(sorted(os.listdir(self.out)), ["first", "results.md", "summary.json"])
        self.assertEqual(list(summary["representations"]), ["first"])
        self.assertIsNone(summary["training_curves"])
        # No event files pile up: the one run left has as many as before.
        self.assertEqual(_event_dirs(self.out), {"first/projector": events["first/projector"]})
        self.assertEqual(os.listdir(self.parent), ["analysis"])
        self.assertEqual(_hidden(self.out), [])

    def test_failed_run_keeps_the_previous_analysis(self):
        os.makedirs(os.path.join(self.out, "first"))
        previous = {"representations": {"first": "first/summary.json"}, "results": []}
        atomic.write_json(os.path.join(self.out, "summary.json"), previous)
        atomic.write_text(os.path.join(self.out, "first", "catalogue.fits"), "old")
        with (
            mock.patch.object(analyze, "analyze_embeddings", side_effect=RuntimeError("killed")),
            self.assertRaisesRegex(RuntimeError, "killed"),
        ):
            analyze.write_analysis([self.second], self.out, FAST, overwrite=True)
        self.assertEqual(sorted(os.listdir(self.out)), ["first", "summary.json"])
        with open(os.path.join(self.out, "first", "catalogue.fits")) as f:
            self.assertEqual(f.read(), "old")
        self.assertEqual(os.listdir(self.parent), ["analysis"])

    def test_refuses_folders_it_must_not_replace(self):
        analyze.check_output_dir(self.out)  # New.
        os.makedirs(self.out)
        analyze.check_output_dir(self.out)  # Empty.
        with open(os.path.join(self.out, "notes.txt"), "w") as f:
            f.write("mine")
        for overwrite in (False, True):
            with self.assertRaisesRegex(InputError, "other files than an analysis.*notes.txt"):
                analyze.check_output_dir(self.out, overwrite=overwrite)
        with self.assertRaisesRegex(InputError, "other files than an analysis"):
            analyze.write_analysis([self.first], self.out, FAST, overwrite=True)
        with open(os.path.join(self.out, "notes.txt")) as f:
            self.assertEqual(f.read(), "mine")
        a_file = os.path.join(self.parent, "file")
        with open(a_file, "w") as f:
            f.write("x")
        with self.assertRaisesRegex(InputError, "not a folder"):
            analyze.check_output_dir(a_file, overwrite=True)
        # The training run itself, or a folder holding it, would be deleted.
        workdir = os.path.join(self.parent, "run")
        for out in (workdir, self.parent):
            with self.assertRaisesRegex(InputError, "would hold the training run"):
                analyze.check_output_dir(out, workdir=workdir, overwrite=True)
        analyze.check_output_dir(os.path.join(workdir, "analysis"), workdir=workdir)


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

    def test_large_arrays_are_memory_mapped_and_equal_to_a_plain_load(self):
        emb = planted_embeddings(n=300)
        emb.imputed = np.zeros_like(emb.latent, dtype=bool)
        emb.imputed[::7, 1] = True
        path = os.path.join(self.create_tempdir().full_path, "e.npz")
        emb.save(path)
        with mock.patch.object(embeddings_lib, "MMAP_MIN_BYTES", 1):
            mapped = Embeddings.load(path)
        plain = Embeddings.load(path, mmap=False)
        for name in ("object_id", "split", "latent", "redshift", "imputed"):
            with self.subTest(array=name):
                self.assertTrue(_is_mapped(getattr(mapped, name)))
                self.assertFalse(_is_mapped(getattr(plain, name)))
                saved = getattr(plain, name)
                np.testing.assert_array_equal(getattr(mapped, name), saved)
                np.testing.assert_array_equal(saved, getattr(emb, name).astype(saved.dtype))
        for name, codes in emb.labels.items():
            np.testing.assert_array_equal(mapped.labels[name], codes)
        self.assertEqual(mapped.info, plain.info)
        # Copy-on-write: changing the loaded coordinates leaves the file alone.
        mapped.latent[0] = 1e6
        np.testing.assert_array_equal(Embeddings.load(path).latent, emb.latent.astype(np.float32))
        # Below the threshold (the default for 300 galaxies) arrays are read.
        self.assertFalse(_is_mapped(Embeddings.load(path).latent))


def _is_mapped(array) -> bool:
    """True if ``array`` (or an array it views) is a memory map of a file."""
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


if __name__ == "__main__":
    absltest.main()
