"""The component model: a component is a typed function, an artifact a typed folder.

This is TFX's shape (STYLE.md) in a form small enough to read at one sitting.
A component is a plain Python function whose signature declares everything the
runner needs to know:

    @component(version="1")
    def scale(data: Input[Dataset], scaled: Output[Dataset], factor: float = 2.0):
        np.save(scaled.path("x.npy"), np.load(data.path("x.npy")) * factor)

Input and output artifacts are folders the function reads and writes; the
parameters are JSON values whose canonical JSON enters the cache key. The
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
RESERVED_NAMES = frozenset({"root", "id", "execution_json", "flagfile", "help"})


class ParameterError(ValueError):
    """A parameter value of the wrong type, unknown, missing or not JSON."""


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
    None a valid value.
    """

    name: str
    default: Any = REQUIRED
    type: type | None = None
    help: str = ""
    nullable: bool = False

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
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "nullable", self.nullable or self.default is None)
        if self.default is not REQUIRED:
            object.__setattr__(self, "default", self.check(self.default))

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, value: Any) -> Any:
        """`value` as this parameter's type (int -> float, tuple -> list), or ParameterError."""
        kind = self.type
        if value is None and self.nullable:
            return None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list and isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ParameterError(
                f"parameter {self.name!r}: expected {kind.__name__}, got {value!r}"
            )
        try:
            canonical_json(value)
        except (TypeError, ValueError) as e:
            raise ParameterError(
                f"parameter {self.name!r}: {value!r} is not finite JSON ({e})"
            ) from e
        return value

    def parse(self, text: str) -> Any:
        """A value from its command-line spelling (``3``, ``true``, ``[1, 2]``, ``null``)."""
        kind = self.type
        try:
            if kind is str:
                return text
            if self.nullable and text.strip().lower() in ("none", "null"):
                return None
            if kind is bool:
                if text.strip().lower() not in _TRUE + _FALSE:
                    raise ValueError("expected true or false")
                return text.strip().lower() in _TRUE
            value = json.loads(text) if kind in (list, dict) else kind(text)
        except ValueError as e:
            raise ParameterError(
                f"parameter {self.name!r}: cannot read {text!r} as {kind.__name__}"
            ) from e
        return self.check(value)


def _without_none(annotation):
    """``T | None`` (or ``Optional[T]``) -> T; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0]
    return annotation


def _parameter_from_annotation(name, annotation, default, nullable) -> Parameter:
    annotation = typing.get_origin(annotation) or annotation  # list[int] -> list
    return Parameter(name, default, annotation, nullable=nullable)


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
            hints = typing.get_type_hints(fn)
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
                    nullable = hint is not hints[name]
                    self.parameters[name] = _parameter_from_annotation(
                        name, hint, default, nullable
                    )
                except (TypeError, ParameterError) as e:
                    raise TypeError(f"component {self.name!r}: {e}") from e
        digest = hashlib.sha256(f"{_source(fn)}\0{self.version}".encode()).hexdigest()
        self.code_version = digest[:16]

    def bind_parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """All parameters, checked, with defaults filled in."""
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ParameterError(
                f"component {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters: {', '.join(self.parameters) or '(none)'}"
            )
        bound = {}
        for name, spec in self.parameters.items():
            if name not in values and spec.required:
                raise ParameterError(f"component {self.name!r}: parameter {name!r} is required")
            try:
                bound[name] = spec.check(values[name]) if name in values else spec.default
            except ParameterError as e:
                raise ParameterError(f"component {self.name!r}: {e}") from e
        return bound

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
