"""The emission-line dataset component, its Domain, and the shared components one by one.

The whole chain runs in tests/pipelines/emission_lines_test.py; here each
component's own promises are checked on tiny data (300 galaxies, 1-3 epochs):
the dataset reopens without being written to, a failed training resumes from
its work folder, the exporter's baselines (the domain's), the domain's
thumbnails, a real catalogue folder as a fingerprinted input, the sweep's
table fold and the command-line binaries of the shared modules.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

import numpy as np
from absl.testing import absltest

from tfelg import data as tfelg_data
from tfelg.testing import fits_fixtures
from tfelg.training import loop
from tfelg_components import analysis, common, domains, outputs, runner, training
from tfelg_components import emission_lines as el
from tfelg_components.base import Files, ParameterError, Report

N = 300


def _write_report(folder, rows):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, common.SUMMARY_JSON), "w", encoding="utf-8") as f:
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
        info = runner.read_json(self.dataset.path(common.DATASET_JSON))
        self.assertEqual(info["full_name"], "emission_lines/synthetic_n300_s2/2.0.0")
        self.assertEqual(sum(info["splits"].values()), N)
        self.assertTrue(info["has_spectrum"])
        self.assertTrue(os.path.isfile(self.dataset.path(el.DATASET_PLOT)))
        with open(self.dataset.path(el.DESCRIPTION_FILE), encoding="utf-8") as f:
            description = f.read()
        self.assertIn("WHAN classes", description)
        self.assertNotIn(self.root, description)  # paths relative to the artifact
        builder, splits = common.load_dataset(self.dataset, "spectrum")
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
                runner.execute(
                    training.trainer, self.root, {"dataset": self.dataset}, params, node=node
                )
        execution = os.path.splitext(os.path.basename(cm.exception.record))[0]
        work = os.path.join(self.root, node, runner.WORK_DIR, execution)
        self.assertTrue(os.path.isdir(os.path.join(work, loop.BACKUP_DIR)))
        self.assertEqual(os.listdir(os.path.join(self.root, node, "model")), [])  # nothing half

        done = runner.execute(
            training.trainer, self.root, {"dataset": self.dataset}, params, node=node
        )
        self.assertEqual(done.id, execution)
        model = done.outputs["model"]
        metrics = runner.read_json(model.path(loop.METRICS_FILE))
        self.assertEqual(metrics["resumed_from_epoch"], 2)
        self.assertEqual(metrics["epochs"], 3)
        self.assertEqual(
            sorted(os.listdir(model.uri)), sorted([*training.RUN_FILES, *training.RUN_DIRS])
        )  # no backup/
        self.assertFalse(os.path.exists(work))  # removed after success
        self.assertEqual(model.properties["best_epoch"], metrics["best_epoch"])

    def test_exporter_baselines(self):
        params = {"epochs": 1, "batch_size": 50, "latent_dim": 3, "model_name": "vae"}
        model = runner.execute(training.trainer, self.root, {"dataset": self.dataset}, params)
        inputs = {"dataset": self.dataset, "model": model.outputs["model"]}
        done = runner.execute(
            training.embedding_exporter, self.root, inputs, {"baselines": ["pca"]}
        )
        embeddings = done.outputs["embeddings"]
        self.assertEqual(common.representations(embeddings), ["vae", "pca"])
        for name in ("vae", "pca"):
            emb = common.load_embeddings(embeddings, name)
            self.assertEqual(emb.latent.shape, (N, 3))
            self.assertEqual(list(emb.split[:1]), ["train"])  # train, validation, test
        with self.assertRaisesRegex(
            ParameterError,
            "'baselines' item 0 must be one of pca, line_ratios, pixel_pca, morphology, got 'umap'",
        ):
            runner.execute(training.embedding_exporter, self.root, inputs, {"baselines": ["umap"]})
        # An image baseline passes the parameter's check (every domain's names);
        # the dataset's domain refuses it, naming the parameter and its own names.
        with self.assertRaisesRegex(
            runner.ComponentError,
            "ParameterError: 'baselines' item 0 must be one of the emission_lines baselines: "
            "pca, line_ratios, got 'pixel_pca'",
        ):
            runner.execute(
                training.embedding_exporter, self.root, inputs, {"baselines": ["pixel_pca"]}
            )
        # None: every baseline of the dataset's domain, in the domain's order.
        every = runner.execute(training.embedding_exporter, self.root, inputs, {})
        self.assertEqual(
            common.representations(every.outputs["embeddings"]), ["vae", *el.BASELINES]
        )
        self.assertEqual(
            runner.fingerprint(every.outputs["embeddings"].path("pca.npz")),
            runner.fingerprint(embeddings.path("pca.npz")),
        )
        # Streamed batch by batch (Domain.batch_baselines), the files hold what the
        # representations computed on the splits read whole give.
        from tfelg.analysis import embeddings as emb_lib

        builder, splits = common.load_dataset(self.dataset)
        names = el.DOMAIN.class_names(builder)
        config = runner.read_json(model.outputs["model"].path("config.json"))
        whole = {
            "vae": emb_lib.autoencoder_embeddings(model.outputs["model"].uri, splits, names),
            "pca": el.pca_baseline(splits, config, names),
            "line_ratios": el.line_ratio_baseline(splits, config, names),
        }
        for name, expected in whole.items():
            with self.subTest(representation=name):
                streamed = common.load_embeddings(every.outputs["embeddings"], name)
                np.testing.assert_array_equal(streamed.object_id, expected.object_id)
                np.testing.assert_array_equal(streamed.split, expected.split)
                for key, codes in expected.labels.items():
                    np.testing.assert_array_equal(streamed.labels[key], codes)
                atol = 1e-5 if name == "pca" else 0.0  # its scatter summed in other batches
                np.testing.assert_allclose(streamed.latent, expected.latent, rtol=0, atol=atol)
                self.assertEqual(streamed.info, expected.info)
        np.testing.assert_array_equal(
            common.load_embeddings(every.outputs["embeddings"], "line_ratios").imputed,
            whole["line_ratios"].imputed,
        )

    def test_domain_of_the_dataset(self):
        self.assertIs(domains.domain_of(self.dataset), el.DOMAIN)
        self.assertEqual(el.DOMAIN.schemes, ("whan", "bpt", "true_class"))
        builder, splits = common.load_dataset(self.dataset)
        names = el.DOMAIN.class_names(builder)
        self.assertEqual(names["true_class"], builder.info.features["true_class"].names)
        # input=lines (the default) does not parse the spectra: 11 kB a galaxy.
        self.assertNotIn("spectrum", splits["train"])
        self.assertIn("ew", splits["train"])
        # The sprite's thumbnails: one rendered spectrum per galaxy, in the
        # embeddings' row order (train, validation, test), from the spectra
        # alone (the domain's thumbnail_features), as the projector reads them.
        builder = loop.open_dataset(common.data_config(self.dataset))
        features = el.DOMAIN.thumbnail_features(builder)
        splits = tfelg_data.load_rows(builder, common.SPLITS, None, features=features)
        self.assertEqual(set(splits["train"]), {"spectrum"})
        thumbs = el.DOMAIN.thumbnails(builder, splits)
        self.assertLen(thumbs, N)
        spectra = np.concatenate([splits[s]["spectrum"] for s in common.SPLITS])
        from tfelg.outputs import sprites

        np.testing.assert_array_equal(thumbs[-1:], sprites.render_spectra(spectra[-1:]))
        # Only some galaxies (the projector's subsample): the same thumbnails.
        rows = np.array([0, 5, N - 1])
        chosen = tfelg_data.load_rows(builder, common.SPLITS, rows, features=features)
        np.testing.assert_array_equal(el.DOMAIN.thumbnails(builder, chosen), thumbs[rows])
        # What the projector calls: drawn batch by batch as the spectra are read,
        # the same pictures; also with a split none of whose galaxies is chosen.
        self.assertIsNotNone(el.DOMAIN.thumbnail_drawer(builder))
        for some in (None, rows, np.array([1, 2])):
            expected = thumbs if some is None else thumbs[some]
            np.testing.assert_array_equal(
                common.load_thumbnails(self.dataset, el.DOMAIN, some), expected
            )


class RealCatalogueInputTest(absltest.TestCase):
    def test_manual_folder_is_a_fingerprinted_input(self):
        root = self.create_tempdir().full_path
        manual = self.create_tempdir().full_path
        fits_fixtures.write_mpajhu_pair(os.path.join(manual, "mpajhu"), n=40, seed=0)
        params = {"dataset_name": "emission_lines/mpajhu"}
        first = runner.execute(el.dataset_gen, root, {"raw": Files(manual)}, params)
        info = runner.read_json(first.outputs["dataset"].path(common.DATASET_JSON))
        self.assertFalse(info["has_spectrum"])
        self.assertEqual(info["full_name"], "emission_lines/mpajhu/2.0.0")
        again = runner.execute(el.dataset_gen, root, {"raw": Files(manual)}, params)
        self.assertTrue(again.cached)
        fits_fixtures.write_mpajhu_pair(os.path.join(manual, "mpajhu"), n=40, seed=1)
        changed = runner.execute(el.dataset_gen, root, {"raw": Files(manual)}, params)
        self.assertFalse(changed.cached)
        self.assertNotEqual(changed.id, first.id)
        # Without spectra, the projector's thumbnails are glyphs of the line ratios.
        from tfelg.analysis import embeddings as emb_lib
        from tfelg.outputs import sprites

        builder, splits = common.load_dataset(changed.outputs["dataset"])
        ratios = emb_lib.line_ratio_embeddings(splits, el.DOMAIN.class_names(builder))
        self.assertTrue(ratios.imputed.any())  # the fixture has missing lines
        measured = np.where(ratios.imputed, np.nan, ratios.latent)
        np.testing.assert_array_equal(
            el.DOMAIN.thumbnails(builder, splits), sprites.render_feature_glyphs(measured)
        )


class ComparisonTest(absltest.TestCase):
    def test_fold_of_reports_into_one_table(self):
        root = self.create_tempdir().full_path
        reports = self.create_tempdir().full_path
        first = _write_report(os.path.join(reports, "a"), [_row("ae", 2, 0.5), _row("pca", 2, 0.4)])
        second = _write_report(os.path.join(reports, "b"), [_row("vae", 2, 0.6)])
        one = runner.execute(outputs.comparison, root, {"report": first}, {"chain": "ae_d2"})
        both = runner.execute(
            outputs.comparison,
            root,
            {"report": second, "previous": one.outputs["table"]},
            {"chain": "vae_d2"},
            node="comparison_all",
        )
        table = both.outputs["table"]
        rows = runner.read_json(table.path(common.COMPARISON_JSON))["rows"]
        self.assertEqual(
            [(r["representation"], r["chain"]) for r in rows],
            [("ae", "ae_d2"), ("vae", "vae_d2"), ("pca", "ae_d2")],
        )
        with open(table.path(common.RESULTS_MD), encoding="utf-8") as f:
            text = f.read()
        self.assertIn("| vae | 2 | 3 |", text)
        self.assertIn("0.600 ± 0.010", text)


def _accepts(call, *args) -> bool:
    try:
        call(*args)
    except ValueError:  # ParameterError and the library's own errors
        return False
    return True


class ConstraintsAgreeWithTheLibraryTest(absltest.TestCase):
    """A component's constraints say what the library accepts, no more, no less.

    The constraints let a pipeline refuse a bad value before any step runs;
    the library checks again when the step runs. Each probe value must be
    accepted by both or refused by both, so the two cannot drift apart.
    """

    def assert_agree(self, component, name, probes, library):
        for value in probes:
            with self.subTest(component=component.name, parameter=name, value=value):
                self.assertEqual(
                    _accepts(component.bind_parameters, {name: value}),
                    _accepts(library, value),
                    "the component's constraint and the library disagree (first: component)",
                )

    def test_copied_names_are_the_library_s(self):
        from tfelg.analysis import gmm, model_selection, tsne
        from tfelg.models import model_names
        from tfelg.outputs import projector

        self.assertEqual(training.MODEL_NAMES, model_names("vector"))
        self.assertEqual(analysis.COVARIANCE_TYPES, gmm.COVARIANCE_TYPES)
        self.assertEqual(analysis.TSNE_INITIALIZATIONS, tsne.INITIALIZATIONS)
        self.assertEqual(analysis.TSNE_METHODS, tsne.NEGATIVE_GRADIENT_METHODS)
        self.assertEqual(analysis.TSNE_PLACE_METHODS, (*tsne.PLACE_METHODS, "none"))
        self.assertEqual(outputs.PROJECTOR_MAX_POINTS, projector.PROJECTOR_MAX_POINTS)
        self.assertEqual(analysis.GAP_N_INIT, model_selection.GAP_N_INIT)
        from tfelg.analysis.analyze import AnalysisConfig

        self.assertEqual(analysis.MIXTURE_N_INIT, AnalysisConfig().mixture_n_init)

    def test_dataset_and_trainer(self):
        from tfelg.training.config import DataConfig, ExperimentConfig, ModelConfig, TrainerConfig

        def validate(section, **values):
            sections = {"data": DataConfig, "model": ModelConfig, "trainer": TrainerConfig}
            ExperimentConfig(**{section: sections[section](**values)}).validate()

        ints = (-1, 0, 1, 2, 9, 10)
        for component, name, section, key, probes in [
            (el.dataset_gen, "dataset_name", "data", "dataset", ("emission_lines", "nope/x")),
            (el.dataset_gen, "num_galaxies", "data", "num_galaxies", (None, *ints)),
            (el.dataset_gen, "seed", "data", "dataset_seed", (None, *ints)),
            (training.trainer, "model_name", "model", "name", (*training.MODEL_NAMES, "vea")),
            (training.trainer, "latent_dim", "model", "latent_dim", ints),
            (training.trainer, "input", "data", "input", ("lines", "spectrum", "image")),
            (
                training.trainer,
                "line_features",
                "data",
                "line_features",
                ("ew", "ew_and_ratios", "x"),
            ),
            (training.trainer, "epochs", "trainer", "epochs", ints),
            (training.trainer, "batch_size", "trainer", "batch_size", ints),
            (
                training.trainer,
                "learning_rate",
                "trainer",
                "learning_rate",
                (-1.0, 0.0, 1e-6, 1.0, 1e300),
            ),
            (training.trainer, "seed", "trainer", "seed", ints),
        ]:
            self.assert_agree(
                component, name, probes, lambda v, s=section, k=key: validate(s, **{k: v})
            )

    def test_analysis(self):
        from tfelg.analysis import analyze, model_selection, tsne

        ints = (-1, 0, 1, 2, 3)
        for component, name, probes in [
            (analysis.model_selector, "k_max", ints),
            (analysis.model_selector, "covariance_type", ("full", "diag", "tied")),
            (analysis.model_selector, "gap_n_init", ints),
            (analysis.clusterer, "covariance_type", ("full", "diag", "spherical")),
            (analysis.clusterer, "n_clusters", (None, *ints)),
            (analysis.clusterer, "n_bootstrap", ints),
        ]:
            self.assert_agree(
                component, name, probes, lambda v, n=name: analyze.AnalysisConfig(**{n: v})
            )
        x = np.random.default_rng(0).normal(size=(40, 3))
        self.assert_agree(
            analysis.model_selector,
            "gap_references",
            ints,
            lambda v: model_selection.reference_sets(x, v, seed=0),
        )
        quick = {"n_iter": 0, "early_exaggeration_iter": 0, "n_jobs": 1}
        for name, key, probes in [
            ("perplexity", "perplexity", (-1.0, 0.0, 0.5, 5.0)),
            ("iterations", "n_iter", (-1, 0, 1)),
            ("early_exaggeration_iterations", "early_exaggeration_iter", (-1, 0, 1)),
            ("initialization", "initialization", (*analysis.TSNE_INITIALIZATIONS, "umap")),
            ("method", "negative_gradient_method", (*analysis.TSNE_METHODS, "exact")),
        ]:
            self.assert_agree(
                analysis.tsne, name, probes, lambda v, k=key: tsne.run_tsne(x, **{**quick, k: v})
            )


class BinaryTest(absltest.TestCase):
    def run_binary(self, *args, module="tfelg_components.outputs"):
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_usage_lists_the_components(self):
        for module, names in [
            (training, ("trainer", "embedding_exporter")),
            (analysis, ("model_selector", "clusterer", "tsne")),
            (
                outputs,
                ("catalog_writer", "reporter", "projector_writer", "comparison", "seed_ensemble"),
            ),
        ]:
            with self.subTest(module.__name__):
                self.assertEqual(tuple(c.name for c in module.COMPONENTS), names)
                done = self.run_binary(module=module.__name__)
                self.assertNotEqual(done.returncode, 0)
                self.assertIn(f"(components: {', '.join(names)})", done.stderr)
        # The domain's module has one component: its binary needs no name.
        done = self.run_binary("--help", module=el.__name__)  # absl's help: status 1
        self.assertIn("--num_galaxies", done.stdout + done.stderr)
        self.assertNotIn("Traceback", done.stderr)

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
        self.assertTrue(os.path.isfile(os.path.join(table, common.RESULTS_MD)))
        self.assertIn("comparison: cached", self.run_binary(*args).stdout)


if __name__ == "__main__":
    absltest.main()
