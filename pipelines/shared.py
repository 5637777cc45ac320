"""What every pipeline's chain shares after its embeddings: parameters and nodes.

    embeddings -+-> model_selector -> clusterer -+-> catalog_writer -> reporter -> projector_writer
                +-> tsne ------------------------+

`ANALYSIS_PARAMETERS` are the pipeline parameters of these steps (each feeds
the component's own parameter: its type, default and constraints), and
`analysis_nodes` wires the steps for one trained model and its Embeddings
artifact. A pipeline (emission_lines, and hst_images after its own dataset
and training steps) lists the parameters among its own and calls the function
once per chain, so the steps, their parameters and their node ids are the
same in every pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from tfelg.errors import InputError
from tfelg_components import analysis, outputs, runner
from tfelg_components.base import Component, Each, Length, Node, OutputRef, Parameter, Unique
from tfelg_components.pipeline import PIPELINE_JSON, feeds

ANALYSIS_PARAMETERS = [
    feeds(analysis.model_selector, "k_max", help="Largest number of mixture components tried."),
    feeds(analysis.model_selector, "covariance_type", help="Mixture covariances."),
    feeds(analysis.model_selector, "gap_references", help="Reference sets B of the gap statistic."),
    feeds(
        analysis.model_selector,
        "gap_n_init",
        help="k-means++ starts per K and data set of the gap statistic (the lowest W_K kept).",
    ),
    feeds(
        analysis.clusterer,
        "mixture_n_init",
        help="EM starts of every mixture (K sweep and final fit); the most likely kept.",
    ),
    feeds(analysis.clusterer, "n_clusters", help="K of the clusters (None: the BIC choice)."),
    feeds(analysis.clusterer, "n_bootstrap", help="Bootstrap resamples for the metrics' errors."),
    feeds(analysis.tsne, "perplexity", "tsne_perplexity", help="t-SNE perplexity."),
    feeds(
        analysis.tsne,
        "max_points",
        "tsne_max_points",
        help="Galaxies the t-SNE map is fitted on (seeded subsample).",
    ),
    feeds(
        analysis.tsne,
        "place_rest",
        "tsne_place_rest",
        help="Galaxies outside the t-SNE subsample: median (of 25 fitted neighbours), "
        "transform (openTSNE's), none (NaN).",
    ),
    feeds(
        analysis.tsne,
        "iterations",
        "tsne_iterations",
        help="t-SNE iterations after the early exaggeration.",
    ),
    feeds(
        analysis.tsne,
        "early_exaggeration_iterations",
        "tsne_early_iterations",
        help="t-SNE iterations of early exaggeration (x12).",
    ),
    feeds(
        analysis.tsne,
        "exaggeration",
        "tsne_exaggeration",
        help="t-SNE attraction after the early phase (1: plain).",
    ),
    feeds(analysis.tsne, "initialization", "tsne_initialization", help="t-SNE start."),
    feeds(
        analysis.tsne,
        "method",
        "tsne_method",
        help="t-SNE repulsion (auto: bh below 20k points, else fft).",
    ),
    feeds(
        outputs.projector_writer,
        "max_points",
        "projector_max_points",
        help="Points in the projector.",
    ),
]


def sweep_parameter(name: str, component: Component, feeds_name: str, help: str) -> Parameter:
    """A sweep's list parameter: values of `component`'s parameter `feeds_name`, each once."""
    spec = component.parameters[feeds_name]
    return Parameter(
        name,
        None,
        list,
        help=help,
        item_type=spec.type,
        constraints=(Length(min=1), Unique(), Each(*spec.constraints)),
    )


def clustering_nodes(params: dict, embeddings: OutputRef) -> list[Node]:
    """model_selector -> clusterer for one Embeddings artifact, seeded by `params["seed"]`.

    The part of the chain that a seed-ensemble member runs too (its classes
    and their agreement with the schemes, without a map, report or projector).
    """
    seed = params["seed"]
    selected = analysis.model_selector(
        embeddings=embeddings,
        k_max=params["k_max"],
        covariance_type=params["covariance_type"],
        gap_references=params["gap_references"],
        gap_n_init=params["gap_n_init"],
        mixture_n_init=params["mixture_n_init"],
        seed=seed,
    )
    clustered = analysis.clusterer(
        embeddings=embeddings,
        selection=selected.outputs["selection"],
        covariance_type=params["covariance_type"],
        n_clusters=params["n_clusters"],
        mixture_n_init=params["mixture_n_init"],
        n_bootstrap=params["n_bootstrap"],
        seed=seed,
    )
    return [selected, clustered]


def analysis_nodes(
    params: dict, dataset: OutputRef, model: OutputRef, embeddings: OutputRef
) -> list[Node]:
    """model_selector ... projector_writer for one model's embeddings, with default node ids.

    `params` holds (at least) the values of ANALYSIS_PARAMETERS and `seed`,
    which seeds every step; the reporter and the projector writer also read
    the dataset and the model (its loss plot and training curves).
    """
    seed = params["seed"]
    selected, clustered = clustering_nodes(params, embeddings)
    mapped = analysis.tsne(
        embeddings=embeddings,
        perplexity=params["tsne_perplexity"],
        max_points=params["tsne_max_points"],
        iterations=params["tsne_iterations"],
        early_exaggeration_iterations=params["tsne_early_iterations"],
        exaggeration=params["tsne_exaggeration"],
        initialization=params["tsne_initialization"],
        method=params["tsne_method"],
        place_rest=params["tsne_place_rest"],
        seed=seed,
    )
    catalogued = outputs.catalog_writer(
        embeddings=embeddings,
        clusters=clustered.outputs["clusters"],
        tsne_map=mapped.outputs["tsne_map"],
        seed=seed,
    )
    reported = outputs.reporter(
        dataset=dataset,
        model=model,
        embeddings=embeddings,
        selection=selected.outputs["selection"],
        clusters=clustered.outputs["clusters"],
        tsne_map=mapped.outputs["tsne_map"],
        catalogue=catalogued.outputs["catalogue"],
        seed=seed,
    )
    projected = outputs.projector_writer(
        dataset=dataset,
        model=model,
        embeddings=embeddings,
        clusters=clustered.outputs["clusters"],
        report=reported.outputs["report"],
        max_points=params["projector_max_points"],
        seed=seed,
    )
    return [selected, clustered, mapped, catalogued, reported, projected]


# The pipelines' printed summaries (``python -m tfelg_pipelines.NAME --root=...``).


def last_outputs(root: str) -> dict[str, dict[str, str]]:
    """{node: {output: absolute uri}} of the nodes of the last run under `root`."""
    record = runner.read_json(os.path.join(root, PIPELINE_JSON))
    if not record or "last_run" not in record:
        raise FileNotFoundError(f"no finished run under {root}")
    found = {}
    for node, state in record["last_run"]["nodes"].items():
        execution = state.get("execution")
        try:
            done = execution and runner.read_json(runner.record_path(root, node, execution))
        except InputError:  # a damaged record: the next run makes that step again
            done = None
        if done and done.get("status") == "complete":
            found[node] = {
                name: os.path.join(root, artifact["uri"])
                for name, artifact in done["outputs"].items()
            }
    return found


def metric(row: dict, key: str) -> str:
    """A summary row's value with its bootstrap error, or a dash where there is none."""
    if row.get(key) is None:
        return "–"
    err = row.get(f"{key}_err")
    return f"{row[key]:.3f}" + ("" if err is None else f" ± {err:.3f}")


def bic_text(row: dict, representation: dict) -> str:
    """``10 (BIC)``, or ``10 (BIC: the largest K scanned, no minimum)`` at the scan's edge.

    On tens of thousands of galaxies BIC keeps falling with K (the
    populations are not Gaussian mixtures), and a K at the edge of the scan
    is where the scan stopped, not a number of classes.
    """
    k = row.get("k_bic")
    if k is not None and k == representation.get("k_max"):
        return f"{k} (BIC: the largest K scanned, no minimum)"
    return f"{k} (BIC)"


def clusters_text(representation: dict) -> str:
    """``clusters K = 8``, and how many components collapsed (a flat covariance), if any."""
    text = f"clusters K = {representation['n_clusters']}"
    collapsed = representation.get("mixture", {}).get("collapsed", {}).get("components")
    if collapsed:
        text += f" ({len(collapsed)} collapsed onto a point, line or plane of the data)"
    return text


def summary_main(summary_text: Callable[[str], str], pipeline: str) -> None:
    """The ``__main__`` of a pipeline module: prints ``summary_text(--root)``."""
    from absl import app, flags

    root = flags.DEFINE_string("root", None, f"Run root of an {pipeline} pipeline.")
    flags.mark_flag_as_required("root")

    def main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        try:
            print(summary_text(root.value))
        except (FileNotFoundError, InputError) as e:
            print(f"error: {e}")
            return 1
        return 0

    app.run(main)
