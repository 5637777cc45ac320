"""run_pipeline: only what changed runs, failures keep earlier outputs, roots stay owned."""

import json
import os
import threading
from unittest import mock

from absl.testing import absltest

from tfelg.errors import InputError
from tfelg.outputs.tensorboard_command import tensorboard_command
from tfelg_components import runner
from tfelg_components.base import (
    Dataset,
    Files,
    Input,
    Output,
    Parameter,
    ParameterError,
    ProjectorLog,
    component,
)
from tfelg_components.pipeline import PIPELINE_JSON, Pipeline, PipelineError, run_pipeline
from tfelg_pipelines import toy

BROKEN = {"project": False}


def _snapshot(root):
    """Every file and folder under root (but pipeline.json) with its modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if name != "pipeline.json":
                found[os.path.relpath(path, root)] = os.stat(path).st_mtime_ns
    return found


def _statuses(result):
    return {r.node: r.status for r in result.nodes}


class ToyPipelineTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.create_tempdir().full_path

    def run_toy(self, **params):
        lines = []
        result = run_pipeline(toy.PIPELINE, self.root, params, log=lines.append)
        return result, lines

    def test_rerun_unchanged_executes_nothing(self):
        first, lines = self.run_toy(n=50)
        self.assertEqual(set(_statuses(first).values()), {"ran"})
        self.assertEqual(lines[0], "[1/4] make_data: running ...")
        self.assertRegex(lines[1], r"^\[1/4\] make_data: ran \(\d+\.\d\d s\)$")
        before = _snapshot(self.root)
        second, lines = self.run_toy(n=50)
        self.assertEqual(set(_statuses(second).values()), {"cached"})
        self.assertLen(lines, 4)
        self.assertEqual(_snapshot(self.root), before)  # nothing written, nothing touched
        for node in ("make_data", "scale", "summarise", "summarise_raw"):
            self.assertEqual(
                {k: a.fingerprint for k, a in second[node].outputs.items()},
                {k: a.fingerprint for k, a in first[node].outputs.items()},
            )
        table = second.table()
        self.assertIn("summarise_raw  cached", table)
        self.assertIn("toy: 4 cached", table)

    def test_a_parameter_change_reruns_only_downstream(self):
        self.run_toy(n=50)
        result, _ = self.run_toy(n=50, factor=3)
        self.assertEqual(
            _statuses(result),
            {"make_data": "cached", "scale": "ran", "summarise": "ran", "summarise_raw": "cached"},
        )
        result, _ = self.run_toy(n=50, factor=3, bins=4)
        self.assertEqual(
            _statuses(result),
            {"make_data": "cached", "scale": "cached", "summarise": "ran", "summarise_raw": "ran"},
        )
        result, _ = self.run_toy(n=50, factor=2.0)  # back to the first run's outputs
        self.assertEqual(set(_statuses(result).values()), {"cached"})
        result, _ = self.run_toy(n=60)
        self.assertEqual(set(_statuses(result).values()), {"ran"})

    def test_unknown_or_bad_parameters(self):
        with self.assertRaisesRegex(
            ParameterError, "no parameter 'factr'; its parameters: n, seed"
        ):
            self.run_toy(factr=3)
        with self.assertRaisesRegex(ParameterError, "'n': expected int"):
            self.run_toy(n="many")
        self.assertEqual(toy.PIPELINE.parse_params(["n=5", "factor=0.5"]), {"n": 5, "factor": 0.5})
        with self.assertRaisesRegex(ParameterError, "KEY=VALUE"):
            toy.PIPELINE.parse_params(["n"])
        with self.assertRaisesRegex(ParameterError, "cannot read 'x' as int"):
            toy.PIPELINE.parse_params(["n=x"])
        self.assertEqual(os.listdir(self.root), [])  # nothing written

    def test_root_of_another_pipeline_is_refused(self):
        self.run_toy(n=10)
        other = Pipeline("other", toy.build, toy.PARAMETERS)
        with self.assertRaisesRegex(PipelineError, "holds a run of pipeline 'toy', not 'other'"):
            run_pipeline(other, self.root, log=None)

    def test_describe(self):
        text = toy.PIPELINE.describe()
        self.assertIn("factor (float) = 2.0  What scale multiplies by.", text)
        self.assertIn("bins (int) = 10  Histogram bins of both summaries. [>= 1]", text)

    def test_constraints_are_checked_before_any_step_runs(self):
        # bins is used by the last steps: before, make_data and scale ran first.
        with self.assertRaisesRegex(
            ParameterError, "pipeline 'toy': parameter 'bins' must be >= 1, got 0"
        ):
            self.run_toy(n=10, bins=0)
        self.assertEqual(os.listdir(self.root), [])
        with self.assertRaises(ParameterError) as cm:
            self.run_toy(n=0, bins=0, pause_seconds=-1.0, factr=2)
        message = str(cm.exception)
        self.assertStartsWith(message, "pipeline 'toy': 4 problems:")
        for words in ("no parameter 'factr'", "'n' must be >= 1, got 0", "'bins' must be >= 1"):
            self.assertIn(words, message)
        with self.assertRaisesRegex(ParameterError, r"2 problems:\n  parameter 'n' must be >= 1"):
            toy.PIPELINE.parse_params(["n=0", "bins=-1"])
        self.assertEqual(os.listdir(self.root), [])

    def test_component_constraints_hold_whatever_the_pipeline_declares(self):
        # A pipeline whose own parameter declares nothing: the component's
        # constraint still stops it while its nodes are built.
        loose = Pipeline(
            "loose", toy.build, [*toy.PARAMETERS[:3], Parameter("bins", 0), *toy.PARAMETERS[4:]]
        )
        with self.assertRaisesRegex(
            ParameterError, "pipeline 'loose': component 'summarise': parameter 'bins' must be >= 1"
        ):
            run_pipeline(loose, self.root, {"n": 10}, log=None)
        self.assertEqual(os.listdir(self.root), [])

    def test_missing_external_input_is_found_before_any_step_runs(self):
        def build(params):
            data = toy.make_data(n=params["n"])
            return [data, count_files(data=data.outputs["data"], extra=Files(params["folder"]))]

        pipeline = Pipeline("external", build, {"n": 5, "folder": "/no/such/folder"})
        with self.assertRaisesRegex(
            InputError, "/no/such/folder: input 'extra' of node 'count_files'"
        ):
            run_pipeline(pipeline, self.root, log=None)
        self.assertEqual(os.listdir(self.root), [])


@component(version="1")
def count_files(data: Input[Dataset], extra: Input[Files], report: Output[ProjectorLog]):
    del data, extra, report


class RootTest(absltest.TestCase):
    """The run root: claimed once, under a lock; clear errors for roots that cannot be used."""

    def setUp(self):
        super().setUp()
        self.root = self.create_tempdir().full_path

    def test_root_that_is_a_file(self):
        path = self.create_tempfile("not_a_folder").full_path
        with self.assertRaisesRegex(PipelineError, "is a file, not a folder"):
            run_pipeline(toy.PIPELINE, path, {"n": 5}, log=None)
        with self.assertRaisesRegex(PipelineError, "cannot use .* as a run root"):
            run_pipeline(toy.PIPELINE, os.path.join(path, "below"), {"n": 5}, log=None)

    def test_damaged_pipeline_json_is_a_clear_error(self):
        path = os.path.join(self.root, PIPELINE_JSON)
        for damage, words in [
            ('{"pipeline": "to', "pipeline.json: not a readable JSON record"),
            ("[]", "pipeline.json: not a JSON object"),
            ('{"created": "today"}', "pipeline.json names no pipeline"),
            ('{"pipeline": 3}', "pipeline.json names no pipeline"),
        ]:
            with self.subTest(damage):
                with open(path, "w", encoding="utf-8") as f:
                    f.write(damage)
                with self.assertRaisesRegex(PipelineError, words) as cm:
                    run_pipeline(toy.PIPELINE, self.root, {"n": 5}, log=None)
                self.assertIn("repair", str(cm.exception))
                self.assertEqual(sorted(os.listdir(self.root)), [".pipeline.lock", PIPELINE_JSON])

    def test_two_pipelines_started_together_on_a_fresh_root_cannot_both_claim_it(self):
        # Both processes read pipeline.json before either writes it: the read
        # is held until the other run has read too (or 2 s have passed, which
        # is what happens when the claim is locked: the other waits for the lock).
        read_json, both_read = runner.read_json, threading.Barrier(2, timeout=2)

        def slow_read(path):
            record = read_json(path)
            if path.endswith(PIPELINE_JSON):
                try:
                    both_read.wait()
                except threading.BrokenBarrierError:
                    pass
            return record

        other = Pipeline("other", toy.build, toy.PARAMETERS)
        outcomes = {}

        def start(pipeline):
            try:
                run_pipeline(pipeline, self.root, {"n": 5}, log=None)
                outcomes[pipeline.name] = "ran"
            except PipelineError as e:
                outcomes[pipeline.name] = str(e)

        with mock.patch.object(runner, "read_json", slow_read):
            threads = [threading.Thread(target=start, args=(p,)) for p in (toy.PIPELINE, other)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        self.assertEqual(sorted(outcomes.values()).count("ran"), 1, outcomes)
        owner = json.load(open(os.path.join(self.root, PIPELINE_JSON)))["pipeline"]
        self.assertEqual(outcomes[owner], "ran")
        loser = "other" if owner == "toy" else "toy"
        self.assertIn(f"holds a run of pipeline {owner!r}, not {loser!r}", outcomes[loser])


@component(version="1")
def embed(data: Input[Dataset], log: Output[ProjectorLog]):
    with open(log.path("projector_config.pbtxt"), "w") as f:
        f.write(open(data.path("x.npy"), "rb").read().hex()[:16])


@component(version="1")
def project(data: Input[Dataset], log: Output[ProjectorLog]):
    if BROKEN["project"]:
        raise RuntimeError("no projector today")
    with open(log.path("metadata.tsv"), "w") as f:
        f.write("id\n")


def _build_projected(params):
    data = toy.make_data(n=params["n"])
    scaled = toy.scale(data=data.outputs["data"])
    projected = project(data=scaled.outputs["scaled"])
    summary = toy.summarise(data=scaled.outputs["scaled"])
    return [data, scaled, projected, summary]


PROJECTED = Pipeline("projected", _build_projected, {"n": 20})


class FailureAndOutputsTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        BROKEN["project"] = False
        self.root = self.create_tempdir().full_path

    def test_failure_keeps_earlier_outputs_and_resumes(self):
        BROKEN["project"] = True
        with self.assertRaisesRegex(
            runner.ComponentError, "component 'project' failed: RuntimeError: no projector today"
        ) as cm:
            run_pipeline(PROJECTED, self.root, log=None)
        partial = cm.exception.result
        self.assertEqual(
            _statuses(partial),
            {"make_data": "ran", "scale": "ran", "project": "failed", "summarise": "not run"},
        )
        self.assertIn("project    failed", partial.table())
        scaled = partial["scale"].outputs["scaled"]
        self.assertTrue(os.path.isfile(scaled.path("x.npy")))

        BROKEN["project"] = False
        result = run_pipeline(PROJECTED, self.root, log=None)
        self.assertEqual(
            _statuses(result),
            {"make_data": "cached", "scale": "cached", "project": "ran", "summarise": "ran"},
        )
        logdir = result["project"].outputs["log"].uri
        self.assertEqual(result.tensorboard_logdirs(), {"project.log": logdir})
        self.assertEqual(result.tensorboard_command(), tensorboard_command(logdir))

    def test_several_logdirs_and_none(self):
        def build(params):
            del params
            data = toy.make_data(n=5)
            return [data, embed(data=data.outputs["data"]), project(data=data.outputs["data"])]

        result = run_pipeline(Pipeline("two", build), self.root, log=None)
        logdirs = result.tensorboard_logdirs()
        self.assertEqual(sorted(logdirs), ["embed.log", "project.log"])
        # Both through their common parent (the projector plugin ignores
        # --logdir_spec), which here is the run root itself.
        self.assertEqual(result.tensorboard_command(), tensorboard_command(self.root))
        for path in logdirs.values():
            self.assertStartsWith(path, self.root + os.sep)
        toy_result = run_pipeline(toy.PIPELINE, self.create_tempdir().full_path, {"n": 5}, log=None)
        self.assertIsNone(toy_result.tensorboard_command())

    def test_bad_wiring(self):
        def duplicate(params):
            del params
            return [toy.make_data(), toy.make_data()]

        def missing_upstream(params):
            del params
            data = toy.make_data()
            return [toy.scale(data=data.outputs["data"])]

        def out_of_order(params):
            del params
            data = toy.make_data()
            return [toy.summarise(data=data.outputs["data"]), data]

        with self.assertRaisesRegex(PipelineError, "two nodes named 'make_data'.*with_id"):
            run_pipeline(Pipeline("bad", duplicate), self.root, log=None)
        with self.assertRaisesRegex(PipelineError, "'scale' uses 'make_data', which the build"):
            run_pipeline(Pipeline("bad", missing_upstream), self.root, log=None)
        nodes = Pipeline("ok", out_of_order).nodes({})
        self.assertEqual([n.id for n in nodes], ["make_data", "summarise"])


if __name__ == "__main__":
    absltest.main()
