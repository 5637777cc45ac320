"""The emission-line components one by one: their artifacts, resumption, binaries.

The whole chain runs in tests/pipelines/emission_lines_test.py; here each
component's own promises are checked on tiny data (300 galaxies, 1-3 epochs):
the dataset reopens without being written to, a failed training resumes from
its work folder, the exporter's baselines, a real catalogue folder as a
fingerprinted input, the sweep's table fold and the command-line binary.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

from absl.testing import absltest

from tfelg.testing import fits_fixtures
from tfelg.training import loop
from tfelg_components import emission_lines as el
from tfelg_components import runner
from tfelg_components.base import Files, Report

N = 300


def _write_report(folder, rows):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, el.SUMMARY_JSON), "w", encoding="utf-8") as f:
        json.dump({"results": rows}, f)
    return Report(folder)


def _row(representation, d, accuracy):
    return {
        "representation": representation,
        "latent_dim": d,
        "k_bic": 3,
        "whan_accuracy": accuracy,
        "whan_accuracy_err": 0.01,
        "whan_ari": accuracy / 2,
        "whan_ari_err": 0.02,
    }


class TrainedComponentsTest(absltest.TestCase):
    """dataset_gen, trainer and embedding_exporter on one tiny synthetic sample."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="emission_lines_components_test_")
        cls.data = runner.execute(el.dataset_gen, cls.root, params={"num_galaxies": N, "seed": 2})
        cls.dataset = cls.data.outputs["dataset"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def test_dataset_artifact_reopens_without_writes(self):
        info = runner.read_json(self.dataset.path(el.DATASET_JSON))
        self.assertEqual(info["full_name"], "emission_lines/synthetic_n300_s2/1.0.0")
        self.assertEqual(sum(info["splits"].values()), N)
        self.assertTrue(info["has_spectrum"])
        self.assertTrue(os.path.isfile(self.dataset.path(el.DATASET_PLOT)))
        with open(self.dataset.path(el.DESCRIPTION_FILE), encoding="utf-8") as f:
            description = f.read()
        self.assertIn("WHAN classes", description)
        self.assertNotIn(self.root, description)  # paths relative to the artifact
        builder, splits = el.load_dataset(self.dataset, "spectrum")
        self.assertEqual(sum(len(a["object_id"]) for a in splits.values()), N)
        self.assertIn("spectrum", splits["test"])
        self.assertEqual(runner.fingerprint(self.dataset.uri), self.dataset.fingerprint)

    def test_trainer_resumes_in_its_work_folder(self):
        params, node = {"epochs": 3, "batch_size": 50, "seed": 1}, "trainer_killed"
        original = loop.Trainer._train_epoch_batches

        def dies_in_third_epoch(trainer, epoch):
            if epoch == 2:
                raise RuntimeError("killed in epoch 3")
            return original(trainer, epoch)

        with mock.patch.object(loop.Trainer, "_train_epoch_batches", dies_in_third_epoch):
            with self.assertRaisesRegex(runner.ComponentError, "killed in epoch 3") as cm:
                runner.execute(el.trainer, self.root, {"dataset": self.dataset}, params, node=node)
        execution = os.path.splitext(os.path.basename(cm.exception.record))[0]
        work = os.path.join(self.root, node, runner.WORK_DIR, execution)
        self.assertTrue(os.path.isdir(os.path.join(work, loop.BACKUP_DIR)))
        self.assertEqual(os.listdir(os.path.join(self.root, node, "model")), [])  # nothing half

        done = runner.execute(el.trainer, self.root, {"dataset": self.dataset}, params, node=node)
        self.assertEqual(done.id, execution)
        model = done.outputs["model"]
        metrics = runner.read_json(model.path(loop.METRICS_FILE))
        self.assertEqual(metrics["resumed_from_epoch"], 2)
        self.assertEqual(metrics["epochs"], 3)
        self.assertEqual(
            sorted(os.listdir(model.uri)), sorted([*el.RUN_FILES, *el.RUN_DIRS])
        )  # no backup/
        self.assertFalse(os.path.exists(work))  # removed after success
        self.assertEqual(model.properties["best_epoch"], metrics["best_epoch"])

    def test_exporter_baselines(self):
        params = {"epochs": 1, "batch_size": 50, "latent_dim": 3, "model_name": "vae"}
        model = runner.execute(el.trainer, self.root, {"dataset": self.dataset}, params)
        inputs = {"dataset": self.dataset, "model": model.outputs["model"]}
        done = runner.execute(el.embedding_exporter, self.root, inputs, {"baselines": ["pca"]})
        embeddings = done.outputs["embeddings"]
        self.assertEqual(el.representations(embeddings), ["vae", "pca"])
        for name in ("vae", "pca"):
            emb = el.load_embeddings(embeddings, name)
            self.assertEqual(emb.latent.shape, (N, 3))
            self.assertEqual(list(emb.split[:1]), ["train"])  # train, validation, test
        with self.assertRaisesRegex(runner.ComponentError, r"unknown baseline\(s\) \['umap'\]"):
            runner.execute(el.embedding_exporter, self.root, inputs, {"baselines": ["umap"]})


class RealCatalogueInputTest(absltest.TestCase):
    def test_manual_folder_is_a_fingerprinted_input(self):
        root = self.create_tempdir().full_path
        manual = self.create_tempdir().full_path
        fits_fixtures.write_mpajhu_pair(os.path.join(manual, "mpajhu"), n=40, seed=0)
        params = {"dataset_name": "emission_lines/mpajhu"}
        first = runner.execute(el.dataset_gen, root, {"raw": Files(manual)}, params)
        info = runner.read_json(first.outputs["dataset"].path(el.DATASET_JSON))
        self.assertFalse(info["has_spectrum"])
        self.assertEqual(info["full_name"], "emission_lines/mpajhu/1.0.0")
        again = runner.execute(el.dataset_gen, root, {"raw": Files(manual)}, params)
        self.assertTrue(again.cached)
        fits_fixtures.write_mpajhu_pair(os.path.join(manual, "mpajhu"), n=40, seed=1)
        changed = runner.execute(el.dataset_gen, root, {"raw": Files(manual)}, params)
        self.assertFalse(changed.cached)
        self.assertNotEqual(changed.id, first.id)


class ComparisonTest(absltest.TestCase):
    def test_fold_of_reports_into_one_table(self):
        root = self.create_tempdir().full_path
        reports = self.create_tempdir().full_path
        first = _write_report(os.path.join(reports, "a"), [_row("ae", 2, 0.5), _row("pca", 2, 0.4)])
        second = _write_report(os.path.join(reports, "b"), [_row("vae", 2, 0.6)])
        one = runner.execute(el.comparison, root, {"report": first}, {"chain": "ae_d2"})
        both = runner.execute(
            el.comparison,
            root,
            {"report": second, "previous": one.outputs["table"]},
            {"chain": "vae_d2"},
            node="comparison_all",
        )
        table = both.outputs["table"]
        rows = runner.read_json(table.path(el.COMPARISON_JSON))["rows"]
        self.assertEqual(
            [(r["representation"], r["chain"]) for r in rows],
            [("ae", "ae_d2"), ("vae", "vae_d2"), ("pca", "ae_d2")],
        )
        with open(table.path(el.RESULTS_MD), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("| vae | 2 | 3 |", text)
        self.assertIn("0.600 ± 0.010", text)


class BinaryTest(absltest.TestCase):
    def run_binary(self, *args):
        return subprocess.run(
            [sys.executable, "-m", "tfelg_components.emission_lines", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_usage_lists_the_components(self):
        done = self.run_binary()
        self.assertNotEqual(done.returncode, 0)
        for name in ("dataset_gen", "trainer", "model_selector", "projector_writer"):
            self.assertIn(name, done.stderr)

    def test_one_step_from_the_command_line(self):
        root = self.create_tempdir().full_path
        report = _write_report(self.create_tempdir().full_path, [_row("ae", 2, 0.5)])
        record = os.path.join(self.create_tempdir().full_path, "comparison.json")
        args = [
            "comparison",
            f"--root={root}",
            f"--input_report={report.uri}",
            "--chain=ae_d2",
            f"--execution_json={record}",
        ]
        done = self.run_binary(*args)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("comparison: ran", done.stdout)
        table = runner.read_json(record)["outputs"]["table"]["uri"]
        self.assertTrue(os.path.isfile(os.path.join(table, el.RESULTS_MD)))
        self.assertIn("comparison: cached", self.run_binary(*args).stdout)


if __name__ == "__main__":
    absltest.main()
