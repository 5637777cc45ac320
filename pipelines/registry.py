"""The pipelines that `tfelg-pipeline --pipeline=NAME` knows, and where they live.

A pipeline module calls `register_pipeline` when imported. `PIPELINE_MODULES`
maps each name to its module, so only the pipeline asked for is imported (a
pipeline's components import TensorFlow inside their functions, not at module
level, so that listing and describing pipelines stays quick). A new pipeline
(HST images, say) is one module under pipelines/ and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tfelg_components.base import Node, Parameter
from tfelg_components.pipeline import Pipeline, PipelineError

#: Pipeline name -> the module that registers it.
PIPELINE_MODULES = {
    "toy": "tfelg_pipelines.toy",
    "emission_lines": "tfelg_pipelines.emission_lines",
    "hst_images": "tfelg_pipelines.hst_images",
}

_PIPELINES: dict[str, Pipeline] = {}


def register_pipeline(
    name: str,
    build_fn: Callable[[dict[str, Any]], Iterable[Node]],
    param_spec: Sequence[Parameter] | Mapping[str, Any] = (),
    description: str = "",
) -> Pipeline:
    """Registers (and returns) the pipeline `name`; see tfelg_components.pipeline.Pipeline."""
    known = _PIPELINES.get(name)
    if known is not None and known.build_fn.__qualname__ != build_fn.__qualname__:
        raise PipelineError(f"pipeline {name!r} is already registered")
    _PIPELINES[name] = Pipeline(name, build_fn, param_spec, description)
    return _PIPELINES[name]


def known_pipelines() -> list[str]:
    return sorted(set(PIPELINE_MODULES) | set(_PIPELINES))


def get_pipeline(name: str | None) -> Pipeline:
    """The registered pipeline `name`, importing its module; a clear error if unknown."""
    if name not in _PIPELINES and name in PIPELINE_MODULES:
        importlib.import_module(PIPELINE_MODULES[name])
    if name not in _PIPELINES:
        what = "no pipeline given" if not name else f"unknown pipeline {name!r}"
        raise PipelineError(f"{what}; known pipelines: {', '.join(known_pipelines())}")
    return _PIPELINES[name]
