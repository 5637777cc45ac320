r"""toy: four small steps that show the component model at work, in about a second.

    tfelg-pipeline --pipeline=toy --root=runs/toy
    tfelg-pipeline --pipeline=toy --root=runs/toy             # all cached
    tfelg-pipeline --pipeline=toy --root=runs/toy --param=factor=3
                                        # runs scale and summarise only

    make_data -> scale -> summarise
             \-> summarise_raw

Each step is also a binary (see tfelg_components.binary):

    python -m tfelg_pipelines.toy scale --root=runs/toy \
        --input_data=runs/toy/make_data/data/<execution> --factor=3

The example the real pipelines follow, and what the runner's tests run
(`pause_seconds` holds `scale` half-way through writing its output, so that a
test can kill the process there).
"""

from __future__ import annotations

import io
import json
import time
from typing import Annotated

import numpy as np

from tfelg_components import binary
from tfelg_components.base import Dataset, Input, Output, Range, Report, component
from tfelg_components.pipeline import feeds
from tfelg_pipelines.registry import register_pipeline


# Annotated[...] adds constraints to a parameter's type: a pipeline refuses a
# value that breaks one before any of its steps runs.
@component(version="1")
def make_data(
    data: Output[Dataset],
    n: Annotated[int, Range(ge=1)] = 1000,
    seed: Annotated[int, Range(ge=0)] = 0,
):
    """n standard normal numbers, seeded."""
    rng = np.random.default_rng(seed)
    np.save(data.path("x.npy"), rng.standard_normal(n))
    data.properties["n"] = n


@component(version="1")
def scale(
    data: Input[Dataset],
    scaled: Output[Dataset],
    factor: float = 2.0,
    pause_seconds: Annotated[float, Range(ge=0)] = 0.0,
):
    """The numbers times `factor`, written in two halves `pause_seconds` apart."""
    buffer = io.BytesIO()
    np.save(buffer, np.load(data.path("x.npy")) * factor)
    payload = buffer.getvalue()
    with open(scaled.path("x.npy"), "wb") as f:
        f.write(payload[: len(payload) // 2])
        f.flush()
        time.sleep(pause_seconds)
        f.write(payload[len(payload) // 2 :])
    scaled.properties["n"] = data.properties.get("n")


@component(version="1")
def summarise(data: Input[Dataset], report: Output[Report], bins: Annotated[int, Range(ge=1)] = 10):
    """Mean, standard deviation and a histogram, as JSON."""
    x = np.load(data.path("x.npy"))
    counts, edges = np.histogram(x, bins=bins)
    summary = {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std()),
        "counts": counts.tolist(),
        "edges": edges.tolist(),
    }
    with open(report.path("summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    report.properties.update(mean=summary["mean"], std=summary["std"])


# Each pipeline parameter feeds a component's: its type, default and constraints.
PARAMETERS = [
    feeds(make_data, "n", help="How many numbers."),
    feeds(make_data, "seed", help="Seed of the numbers."),
    feeds(scale, "factor", help="What scale multiplies by."),
    feeds(summarise, "bins", help="Histogram bins of both summaries."),
    feeds(scale, "pause_seconds", help="Pause of scale half-way through writing."),
]


def build(params):
    data = make_data(n=params["n"], seed=params["seed"])
    scaled = scale(
        data=data.outputs["data"], factor=params["factor"], pause_seconds=params["pause_seconds"]
    )
    summary = summarise(data=scaled.outputs["scaled"], bins=params["bins"])
    raw_summary = summarise(data=data.outputs["data"], bins=params["bins"]).with_id("summarise_raw")
    return [data, scaled, summary, raw_summary]


PIPELINE = register_pipeline(
    "toy", build, PARAMETERS, description="numbers made, scaled and summarised (an example)"
)

if __name__ == "__main__":
    binary.run(make_data, scale, summarise)
