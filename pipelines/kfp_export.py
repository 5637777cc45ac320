r"""A registered pipeline as a Kubeflow Pipelines (v2) spec: one container step per node.

    tfelg-pipeline --pipeline=toy --export=kfp --image=REGISTRY/tfelg:TAG \
        --root=/mnt/tfelg/toy --output=toy.yaml [--param=factor=3 ...]

Each node of the pipeline's graph becomes a container step that runs the
node's component binary (tfelg_components.binary), the command a scheduler
would run by hand:

    python -m tfelg_pipelines.toy scale --root=/mnt/tfelg/toy --id=scale \
        --input_data=<make_data's output URI> --factor=2.0 --pause_seconds=0.0 \
        --output_uri_file=scaled=<KFP's output parameter file>

A step hands the absolute URIs of its outputs to the next steps through KFP
output parameters (`--output_uri_file`), which also gives KFP the step order:
the graph's edges. Every step uses the same root, a path that every pod
mounts (a ReadWriteMany volume, or a bucket mounted with a FUSE driver at a
path such as /gcs/BUCKET), so the runner's cache keys, locks and execution
records work there as they do on one machine: a KFP run over a root where
`tfelg-pipeline` already ran reuses every step, and the other way round.
KFP's own step cache is switched off: it keys on the strings passed between
steps and would skip a step whose outputs were deleted from the root; the
runner's cache checks the root itself and costs a record read.

A last step, `tfelg-pipeline` over the same root and parameters, finds every
node cached (it fails loudly if the root belongs to another pipeline), writes
`<root>/pipeline.json` (the owner and the last run, which the summary of
`python -m tfelg_pipelines.emission_lines --root=...` reads) and prints the
run's table in the step's log.

Run parameters. A pipeline parameter becomes a KFP run parameter (default:
its value at export) when it feeds node parameters one to one: changing it
changes those node parameters to the same value and nothing else (found by
building the graph again with other valid values). A parameter that shapes
the graph or is transformed on its way (emission_lines' `models`,
`latent_dims`, `baselines`, `manual_dir`) is fixed at export: give it with
`--param` when exporting, and export again to change it. The spec's
description lists both kinds. The root is a run parameter too (`root`).

`run_locally(yaml_path)` runs the steps of an exported spec in dependency
order as subprocesses, the way the KFP backend would run the containers
(placeholders resolved, values rendered as the backend renders them): the
test of the export, and a dry run of a spec before it goes to a cluster.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from tfelg_components.base import Artifact, Node, OneOf, OutputRef, Parameter, ParameterError
from tfelg_components.pipeline import Pipeline, PipelineError

#: The KFP run parameter that holds the run root (no pipeline may have a parameter of this name).
ROOT_PARAMETER = "root"
#: The name of the last step, which runs `tfelg-pipeline` over the root.
RECORD_STEP = "tfelg-pipeline"
_PYTHON = "python"  # the image's interpreter (python:3.11-slim has it on PATH)


class ExportError(PipelineError):
    """A pipeline that cannot be exported as asked (root, names, a value a flag cannot say)."""


@dataclasses.dataclass
class Plan:
    """What the export found: the graph at the export values and how parameters reach it.

    `bindings` maps (node id, node parameter) to the run parameter that feeds
    it; every other node parameter is a constant of the spec. `fixed` are the
    pipeline parameters that are not run parameters (they shape the graph).
    """

    pipeline: Pipeline
    params: dict[str, Any]
    nodes: list[Node]
    run_params: list[str]
    fixed: list[str]
    bindings: dict[tuple[str, str], str]


# -- which pipeline parameters can be run parameters ---------------------------------------
def _shape(nodes: Sequence[Node]) -> list:
    """The graph without parameter values: ids, components and wiring."""

    def source(value):
        if isinstance(value, OutputRef):
            return ("ref", value.node.id, value.name)
        if isinstance(value, Artifact):
            return ("external", value.type_name, value.uri)
        return None

    return [
        (n.id, n.component.name, sorted((k, source(v)) for k, v in n.inputs.items())) for n in nodes
    ]


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (1 == 1.0, True != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _candidates(spec: Parameter, value: Any) -> list:
    """A few values other than `value` that `spec` accepts (fewer if it accepts few)."""
    kind = spec.type
    if kind is bool:
        tries = [True, False]
    elif kind is int:
        base = value if value is not None else 0
        tries = [base + 1, base + 2, base + 7, base - 1, 1, 2, 10, 100, 1000, 100_000]
    elif kind is float:
        base = value if value is not None else 0.0
        tries = [base * 2 + 0.5, base / 2 + 0.125, base + 0.25, 0.5, 0.01, 1e-4, 10.0]
    elif kind is str:
        tries = [c for con in spec.constraints if isinstance(con, OneOf) for c in con.choices]
        tries += [f"{value or ''}_probe", "probe"]
    elif kind is list:
        tries = [] if not value else [[*value, value[0]], value[:-1], value[::-1]]
    else:  # dict
        tries = [{**(value or {}), "_probe": 1}, {**(value or {}), "_probe": "x"}]
    found = []
    for candidate in tries:
        try:
            candidate = spec.check(candidate)
        except ParameterError:
            continue
        if not _same(candidate, value) and not any(_same(candidate, f) for f in found):
            found.append(candidate)
    return found[:2]


def _binding(pipeline: Pipeline, params: dict, nodes: list[Node], name: str):
    """The (node, parameter) pairs that parameter `name` feeds one to one, or None if fixed.

    The graph is built again with up to two other valid values of `name`:
    if its shape stays the same and exactly the node parameters that held
    the export value now hold the new value (the same pairs each time), a
    KFP run may change `name` by changing those flags. Anything else (the
    shape changes, a value is transformed, no other value is valid) fixes it.
    """
    value, shape = params[name], _shape(nodes)
    pairs = None
    for candidate in _candidates(pipeline.params[name], value):
        try:
            other = pipeline.nodes(pipeline.resolve_params({**params, name: candidate}))
        except (ParameterError, PipelineError, TypeError, ValueError):
            continue
        if _shape(other) != shape:
            return None
        changed = set()
        for before, after in zip(nodes, other, strict=True):
            for key, old in before.params.items():
                new = after.params[key]
                if _same(old, new):
                    continue
                if not (_same(old, value) and _same(new, candidate)):
                    return None
                changed.add((before.id, key))
        if pairs is not None and changed != pairs:
            return None
        pairs = changed
    return pairs


def plan(pipeline: Pipeline, values: Mapping[str, Any] | None = None) -> Plan:
    """The graph of `pipeline` at `values` (checked) and its run parameters.

    External inputs are not checked for existence here: their paths are
    those of the cluster's pods, not of the machine that exports.
    """
    params = pipeline.resolve_params(values)
    nodes = pipeline.nodes(params)
    if ROOT_PARAMETER in pipeline.params:
        raise ExportError(
            f"pipeline {pipeline.name!r} has a parameter named {ROOT_PARAMETER!r}, the name of "
            "the exported run root"
        )
    bindings, run_params, fixed = {}, [], []
    for name in pipeline.params:
        pairs = _binding(pipeline, params, nodes, name)
        if pairs is not None and params[name] is None:
            # Absent at run time means the flag is left out: the binary's default must be None.
            by_id = {n.id: n for n in nodes}
            if any(by_id[n].component.parameters[p].default is not None for n, p in pairs):
                pairs = None
        if not pairs:  # None: it shapes the graph; empty: no node reads it (sweep's `model`)
            fixed.append(name)
            continue
        run_params.append(name)
        bindings.update({pair: name for pair in pairs})
    return Plan(pipeline, params, nodes, run_params, fixed, bindings)


# -- flags ----------------------------------------------------------------------------------
def flag_text(value: Any) -> str:
    """`value` spelt for a component binary's flag or a `--param` (lists and dicts as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _component_name(node_id: str) -> str:
    """The name KFP gives a component made from a function named `node_id`."""
    return re.sub(r"[^a-z0-9]+", "-", node_id.lower()).strip("-")


def _check_root(root: str) -> str:
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", root):
        raise ExportError(
            f"--root={root}: a run root is a path that every step's pod mounts, not a URI (the "
            "runner takes file locks and renames folders); mount the bucket (e.g. Cloud "
            "Storage FUSE at /gcs/BUCKET) or a ReadWriteMany volume and give that path"
        )
    if not os.path.isabs(root):
        raise ExportError(
            f"--root={root}: give an absolute path, as the pods see it (e.g. /mnt/tfelg/run)"
        )
    return os.path.normpath(root)


# Lists and dicts travel as JSON text (STRING), not as KFP's LIST/STRUCT: those are protobuf
# values, whose numbers are doubles the backend spells without ".0" ({"beta": 2.0} would
# reach the binary as {"beta": 2}, another cache key than tfelg-pipeline's).
_KFP_TYPES = {bool: bool, int: int, float: float, str: str, list: str, dict: str}


def _run_value(value: Any) -> Any:
    """A run parameter's default as the spec holds it (lists and dicts as JSON text)."""
    return flag_text(value) if isinstance(value, list | dict) else value


def _signature(names_and_types: Sequence[tuple[str, Any, Any]]) -> inspect.Signature:
    """A function signature, parameters without default first (as Python requires)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    ordered = sorted(names_and_types, key=lambda item: item[2] is not inspect.Parameter.empty)
    return inspect.Signature(
        [inspect.Parameter(name, kind, annotation=t, default=d) for name, t, d in ordered]
    )


def _function(name: str, signature: inspect.Signature, body: Callable[[dict], Any]):
    """A function called `name` with `signature` that calls body({argument name: value})."""

    def fn(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        return body(dict(bound.arguments))

    fn.__name__ = fn.__qualname__ = name
    fn.__signature__ = signature
    fn.__doc__ = None
    return fn


def _step_component(plan_: Plan, node: Node, image: str):
    """The KFP container component of `node`: its binary with its flags."""
    from kfp import dsl

    component = node.component
    module = component.fn.__module__
    if module == "__main__" or not module:
        raise ExportError(f"node {node.id!r}: component {component.name!r} has no module")
    empty = inspect.Parameter.empty
    inputs = [(ROOT_PARAMETER, str, empty)]
    inputs += [(f"input_{name}", str, empty) for name, ref in node.inputs.items() if _is_ref(ref)]
    for (node_id, key), run_param in plan_.bindings.items():
        if node_id == node.id:
            kind = _KFP_TYPES[plan_.pipeline.params[run_param].type]
            optional = plan_.params[run_param] is None
            inputs.append((key, Optional[kind] if optional else kind, None if optional else empty))  # noqa: UP045 (KFP reads typing.Optional)
    outputs = [(f"output_{name}", dsl.OutputPath(str), empty) for name in component.outputs]
    names = [n for n, _, _ in inputs + outputs]
    if len(set(names)) != len(names):
        raise ExportError(f"node {node.id!r}: a parameter and an input or output share a name")

    def body(args: dict):
        argv = [dsl.ConcatPlaceholder(["--root=", args[ROOT_PARAMETER]]), f"--id={node.id}"]
        for name, ref in node.inputs.items():
            if _is_ref(ref):
                argv.append(dsl.ConcatPlaceholder([f"--input_{name}=", args[f"input_{name}"]]))
            elif isinstance(ref, Artifact):
                argv.append(f"--input_{name}={ref.uri}")
        for key, value in node.params.items():
            run_param = plan_.bindings.get((node.id, key))
            if run_param is not None:
                flag = dsl.ConcatPlaceholder([f"--{key}=", args[key]])
                optional = plan_.params[run_param] is None
                argv.append(
                    dsl.IfPresentPlaceholder(input_name=key, then=[flag]) if optional else flag
                )
            elif value is not None:
                argv.append(f"--{key}={flag_text(value)}")
            elif component.parameters[key].default is not None:
                raise ExportError(
                    f"node {node.id!r}: parameter {key!r} is None, which its binary's flag "
                    f"cannot say (its default is {component.parameters[key].default!r})"
                )
        for name in component.outputs:
            argv.append(
                dsl.ConcatPlaceholder([f"--output_uri_file={name}=", args[f"output_{name}"]])
            )
        return dsl.ContainerSpec(
            image=image, command=[_PYTHON, "-m", module, component.name], args=argv
        )

    fn = _function(node.id, _signature(inputs + outputs), body)
    fn.__doc__ = f"{node.id}: component {component.name} (binary: python -m {module})."
    return dsl.container_component(fn)


def _record_component(plan_: Plan, image: str):
    """The last step: `tfelg-pipeline` over the same root and parameters (all cached)."""
    from kfp import dsl

    pipeline, empty = plan_.pipeline, inspect.Parameter.empty
    inputs = [(ROOT_PARAMETER, str, empty)]
    for name in plan_.run_params:
        kind = _KFP_TYPES[pipeline.params[name].type]
        optional = plan_.params[name] is None
        inputs.append((name, Optional[kind] if optional else kind, None if optional else empty))  # noqa: UP045

    def body(args: dict):
        argv = [
            f"--pipeline={pipeline.name}",
            dsl.ConcatPlaceholder(["--root=", args[ROOT_PARAMETER]]),
        ]
        for name, value in plan_.params.items():
            if name not in plan_.run_params:
                argv += _absent(pipeline, name) if value is None else [_param(name, value)]
            elif value is None:
                given = dsl.ConcatPlaceholder([f"--param={name}=", args[name]])
                absent = _absent(pipeline, name)
                argv.append(dsl.IfPresentPlaceholder(input_name=name, then=[given], else_=absent))
            else:
                argv.append(dsl.ConcatPlaceholder([f"--param={name}=", args[name]]))
        return dsl.ContainerSpec(
            image=image, command=[_PYTHON, "-m", "tfelg.cli.pipeline"], args=argv
        )

    fn = _function(RECORD_STEP.replace("-", "_"), _signature(inputs), body)
    fn.__doc__ = "tfelg-pipeline over the root: every node cached; records pipeline.json."
    return dsl.container_component(fn)


def _param(name: str, value: Any) -> str:
    return f"--param={name}={flag_text(value)}"


def _absent(pipeline: Pipeline, name: str) -> list[str]:
    """The `--param` that gives pipeline parameter `name` the value None ([] if its default)."""
    spec = pipeline.params[name]
    if spec.default is None:
        return []
    if spec.type is str:  # "null" would be read as the string "null"
        raise ExportError(
            f"pipeline {pipeline.name!r}: parameter {name!r} is None, which --param cannot say "
            f"(a str; its default is {spec.default!r})"
        )
    return [f"--param={name}=null"]


def _is_ref(value) -> bool:
    return isinstance(value, OutputRef)


def description(plan_: Plan) -> str:
    """The spec's description: the pipeline, its run parameters and what export fixed."""
    fixed = ", ".join(
        f"{n}={flag_text(plan_.params[n]) if plan_.params[n] is not None else 'null'}"
        for n in plan_.fixed
    )
    text = f"tfelg pipeline {plan_.pipeline.name}: {plan_.pipeline.description}".rstrip(": ")
    text += f". Run parameters: {ROOT_PARAMETER}, {', '.join(plan_.run_params) or '(none)'}."
    if fixed:
        text += f" Fixed at export (export again to change): {fixed}."
    return text


def build(
    pipeline: Pipeline,
    image: str,
    root: str,
    values: Mapping[str, Any] | None = None,
    *,
    task_hook: Callable[[Node | None, Any], None] | None = None,
):
    """The KFP pipeline (a kfp GraphComponent) of `pipeline` at `values`.

    Args:
      pipeline: a registered pipeline.
      image: the container image every step runs (see the repository's Dockerfile).
      root: the run root as the pods see it (absolute path; the default of the
        run parameter `root`).
      values: pipeline parameter values (defaults for the rest): the run
        parameters' defaults, and the values of those fixed at export.
      task_hook: called as task_hook(node, task) on each step's task (node None
        for the last step), e.g. to mount a volume with kfp-kubernetes
        (``kubernetes.mount_pvc(task, pvc_name=..., mount_path=...)``) or to
        ask for a GPU (``task.set_accelerator_type(...)``).

    Raises:
      ParameterError, ExportError.
    """
    return _build(plan(pipeline, values), image, _check_root(root), task_hook)


def _build(plan_: Plan, image: str, root: str, task_hook=None):
    from kfp import dsl

    pipeline = plan_.pipeline
    by_name: dict[str, str] = {}
    for node in plan_.nodes:
        name = _component_name(node.id)
        if name in by_name or name == RECORD_STEP:
            other = by_name.get(name, RECORD_STEP)
            raise ExportError(f"nodes {other!r} and {node.id!r} get one KFP name {name!r}")
        by_name[name] = node.id
    components = {node.id: _step_component(plan_, node, image) for node in plan_.nodes}
    record = _record_component(plan_, image)

    spec = pipeline.params
    arguments = [(ROOT_PARAMETER, str, root)]
    for name in plan_.run_params:
        kind = _KFP_TYPES[spec[name].type]
        value = plan_.params[name]
        kind = Optional[kind] if value is None else kind  # noqa: UP045
        arguments.append((name, kind, _run_value(value)))

    def body(args: dict):
        tasks = {}
        for node in plan_.nodes:
            kwargs = {ROOT_PARAMETER: args[ROOT_PARAMETER]}
            for name, ref in node.inputs.items():
                if _is_ref(ref):
                    kwargs[f"input_{name}"] = tasks[ref.node.id].outputs[f"output_{ref.name}"]
            for (node_id, key), run_param in plan_.bindings.items():
                if node_id == node.id:
                    kwargs[key] = args[run_param]
            task = components[node.id](**kwargs)
            task.set_display_name(node.id)
            task.set_caching_options(False)
            if task_hook is not None:
                task_hook(node, task)
            tasks[node.id] = task
        last = record(**{k: args[k] for k in [ROOT_PARAMETER, *plan_.run_params]})
        last.set_display_name(RECORD_STEP)
        last.set_caching_options(False)
        last.after(*tasks.values())
        if task_hook is not None:
            task_hook(None, last)

    fn = _function(pipeline.name, _signature(arguments), body)
    return dsl.pipeline(name=_component_name(pipeline.name), description=description(plan_))(fn)


def export(
    pipeline: Pipeline,
    image: str,
    root: str,
    output: str,
    values: Mapping[str, Any] | None = None,
    *,
    task_hook: Callable[[Node | None, Any], None] | None = None,
) -> Plan:
    """Compiles `pipeline` (see `build`) into the KFP v2 spec `output` (YAML), atomically."""
    from kfp import compiler

    from tfelg import atomic

    output = os.path.abspath(os.path.expanduser(output))
    if not output.endswith((".yaml", ".yml", ".json")):
        raise ExportError(f"--output={output}: a KFP spec file ends with .yaml (or .json)")
    plan_ = plan(pipeline, values)
    component = _build(plan_, image, _check_root(root), task_hook)
    with atomic.atomic_path(output) as temporary:  # same extension: the compiler reads it
        compiler.Compiler().compile(component, package_path=temporary)
    return plan_


# -- running an exported spec here, as the KFP backend would -------------------------------
def render(value: Any) -> str:
    """A parameter value as the KFP backend puts it in a command line.

    Numbers travel as protobuf doubles: integral ones are spelt as integers
    (3, not 3.0), lists and structs as JSON, booleans as true/false.
    """

    def plain(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    value = plain(value)
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return flag_text(value)


_PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.parameters\['([^']+)'\](\.output_file)?\}\}")


def _resolve(arg: Any, inputs: dict, output_files: dict) -> list[str]:
    """One container argument (placeholders, Concat, IfPresent) as zero or more strings."""
    if isinstance(arg, str) and arg.startswith("{") and arg.endswith("}"):
        try:
            arg = json.loads(arg)
        except ValueError:
            pass
    if isinstance(arg, dict) and "Concat" in arg:
        return ["".join(s for part in arg["Concat"] for s in _resolve(part, inputs, output_files))]
    if isinstance(arg, dict) and "IfPresent" in arg:
        spec = arg["IfPresent"]
        branch = spec.get("Then", []) if spec["InputName"] in inputs else spec.get("Else", [])
        branch = [branch] if isinstance(branch, str | dict) else branch
        return [s for part in branch for s in _resolve(part, inputs, output_files)]

    def substitute(match):
        kind, name, is_file = match.groups()
        if kind == "outputs" and is_file:
            return output_files[name]
        return render(inputs[name])

    return [_PLACEHOLDER.sub(substitute, arg)]


def local_steps(spec: Mapping) -> list[str]:
    """The task names of a compiled spec in an order that respects its dependencies.

    Ties are broken by name, so the order is the same on every run.
    """
    tasks = spec["root"]["dag"]["tasks"]
    order: list[str] = []
    while len(order) < len(tasks):
        ready = sorted(
            name
            for name, task in tasks.items()
            if name not in order and all(d in order for d in task.get("dependentTasks", []))
        )
        if not ready:
            raise ExportError("the spec's tasks depend on each other in a cycle")
        order.append(ready[0])
    return order


def run_locally(
    package_path: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    work_dir: str,
    python: str = sys.executable,
    log: Callable[[str], None] | None = None,
) -> dict[str, subprocess.CompletedProcess]:
    """Runs the steps of a compiled KFP spec here, in order, as subprocesses.

    What the KFP backend does with each container, minus the container: the
    run's parameters (the spec's defaults, then `arguments`), each task's
    inputs from the pipeline's parameters or the output parameters of the
    tasks before it, placeholders resolved, `python` in place of the image's
    interpreter. Output parameter files go under `work_dir`.

    Returns {task: completed process}; raises RuntimeError naming the first
    task that fails, with the end of its output.
    """
    import yaml

    with open(package_path, encoding="utf-8") as f:
        spec = next(iter(yaml.safe_load_all(f)))
    definitions = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {k: d["defaultValue"] for k, d in definitions.items() if "defaultValue" in d}
    unknown = set(arguments or {}) - set(definitions)
    if unknown:
        raise ExportError(f"the spec has no run parameter {', '.join(sorted(unknown))}")
    values.update({k: v for k, v in (arguments or {}).items() if v is not None})
    tasks, produced, done = spec["root"]["dag"]["tasks"], {}, {}
    for name in local_steps(spec):
        task = tasks[name]
        inputs = {}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                if source["componentInputParameter"] in values:
                    inputs[key] = values[source["componentInputParameter"]]
            elif "taskOutputParameter" in source:
                out = source["taskOutputParameter"]
                inputs[key] = produced[(out["producerTask"], out["outputParameterKey"])]
            elif "runtimeValue" in source:
                inputs[key] = source["runtimeValue"]["constant"]
        component = spec["components"][task["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        outputs = component.get("outputDefinitions", {}).get("parameters", {})
        output_files = {o: os.path.join(work_dir, name, o) for o in outputs}
        command = [
            s
            for arg in container["command"] + container.get("args", [])
            for s in _resolve(arg, inputs, output_files)
        ]
        command = [python if i == 0 and c == _PYTHON else c for i, c in enumerate(command)]
        if log:
            log(f"{name}: {' '.join(command)}")
        done[name] = subprocess.run(command, capture_output=True, text=True, check=False)
        if done[name].returncode != 0:
            tail = (done[name].stdout + done[name].stderr)[-3000:]
            raise RuntimeError(f"step {name!r} exited {done[name].returncode}:\n{tail}")
        for o, path in output_files.items():
            with open(path, encoding="utf-8") as f:
                produced[(name, o)] = f.read()
    return done
