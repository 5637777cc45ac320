r"""tfelg-pipeline: run a pipeline under a run root; a re-run only does what changed.

  tfelg-pipeline --pipeline=toy --root=runs/toy
  tfelg-pipeline --pipeline=toy --root=runs/toy --param=factor=3 --param=bins=20
  tfelg-pipeline --pipeline=toy --describe          # its parameters and defaults
  tfelg-pipeline --flagfile=toy.flags               # the same flags, one per line
  tfelg-pipeline --pipeline=toy --export=kfp --image=REGISTRY/tfelg:TAG \
      --root=/mnt/tfelg/toy --output=toy.yaml       # a Kubeflow Pipelines spec, run nothing

Prints one line per component as it goes and a summary table at the end
(and the `tensorboard` command when the pipeline wrote a TensorBoard log).
Exit status: 0 done, 1 a component failed (run again to resume), 2 bad flags.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from tfelg.cli import define_path, run_binary

_PIPELINE = flags.DEFINE_string("pipeline", None, "Name of the pipeline to run.")
_ROOT = define_path("root", None, "Run root: every output and record goes under it.")
_PARAM = flags.DEFINE_multi_string(
    "param", [], "KEY=VALUE: a pipeline parameter (repeat the flag); see --describe."
)
_DESCRIBE = flags.DEFINE_bool("describe", False, "Print the pipeline's parameters and exit.")
_EXPORT = flags.DEFINE_enum(
    "export",
    None,
    ["kfp"],
    "Write the pipeline as a Kubeflow Pipelines v2 spec (--output) instead of running it: one "
    "container step per node, --root as the pods see it, --param values as the run "
    "parameters' defaults (see tfelg_pipelines.kfp_export).",
)
_IMAGE = flags.DEFINE_string("image", None, "--export: the container image of every step.")
_NUM_THREADS = flags.DEFINE_integer(
    "num_threads",
    None,
    "BLAS/OpenMP threads and t-SNE jobs of the analysis components: sets $TFELG_NUM_THREADS "
    "(tfelg.analysis.threads), which is no parameter and so no part of any cache key. "
    "Default: every CPU; 1 on a machine shared with other work.",
    lower_bound=1,
)
_OUTPUT = define_path("output", None, "--export: the spec file to write (.yaml).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg.errors import InputError
    from tfelg_components.base import ParameterError
    from tfelg_components.pipeline import PipelineError, run_pipeline
    from tfelg_components.runner import ComponentError
    from tfelg_pipelines import registry

    try:
        pipeline = registry.get_pipeline(_PIPELINE.value)
        if _DESCRIBE.value:
            print(pipeline.describe())
            return 0
        if not _ROOT.value:
            raise PipelineError("--root is required")
        params = pipeline.parse_params(_PARAM.value)
        if _EXPORT.value:
            return _export(pipeline, params)
        if _NUM_THREADS.value is not None:
            from tfelg.analysis import threads

            os.environ[threads.ENV_VAR] = str(_NUM_THREADS.value)
        result = run_pipeline(pipeline, _ROOT.value, params)
    except (ParameterError, PipelineError, InputError) as e:
        print(f"tfelg-pipeline: error: {e}", file=sys.stderr)
        return 2
    except ComponentError as e:
        if e.result is not None:
            print(e.result.table())
        print(f"tfelg-pipeline: error: {e}\n  details: {e.record}", file=sys.stderr)
        print("  earlier outputs are kept; run the same command again to resume.", file=sys.stderr)
        return 1
    print(result.table())
    command = result.tensorboard_command()
    if command:
        print(f"TensorBoard: {command}")
    return 0


def _export(pipeline, params) -> int:
    """--export=kfp: compiles the pipeline into --output; exit 2 for what is missing."""
    from tfelg_components.pipeline import PipelineError

    missing = [f"--{f.name}" for f in (_IMAGE, _OUTPUT) if not f.value]
    if missing:
        raise PipelineError(f"--export=kfp needs {' and '.join(missing)}")
    try:
        import kfp  # noqa: F401 (an extra: say so before anything else)

        from tfelg_pipelines import kfp_export
    except ImportError as e:
        raise PipelineError(f"--export=kfp needs the kfp SDK: pip install .[kfp] ({e})") from e
    plan = kfp_export.export(pipeline, _IMAGE.value, _ROOT.value, _OUTPUT.value, params)
    print(
        f"{_OUTPUT.value}: {len(plan.nodes)} steps and {kfp_export.RECORD_STEP}, image {_IMAGE.value}"
    )
    print(f"  run parameters: root={_ROOT.value}, " + ", ".join(plan.run_params))
    if plan.fixed:
        print(f"  fixed at export: {', '.join(plan.fixed)} (export again to change them)")
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
