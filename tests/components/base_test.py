"""The component model: declarations from signatures, parameters, artifacts, wiring."""

import importlib.util
import math
import os
import textwrap
from typing import Annotated

from absl.testing import absltest, parameterized

from tfelg_components import base, runner
from tfelg_components.base import (
    Check,
    Context,
    Dataset,
    Each,
    Input,
    Length,
    Model,
    OneOf,
    Output,
    Parameter,
    ParameterError,
    Range,
    Report,
    Unique,
    component,
)
from tfelg_components.pipeline import feeds


@component(version="1")
def train(
    data: Input[Dataset],
    model: Output[Model],
    report: Output[Report],
    context: Context,
    init: Input[Model] = None,
    epochs: int = 10,
    rate: float = 1e-3,
    name: str | None = None,
    layers: list[int] = (8, 4),
    verbose: bool = False,
):
    del data, model, report, context, init, epochs, rate, name, layers, verbose


def _fn(x: Output[Dataset], k: int = 1):
    del x, k


class ComponentDeclarationTest(absltest.TestCase):
    def test_signature_declares_inputs_outputs_parameters(self):
        self.assertEqual(train.name, "train")
        self.assertEqual(train.inputs, {"data": Dataset, "init": Model})
        self.assertEqual(train.optional_inputs, {"init"})
        self.assertEqual(train.outputs, {"model": Model, "report": Report})
        self.assertEqual(train.context_arg, "context")
        params = train.parameters
        self.assertEqual(list(params), ["epochs", "rate", "name", "layers", "verbose"])
        self.assertEqual((params["epochs"].type, params["epochs"].default), (int, 10))
        self.assertEqual(params["layers"].type, list)
        self.assertEqual(params["layers"].default, [8, 4])
        self.assertTrue(params["name"].nullable)
        self.assertFalse(params["epochs"].nullable)

    def test_code_version_follows_source_and_version(self):
        self.assertEqual(
            base.Component(_fn, "1").code_version, base.Component(_fn, "1").code_version
        )
        self.assertNotEqual(
            base.Component(_fn, "1").code_version, base.Component(_fn, "2").code_version
        )
        self.assertNotEqual(base.Component(_fn, "1").code_version, train.code_version)

    def test_code_version_does_not_depend_on_the_module(self):
        # Moving a component to another module unchanged (as the emission-line
        # components were moved to training.py, analysis.py and outputs.py)
        # keeps its cache key, so runs cached before the move stay cached.
        source = textwrap.dedent(
            """
            from tfelg_components.base import Dataset, Output, component

            SCALE = {scale}


            @component(version="1")
            def make(data: Output[Dataset], n: int = 3):
                data.properties["n"] = n * SCALE
            """
        )
        made = {}
        for module, scale in (("old_home", 2), ("new_home", 2), ("edited", 3)):
            folder = self.create_tempdir(module).full_path
            path = os.path.join(folder, f"{module}.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(source.format(scale=scale))
            spec = importlib.util.spec_from_file_location(f"base_test_{module}", path)
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
            made[module] = loaded.make
        keys = {m: runner.cache_key(c, {"n": 3}, {}) for m, c in made.items()}
        self.assertEqual(made["old_home"].code_version, made["new_home"].code_version)
        self.assertEqual(keys["old_home"], keys["new_home"])
        # The helper's value is not the component's source: not in the key
        # (hence: bump the version when a helper changes what it writes).
        self.assertEqual(keys["old_home"], keys["edited"])

    def test_bad_declarations(self):
        def unannotated(x: Output[Dataset], k=1):
            del x, k

        def output_default(x: Output[Dataset] = None):
            del x

        def not_artifact(x: Input[int]):
            del x

        def reserved(x: Output[Dataset], root: str = ""):
            del x, root

        def any_type(x: Output[Dataset], k: object = None):
            del x, k

        def reserved_by_the_binary(x: Output[Dataset], output_uri_file: str = ""):
            del x, output_uri_file

        for fn, words in [
            (unannotated, "annotate"),
            (output_default, "no default"),
            (not_artifact, "not an Artifact"),
            (reserved, "reserved"),
            (reserved_by_the_binary, "reserved"),
            (any_type, "is not one of"),
        ]:
            with self.subTest(fn.__name__), self.assertRaisesRegex(TypeError, words):
                base.Component(fn, "1")
        with self.assertRaisesRegex(TypeError, "version"):
            component(_fn)

    def test_bind_parameters(self):
        bound = train.bind_parameters({"epochs": 3, "rate": 1})
        self.assertEqual(bound["epochs"], 3)
        self.assertIsInstance(bound["rate"], float)
        self.assertEqual(bound["layers"], [8, 4])
        with self.assertRaisesRegex(ParameterError, "no parameter 'epoch'.*epochs, rate"):
            train.bind_parameters({"epoch": 3})
        with self.assertRaisesRegex(ParameterError, "'train'.*'epochs': expected int"):
            train.bind_parameters({"epochs": "3"})


class ParameterTest(parameterized.TestCase):
    @parameterized.parameters(
        (int, "3", 3),
        (float, "2", 2.0),
        (bool, "true", True),
        (bool, "No", False),
        (str, "null", "null"),
        (list, "[1, 2]", [1, 2]),
        (dict, '{"a": 1}', {"a": 1}),
    )
    def test_parse(self, kind, text, value):
        parsed = Parameter("p", type=kind).parse(text)
        self.assertEqual(parsed, value)
        self.assertIs(type(parsed), type(value))

    def test_parse_none_only_when_nullable(self):
        self.assertIsNone(Parameter("p", None, type=int).parse("none"))
        with self.assertRaisesRegex(ParameterError, "cannot read 'none' as int"):
            Parameter("p", 1).parse("none")

    def test_check_rejects_wrong_types_and_non_json(self):
        for spec, value in [
            (Parameter("p", 1), True),
            (Parameter("p", 1), 1.5),
            (Parameter("p", 1.0), "1"),
            (Parameter("p", 1.0), math.nan),
            (Parameter("p", {}), {"a": object()}),
            (Parameter("p", 1), None),
        ]:
            with self.subTest(value=value), self.assertRaises(ParameterError):
                spec.check(value)

    def test_type_from_default(self):
        self.assertIs(Parameter("p", 2.0).type, float)
        self.assertEqual(Parameter("p", (1, 2)).default, [1, 2])
        self.assertTrue(Parameter("p", type=int).required)
        with self.assertRaisesRegex(TypeError, "give its type"):
            Parameter("p", None)


@component(version="1")
def constrained(
    out: Output[Report],
    epochs: Annotated[int, Range(ge=1)] = 5,
    rate: Annotated[float, Range(gt=0, le=1), "Step size."] = 0.1,
    k: Annotated[int, Range(ge=2)] | None = None,
    kind: Annotated[str | None, OneOf("full", "diag")] = "full",
    dims: Annotated[list[int], Length(min=1), Unique(), Each(Range(ge=1))] = (2,),
):
    del out, epochs, rate, k, kind, dims


class ConstraintTest(parameterized.TestCase):
    @parameterized.parameters(
        (Range(ge=1), 1, None),
        (Range(ge=1), 0, "must be >= 1, got 0"),
        (Range(gt=0), 0.0, "must be > 0, got 0.0"),
        (Range(gt=0), 1e-300, None),
        (Range(ge=1, le=10), 11, "must be >= 1 and <= 10, got 11"),
        (Range(lt=3), 3, "must be < 3, got 3"),
        (Range(ge=0), True, "must be a number >= 0, got True"),
        (Range(ge=0), "1", "must be a number >= 0, got '1'"),
        (OneOf("a", "b"), "b", None),
        (OneOf("a", "b"), "c", "must be one of a, b, got 'c'"),
        (OneOf(1, 2), True, "must be one of 1, 2, got True"),
        (OneOf(1, 2), 1.0, "must be one of 1, 2, got 1.0"),
        (Length(min=1), [], "must have at least 1 item, got 0: []"),
        (Length(min=1, max=2), [1, 2, 3], "must have at least 1 and at most 2 items, got 3"),
        (Unique(), [1, 2, 1], "must not repeat an item, got 1 twice in [1, 2, 1]"),
        (Each(Range(ge=1)), [3, 0], "item 1 must be >= 1, got 0"),
        (Each(OneOf("x")), ["x", "x"], None),
        (Check(lambda v: v % 2 == 0, "even"), 3, "must be even, got 3"),
    )
    def test_problem(self, constraint, value, problem):
        if problem is None:
            self.assertIsNone(constraint.problem(value))
        else:
            self.assertStartsWith(constraint.problem(value), problem)

    def test_bad_constraints(self):
        for make, words in [
            (lambda: Range(), "needs a bound"),
            (lambda: Range(ge="1"), "bounds are numbers"),
            (lambda: OneOf(), "at least one choice"),
            (lambda: Length(), "min >= 1 or a max"),
            (lambda: Each(3), "not a Constraint"),
            (lambda: Parameter("p", 1, constraints=(">= 1",)), "not a Constraint"),
            (lambda: Parameter("p", 0, constraints=(Range(ge=1),)), "default of parameter 'p'"),
            (lambda: Parameter("p", 1, item_type=int), "item_type"),
        ]:
            with self.subTest(words), self.assertRaisesRegex(TypeError, words):
                make()

    def test_annotations_declare_constraints_help_and_item_types(self):
        params = constrained.parameters
        self.assertEqual(params["epochs"].rules, ">= 1")
        self.assertEqual(params["rate"].rules, "> 0 and <= 1")
        self.assertEqual(params["rate"].help, "Step size.")
        # Annotated[T, ...] | None and Annotated[T | None, ...] both make None valid.
        self.assertTrue(params["k"].nullable)
        self.assertTrue(params["kind"].nullable)
        self.assertEqual(params["k"].rules, ">= 2")
        self.assertIsNone(params["k"].check(None))
        self.assertEqual((params["dims"].type, params["dims"].item_type), (list, int))
        self.assertEqual(params["dims"].rules, "at least 1 item; no repeats; each >= 1")
        self.assertEqual(params["dims"].default, [2])
        self.assertEqual(train.parameters["layers"].item_type, int)

    def test_bind_checks_constraints_and_names_every_bad_value(self):
        self.assertEqual(
            constrained.bind_parameters({"epochs": 1, "rate": 1, "dims": (1, 3)}),
            {"epochs": 1, "rate": 1.0, "k": None, "kind": "full", "dims": [1, 3]},
        )
        for values, words in [
            ({"epochs": 0}, "component 'constrained': parameter 'epochs' must be >= 1, got 0"),
            ({"rate": 0}, "parameter 'rate' must be > 0 and <= 1, got 0.0"),
            ({"k": 1}, "parameter 'k' must be >= 2, got 1"),
            ({"kind": "spherical"}, "parameter 'kind' must be one of full, diag"),
            ({"dims": []}, "parameter 'dims' must have at least 1 item"),
            ({"dims": [2, 2]}, "parameter 'dims' must not repeat"),
            ({"dims": [2, 0]}, "parameter 'dims' item 1 must be >= 1, got 0"),
            ({"dims": [2, 2.5]}, "parameter 'dims': item 1 is not int: 2.5"),
            ({"dims": [True]}, "parameter 'dims': item 0 is not int: True"),
        ]:
            with self.subTest(values), self.assertRaisesRegex(ParameterError, words):
                constrained.bind_parameters(values)
        with self.assertRaises(ParameterError) as cm:
            constrained.bind_parameters({"epochs": 0, "rate": 2.0, "nope": 1})
        message = str(cm.exception)
        self.assertStartsWith(message, "component 'constrained': 3 problems:")
        for words in ("no parameter 'nope'", "'epochs' must be >= 1", "'rate' must be > 0"):
            self.assertIn(words, message)
        with self.assertRaisesRegex(ParameterError, "'epochs' must be >= 1, got 0"):
            constrained(epochs=0)  # building a node binds its parameters

    def test_parse_applies_the_constraints(self):
        self.assertEqual(constrained.parameters["epochs"].parse("3"), 3)
        with self.assertRaisesRegex(ParameterError, "'epochs' must be >= 1, got 0"):
            constrained.parameters["epochs"].parse("0")
        with self.assertRaisesRegex(ParameterError, "'kind' must be one of full, diag"):
            constrained.parameters["kind"].parse("tied")
        self.assertIsNone(constrained.parameters["k"].parse("none"))

    def test_feeds_keeps_type_default_and_constraints(self):
        spec = feeds(constrained, "epochs", "train_epochs", help="Epochs.")
        self.assertEqual(
            (spec.name, spec.type, spec.default, spec.rules, spec.help),
            ("train_epochs", int, 5, ">= 1", "Epochs."),
        )
        with self.assertRaisesRegex(ParameterError, "'train_epochs' must be >= 1, got 0"):
            spec.check(0)
        self.assertEqual(feeds(constrained, "dims").item_type, int)
        with self.assertRaisesRegex(TypeError, "no parameter 'epoch'"):
            feeds(constrained, "epoch")


class ArtifactTest(absltest.TestCase):
    def test_json_round_trip_relative_to_root(self):
        root = self.create_tempdir().full_path
        artifact = Model(os.path.join(root, "train", "model", "abc"), {"k": 1}, "sha256:00")
        record = artifact.to_json(root)
        self.assertEqual(record["uri"], os.path.join("train", "model", "abc"))
        self.assertEqual(record["type"], "Model")
        back = base.Artifact.from_json(record, root)
        self.assertIsInstance(back, Model)
        self.assertEqual(
            (back.uri, back.properties, back.fingerprint), (artifact.uri, {"k": 1}, "sha256:00")
        )
        self.assertTrue(os.path.isabs(Model("/elsewhere/x").to_json(root)["uri"]))

    def test_types(self):
        for name in (
            "Dataset",
            "Model",
            "Embeddings",
            "ModelSelection",
            "Clusters",
            "TSNEMap",
            "ProjectorLog",
            "Catalogue",
            "Report",
            "Files",
        ):
            self.assertIn(name, base.ARTIFACT_TYPES)
        self.assertEqual(base.ProjectorLog.TENSORBOARD_LOGDIR, ".")
        with self.assertRaisesRegex(ValueError, "unknown artifact type"):
            base.Artifact.from_json({"type": "Nope", "uri": "/x"})


@component(version="1")
def make(data: Output[Dataset], n: int = 1):
    del data, n


@component(version="1")
def fit(data: Input[Dataset], model: Output[Model], init: Input[Model] = None):
    del data, model, init


class NodeTest(absltest.TestCase):
    def test_wiring(self):
        made = make(n=3)
        self.assertEqual(made.params, {"n": 3})
        fitted = fit(data=made.outputs["data"])
        self.assertEqual(fitted.inputs, {"data": made.outputs["data"], "init": None})
        self.assertEqual(fitted.upstream, [made])
        again = fit(data=made.outputs["data"], init=fitted.outputs["model"]).with_id("fit_2")
        self.assertEqual(again.id, "fit_2")
        self.assertEqual(repr(again.inputs["init"]), "fit.outputs['model']")
        external = fit(data=Dataset("/data/x"))
        self.assertEqual(external.upstream, [])

    def test_wiring_errors(self):
        made = make()
        for kwargs, words in [
            ({}, "input 'data' is required"),
            (
                {"data": made.outputs["data"], "init": made.outputs["data"]},
                "takes Model, not Dataset",
            ),
            ({"data": "path/to/data"}, "takes a node's output or an Artifact"),
            ({"data": made.outputs["data"], "extra": made.outputs["data"]}, "no input 'extra'"),
        ]:
            with self.subTest(words), self.assertRaisesRegex(TypeError, words):
                fit(**kwargs)
        with self.assertRaisesRegex(ParameterError, "no parameter 'm'"):
            make(m=1)
        with self.assertRaisesRegex(ValueError, "node id"):
            make().with_id("_bad/id")


if __name__ == "__main__":
    absltest.main()
