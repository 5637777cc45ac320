"""The component model: a component is a typed function, an artifact a typed folder.

This is TFX's shape (STYLE.md) in a form small enough to read at one sitting.
A component is a plain Python function whose signature declares everything the
runner needs to know:

    @component(version="1")
    def scale(data: Input[Dataset], scaled: Output[Dataset], factor: float = 2.0):
        np.save(scaled.path("x.npy"), np.load(data.path("x.npy")) * factor)

Input and output artifacts are folders the function reads and writes; the
parameters are JSON values whose canonical JSON enters the cache key, and may
carry constraints beyond their type (``epochs: Annotated[int, Range(ge=1)]``),
so that a pipeline refuses a bad value before any of its steps runs. The
runner (runner.py) decides where the folders are and whether to call the
function at all, so components never deal with paths of their own, caching or
half-written files. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

#: Every artifact type by name, as recorded in the JSON records.
ARTIFACT_TYPES: dict[str, type[Artifact]] = {}

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Flags of every component binary (binary.py); "input_" prefixes the input flags.
RESERVED_NAMES = frozenset(
    {"root", "id", "execution_json", "output_uri_file", "flagfile", "help", "helpfull"}
)


class ParameterError(ValueError):
    """A parameter value of the wrong type, unknown, missing, not JSON or out of its range."""


def canonical_json(value: Any) -> str:
    """The one JSON spelling of `value` (sorted keys, no spaces, no NaN) that keys hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class Artifact:
    """A folder (or, for an external input, a file) with a type, properties and a fingerprint.

    Subclasses are the artifact types; the class name is the type recorded in
    JSON. `uri` is an absolute path; `properties` are small JSON values that
    describe the contents (sizes, names); `fingerprint` is the sha256 of the
    contents (runner.fingerprint), set once the artifact is complete.
    Properties are descriptive only: what a downstream component depends on
    belongs in the files, since only fingerprints enter cache keys.
    """

    #: A TensorBoard log directory inside the artifact ("." for the artifact itself).
    TENSORBOARD_LOGDIR: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        known = ARTIFACT_TYPES.get(cls.__name__)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"artifact type {cls.__name__} is already {known.__module__}")
        ARTIFACT_TYPES[cls.__name__] = cls

    def __init__(self, uri, properties: Mapping[str, Any] | None = None, fingerprint=None):
        self.uri = os.path.abspath(os.fspath(uri))
        self.properties = dict(properties or {})
        self.fingerprint = fingerprint

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def path(self, *parts: str) -> str:
        """A path inside the artifact: ``model.path("weights.keras")``."""
        return os.path.join(self.uri, *parts)

    def to_json(self, root: str | None = None) -> dict:
        """The record of the artifact; its uri relative to `root` when inside it."""
        uri, root = self.uri, root and os.path.abspath(root)
        if root is not None and os.path.commonpath([uri, root]) == root:
            uri = os.path.relpath(uri, root)
        return {
            "type": self.type_name,
            "uri": uri,
            "properties": self.properties,
            "fingerprint": self.fingerprint,
        }

    @staticmethod
    def from_json(record: Mapping[str, Any], root: str | None = None) -> Artifact:
        cls = ARTIFACT_TYPES.get(record["type"])
        if cls is None:
            raise ValueError(f"unknown artifact type {record['type']!r}")
        uri = record["uri"]
        if root is not None and not os.path.isabs(uri):
            uri = os.path.join(root, uri)
        return cls(uri, record.get("properties"), record.get("fingerprint"))

    def __repr__(self):
        return f"{self.type_name}({self.uri!r})"


class Files(Artifact):
    """Any folder of files (also an external input such as a folder of FITS files)."""


class Dataset(Artifact):
    """Prepared data (a TFDS data directory, arrays)."""


class Model(Artifact):
    """A trained model with its preprocessing."""


class Embeddings(Artifact):
    """One latent vector per object, with the object ids."""


class ModelSelection(Artifact):
    """Curves that choose a number of clusters (BIC, gap statistic, silhouette)."""


class Clusters(Artifact):
    """Cluster labels and probabilities per object, and the mixture that gave them."""


class TSNEMap(Artifact):
    """Two-dimensional t-SNE coordinates per object."""


class ProjectorLog(Artifact):
    """A TensorBoard log directory holding an embedding projector."""

    TENSORBOARD_LOGDIR = "."


class Catalogue(Artifact):
    """A value-added FITS catalogue."""


class Report(Artifact):
    """Figures and metrics for a person to read."""


T = TypeVar("T", bound=Artifact)


class Input(Generic[T]):
    """Annotates an input artifact: ``data: Input[Dataset]`` (``= None``: optional)."""


class Output(Generic[T]):
    """Annotates an output artifact: ``model: Output[Model]``; the runner makes the folder."""


@dataclasses.dataclass(frozen=True)
class Context:
    """Given to a component that declares a parameter annotated ``Context``.

    `work_dir` survives a killed or failed execution and is removed after a
    successful one: the place for state that lets a retry resume (Keras's
    BackupAndRestore), unlike the output folders, which start empty each time.
    """

    root: str
    node: str
    execution: str
    work_dir: str


# -- constraints: what a parameter's value must be beyond its type -------------------------
class Constraint:
    """A rule a parameter's value must follow beyond its type.

    A component declares it in the annotation, ``epochs: Annotated[int,
    Range(ge=1)] = 50``, and a pipeline parameter in ``Parameter(...,
    constraints=...)``. Parameter.check applies it whenever a value is bound,
    which a pipeline does for every node before any step runs: a bad value
    costs nothing instead of the steps before the one that would have failed.
    `rule` says in a few words what a good value is (for ``--describe`` and a
    binary's ``--help``); `problem` says what is wrong with a bad one.
    """

    rule: str = ""

    def problem(self, value: Any) -> str | None:
        """None if `value` follows the rule, else what is wrong ("must be >= 1, got 0")."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.rule})"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Range(Constraint):
    """A number within bounds: ``Range(ge=1)``, ``Range(gt=0)``, ``Range(ge=1, le=100_000)``."""

    _OPS = (
        ("ge", ">=", lambda v, b: v >= b),
        ("gt", ">", lambda v, b: v > b),
        ("le", "<=", lambda v, b: v <= b),
        ("lt", "<", lambda v, b: v < b),
    )

    def __init__(self, *, ge=None, gt=None, le=None, lt=None):
        bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt}
        if all(b is None for b in bounds.values()):
            raise TypeError("Range needs a bound: ge, gt, le or lt")
        if not all(b is None or _is_number(b) for b in bounds.values()):
            raise TypeError(f"Range bounds are numbers, got {bounds}")
        self.bounds = {k: b for k, b in bounds.items() if b is not None}
        self.rule = " and ".join(
            f"{op} {self.bounds[k]!r}" for k, op, _ in self._OPS if k in self.bounds
        )

    def problem(self, value):
        if not _is_number(value):
            return f"must be a number {self.rule}, got {value!r}"
        if all(test(value, self.bounds[k]) for k, _, test in self._OPS if k in self.bounds):
            return None
        return f"must be {self.rule}, got {value!r}"


class OneOf(Constraint):
    """One of a few values: ``OneOf("full", "diag")``."""

    def __init__(self, *choices):
        if not choices:
            raise TypeError("OneOf needs at least one choice")
        self.choices = tuple(choices)
        self.rule = "one of " + ", ".join(map(str, self.choices))

    def problem(self, value):
        # `in` alone would take True for 1 and 1.0 for 1.
        if any(value == c and type(value) is type(c) for c in self.choices):
            return None
        return f"must be {self.rule}, got {value!r}"


class Length(Constraint):
    """A list (or string) with at least `min` and at most `max` items."""

    def __init__(self, *, min: int = 0, max: int | None = None):  # noqa: A002
        if not min and max is None:
            raise TypeError("Length needs min >= 1 or a max")
        self.min, self.max = min, max
        bounds = [f"at least {min}" if min else "", "" if max is None else f"at most {max}"]
        plural = "" if (max if max is not None else min) == 1 else "s"
        self.rule = " and ".join(b for b in bounds if b) + f" item{plural}"

    def problem(self, value):
        n = len(value)
        if n >= self.min and (self.max is None or n <= self.max):
            return None
        return f"must have {self.rule}, got {n}: {value!r}"


class Unique(Constraint):
    """A list without repeats."""

    rule = "no repeats"

    def problem(self, value):
        seen = []
        for item in value:
            if item in seen:
                return f"must not repeat an item, got {item!r} twice in {value!r}"
            seen.append(item)
        return None


class Each(Constraint):
    """Constraints on every item of a list: ``Each(OneOf("ae", "vae"))``."""

    def __init__(self, *constraints: Constraint):
        self.constraints = _constraints(constraints, "Each")
        self.rule = "each " + " and ".join(c.rule for c in self.constraints)

    def problem(self, value):
        for index, item in enumerate(value):
            for constraint in self.constraints:
                problem = constraint.problem(item)
                if problem is not None:
                    return f"item {index} {problem}"
        return None


class Check(Constraint):
    """Any other rule: ``Check(lambda v: v % 2 == 0, "even")``."""

    def __init__(self, test: Callable[[Any], bool], rule: str):
        self.test, self.rule = test, rule

    def problem(self, value):
        return None if self.test(value) else f"must be {self.rule}, got {value!r}"


def _constraints(items, where: str) -> tuple[Constraint, ...]:
    items = tuple(items)
    for item in items:
        if not isinstance(item, Constraint):
            raise TypeError(f"{where}: {item!r} is not a Constraint (Range, OneOf, ...)")
    return items


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()
_PARAMETER_TYPES = (bool, int, float, str, list, dict)
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A typed JSON parameter of a component or a pipeline.

    `type` is one of bool, int, float, str, list, dict; when omitted it is the
    type of `default`. A default of None (or a ``T | None`` annotation) makes
    None a valid value. `item_type` types the items of a list (``list[int]``).
    `constraints` are further rules (Range, OneOf, Each, ...) that every value
    but None must follow; the default must follow them too.
    """

    name: str
    default: Any = REQUIRED
    type: type | None = None
    help: str = ""
    nullable: bool = False
    constraints: tuple[Constraint, ...] = ()
    item_type: type | None = None

    def __post_init__(self):
        kind = self.type
        if kind is None:
            if self.default is REQUIRED or self.default is None:
                raise TypeError(f"parameter {self.name!r}: give its type")
            kind = type(self.default)
        kind = {tuple: list}.get(kind, kind)
        if kind not in _PARAMETER_TYPES:
            raise TypeError(
                f"parameter {self.name!r}: {kind} is not one of bool/int/float/str/list/dict"
            )
        if self.item_type is not None and (kind is not list or self.item_type not in _ITEM_TYPES):
            raise TypeError(f"parameter {self.name!r}: item_type is bool/int/float/str of a list")
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "nullable", self.nullable or self.default is None)
        constraints = _constraints(self.constraints, f"parameter {self.name!r}")
        object.__setattr__(self, "constraints", constraints)
        if self.default is not REQUIRED:
            try:
                default = self.check(self.default)
            except ParameterError as e:
                raise TypeError(f"the default of {e}") from e
            object.__setattr__(self, "default", default)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def rules(self) -> str:
        """The constraints in words ("each one of ae, vae; no repeats"), or ""."""
        return "; ".join(c.rule for c in self.constraints)

    def renamed(self, name: str, **changes) -> Parameter:
        """This parameter under another name (and help, default): a pipeline parameter that
        feeds a component's, with the component's type and constraints."""
        return dataclasses.replace(self, name=name, **changes)

    def check(self, value: Any) -> Any:
        """`value` as this parameter's type (int -> float, tuple -> list), or ParameterError."""
        kind = self.type
        if value is None and self.nullable:
            return None
        value = _convert(kind, value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ParameterError(
                f"parameter {self.name!r}: expected {kind.__name__}, got {value!r}"
            )
        if self.item_type is not None:
            value = [_convert(self.item_type, item) for item in value]
            for index, item in enumerate(value):
                if not isinstance(item, self.item_type) or (
                    self.item_type is not bool and isinstance(item, bool)
                ):
                    raise ParameterError(
                        f"parameter {self.name!r}: item {index} is not {self.item_type.__name__}"
                        f": {item!r}"
                    )
        try:
            canonical_json(value)
        except (TypeError, ValueError) as e:
            raise ParameterError(
                f"parameter {self.name!r}: {value!r} is not finite JSON ({e})"
            ) from e
        for constraint in self.constraints:
            problem = constraint.problem(value)
            if problem is not None:
                raise ParameterError(f"parameter {self.name!r} {problem}")
        return value

    def parse(self, text: str) -> Any:
        """A value from its command-line spelling (``3``, ``true``, ``[1, 2]``, ``null``)."""
        kind = self.type
        try:
            if kind is str:
                value = text
            elif self.nullable and text.strip().lower() in ("none", "null"):
                return None
            elif kind is bool:
                if text.strip().lower() not in _TRUE + _FALSE:
                    raise ValueError("expected true or false")
                value = text.strip().lower() in _TRUE
            else:
                value = json.loads(text) if kind in (list, dict) else kind(text)
        except ValueError as e:
            raise ParameterError(
                f"parameter {self.name!r}: cannot read {text!r} as {kind.__name__}"
            ) from e
        return self.check(value)


_ITEM_TYPES = (bool, int, float, str)


def _convert(kind: type, value: Any) -> Any:
    """The lossless conversions a parameter accepts: int -> float, tuple -> list."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, tuple):
        return list(value)
    return value


def check_all(specs: Mapping[str, Parameter], values: Mapping[str, Any], where: str) -> dict:
    """Every parameter of `specs` checked, defaults filled in; ParameterError lists every problem.

    One error naming all the bad values (unknown, missing, mistyped, out of
    range), so that a user fixes a command line once rather than once per value.
    """
    problems = []
    unknown = sorted(set(values) - set(specs))
    if unknown:
        problems.append(
            f"no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(specs) or '(none)'}"
        )
    bound = {}
    for name, spec in specs.items():
        if name not in values and spec.required:
            problems.append(f"parameter {name!r} is required")
            continue
        try:
            bound[name] = spec.check(values[name]) if name in values else spec.default
        except ParameterError as e:
            problems.append(str(e))
    if len(problems) == 1:
        raise ParameterError(f"{where}: {problems[0]}")
    if problems:
        raise ParameterError(f"{where}: {len(problems)} problems:\n  " + "\n  ".join(problems))
    return bound


def _without_none(annotation):
    """``T | None`` (or ``Optional[T]``) -> T; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return annotation


def _split_annotated(annotation) -> tuple[Any, list]:
    """``Annotated[T, a, b]`` -> (T, [a, b]); anything else -> (annotation, [])."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        return base, extras
    return annotation, []


def _parameter_from_annotation(name, annotation, default) -> Parameter:
    """A Parameter from ``T``, ``T | None``, ``Annotated[T, ...]`` or ``Annotated[T, ...] | None``.

    The extras of Annotated are constraints, and at most one string: the help.
    """
    annotation, outer = _split_annotated(annotation)
    bare = _without_none(annotation)
    nullable = bare is not annotation
    bare, inner = _split_annotated(bare)
    extras = [*outer, *inner]
    helps = [e for e in extras if isinstance(e, str)]
    constraints = [e for e in extras if not isinstance(e, str)]
    if len(helps) > 1:
        raise TypeError(f"parameter {name!r}: one help string at most in Annotated[...]")
    item_type = None
    if typing.get_origin(bare) is list and typing.get_args(bare):
        (item_type,) = typing.get_args(bare)
        item_type = item_type if item_type in _ITEM_TYPES else None
    return Parameter(
        name,
        default,
        typing.get_origin(bare) or bare,  # list[int] -> list
        help=helps[0] if helps else "",
        nullable=nullable,
        constraints=tuple(constraints),
        item_type=item_type,
    )


def _source(fn: Callable) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):  # defined where no source file exists
        code = fn.__code__
        return repr((code.co_code, code.co_consts, code.co_names))


class Component:
    """A function with typed inputs, outputs and parameters; calling it makes a pipeline Node.

    Use the `component` decorator. `code_version` hashes the function's
    source with `version`: editing the function re-executes it; bump `version`
    when code it calls changes what it writes.
    """

    def __init__(self, fn: Callable, version: str):
        self.fn = fn
        self.name = fn.__name__
        self.version = str(version)
        self.__doc__ = fn.__doc__
        self.inputs: dict[str, type[Artifact]] = {}
        self.optional_inputs: set[str] = set()
        self.outputs: dict[str, type[Artifact]] = {}
        self.parameters: dict[str, Parameter] = {}
        self.context_arg: str | None = None
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except NameError as e:
            raise TypeError(
                f"component {self.name!r}: {e} (define components at module level)"
            ) from e
        for name, arg in inspect.signature(fn).parameters.items():
            where = f"component {self.name!r}, argument {name!r}"
            if name not in hints:
                raise TypeError(
                    f"{where}: annotate it (Input[...], Output[...], Context or a type)"
                )
            if not _NAME.match(name) or name in RESERVED_NAMES or name.startswith("input_"):
                raise TypeError(f"{where}: reserved or invalid name")
            default = REQUIRED if arg.default is inspect.Parameter.empty else arg.default
            hint = _without_none(hints[name])
            origin = typing.get_origin(hint)
            if origin in (Input, Output):
                (kind,) = typing.get_args(hint)
                if not (isinstance(kind, type) and issubclass(kind, Artifact)):
                    raise TypeError(f"{where}: {kind} is not an Artifact type")
                if origin is Output and default is not REQUIRED:
                    raise TypeError(f"{where}: an output has no default")
                if origin is Input and default not in (REQUIRED, None):
                    raise TypeError(f"{where}: an input's only default is None (optional)")
                (self.inputs if origin is Input else self.outputs)[name] = kind
                if origin is Input and default is None:
                    self.optional_inputs.add(name)
            elif hint is Context:
                self.context_arg = name
            else:
                try:
                    self.parameters[name] = _parameter_from_annotation(name, hints[name], default)
                except (TypeError, ParameterError) as e:
                    raise TypeError(f"component {self.name!r}: {e}") from e
        digest = hashlib.sha256(f"{_source(fn)}\0{self.version}".encode()).hexdigest()
        self.code_version = digest[:16]

    def bind_parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """All parameters, checked against their types and constraints, defaults filled in.

        Raises ParameterError naming every bad value. A pipeline binds every
        node when it is built, so this is where a bad value stops a pipeline
        before any step runs.
        """
        return check_all(self.parameters, values, f"component {self.name!r}")

    def check_input(self, name: str, kind: type[Artifact] | None) -> None:
        """Raises TypeError unless an artifact of type `kind` (None: none) may be input `name`."""
        if name not in self.inputs:
            known = ", ".join(self.inputs) or "(none)"
            raise TypeError(f"component {self.name!r} has no input {name!r}; its inputs: {known}")
        if kind is None:
            if name not in self.optional_inputs:
                raise TypeError(f"component {self.name!r}: input {name!r} is required")
        elif not issubclass(kind, self.inputs[name]):
            raise TypeError(
                f"component {self.name!r}: input {name!r} takes {self.inputs[name].__name__}, "
                f"not {kind.__name__}"
            )

    def __call__(self, **kwargs) -> Node:
        """A pipeline node: inputs are other nodes' outputs (or Artifacts), the rest parameters."""
        inputs, params = {}, {}
        for key, value in kwargs.items():
            is_input = key in self.inputs or isinstance(value, OutputRef | Artifact)
            (inputs if is_input else params)[key] = value
        for name in [*self.inputs, *(k for k in inputs if k not in self.inputs)]:
            value = inputs.get(name)
            if isinstance(value, OutputRef):
                kind = value.type
            elif isinstance(value, Artifact) or value is None:
                kind = None if value is None else type(value)
            else:
                raise TypeError(
                    f"component {self.name!r}: input {name!r} takes a node's output or an "
                    f"Artifact, not {value!r}"
                )
            self.check_input(name, kind)
            inputs[name] = value
        return Node(self, inputs, self.bind_parameters(params))

    def __repr__(self):
        return f"<component {self.name} version={self.version}>"


def component(fn: Callable | None = None, *, version: str | None = None):
    """Declares a component: ``@component(version="1")`` above a typed function."""
    if fn is not None or version is None:
        raise TypeError('write @component(version="1"): the version is part of the cache key')
    return lambda f: Component(f, version)


@dataclasses.dataclass(frozen=True, eq=False)
class OutputRef:
    """Output `name` of pipeline node `node`; passed as another node's input."""

    node: Node
    name: str
    type: type[Artifact]

    def __repr__(self):
        return f"{self.node.id}.outputs[{self.name!r}]"


_NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


class Node:
    """One invocation of a component in a pipeline: its inputs wired, its parameters bound."""

    def __init__(self, component: Component, inputs: dict, params: dict):
        self.component = component
        self.inputs: dict[str, OutputRef | Artifact | None] = inputs
        self.params = params
        self.id = component.name
        self.outputs = {name: OutputRef(self, name, t) for name, t in component.outputs.items()}

    def with_id(self, node_id: str) -> Node:
        """Names the node (and its folder under the run root); needed for a second use."""
        if not _NODE_ID.match(node_id):
            raise ValueError(f"node id {node_id!r}: use letters, digits, '_', '-', '.'")
        self.id = node_id
        return self

    @property
    def upstream(self) -> list[Node]:
        return [ref.node for ref in self.inputs.values() if isinstance(ref, OutputRef)]

    def __repr__(self):
        return f"<node {self.id} ({self.component.name})>"
