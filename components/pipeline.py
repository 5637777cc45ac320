"""A pipeline: named parameters and a function that wires component nodes from them.

    def build(params):
        data = make_data(n=params["n"])
        scaled = scale(data=data.outputs["data"], factor=params["factor"])
        return [data, scaled]

    toy = Pipeline("toy", build, [Parameter("n", 1000), Parameter("factor", 2.0)])
    result = run_pipeline(toy, "runs/toy", {"factor": 3.0})
    print(result.table())

The build function is ordinary Python, so a pipeline's shape may depend on
its parameters (one training node per model in a list, say). Running it
executes the nodes in dependency order through runner.execute, so a node is
re-executed only when its code, its parameters or the contents of its inputs
changed. A `pipeline.json` at the root names the pipeline that owns it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tfelg.errors import InputError
from tfelg_components import runner
from tfelg_components.base import (
    Artifact,
    Component,
    Node,
    OutputRef,
    Parameter,
    ParameterError,
    check_all,
)

PIPELINE_JSON = "pipeline.json"


class PipelineError(ValueError):
    """A pipeline that cannot run: unknown, badly wired, or a root owned by another pipeline."""


def feeds(component: Component, name: str, pipeline_name: str | None = None, **changes):
    """The pipeline parameter that feeds `component`'s parameter `name`.

    It has that parameter's type, default and constraints (under
    `pipeline_name`, with `changes` such as ``help=...``), so the constraints
    are declared once, by the component, and a bad value is still refused by
    the name the user typed, together with every other bad value.
    """
    if name not in component.parameters:
        raise TypeError(f"component {component.name!r} has no parameter {name!r}")
    return component.parameters[name].renamed(pipeline_name or name, **changes)


class Pipeline:
    """A named pipeline: its parameters and `build_fn(params) -> [Node, ...]`."""

    def __init__(
        self,
        name: str,
        build_fn: Callable[[dict[str, Any]], Iterable[Node]],
        params: Sequence[Parameter] | Mapping[str, Any] = (),
        description: str = "",
    ):
        if isinstance(params, Mapping):
            params = [Parameter(k, v) for k, v in params.items()]
        self.name = name
        self.build_fn = build_fn
        self.params = {p.name: p for p in params}
        self.description = description

    def parameter(self, name: str) -> Parameter:
        if name not in self.params:
            raise ParameterError(
                f"pipeline {self.name!r} has no parameter {name!r}; "
                f"its parameters: {', '.join(self.params) or '(none)'}"
            )
        return self.params[name]

    def parse_params(self, assignments: Iterable[str]) -> dict[str, Any]:
        """Values from ``KEY=VALUE`` strings (the command line), typed by the declarations.

        Raises ParameterError naming every assignment that is wrong, not only the first.
        """
        values, problems = {}, []
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            try:
                if not sep:
                    raise ParameterError(f"{assignment!r}: write KEY=VALUE")
                values[key.strip()] = self.parameter(key.strip()).parse(text)
            except ParameterError as e:
                problems.append(str(e))
        if len(problems) == 1:
            raise ParameterError(problems[0])
        if problems:
            raise ParameterError(f"{len(problems)} problems:\n  " + "\n  ".join(problems))
        return values

    def resolve_params(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter checked (type and constraints), defaults filled in.

        Raises ParameterError naming every unknown, missing or bad value at once.
        """
        return check_all(self.params, dict(values or {}), f"pipeline {self.name!r}")

    def nodes(self, params: Mapping[str, Any]) -> list[Node]:
        """The nodes built from resolved `params`, in dependency order (ties: as built).

        Building a node binds its parameters, so a value that breaks a
        component's constraints raises ParameterError here, before anything runs.
        """
        try:
            built = list(self.build_fn(dict(params)))
        except ParameterError as e:
            raise ParameterError(f"pipeline {self.name!r}: {e}") from e
        ids = [n.id for n in built]
        for node_id in ids:
            if ids.count(node_id) > 1:
                raise PipelineError(
                    f"pipeline {self.name!r}: two nodes named {node_id!r}; name one .with_id(...)"
                )
        for node in built:
            for up in node.upstream:
                if not any(up is n for n in built):
                    raise PipelineError(
                        f"pipeline {self.name!r}: {node.id!r} uses {up.id!r}, which the build "
                        "function did not return"
                    )
        order: list[Node] = []
        while len(order) < len(built):
            node = next(
                n
                for n in built
                if not any(n is o for o in order)
                and all(any(u is o for o in order) for u in n.upstream)
            )
            order.append(node)
        return order

    def plan(self, values: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[Node]]:
        """(resolved parameters, nodes in order): everything checked that can be without running.

        Every pipeline parameter against its type and constraints, every node's
        parameters against its component's (bound while building), the wiring,
        and that external inputs (a manual_dir, say) exist. A pipeline that
        passes fails later only for what the data or the code do.

        Raises:
          ParameterError, PipelineError, InputError.
        """
        params = self.resolve_params(values)
        nodes = self.nodes(params)
        for node in nodes:
            for name, artifact in node.inputs.items():
                if isinstance(artifact, Artifact) and not os.path.exists(artifact.uri):
                    raise InputError(
                        f"input {name!r} of node {node.id!r} does not exist", path=artifact.uri
                    )
        return params, nodes

    def describe(self) -> str:
        lines = [f"{self.name}: {self.description}".rstrip(": "), "parameters:"]
        for p in self.params.values():
            default = "(required)" if p.required else f"= {p.default!r}"
            rules = f" [{p.rules}]" if p.rules else ""
            lines.append(f"  {p.name} ({p.type.__name__}) {default}  {p.help}{rules}".rstrip())
        return "\n".join(lines)


@dataclasses.dataclass
class NodeResult:
    """What became of one node in a run: "ran", "cached", "failed" or "not run"."""

    node: str
    component: str
    status: str
    seconds: float = 0.0
    execution: runner.Execution | None = None


@dataclasses.dataclass
class PipelineResult:
    """The summary of a run: one NodeResult per node, in execution order."""

    pipeline: str
    root: str
    params: dict[str, Any]
    nodes: list[NodeResult]
    seconds: float = 0.0

    def __getitem__(self, node: str) -> runner.Execution:
        """The execution of `node` (KeyError if it did not complete)."""
        for result in self.nodes:
            if result.node == node and result.execution and result.execution.status == "complete":
                return result.execution
        raise KeyError(node)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.nodes)

    def table(self) -> str:
        """A short table for the terminal: node, status, seconds, outputs (relative to root)."""
        rows = [("node", "status", "seconds", "outputs")]
        for r in self.nodes:
            outputs = r.execution.outputs.values() if r.execution else ()
            uris = ", ".join(os.path.relpath(a.uri, self.root) for a in outputs)
            rows.append((r.node, r.status, f"{r.seconds:.2f}", uris or "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [
            f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows
        ]
        counts = ", ".join(
            f"{self.count(s)} {s}" for s in ("ran", "cached", "failed", "not run") if self.count(s)
        )
        lines.append(f"{self.pipeline}: {counts} in {self.seconds:.1f} s under {self.root}")
        return "\n".join(lines)

    def tensorboard_logdirs(self) -> dict[str, str]:
        """TensorBoard log directories among the outputs, by ``node.output``."""
        logdirs = {}
        for r in self.nodes:
            for name, artifact in (r.execution.outputs if r.execution else {}).items():
                inside = artifact.properties.get("tensorboard_logdir", artifact.TENSORBOARD_LOGDIR)
                if inside is not None:
                    logdirs[f"{r.node}.{name}"] = os.path.normpath(artifact.path(inside))
        return logdirs

    def tensorboard_command(self) -> str | None:
        """The exact ``tensorboard --logdir ...`` command for the run's log directories.

        The ``tensorboard`` of this interpreter's environment, by its absolute
        path (see :mod:`tfelg.outputs.tensorboard_command`): after ``make demo``
        the virtual environment is not on the user's PATH.

        Several log directories (a sweep) are opened through their common
        parent, where each of their sub-folders with an event file is a run
        named by its path. Not ``--logdir_spec``: TensorBoard's projector
        plugin finds nothing under it, and the projector is what people
        open these runs for.
        """
        logdirs = sorted(self.tensorboard_logdirs().values())
        if not logdirs:
            return None
        parent = logdirs[0] if len(logdirs) == 1 else os.path.commonpath(logdirs)
        from tfelg.outputs.tensorboard_command import tensorboard_command

        return tensorboard_command(parent)


def _print(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


ROOT_LOCK = ".pipeline.lock"


def _read_root_record(pipeline: Pipeline, path: str) -> dict | None:
    """The record of `<root>/pipeline.json`, None if absent; PipelineError if damaged.

    Not treated as absent (as a damaged execution record is): it says which
    pipeline owns the root, and guessing could mix two pipelines' runs.
    """
    advice = (
        "it names the pipeline that owns the root: repair it, remove it (if the root holds "
        f"a run of {pipeline.name!r}) or choose another root"
    )
    try:
        record = runner.read_json(path)
    except InputError as e:
        raise PipelineError(f"{e}; {advice}") from e
    if record is not None and not isinstance(record.get("pipeline"), str):
        raise PipelineError(f"{path} names no pipeline; {advice}")
    return record


def _claim_root(pipeline: Pipeline, root: str) -> dict:
    """Reads or creates `<root>/pipeline.json`, refusing a root of another pipeline.

    The read and the write happen under an exclusive lock on `<root>/.pipeline.lock`:
    two pipelines started together on one fresh root would otherwise both
    find no record and both claim it.
    """
    path = os.path.join(root, PIPELINE_JSON)
    if os.path.exists(root) and not os.path.isdir(root):
        raise PipelineError(f"the root {root} is a file, not a folder: choose another root")
    try:
        os.makedirs(root, exist_ok=True)
        with runner.locked(os.path.join(root, ROOT_LOCK)):
            record = _read_root_record(pipeline, path)
            if record is None:
                record = {"pipeline": pipeline.name, "created": runner.utc_now()}
                runner.write_json(path, record)
    except OSError as e:
        raise PipelineError(f"cannot use {root} as a run root: {e}") from e
    if record["pipeline"] != pipeline.name:
        raise PipelineError(
            f"{root} holds a run of pipeline {record['pipeline']!r}, not "
            f"{pipeline.name!r}: choose another root"
        )
    return record


def _record_last_run(pipeline: Pipeline, root: str, last_run: dict) -> None:
    """Writes `last_run` into `<root>/pipeline.json` (under the root's lock: runs may overlap)."""
    path = os.path.join(root, PIPELINE_JSON)
    with runner.locked(os.path.join(root, ROOT_LOCK)):
        record = _read_root_record(pipeline, path) or {"pipeline": pipeline.name}
        record["last_run"] = last_run
        runner.write_json(path, record)


def run_pipeline(
    pipeline: Pipeline,
    root: str,
    params: Mapping[str, Any] | None = None,
    *,
    log: Callable[[str], None] | None = _print,
) -> PipelineResult:
    """Runs every node of `pipeline` under `root`, reusing complete executions.

    Args:
      pipeline: the pipeline.
      root: the run root (created if missing).
      params: parameter values (unknown names are an error); defaults for the rest.
      log: receives one progress line per node and step (None: quiet).

    Returns:
      The summary of the run.

    Raises:
      ParameterError, PipelineError, InputError: before anything runs (see Pipeline.plan;
        also a root that is a file, unwritable, owned by another pipeline or
        whose pipeline.json is corrupt).
      runner.ComponentError: a node failed; outputs of the nodes before it are
        kept, a new run resumes from there. Its `result` is the summary so far.
    """
    log = log or (lambda line: None)
    root = os.path.abspath(os.path.expanduser(root))
    params, nodes = pipeline.plan(params)
    _claim_root(pipeline, root)
    result = PipelineResult(
        pipeline.name, root, params, [NodeResult(n.id, n.component.name, "not run") for n in nodes]
    )
    start = time.monotonic()
    error = None
    for index, (node, node_result) in enumerate(zip(nodes, result.nodes, strict=True)):
        tag = f"[{index + 1}/{len(nodes)}] {node.id}"
        inputs = {
            name: result[ref.node.id].outputs[ref.name] if isinstance(ref, OutputRef) else ref
            for name, ref in node.inputs.items()
        }
        node_start = time.monotonic()
        try:
            execution = runner.execute(
                node.component,
                root,
                inputs,
                node.params,
                node=node.id,
                on_run=lambda tag=tag: log(f"{tag}: running ..."),
            )
        except runner.ComponentError as e:
            node_result.status, node_result.seconds = "failed", time.monotonic() - node_start
            log(f"{tag}: failed after {node_result.seconds:.2f} s")
            error = e
            break
        node_result.execution = execution
        node_result.seconds = time.monotonic() - node_start
        node_result.status = "cached" if execution.cached else "ran"
        log(f"{tag}: {node_result.status} ({node_result.seconds:.2f} s)")
    result.seconds = time.monotonic() - start
    last_run = {
        "finished": runner.utc_now(),
        "params": params,
        "status": "failed" if error else "complete",
        "nodes": {
            r.node: {"status": r.status, "execution": r.execution and r.execution.id}
            for r in result.nodes
        },
    }
    _record_last_run(pipeline, root, last_run)
    if error is not None:
        error.result = result
        raise error
    return result
