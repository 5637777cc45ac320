"""The Kubeflow Pipelines export: every pipeline compiles to its own graph, and replays to it.

The compiled YAML is read back as KFP's backend would read it: its tasks,
their dependencies and each step's command (placeholders resolved with the
run parameters' defaults) must be the pipeline's nodes, edges and node
parameters. Then the toy pipeline's exported steps run in order as
subprocesses (the containers' commands, with a temporary folder as the
shared root) and must make the same executions, with the same output
fingerprints, as `tfelg-pipeline`. The emission_lines replay takes minutes
(one TensorFlow start per step), so it is not run here; its commands are
checked against the graph like every pipeline's.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap

import yaml
from absl.testing import absltest

from tfelg_components import runner
from tfelg_components.base import OutputRef, canonical_json
from tfelg_pipelines import kfp_export, registry

IMAGE = "registry.example/tfelg:test"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPORTS = [  # (pipeline, parameter values): every registered pipeline, and a sweep
    *((name, {}) for name in registry.known_pipelines()),
    ("emission_lines", {"models": ["ae", "vae"], "latent_dims": [2, 3], "baselines": False}),
    ("emission_lines", {"num_galaxies": 500, "model_options": {"beta": 2.0}, "n_clusters": 3}),
]
TOY_RUN = {"n": 50, "factor": 1.5, "bins": 4}  # factor: not the exported default 3


def _python(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, env=env, cwd=cwd
    )


def _load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _commands(spec):
    """{task display name: (command, dependencies' display names)} with the defaults filled in."""
    tasks = spec["root"]["dag"]["tasks"]
    defaults = {
        k: d["defaultValue"]
        for k, d in spec["root"]["inputDefinitions"]["parameters"].items()
        if "defaultValue" in d
    }
    names = {key: task["taskInfo"]["name"] for key, task in tasks.items()}
    found = {}
    for key, task in tasks.items():
        inputs = {}
        for name, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                if source["componentInputParameter"] in defaults:
                    inputs[name] = defaults[source["componentInputParameter"]]
            else:  # an upstream output: its URI is known only at run time
                producer = names[source["taskOutputParameter"]["producerTask"]]
                inputs[name] = f"<{producer}.{source['taskOutputParameter']['outputParameterKey']}>"
        component = spec["components"][task["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        self_outputs = component.get("outputDefinitions", {}).get("parameters", {})
        files = {o: f"<file {o}>" for o in self_outputs}
        command = [
            s
            for arg in container["command"] + container.get("args", [])
            for s in kfp_export._resolve(arg, inputs, files)
        ]
        self_deps = {names[d] for d in task.get("dependentTasks", [])}
        found[names[key]] = (command, self_deps, container["image"])
    return found


def _flags(command):
    flags = {}
    for arg in command:
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            flags.setdefault(key, []).append(value)
    return flags


class ExportMatchesGraphTest(absltest.TestCase):
    def test_every_pipeline_compiles_to_its_graph(self):
        for name, values in EXPORTS:
            with self.subTest(pipeline=name, values=values):
                pipeline = registry.get_pipeline(name)
                path = os.path.join(self.create_tempdir().full_path, f"{name}.yaml")
                plan = kfp_export.export(pipeline, IMAGE, "/mnt/tfelg/run", path, values)
                spec = _load(path)
                params, nodes = plan.params, pipeline.nodes(pipeline.resolve_params(values))
                self.assertEqual(params, pipeline.resolve_params(values))

                # Run parameters: the root and the parameters that feed nodes one to one.
                definitions = spec["root"]["inputDefinitions"]["parameters"]
                self.assertEqual(set(definitions), {"root", *plan.run_params})
                self.assertEqual(definitions["root"]["defaultValue"], "/mnt/tfelg/run")
                for run_param in plan.run_params:
                    value = params[run_param]  # lists and dicts as JSON text: exact numbers
                    expected = canonical_json(value) if isinstance(value, list | dict) else value
                    self.assertEqual(definitions[run_param].get("defaultValue"), expected)
                self.assertEqual(set(plan.run_params) | set(plan.fixed), set(pipeline.params))

                commands = _commands(spec)
                self.assertEqual(set(commands), {n.id for n in nodes} | {kfp_export.RECORD_STEP})
                for node in nodes:
                    command, deps, image = commands[node.id]
                    self.assertEqual(image, IMAGE)
                    self.assertEqual(deps, {up.id for up in node.upstream}, node.id)
                    module = node.component.fn.__module__
                    self.assertEqual(command[:4], ["python", "-m", module, node.component.name])
                    flags = _flags(command)
                    self.assertEqual(flags.pop("root"), ["/mnt/tfelg/run"])
                    self.assertEqual(flags.pop("id"), [node.id])
                    self.assertCountEqual(
                        flags.pop("output_uri_file"),
                        [f"{o}=<file output_{o}>" for o in node.component.outputs],
                    )
                    for input_name, ref in node.inputs.items():
                        flag = flags.pop(f"input_{input_name}", None)
                        if isinstance(ref, OutputRef):
                            self.assertEqual(flag, [f"<{ref.node.id}.output_{ref.name}>"])
                        else:
                            self.assertEqual(flag, ref and [ref.uri])
                    # What each flag says, read as the binary reads it, is the node's value.
                    for key, value in node.params.items():
                        flag = flags.pop(key, None)
                        if value is None:
                            self.assertIsNone(flag, (node.id, key))
                        else:
                            (text,) = flag
                            parsed = node.component.parameters[key].parse(text)
                            # As JSON: {"beta": 2} would be another cache key than 2.0.
                            self.assertEqual(canonical_json(parsed), canonical_json(value))
                    self.assertEqual(flags, {}, node.id)

                # The last step: tfelg-pipeline over the same root, after every node.
                command, deps, _ = commands[kfp_export.RECORD_STEP]
                self.assertEqual(command[:3], ["python", "-m", "tfelg.cli.pipeline"])
                self.assertEqual(deps, {n.id for n in nodes})
                self.assertEqual(command[3:5], [f"--pipeline={name}", "--root=/mnt/tfelg/run"])
                given = [a.removeprefix("--param=") for a in command[5:]]
                self.assertEqual(pipeline.resolve_params(pipeline.parse_params(given)), params)

    def test_graph_shaping_parameters_are_fixed_the_rest_are_run_parameters(self):
        plan = kfp_export.plan(registry.get_pipeline("emission_lines"))
        self.assertCountEqual(
            plan.fixed, ["manual_dir", "baselines", "models", "latent_dims", "seeds"]
        )
        seeds = {node for (node, key), q in plan.bindings.items() if q == "seed"}
        self.assertLen(seeds, 7)  # every node of the chain that takes a seed
        self.assertEqual(plan.bindings[("dataset_gen", "seed")], "dataset_seed")
        self.assertEqual(plan.bindings[("tsne", "perplexity")], "tsne_perplexity")
        # A sweep over models: `model` reaches no node (fixed, not silently ignored) and
        # `latent_dim` names the chain's nodes (trainer_ae_d2): fixed.
        sweep = kfp_export.plan(registry.get_pipeline("emission_lines"), {"models": ["ae"]})
        self.assertContainsSubset(["model", "latent_dim", "models"], sweep.fixed)
        self.assertIn("epochs", sweep.run_params)
        # A seed ensemble: the members' seeds are `seed` transformed (seed + 1000 i): fixed.
        ensemble = kfp_export.plan(registry.get_pipeline("emission_lines"), {"seeds": 2})
        self.assertContainsSubset(["seeds", "seed"], ensemble.fixed)
        self.assertIn("epochs", ensemble.run_params)
        toy = kfp_export.plan(registry.get_pipeline("toy"))
        self.assertEqual(toy.fixed, [])
        self.assertEqual(toy.bindings[("summarise_raw", "bins")], "bins")

    def test_task_hook_reaches_every_step(self):
        # How a user mounts the shared volume (kfp-kubernetes' mount_pvc) or asks for a GPU.
        seen = []

        def hook(node, task):
            seen.append(node.id if node else None)
            task.set_env_variable("TFELG_STEP", node.id if node else "record")

        out = os.path.join(self.create_tempdir().full_path, "toy.yaml")
        kfp_export.export(registry.get_pipeline("toy"), IMAGE, "/mnt/r", out, task_hook=hook)
        self.assertEqual(seen, ["make_data", "scale", "summarise", "summarise_raw", None])
        executors = _load(out)["deploymentSpec"]["executors"]
        self.assertEqual(
            executors["exec-summarise-raw"]["container"]["env"],
            [{"name": "TFELG_STEP", "value": "summarise_raw"}],
        )
        self.assertEqual(
            executors["exec-tfelg-pipeline"]["container"]["env"],
            [{"name": "TFELG_STEP", "value": "record"}],
        )

    def test_refuses_roots_pods_cannot_share_and_other_outputs(self):
        toy = registry.get_pipeline("toy")
        out = os.path.join(self.create_tempdir().full_path, "toy.yaml")
        with self.assertRaisesRegex(kfp_export.ExportError, "not a URI.*FUSE"):
            kfp_export.export(toy, IMAGE, "gs://bucket/runs/toy", out)
        with self.assertRaisesRegex(kfp_export.ExportError, "absolute path"):
            kfp_export.export(toy, IMAGE, "runs/toy", out)
        with self.assertRaisesRegex(kfp_export.ExportError, "ends with .yaml"):
            kfp_export.export(toy, IMAGE, "/mnt/toy", out[: -len(".yaml")])
        self.assertFalse(os.path.exists(out))


class ReplayTest(absltest.TestCase):
    """The exported toy steps, run as their containers would, make tfelg-pipeline's outputs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spec_dir = tempfile.mkdtemp(prefix="kfp_export_test_")
        cls.spec = os.path.join(cls.spec_dir, "toy.yaml")
        cls.export = _python(
            "-m", "tfelg.cli.pipeline", "--pipeline=toy", "--export=kfp", f"--image={IMAGE}",
            "--root=/mnt/tfelg/toy", f"--output={cls.spec}", "--param=factor=3",
        )  # fmt: skip

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.spec_dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.tmp = self.create_tempdir().full_path
        self.assertEqual(self.export.returncode, 0, self.export.stderr)
        self.assertIn("run parameters: root=/mnt/tfelg/toy, n, seed, factor", self.export.stdout)

    def records(self, root):
        """{node: (execution id, {output: fingerprint}, parameters)} of the last run."""
        last = runner.read_json(os.path.join(root, "pipeline.json"))["last_run"]
        found = {}
        for node, state in last["nodes"].items():
            record = runner.read_json(runner.record_path(root, node, state["execution"]))
            self.assertEqual(record["status"], "complete")
            outputs = {k: a["fingerprint"] for k, a in record["outputs"].items()}
            found[node] = (record["id"], outputs, record["parameters"])
        return found

    def test_replay_makes_what_tfelg_pipeline_makes(self):
        direct = os.path.join(self.tmp, "direct")
        args = [f"--param={k}={v}" for k, v in TOY_RUN.items()]
        done = _python("-m", "tfelg.cli.pipeline", "--pipeline=toy", f"--root={direct}", *args)
        self.assertEqual(done.returncode, 0, done.stderr)

        replayed = os.path.join(self.tmp, "kfp")
        steps = kfp_export.run_locally(
            self.spec, {"root": replayed, **TOY_RUN}, work_dir=os.path.join(self.tmp, "work")
        )
        self.assertEqual(
            list(steps), ["make-data", "scale", "summarise", "summarise-raw", "tfelg-pipeline"]
        )
        for name in ["make-data", "scale", "summarise", "summarise-raw"]:
            self.assertIn(": ran (", steps[name].stdout)
        # The last step found every node done by the steps before it.
        self.assertIn("toy: 4 cached in", steps["tfelg-pipeline"].stdout)
        records = self.records(replayed)
        self.assertEqual(records, self.records(direct))
        self.assertEqual(records["scale"][2]["factor"], TOY_RUN["factor"])  # the run's, not 3
        report = os.path.join(replayed, "summarise", "report", records["summarise"][0])
        with open(os.path.join(report, "summary.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["n"], TOY_RUN["n"])

        # And over the root tfelg-pipeline made, every exported step is cached.
        again = kfp_export.run_locally(
            self.spec, {"root": direct, **TOY_RUN}, work_dir=os.path.join(self.tmp, "again")
        )
        for name in ["make-data", "scale", "summarise", "summarise-raw"]:
            self.assertIn(": cached (", again[name].stdout)

    def test_a_failing_step_stops_the_replay_naming_it(self):
        with self.assertRaisesRegex(RuntimeError, "step 'make-data' exited 2"):
            kfp_export.run_locally(
                self.spec,
                {"root": os.path.join(self.tmp, "r"), "n": 0},
                work_dir=os.path.join(self.tmp, "work"),
            )


class ReadmeTest(absltest.TestCase):
    """README's "More than one machine": its export command runs as written."""

    def test_readme_export_and_run_commands(self):
        with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
            text = f.read()
        section = text[text.index("## More than one machine") :]
        section = section[: section.index("\n## ", 1)]
        for path in ["Dockerfile", "scripts/slurm_train.sbatch", "docs/kubernetes_train.yaml"]:
            self.assertIn(path, section)
            self.assertTrue(os.path.isfile(os.path.join(REPO, path)), path)
        shell = "".join(re.findall(r"```sh\n(.*?)```", section, re.S)).replace("\\\n", " ")
        commands = [shlex.split(line, comments=True) for line in shell.splitlines()]
        (export,) = [c for c in commands if c[:1] == ["tfelg-pipeline"] and "--export=kfp" in c]
        tmp = self.create_tempdir().full_path
        output = os.path.join(tmp, "emission_lines.yaml")
        args = [a for a in export[1:] if not a.startswith("--output=")] + [f"--output={output}"]
        done = _python("-m", "tfelg.cli.pipeline", *args, cwd=tmp)
        self.assertEqual(done.returncode, 0, done.stderr)
        spec = _load(output)
        definitions = spec["root"]["inputDefinitions"]["parameters"]
        self.assertEqual(definitions["num_galaxies"]["defaultValue"], 100000)
        self.assertEqual(definitions["root"]["defaultValue"], "/mnt/tfelg/el")
        (run,) = [c for c in commands if c[:1] == ["kfp"]]
        self.assertEqual(run[run.index("-f") + 1], "emission_lines.yaml")
        for argument in run[run.index("-f") + 2 :]:  # run arguments: KEY=VALUE of run parameters
            self.assertIn(argument.split("=")[0], definitions)


class BinaryFlagsTest(absltest.TestCase):
    """What the export needs from component binaries (tfelg_components.binary)."""

    def test_output_uri_file_holds_the_uri_alone(self):
        tmp = self.create_tempdir().full_path
        uri_file = os.path.join(tmp, "kfp", "data")
        done = _python(
            "-m", "tfelg_pipelines.toy", "make_data", f"--root={tmp}/root", "--n=5",
            f"--output_uri_file=data={uri_file}",
        )  # fmt: skip
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(uri_file, encoding="utf-8") as f:
            uri = f.read()
        self.assertEqual(f"data: {uri}", done.stdout.strip().splitlines()[-1])
        self.assertTrue(os.path.isfile(os.path.join(uri, "x.npy")))

    def test_a_bad_output_uri_file_is_refused_before_the_step_runs(self):
        tmp = self.create_tempdir().full_path
        for flag in ["--output_uri_file=model=/x", "--output_uri_file=data"]:
            done = _python("-m", "tfelg_pipelines.toy", "make_data", f"--root={tmp}", flag)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn("write NAME=PATH with NAME one of data", done.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "make_data")))

    def test_a_single_component_binary_accepts_its_name(self):
        tmp = self.create_tempdir().full_path
        with open(os.path.join(tmp, "one_step.py"), "w", encoding="utf-8") as f:
            f.write(
                textwrap.dedent(
                    """
                    from tfelg_components import binary
                    from tfelg_components.base import Output, Report, component

                    @component(version="1")
                    def note(report: Output[Report], text: str = "hi"):
                        with open(report.path("note.txt"), "w") as f:
                            f.write(text)

                    if __name__ == "__main__":
                        binary.run(note)
                    """
                )
            )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, *sys.path])}
        for named in (["note"], []):
            done = _python("-m", "one_step", *named, f"--root={tmp}/r", env=env, cwd=tmp)
            self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("note: cached", done.stdout)


if __name__ == "__main__":
    absltest.main()
