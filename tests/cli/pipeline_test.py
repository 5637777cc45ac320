"""tfelg-pipeline and a component binary run as real processes, killed and resumed."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

from absl.testing import absltest

from tfelg_components import runner
from tfelg_components.pipeline import run_pipeline
from tfelg_pipelines import toy


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _run(*args, module="tfelg.cli.pipeline"):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )


def _fingerprints(root):
    """Fingerprint of every complete output under root, by node/output."""
    found = {}
    for path in glob.glob(os.path.join(root, "*", runner.EXECUTIONS_DIR, "*.json")):
        record = json.load(open(path))
        if record["status"] == "complete":
            for name, output in record["outputs"].items():
                found.setdefault(f"{record['node']}/{name}", set()).add(output["fingerprint"])
    return found


class PipelineBinaryTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.create_tempdir().full_path

    def test_run_rerun_and_change_a_parameter(self):
        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=40")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("[1/4] make_data: running ...", proc.stdout)
        self.assertIn("toy: 4 ran", proc.stdout)
        self.assertNotIn("TensorBoard", proc.stdout)

        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=40")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("running", proc.stdout)
        self.assertIn("toy: 4 cached", proc.stdout)

        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=40", "--param=factor=3")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("toy: 2 ran, 2 cached", proc.stdout)
        self.assertRegex(proc.stdout, r"scale +ran ")
        self.assertRegex(proc.stdout, r"summarise_raw +cached ")

    def test_flagfile(self):
        flagfile = self.create_tempfile(
            "toy.flags", f"--pipeline=toy\n--root={self.root}\n--param=n=30\n--param=bins=3\n"
        )
        proc = _run(f"--flagfile={flagfile.full_path}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        summary = glob.glob(os.path.join(self.root, "summarise", "report", "*", "summary.json"))
        self.assertLen(json.load(open(summary[0]))["counts"], 3)

    def test_describe(self):
        proc = _run("--pipeline=toy", "--describe")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("n (int) = 1000", proc.stdout)

    def test_bad_flags_are_clear_errors(self):
        self.assertEqual(_run("--pipeline=toy", f"--root={self.root}", "--param=n=5").returncode, 0)
        for args, words in [
            (
                ["--pipeline=nope", f"--root={self.root}"],
                "unknown pipeline 'nope'; known pipelines: emission_lines, hst_images, toy",
            ),
            (["--root=x"], "no pipeline given; known pipelines: emission_lines, hst_images, toy"),
            (["--pipeline=toy"], "--root is required"),
            (["--pipeline=toy", f"--root={self.root}", "--param=size=5"], "no parameter 'size'"),
        ]:
            with self.subTest(words):
                proc = _run(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(words, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
        with open(os.path.join(self.root, "pipeline.json"), "w") as f:
            json.dump({"pipeline": "emission_lines"}, f)
        proc = _run("--pipeline=toy", f"--root={self.root}")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("holds a run of pipeline 'emission_lines', not 'toy'", proc.stderr)

    def test_failing_component_is_named_and_the_run_resumes(self):
        # A valid factor whose product overflows: summarise cannot histogram infinities.
        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=20", "--param=factor=1e308")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("component 'summarise' failed: ValueError", proc.stderr)
        self.assertIn("run the same command again to resume", proc.stderr)
        self.assertRegex(proc.stdout, r"scale +ran ")
        self.assertRegex(proc.stdout, r"summarise_raw +not run ")
        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=20", "--param=factor=3")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("toy: 3 ran, 1 cached", proc.stdout)

    def test_bad_values_are_refused_before_any_step_runs(self):
        proc = _run(
            "--pipeline=toy",
            f"--root={self.root}",
            "--param=n=20",
            "--param=bins=0",
            "--param=pause_seconds=-1",
        )
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("tfelg-pipeline: error: 2 problems:", proc.stderr)
        self.assertIn("parameter 'bins' must be >= 1, got 0", proc.stderr)
        self.assertIn("parameter 'pause_seconds' must be >= 0, got -1.0", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(os.listdir(self.root), [])  # nothing ran, nothing claimed
        proc = _run("--pipeline=toy", "--describe")
        self.assertIn("bins (int) = 10  Histogram bins of both summaries. [>= 1]", proc.stdout)

    def test_unusable_roots_are_clear_errors(self):
        a_file = self.create_tempfile("a_file").full_path
        record = os.path.join(self.root, "pipeline.json")
        cases = [
            (a_file, None, "the root {root} is a file, not a folder"),
            (os.path.join(a_file, "below"), None, "cannot use {root} as a run root"),
            (self.root, '{"pipeline": ', "{record}: not a readable JSON record"),
            (self.root, "[1, 2]", "{record}: not a JSON object"),
        ]
        for root, content, words in cases:
            with self.subTest(words):
                if content is not None:
                    with open(record, "w", encoding="utf-8") as f:
                        f.write(content)
                proc = _run("--pipeline=toy", f"--root={root}", "--param=n=5")
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(
                    "tfelg-pipeline: error: " + words.format(root=root, record=record), proc.stderr
                )
                self.assertNotIn("Traceback", proc.stderr)

    def test_damaged_execution_record_is_run_again(self):
        self.assertEqual(_run("--pipeline=toy", f"--root={self.root}", "--param=n=5").returncode, 0)
        (path,) = glob.glob(os.path.join(self.root, "scale", runner.EXECUTIONS_DIR, "*.json"))
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"status": "comp')
        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=5")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(f"{path}: damaged execution record", proc.stderr)
        self.assertIn("toy: 1 ran, 3 cached", proc.stdout)  # same bytes: summarise stays cached
        self.assertRegex(proc.stdout, r"scale +ran ")
        self.assertEqual(runner.read_json(path)["status"], "complete")
        proc = _run("--pipeline=toy", f"--root={self.root}", "--param=n=5")
        self.assertIn("toy: 4 cached", proc.stdout)

    def test_killed_during_a_component_then_completed_with_the_same_outputs(self):
        args = [
            "--pipeline=toy",
            f"--root={self.root}",
            "--param=n=2000",
            "--param=pause_seconds=2",
        ]
        process = subprocess.Popen(
            [sys.executable, "-m", "tfelg.cli.pipeline", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        half_written = os.path.join(self.root, "scale", "scaled", runner.TMP_PREFIX + "*", "x.npy")
        deadline = time.monotonic() + 60
        while (
            not glob.glob(half_written) and process.poll() is None and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        self.assertTrue(glob.glob(half_written), "scale never started writing")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        self.assertEqual(process.returncode, -signal.SIGKILL)
        (left,) = glob.glob(half_written)
        execution_id = os.path.basename(os.path.dirname(left))[len(runner.TMP_PREFIX) :]
        record = runner.read_json(runner.record_path(self.root, "scale", execution_id))
        self.assertEqual(record["status"], "running")
        self.assertFalse(glob.glob(os.path.join(self.root, "summarise*", "report", "*")))

        proc = _run(*args)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("toy: 3 ran, 1 cached", proc.stdout)
        self.assertEqual(glob.glob(os.path.join(self.root, "**", ".tmp-*"), recursive=True), [])
        resumed = _fingerprints(self.root)
        self.assertTrue(all(len(v) == 1 for v in resumed.values()), resumed)

        reference = self.create_tempdir().full_path
        run_pipeline(toy.PIPELINE, reference, {"n": 2000}, log=None)  # no pause, never killed
        self.assertEqual(resumed, _fingerprints(reference))


class ComponentBinaryTest(absltest.TestCase):
    def test_one_step_alone_shares_the_pipeline_cache(self):
        root = self.create_tempdir().full_path
        result = run_pipeline(toy.PIPELINE, root, {"n": 25}, log=None)
        data_uri = result["make_data"].outputs["data"].uri
        record_json = os.path.join(self.create_tempdir().full_path, "scale.json")
        common = [f"--root={root}", f"--input_data={data_uri}", f"--execution_json={record_json}"]

        proc = _run("scale", *common, module="tfelg_pipelines.toy")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("scale: cached", proc.stdout)
        self.assertIn(result["scale"].outputs["scaled"].uri, proc.stdout)

        proc = _run("scale", *common, "--factor=5", module="tfelg_pipelines.toy")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("scale: ran", proc.stdout)
        record = json.load(open(record_json))
        self.assertEqual((record["status"], record["cached"]), ("complete", False))
        self.assertEqual(record["parameters"]["factor"], 5.0)
        scaled = record["outputs"]["scaled"]["uri"]
        self.assertTrue(os.path.isabs(scaled))
        self.assertTrue(os.path.isfile(os.path.join(scaled, "x.npy")))

        proc = _run(
            "summarise",
            f"--root={root}",
            f"--input_data={scaled}",
            "--id=summary_5",
            module="tfelg_pipelines.toy",
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(glob.glob(os.path.join(root, "summary_5", "report", "*", "summary.json")))

    def test_bad_inputs(self):
        root = self.create_tempdir().full_path
        proc = _run(
            "scale", f"--root={root}", f"--input_data={root}/nothing", module="tfelg_pipelines.toy"
        )
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no such artifact", proc.stderr)
        proc = _run("make_data", f"--root={root}", "--n=0", module="tfelg_pipelines.toy")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(
            "make_data: error: component 'make_data': parameter 'n' must be >= 1", proc.stderr
        )
        self.assertEqual(os.listdir(root), [])
        proc = _run("nope", module="tfelg_pipelines.toy")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("components: make_data, scale, summarise", proc.stderr)


if __name__ == "__main__":
    absltest.main()
