"""The figures and the TensorBoard projector log of one analysed representation.

Split from :mod:`tfelg.analysis.analyze` (which computes: model selection,
mixture, matching, t-SNE) because this half only draws what was computed:
the contingency tables, latent corner plots, cluster and t-SNE maps, the
model-selection curves and the projector with its metadata columns. The
pipeline's reporter and projector components call these functions on saved
results, without re-running the analysis.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from tfelg.analysis.embeddings import Embeddings
from tfelg.analysis.views import scheme_views

if TYPE_CHECKING:
    from tfelg.analysis.analyze import ClassInference


def figure_axes(emb: Embeddings) -> dict:
    """Axis names and imputed values of a representation, for the latent-space figures.

    The line-ratio baseline's coordinates are named features, and its
    missing ratios are filled in (``Embeddings.imputed``, see
    ``embeddings.line_ratio_embeddings``): the figures name the axes by
    their ratios and leave imputed values out instead of drawing values no
    spectrum measured. Embeddings saved before the mask existed filled a
    missing ratio with exactly 0 (the training mean after scaling).
    """
    features = emb.info.get("features")
    if not features or len(features) != emb.latent_dim:
        return {}
    axes = {"axis_names": list(features)}
    if emb.imputed is not None:
        axes["missing"] = emb.imputed
    elif emb.representation == "line_ratios":
        axes["missing"] = emb.latent == 0.0
    return axes


def write_figures(emb, selection: dict, inference: ClassInference, tsne_xy, out_dir, config):
    """Every figure of one representation; returns {name: path}."""
    from tfelg.outputs import analysis_plots as plots

    os.makedirs(out_dir, exist_ok=True)
    name = emb.representation
    figures = {}
    views = scheme_views(emb)
    axes = figure_axes(emb)
    for scheme, result in inference.comparisons.items():
        if "match" not in result:
            continue
        match = result["match"]
        figures[f"contingency_{scheme}"] = plots.plot_contingency(
            np.asarray(match["contingency"]),
            match["cluster_names"],
            match["class_names"],
            os.path.join(out_dir, f"contingency_{scheme}.png"),
            title=f"{name}: clusters vs {scheme} (test split)",
            column_label=scheme,
            left_out=match.get("ignored_counts"),
        )
    # The first two schemes (WHAN and BPT for emission lines) get latent corner plots,
    # the first one (WHAN) the cluster and t-SNE maps. Unlabelled galaxies (the Hubble
    # Deep Field's stamps) have no scheme: only the model-selection curves are drawn.
    first = next(iter(views), None)
    for scheme in list(views)[:2]:
        codes, names = views[scheme]
        figures[f"latent_{scheme}"] = plots.plot_latent_pairs(
            emb.latent,
            codes,
            names,
            os.path.join(out_dir, f"latent_{scheme}.png"),
            title=f"{name}: latent coordinates by {scheme.upper()} class",
            class_label=scheme.upper(),
            seed=config.seed,
            **axes,
        )
    whan_codes, whan_names = views[first] if first is not None else (None, None)
    if emb.latent_dim >= 2 and first is not None:
        figures[f"clusters_vs_{first}"] = plots.plot_clusters_and_classes(
            emb.latent,
            inference.cluster,
            whan_codes,
            whan_names,
            os.path.join(out_dir, f"clusters_vs_{first}.png"),
            class_label=first.upper(),
            seed=config.seed,
            **axes,
        )
    ks = np.asarray(selection["ks"])
    chosen = selection["chosen_k"]
    curve = lambda key: np.array([np.nan if v is None else v for v in selection[key]])  # noqa: E731
    figures["bic"] = plots.plot_information_criteria(
        ks,
        curve("bic"),
        chosen["bic"],
        os.path.join(out_dir, "bic.png"),
        aic=curve("aic"),
        title=f"{name}: Gaussian mixture BIC/AIC (train split)",
    )
    figures["gap"] = plots.plot_gap_curve(
        ks,
        curve("gap"),
        curve("gap_s"),
        chosen["gap"],
        os.path.join(out_dir, "gap.png"),
        title=f"{name}: gap statistic, B = {selection['gap_references']} (train split)",
    )
    if len(ks) >= 2 and chosen.get("silhouette") is not None:
        figures["silhouette"] = plots.plot_silhouette_curve(
            ks[1:],
            curve("silhouette")[1:],
            chosen["silhouette"],
            os.path.join(out_dir, "silhouette.png"),
            title=f"{name}: mean silhouette (train split)",
        )
    if first is None:
        return figures
    mapped = np.all(np.isfinite(tsne_xy), axis=1)
    figures[f"tsne_{first}"] = plots.plot_tsne_map(
        tsne_xy[mapped],
        whan_codes[mapped],
        whan_names,
        inference.cluster[mapped],
        os.path.join(out_dir, f"tsne_{first}.png"),
        class_label=first.upper(),
        seed=config.seed,
        title=f"{name}: t-SNE map",
    )
    return figures


def write_projector_log(emb, cluster, logdir, config, sprite_images=None, figures=None) -> dict:
    """TensorBoard projector (latent space + metadata + sprite) and figure images."""
    from tfelg.outputs import analysis_plots as plots
    from tfelg.outputs import colours, projector

    views = scheme_views(emb)
    labels = [k for k in emb.labels if k != "true_class" or k in views]
    metadata = {"id": emb.object_id}
    metadata.update({k: np.array(emb.class_names[k])[emb.labels[k]] for k in labels[:2]})
    metadata.update({"cluster": cluster, "redshift": np.round(emb.redshift, 5), "split": emb.split})
    metadata.update({k: np.array(emb.class_names[k])[emb.labels[k]] for k in labels[2:]})
    # Each point's class colour in the figures (the projector picks its own).
    metadata.update(colours.projector_colour_columns(metadata, columns=labels))
    features = emb.info.get("features")
    info = projector.write_projector(
        logdir,
        emb.latent,
        metadata,
        sprite_images=sprite_images,
        column_names=features if features and len(features) == emb.latent_dim else None,
        max_points=config.projector_max_points,
        seed=config.seed,
    )
    for key, path in (figures or {}).items():
        plots.log_png_to_tensorboard(path, logdir, f"{emb.representation}/{key}")
    return {k: v for k, v in info.items() if k != "thumb_size"}
