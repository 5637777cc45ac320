"""The emission_lines pipeline end to end on tiny data: outputs, caching, what re-runs, sweeps.

One run of the whole pipeline (400 galaxies, 2 epochs, K <= 3, a t-SNE of
25 + 25 iterations) is shared by the tests of a class; each further run
reuses it. The sweep's TensorBoard command is checked against a real
TensorBoard server.
"""

import json
import os
import re
import shlex
import shutil
import tempfile
import time

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg.errors import InputError
from tfelg.outputs import projector
from tfelg.outputs.tensorboard_command import tensorboard_command, tensorboard_executable
from tfelg.testing.tensorboard_server import SERVER_TIMEOUT_S, TensorBoardServer
from tfelg_components import outputs, runner
from tfelg_components.base import ParameterError, Report
from tfelg_components.pipeline import run_pipeline
from tfelg_pipelines import emission_lines, registry

N = 400
SMALL = {
    "num_galaxies": N,
    "dataset_seed": 1,
    "epochs": 2,
    "batch_size": 64,
    "k_max": 3,
    "gap_references": 2,
    "n_bootstrap": 5,
    "tsne_perplexity": 10.0,
    "tsne_max_points": N,
    "tsne_iterations": 25,
    "tsne_early_iterations": 25,
}
CHAIN = (
    "trainer",
    "embedding_exporter",
    "model_selector",
    "clusterer",
    "tsne",
    "catalog_writer",
    "reporter",
    "projector_writer",
)
REPRESENTATIONS = ("ae", "pca", "line_ratios")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(root, **params):
    lines = []
    result = run_pipeline(emission_lines.PIPELINE, root, params, log=lines.append)
    return result, lines


def _statuses(result):
    return {r.node: r.status for r in result.nodes}


def _snapshot(root):
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            if name != "pipeline.json":
                path = os.path.join(folder, name)
                found[os.path.relpath(path, root)] = os.stat(path).st_mtime_ns
    return found


def _event_dirs(logdir):
    """Sub-folders TensorBoard treats as runs: those holding an event file."""
    return {
        os.path.relpath(folder, logdir)
        for folder, _, files in os.walk(logdir)
        if any(f.startswith("events.out.tfevents") for f in files)
    }


class EmissionLinesPipelineTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="emission_lines_test_")
        cls.first, cls.lines = _run(cls.root, **SMALL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)
        super().tearDownClass()

    def output(self, node, name):
        return self.first[node].outputs[name]

    def test_end_to_end_outputs(self):
        self.assertEqual(_statuses(self.first), dict.fromkeys(["dataset_gen", *CHAIN], "ran"))
        self.assertIn("[2/9] trainer: running ...", self.lines)

        catalogue = self.output("catalog_writer", "catalogue")
        for name in REPRESENTATIONS:
            with fits.open(catalogue.path(f"{name}.fits")) as hdul:
                table = hdul[1].data
                self.assertLen(table, N)
                for column in ("OBJID", "LATENT", "TSNE_1", "CLUSTER", "CLUSTER_PROB", "WHAN"):
                    self.assertIn(column, table.columns.names)
                self.assertTrue(np.all(np.isfinite(table["TSNE_1"])))
                # Only the line ratios have filled-in coordinates, and they say which.
                self.assertEqual(
                    "LATENT_IMPUTED" in table.columns.names, name == "line_ratios", name
                )

        logdir = self.output("projector_writer", "projector")
        self.assertEqual(
            _event_dirs(logdir.uri), {*REPRESENTATIONS, "training/train", "training/validation"}
        )
        for name in REPRESENTATIONS:
            for asset in ("projector_config.pbtxt", "metadata.tsv", "sprite.png", "checkpoint"):
                self.assertTrue(os.path.isfile(logdir.path(name, asset)), (name, asset))
            with open(logdir.path(name, "metadata.tsv"), encoding="utf-8") as f:
                self.assertLen(f.read().splitlines(), N + 1)  # header + one row per galaxy
        self.assertEqual(self.first.tensorboard_command(), tensorboard_command(logdir.uri))

        report = self.output("reporter", "report")
        summary = emission_lines.runner.read_json(report.path("summary.json"))
        self.assertEqual([r["representation"] for r in summary["results"]], list(REPRESENTATIONS))
        paths = [summary["loss_plot"], summary["dataset_plot"], *summary["catalogues"].values()]
        for figures in summary["figures"].values():
            self.assertContainsSubset({"bic", "gap", "tsne_whan", "contingency_whan"}, figures)
            paths += figures.values()
        for path in paths:  # relative to the run root, and there
            self.assertFalse(os.path.isabs(path), path)
            self.assertTrue(os.path.isfile(os.path.join(self.root, path)), path)
        with open(report.path("results.md"), encoding="utf-8") as f:
            self.assertIn("| line_ratios | 5 |", f.read())

    def test_no_output_names_a_temporary_folder(self):
        for result in self.first.nodes:
            for artifact in result.execution.outputs.values():
                for folder, _, files in os.walk(artifact.uri):
                    for name in files:
                        with open(os.path.join(folder, name), "rb") as f:
                            self.assertNotIn(b"/.tmp-", f.read(), os.path.join(folder, name))

    def test_summary_text(self):
        text = emission_lines.summary_text(self.root)
        self.assertIn(f"ae (d = 2) on emission_lines/synthetic_n{N}_s1/2.0.0", text)
        self.assertRegex(
            text,
            r"ae \(d = 2\): chosen K \d \(BIC(: the largest K scanned, no minimum)?\), "
            r"\d \(AIC\), \d \(gap\)",
        )
        self.assertRegex(text, r"vs whan \(test split\): matched accuracy 0\.\d{3} ± 0\.\d{3}")
        # The root's latest projector: other tests of this class re-run the
        # pipeline on the same root with other parameters, in any order.
        logdir = os.path.dirname(self.output("projector_writer", "projector").uri)
        self.assertRegex(
            text,
            "(?m)^  projector:  " + re.escape(tensorboard_command(logdir)) + r"/[0-9a-f]{16}$",
        )
        self.assertIn("line_ratios.fits", text)

    def test_rerun_executes_nothing(self):
        before = _snapshot(self.root)
        second, lines = _run(self.root, **SMALL)
        self.assertEqual(set(_statuses(second).values()), {"cached"})
        self.assertNotIn("running", " ".join(lines))
        self.assertEqual(_snapshot(self.root), before)

    def test_a_parameter_change_reruns_only_downstream(self):
        result, _ = _run(self.root, **{**SMALL, "tsne_perplexity": 5.0})
        ran = {node for node, status in _statuses(result).items() if status == "ran"}
        # The projector re-runs because it logs the report's figures (t-SNE map included).
        self.assertEqual(ran, {"tsne", "catalog_writer", "reporter", "projector_writer"})
        self.assertEqual(
            result["trainer"].outputs["model"].uri, self.output("trainer", "model").uri
        )

    def test_gap_n_init_reruns_model_selection_and_what_depends_on_it_only(self):
        result, _ = _run(self.root, **{**SMALL, "gap_n_init": 2})
        statuses = _statuses(result)
        self.assertEqual(statuses["model_selector"], "ran")
        # Upstream of the selection, and the t-SNE beside it, stay cached. The
        # clusterer and the catalogue re-run when the selection's file changes
        # and stay cached when the new mixture writes the same bytes; the
        # report shows the selection, and the projector shows the report.
        for node in ("dataset_gen", "trainer", "embedding_exporter", "tsne"):
            self.assertEqual(statuses[node], "cached", node)
        self.assertEqual(statuses["reporter"], "ran")
        ran = {node for node, status in statuses.items() if status == "ran"}
        self.assertContainsSubset(
            ran,
            {"model_selector", "clusterer", "catalog_writer", "reporter", "projector_writer"},
        )
        selection = result["model_selector"].outputs["selection"]
        for name in REPRESENTATIONS:
            recorded = emission_lines.runner.read_json(selection.path(f"{name}.json"))
            self.assertEqual(recorded["gap_n_init"], 2)
        first = self.output("model_selector", "selection")
        recorded = emission_lines.runner.read_json(first.path("ae.json"))
        self.assertEqual(recorded["gap_n_init"], 10)  # the default

    def test_seed_ensemble_retrains_the_model_and_folds_its_scores(self):
        result, _ = _run(self.root, **{**SMALL, "seeds": 3})
        statuses = _statuses(result)
        # The first run's chain is the run without seeds: nothing of it re-runs.
        self.assertEqual(
            {n: statuses.pop(n) for n in ["dataset_gen", *CHAIN]},
            dict.fromkeys(["dataset_gen", *CHAIN], "cached"),
        )
        members = [
            f"{node}_seed{seed}"
            for seed in (1000, 2000)
            for node in ("trainer", "embedding_exporter", "model_selector", "clusterer")
        ]
        self.assertEqual(
            statuses, dict.fromkeys([*members, "seed_ensemble_seed1000", "seed_ensemble"], "ran")
        )
        table = result["seed_ensemble"].outputs["table"]
        saved = emission_lines.runner.read_json(table.path("ensemble.json"))
        records = {(r["representation"], r["seed"]): r for r in saved["records"]}
        seeds = (0, 1000, 2000)
        self.assertCountEqual(records, [(name, s) for name in REPRESENTATIONS for s in seeds])
        # The first run's rows are its report's, as they are.
        report = self.output("reporter", "report")
        for row in emission_lines.runner.read_json(report.path("summary.json"))["results"]:
            self.assertEqual(records[row["representation"], 0], {**row, "seed": 0})

        # A member is what a run with its seed finds: the same trained network,
        # the same chosen K and scores for every representation.
        alone, _ = _run(self.root, **{**SMALL, "seed": 1000})
        self.assertEqual(
            *(
                emission_lines.runner.read_json(r[node].outputs["model"].path("metrics.json"))[
                    "losses"
                ]
                for r, node in ((alone, "trainer"), (result, "trainer_seed1000"))
            )
        )
        for own in alone["reporter"].outputs["report"].properties["results"]:
            self.assertEqual(records[own["representation"], 1000], {**own, "seed": 1000})
        # The baselines are the same numbers in every run; their mixtures are not
        # (another selection subsample and other EM starts).
        for name in ("pca", "line_ratios"):
            first, member = (
                result[node].outputs["embeddings"].path(f"{name}.npz")
                for node in ("embedding_exporter", "embedding_exporter_seed2000")
            )
            with np.load(first) as a, np.load(member) as b:
                np.testing.assert_array_equal(a["latent"], b["latent"])

        rows = {r["representation"]: r for r in saved["rows"]}
        self.assertEqual(list(rows), list(REPRESENTATIONS))
        for name in REPRESENTATIONS:
            with self.subTest(name):
                self.assertEqual(rows[name]["seeds"], list(seeds))
                self.assertEqual(rows[name]["k_bic"], [records[name, s]["k_bic"] for s in seeds])
                values = [records[name, s]["whan_ari"] for s in seeds]
                errors = [records[name, s]["whan_ari_err"] for s in seeds]
                mean = sum(values) / 3
                ari = rows[name]["whan_ari"]
                self.assertAlmostEqual(ari["mean"], mean)
                self.assertAlmostEqual(
                    ari["std"], (sum((v - mean) ** 2 for v in values) / 2) ** 0.5
                )
                self.assertAlmostEqual(ari["boot"], (sum(e**2 for e in errors) / 3) ** 0.5)
        with open(table.path("results.md"), encoding="utf-8") as f:
            self.assertIn("| ae | 2 | 0, 1000, 2000 |", f.read())

        # A member is another run: the same seed twice, or a representation
        # the first run did not have, is refused, and nothing is written.
        bad = {
            "seed 0 is already a member": (
                self.output("model_selector", "selection"),
                self.output("clusterer", "clusters"),
            ),
            "representation 'ae' is not in the report's \\(line_ratios\\)": (
                result["model_selector_seed1000"].outputs["selection"],
                result["clusterer_seed1000"].outputs["clusters"],
            ),
        }
        line_ratios_only = tempfile.mkdtemp(dir=self.root)
        with open(os.path.join(line_ratios_only, "summary.json"), "w", encoding="utf-8") as f:
            json.dump({"results": [records["line_ratios", 0]]}, f)
        for words, (selection, clusters) in bad.items():
            with self.subTest(words), self.assertRaisesRegex(runner.ComponentError, words):
                runner.execute(
                    outputs.seed_ensemble,
                    self.root,
                    {
                        "report": report if "already" in words else Report(line_ratios_only),
                        "selection": selection,
                        "clusters": clusters,
                    },
                    {"member_seed": 0 if "already" in words else 1000},
                    node="seed_ensemble_bad",
                )
        self.assertEqual(os.listdir(os.path.join(self.root, "seed_ensemble_bad", "table")), [])

        # The summary of the run says it (the runs above changed the root's last run).
        _run(self.root, **{**SMALL, "seeds": 3})
        text = emission_lines.summary_text(self.root)
        self.assertIn("  over 3 runs (seeds=N; mean ± std over the runs [bootstrap error]):", text)
        for name in REPRESENTATIONS:
            self.assertRegex(
                text,
                rf"    {name} \(seeds 0, 1000, 2000\): chosen K \(BIC\) \d+, \d+, \d+; "
                r"ARI vs whan -?0\.\d{3} ± 0\.\d{3} \[0\.\d{3}\], bpt ",
            )

    def test_sweep_shares_the_dataset_and_writes_one_table(self):
        sweep = {**SMALL, "epochs": 1, "baselines": False, "models": ["ae"], "latent_dims": [2, 3]}
        result, _ = _run(self.root, **sweep)
        statuses = _statuses(result)
        self.assertEqual(statuses.pop("dataset_gen"), "cached")  # shared with the first run
        self.assertEqual(set(statuses.values()), {"ran"})
        self.assertContainsSubset(
            {"trainer_ae_d2", "reporter_ae_d3", "comparison_ae_d2", "comparison"}, statuses
        )
        table = result["comparison"].outputs["table"]
        rows = emission_lines.runner.read_json(table.path("comparison.json"))["rows"]
        self.assertEqual(
            [(r["representation"], r["latent_dim"]) for r in rows], [("ae", 2), ("ae", 3)]
        )
        text = emission_lines.summary_text(self.root)
        self.assertIn("| ae | 3 |", text)
        self.assertIn("projector_writer_ae_d3", text)

        # The one command printed for the sweep's log directories opens the
        # projector of every model in a real TensorBoard.
        words = shlex.split(result.tensorboard_command())
        self.assertEqual(words[:2], [tensorboard_executable(), "--logdir"])
        server = TensorBoardServer(words[2])
        self.addCleanup(server.stop)
        server.wait_until_serving(time.monotonic() + SERVER_TIMEOUT_S)
        runs = json.loads(server.get("data/plugin/projector/runs"))
        for node in ("projector_writer_ae_d2", "projector_writer_ae_d3"):
            (run,) = [r for r in runs if r.startswith(node + "/") and r.endswith("/ae")]
            info = json.loads(server.get("data/plugin/projector/info", run=run))
            (shape,) = [e["tensorShape"] for e in info["embeddings"]]
            # d = 2 is padded with a zero column (the projector draws nothing in 2-D).
            d = max(int(node[-1]), projector.MIN_PROJECTOR_COLUMNS)
            self.assertEqual([int(v) for v in shape], [N, d])


class BuildTest(absltest.TestCase):
    """The pipeline's shape from its parameters; nothing runs."""

    def nodes(self, **params):
        pipeline = emission_lines.PIPELINE
        return {n.id: n for n in pipeline.nodes(pipeline.resolve_params(params))}

    def test_registered_with_its_parameters(self):
        pipeline = registry.get_pipeline("emission_lines")
        self.assertIs(pipeline, emission_lines.PIPELINE)
        self.assertContainsSubset(
            {"dataset", "num_galaxies", "model", "latent_dim", "k_max", "models", "latent_dims"},
            pipeline.params,
        )

    def test_sweep_nodes_and_baselines_once(self):
        nodes = self.nodes(models=["ae", "vae"], latent_dims=[2, 3])
        self.assertLen(nodes, 1 + 4 * (len(CHAIN) + 1))
        baselines = {
            node_id: node.params["baselines"]
            for node_id, node in nodes.items()
            if node_id.startswith("embedding_exporter_")
        }
        self.assertEqual(
            baselines,
            {
                "embedding_exporter_ae_d2": ["pca", "line_ratios"],
                "embedding_exporter_ae_d3": ["pca"],
                "embedding_exporter_vae_d2": [],
                "embedding_exporter_vae_d3": [],
            },
        )
        self.assertEqual(nodes["trainer_vae_d3"].params["model_name"], "vae")
        self.assertEqual(nodes["trainer_vae_d3"].params["latent_dim"], 3)
        self.assertIsNone(nodes["comparison_ae_d2"].inputs["previous"])
        self.assertIs(nodes["comparison"].inputs["previous"].node, nodes["comparison_vae_d2"])
        for node_id in ("trainer_ae_d2", "trainer_vae_d3"):
            self.assertIs(nodes[node_id].inputs["dataset"].node, nodes["dataset_gen"])

    def test_seed_ensemble_nodes(self):
        self.assertEqual(list(self.nodes(seeds=1)), ["dataset_gen", *CHAIN])
        nodes = self.nodes(seeds=3, seed=7, epochs=4)
        member = ("trainer", "embedding_exporter", "model_selector", "clusterer")
        self.assertEqual(
            list(nodes),
            [
                "dataset_gen",
                *CHAIN,
                *(f"{n}_seed1007" for n in member),
                "seed_ensemble_seed1007",
                *(f"{n}_seed2007" for n in member),
                "seed_ensemble",
            ],
        )
        # A member repeats the first run's steps up to clustering, its own seed in each.
        self.assertEqual(
            nodes["trainer_seed2007"].params, {**nodes["trainer"].params, "seed": 2007}
        )
        self.assertEqual(
            nodes["embedding_exporter_seed1007"].params, nodes["embedding_exporter"].params
        )
        for node in ("model_selector_seed1007", "clusterer_seed1007"):
            self.assertEqual(nodes[node].params["seed"], 1007)
        self.assertIs(
            nodes["clusterer_seed1007"].inputs["embeddings"].node,
            nodes["embedding_exporter_seed1007"],
        )
        first, last = nodes["seed_ensemble_seed1007"], nodes["seed_ensemble"]
        self.assertIsNone(first.inputs["previous"])
        self.assertIs(last.inputs["previous"].node, first)
        self.assertIs(last.inputs["report"].node, nodes["reporter"])
        self.assertIs(last.inputs["clusters"].node, nodes["clusterer_seed2007"])
        self.assertEqual((last.params["report_seed"], last.params["member_seed"]), (7, 2007))
        # In a sweep each chain has its members.
        sweep = self.nodes(seeds=2, models=["ae", "vae"])
        self.assertContainsSubset(
            {"trainer_seed1000_vae_d2", "seed_ensemble_ae_d2", "seed_ensemble_vae_d2"}, sweep
        )
        self.assertEqual(sweep["trainer_seed1000_vae_d2"].params["model_name"], "vae")
        self.assertEqual(sweep["embedding_exporter_seed1000_vae_d2"].params["baselines"], [])
        with self.assertRaisesRegex(ParameterError, "'seeds' must be >= 1 and <= 100, got 0"):
            self.nodes(seeds=0)

    def test_gap_n_init_is_a_pipeline_parameter(self):
        pipeline = emission_lines.PIPELINE
        self.assertEqual(pipeline.params["gap_n_init"].default, 10)
        self.assertRegex(pipeline.describe(), r"gap_n_init\b.*10")
        nodes = self.nodes(gap_n_init=3, models=["ae", "vae"])
        for node_id in ("model_selector_ae_d2", "model_selector_vae_d2"):
            self.assertEqual(nodes[node_id].params["gap_n_init"], 3)
        with self.assertRaisesRegex(ParameterError, "'gap_n_init' must be >= 1, got 0"):
            self.nodes(gap_n_init=0)

    def test_one_chain_without_sweep_parameters(self):
        nodes = self.nodes(model="vae", latent_dim=4, baselines=False)
        self.assertEqual(list(nodes), ["dataset_gen", *CHAIN])
        self.assertEqual(nodes["embedding_exporter"].params["baselines"], [])

    def test_bad_parameters_fail_before_anything_runs(self):
        for params, words in [
            ({"models": ["ae", "vea"]}, "'models' item 1 must be one of aae, ae, cae, cvae, vae"),
            ({"latent_dims": [2, 0]}, "'latent_dims' item 1 must be >= 1, got 0"),
            ({"latent_dims": [2, 2.5]}, "'latent_dims': item 1 is not int"),
            ({"models": ["ae", "ae"]}, "'models' must not repeat an item"),
            ({"models": []}, "'models' must have at least 1 item"),
            ({"input": "image"}, "'input' must be one of lines, spectrum, got 'image'"),
            ({"epochs": 0}, "'epochs' must be >= 1, got 0"),
            ({"k_max": 0}, "'k_max' must be >= 2, got 0"),
            ({"tsne_perplexity": -1}, "'tsne_perplexity' must be > 0, got -1.0"),
            ({"line_features": "ratios"}, "'line_features' must be one of ew, ew_and_ratios"),
            ({"n_bootstrap": 1}, "'n_bootstrap' must be >= 2, got 1"),
            ({"covariance_type": "tied"}, "'covariance_type' must be one of full, diag"),
            ({"learning_rate": 0.0}, "'learning_rate' must be > 0 and <= 1.0, got 0.0"),
            ({"learning_rate": 1e300}, r"'learning_rate' must be > 0 and <= 1.0, got 1e\+300"),
            (
                {"projector_max_points": 200_000},
                "'projector_max_points' must be >= 1 and <= 100000",
            ),
            ({"tsne_method": "exact"}, "'tsne_method' must be one of auto, fft, bh"),
            (
                {"tsne_place_rest": "nearest"},
                "'tsne_place_rest' must be one of median, transform, none",
            ),
            ({"dataset": "hst/x"}, "'dataset' must be NAME or NAME/CONFIG with NAME one of"),
            ({"num_galaxies": 5}, "'num_galaxies' must be >= 10, got 5"),
            ({"seed": -1}, "'seed' must be >= 0, got -1"),
        ]:
            with self.subTest(params), self.assertRaisesRegex(ParameterError, words):
                self.nodes(**params)
        with self.assertRaises(ParameterError) as cm:  # every bad value at once
            self.nodes(epochs=0, k_max=0, tsne_perplexity=-1.0, n_bootstrap=1)
        self.assertStartsWith(str(cm.exception), "pipeline 'emission_lines': 4 problems:")

    def test_bad_parameters_are_refused_before_the_dataset_is_made(self):
        # Before, epochs=0 failed in the trainer after the dataset was built,
        # and n_bootstrap=1 dropped every comparison and finished "complete".
        root = self.create_tempdir().full_path
        for params in ({"epochs": 0}, {"n_bootstrap": 1}, {"tsne_perplexity": -1.0}):
            with self.subTest(params), self.assertRaises(ParameterError):
                run_pipeline(emission_lines.PIPELINE, root, {**SMALL, **params}, log=None)
        self.assertEqual(os.listdir(root), [])
        with self.assertRaisesRegex(InputError, "input 'raw' of node 'dataset_gen' does not exist"):
            run_pipeline(
                emission_lines.PIPELINE,
                root,
                {**SMALL, "dataset": "emission_lines/mpajhu", "manual_dir": root + "/none"},
                log=None,
            )
        self.assertEqual(os.listdir(root), [])

    def test_model_names_are_the_registry(self):
        from tfelg.models import model_names

        self.assertEqual(emission_lines.MODEL_NAMES, model_names("vector"))

    def test_demo_flagfile_parses(self):
        with open(os.path.join(REPO, "pipelines", "demo.flags"), encoding="utf-8") as f:
            flags = [line.strip() for line in f if line.startswith("--")]
        self.assertIn("--pipeline=emission_lines", flags)
        self.assertIn("--root=runs/demo", flags)
        assignments = [line[len("--param=") :] for line in flags if line.startswith("--param=")]
        params = emission_lines.PIPELINE.resolve_params(
            emission_lines.PIPELINE.parse_params(assignments)
        )
        # Every galaxy gets a t-SNE position in the catalogue.
        self.assertGreaterEqual(params["tsne_max_points"], params["num_galaxies"])
        self.assertLen(self.nodes(**params), 1 + len(CHAIN))


if __name__ == "__main__":
    absltest.main()
