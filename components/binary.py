r"""Any component as an absl binary, so that a scheduler can run one step on its own.

A component module ends with

    if __name__ == "__main__":
        binary.run(trainer)          # or binary.run(a, b, c): the first argument picks one

and a scheduler (Slurm, Airflow, Kubeflow) calls, for instance,

    python -m tfelg_components.trainer --root=runs/a \
        --input_dataset=runs/a/dataset_gen/dataset/<execution> --epochs=5 \
        --execution_json=trainer.json

Flags: `--root`; `--id`, the node's folder under the root (default: the
component's name); `--input_<name>=URI` per input (a complete output of a run
root, or any external folder or file); `--<parameter>=value` per parameter,
typed from the declaration (list and dict parameters as JSON); and
`--execution_json`, where the execution record is written with absolute URIs
for the scheduler to pass the outputs on; `--output_uri_file=NAME=PATH`, where
the URI of output NAME alone is written (a Kubeflow output parameter). `--flagfile` works as everywhere in
absl. With the same root, id, inputs and parameters as a pipeline's node, the
cache key is the same, so a step the pipeline finished is not run again.

Exit status: 0 done (ran or cached), 1 the component failed, 2 bad flags or inputs.
"""

from __future__ import annotations

import sys

from absl import app, flags

from tfelg import atomic
from tfelg.errors import InputError
from tfelg.path_flags import define_path
from tfelg_components import runner
from tfelg_components.base import Component, ParameterError, canonical_json

_DEFINE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


def define_flags(component: Component, flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines the flags of `component`'s binary on `flag_values`."""
    fv = flag_values
    # Paths expand ~ like every tfelg binary's (tfelg.path_flags).
    define_path("root", None, "Run root.", flag_values=fv)
    flags.DEFINE_string("id", component.name, "Node folder under --root.", flag_values=fv)
    define_path(
        "execution_json", None, "Write the execution record (absolute URIs) here.", flag_values=fv
    )
    flags.DEFINE_multi_string(
        "output_uri_file",
        [],
        "NAME=PATH: also write output NAME's absolute URI to the file PATH (a scheduler's "
        "output parameter: Kubeflow Pipelines passes it to the next step). Repeatable.",
        flag_values=fv,
    )
    required = ["root"]
    for name, kind in component.inputs.items():
        optional = name in component.optional_inputs
        help_text = f"URI of input {name!r} ({kind.__name__}{', optional' if optional else ''})."
        define_path(f"input_{name}", None, help_text, flag_values=fv)
        required += [] if optional else [f"input_{name}"]
    for p in component.parameters.values():
        default = None if p.required else p.default
        if p.type in (list, dict):
            define, default = (
                flags.DEFINE_string,
                default if default is None else canonical_json(default),
            )
        else:
            define = _DEFINE[p.type]
        help_text = p.help or f"Parameter {p.name} ({p.type.__name__})."
        define(p.name, default, help_text + (f" [{p.rules}]" if p.rules else ""), flag_values=fv)
        required += [p.name] if p.required else []
    flags.mark_flags_as_required(required, flag_values=fv)


def execute_from_flags(
    component: Component, flag_values: flags.FlagValues = flags.FLAGS
) -> runner.Execution:
    """Executes `component` as parsed flags say; writes --execution_json if given."""
    fv = flag_values
    uri_files = _output_uri_files(component, fv["output_uri_file"].value)  # checked before running
    params = {}
    for p in component.parameters.values():
        value = fv[p.name].value
        params[p.name] = p.parse(value) if p.type in (list, dict) and value is not None else value
    inputs = {
        name: runner.read_artifact(fv[f"input_{name}"].value, kind)
        for name, kind in component.inputs.items()
        if fv[f"input_{name}"].value
    }
    try:
        execution = runner.execute(component, fv["root"].value, inputs, params, node=fv["id"].value)
    except runner.ComponentError as e:
        if fv["execution_json"].value and e.record:
            runner.write_json(fv["execution_json"].value, runner.read_json(e.record))
        raise
    if fv["execution_json"].value:
        record = execution.to_json() | {"cached": execution.cached}
        runner.write_json(fv["execution_json"].value, record)
    for name, path in uri_files.items():
        atomic.write_text(path, execution.outputs[name].uri)  # no newline: the value itself
    return execution


def _output_uri_files(component: Component, assignments: list[str]) -> dict[str, str]:
    """{output: path} from the ``NAME=PATH`` values of --output_uri_file; InputError if bad."""
    files = {}
    for assignment in assignments:
        name, sep, path = assignment.partition("=")
        if not sep or not path or name not in component.outputs:
            known = ", ".join(component.outputs) or "(none)"
            raise InputError(
                f"--output_uri_file={assignment}: write NAME=PATH with NAME one of {known}"
            )
        files[name] = path
    return files


def _main(component: Component, argv) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        execution = execute_from_flags(component)
    except (InputError, ParameterError) as e:
        print(f"{component.name}: error: {e}", file=sys.stderr)
        return 2
    except runner.ComponentError as e:
        print(f"error: {e} (record: {e.record})", file=sys.stderr)
        return 1
    print(f"{execution.node}: {'cached' if execution.cached else 'ran'} ({execution.id})")
    for name, artifact in execution.outputs.items():
        print(f"{name}: {artifact.uri}")
    return 0


def run(*components: Component) -> None:
    """The main of a component binary; with several components, argv[1] names one."""
    argv = list(sys.argv)
    by_name = {c.name: c for c in components}
    if len(components) == 1:
        (component,) = components
        if len(argv) > 1 and argv[1] == component.name:  # named anyway (a generated command)
            argv.pop(1)
    elif len(argv) > 1 and argv[1] in by_name:
        component = by_name[argv.pop(1)]
    else:
        sys.exit(f"usage: {argv[0]} COMPONENT --root=... (components: {', '.join(by_name)})")
    define_flags(component)
    app.run(lambda argv: _main(component, argv), argv=argv)
