r"""Shared components that analyse representations: choose K, cluster, map.

    embeddings -+-> model_selector -> clusterer -> (outputs.py)
                +-> tsne --------------------------^

Each takes an Embeddings artifact of any domain and handles every
representation in it (one file or folder each, named after it), with the
library's functions (tfelg.analysis.analyze): BIC, AIC, gap statistic and
silhouette over K; a Gaussian mixture with the chosen K, matched on the test
split to the schemes whose labels the embeddings carry; an openTSNE map.

Every component is also a binary (tfelg_components.binary):

    python -m tfelg_components.analysis model_selector --root=runs/a \
        --input_embeddings=runs/a/embedding_exporter/embeddings/<execution> --k_max=8
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from tfelg_components import binary
from tfelg_components.base import (
    Clusters,
    Embeddings,
    Input,
    ModelSelection,
    OneOf,
    Output,
    Range,
    TSNEMap,
    component,
)
from tfelg_components.common import SEED, load_embeddings, representations

# A component's source is hashed into its cache key (base.Component.code_version).
# The clusterer and t-SNE moved here from emission_lines.py unchanged, so their
# bodies keep the names they used there and runs cached before the move stay cached.
from tfelg_components.common import analysis_config as _analysis_config
from tfelg_components.common import read_json as _read_json
from tfelg_components.common import say as _say
from tfelg_components.common import write_json as _write_json

# What the library accepts, for the parameters' constraints. These copies keep
# the module free of TensorFlow and openTSNE (so that a pipeline is checked in
# a second); tests/components/emission_lines_test.py checks them against the
# originals: tfelg.analysis.gmm.COVARIANCE_TYPES, tfelg.analysis.tsne's
# INITIALIZATIONS and NEGATIVE_GRADIENT_METHODS, model_selection.GAP_N_INIT,
# analyze.AnalysisConfig().mixture_n_init.
COVARIANCE_TYPES = ("full", "diag")
TSNE_INITIALIZATIONS = ("pca", "spectral", "random")
TSNE_METHODS = ("auto", "fft", "bh")
TSNE_PLACE_METHODS = ("median", "transform", "none")  # tfelg.analysis.tsne.PLACE_METHODS + none
GAP_N_INIT = 10
MIXTURE_N_INIT = 4


@component(version="3")  # 2: gap_n_init; 3: mixture_n_init
def model_selector(
    embeddings: Input[Embeddings],
    selection: Output[ModelSelection],
    k_max: Annotated[int, Range(ge=2)] = 10,
    covariance_type: Annotated[str, OneOf(*COVARIANCE_TYPES)] = "full",
    gap_references: Annotated[int, Range(ge=1)] = 10,
    gap_n_init: Annotated[int, Range(ge=1)] = GAP_N_INIT,
    mixture_n_init: Annotated[int, Range(ge=1)] = MIXTURE_N_INIT,
    silhouette_sample: Annotated[int, Range(ge=2)] = 4000,
    selection_max_points: Annotated[int, Range(ge=3)] = 50_000,
    seed: Annotated[int, SEED] = 0,
):
    """BIC, AIC, gap statistic and silhouette over K = 1..k_max (training split), per representation.

    The gap statistic runs `gap_n_init` k-means++ starts per K and data set
    (the data and each of the `gap_references` reference sets) and keeps the
    lowest within-cluster dispersion, as scikit-learn's KMeans(n_init=...).
    Every mixture is fitted from `mixture_n_init` starts, the most likely kept.
    """
    from tfelg.analysis import analyze

    config = _analysis_config(
        k_max=k_max,
        covariance_type=covariance_type,
        gap_references=gap_references,
        gap_n_init=gap_n_init,
        mixture_n_init=mixture_n_init,
        silhouette_sample=silhouette_sample,
        selection_max_points=selection_max_points,
        seed=seed,
    )
    chosen = {}
    for name in representations(embeddings):
        result = analyze.choose_k(load_embeddings(embeddings, name), config).to_dict()
        _write_json(selection.path(f"{name}.json"), result)
        chosen[name] = result["chosen_k"]
        print(f"  {name}: chosen K " + ", ".join(f"{k}={v}" for k, v in chosen[name].items()))
    selection.properties["chosen_k"] = chosen


@component(version="2")  # 2: mixture_n_init; collapsed components reported
def clusterer(
    embeddings: Input[Embeddings],
    selection: Input[ModelSelection],
    clusters: Output[Clusters],
    covariance_type: Annotated[str, OneOf(*COVARIANCE_TYPES)] = "full",
    n_clusters: Annotated[int, Range(ge=1)] | None = None,
    mixture_n_init: Annotated[int, Range(ge=1)] = MIXTURE_N_INIT,
    n_bootstrap: Annotated[int, Range(ge=2)] = 200,
    seed: Annotated[int, SEED] = 0,
):
    """A Gaussian mixture with the chosen K (BIC; or `n_clusters`), matched to WHAN/BPT on test.

    Fitted from `mixture_n_init` starts; the one with the highest log-likelihood is kept.
    """
    from tfelg.analysis import analyze

    config = _analysis_config(
        covariance_type=covariance_type,
        n_clusters=n_clusters,
        mixture_n_init=mixture_n_init,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    for name in representations(embeddings):
        chosen_k = _read_json(selection.path(f"{name}.json"))["chosen_k"]
        inference = analyze.infer_classes(
            load_embeddings(embeddings, name), chosen_k, config, log=_say(name)
        )
        inference.save(clusters.path(name))
        clusters.properties[name] = inference.n_clusters


@component(version="3")  # 3: place_rest (galaxies outside the subsample placed)
def tsne(
    embeddings: Input[Embeddings],
    tsne_map: Output[TSNEMap],
    perplexity: Annotated[float, Range(gt=0)] = 30.0,
    max_points: Annotated[int, Range(ge=4)] = 20_000,
    iterations: Annotated[int, Range(ge=0)] = 500,
    early_exaggeration_iterations: Annotated[int, Range(ge=0)] = 250,
    exaggeration: Annotated[float, Range(gt=0)] = 1.0,
    initialization: Annotated[str, OneOf(*TSNE_INITIALIZATIONS)] = "pca",
    method: Annotated[str, OneOf(*TSNE_METHODS)] = "auto",
    place_rest: Annotated[str, OneOf(*TSNE_PLACE_METHODS)] = "median",
    seed: Annotated[int, SEED] = 0,
):
    """A t-SNE map (openTSNE) per representation, fitted on at most `max_points` galaxies.

    Above `max_points` the map is fitted on a seeded subsample and every
    other galaxy is placed on the finished map (tfelg.analysis.tsne.place_points):
    `place_rest="median"` at the median map position of its 25 nearest fitted
    galaxies in the latent space (openTSNE transform's starting point;
    microseconds a galaxy), `"transform"` by openTSNE's transform (its 250
    optimisation steps too: ~0.7 ms a galaxy, ~35 CPU minutes for a million
    galaxies in three representations), `"none"`: NaN, as before version 3.
    `rows` in the npz lists the fitted galaxies, so the catalogue can flag
    the placed ones.
    """
    from tfelg.analysis import analyze
    from tfelg.analysis import tsne as tsne_lib

    config = _analysis_config(
        tsne_perplexity=perplexity,
        tsne_max_points=max_points,
        tsne_n_iter=iterations,
        tsne_early_exaggeration_iter=early_exaggeration_iterations,
        tsne_exaggeration=exaggeration,
        tsne_initialization=initialization,
        tsne_method=method,
        seed=seed,
    )
    for name in representations(embeddings):
        emb = load_embeddings(embeddings, name)
        xy, rows, result = analyze.tsne_map(emb, config)
        n_placed = 0
        if place_rest != "none" and len(rows) < len(emb):
            rest = np.setdiff1d(np.arange(len(emb)), rows)
            xy[rest] = tsne_lib.place_points(
                result, emb.latent[rest], emb.latent[rows], method=place_rest, log=_say(name)
            )
            n_placed = len(rest)
        with open(tsne_map.path(f"{name}.npz"), "wb") as f:
            np.savez(f, xy=xy, rows=rows)
        params = {k: v for k, v in result.params.items() if "second" not in k}  # stable bytes
        _write_json(
            tsne_map.path(f"{name}.json"),
            {"n_points": len(rows), "kl": result.kl_divergence, "params": params}
            | ({"n_placed": n_placed, "placed_by": place_rest} if n_placed else {}),
        )
        print(
            f"  {name}: t-SNE of {len(rows)} galaxies, KL {result.kl_divergence:.3f}"
            + (f"; {n_placed} placed on it" if n_placed else ""),
            flush=True,
        )


COMPONENTS = (model_selector, clusterer, tsne)

if __name__ == "__main__":
    binary.run(*COMPONENTS)
