"""Figures of the latent-space analysis: pairs, clusters, model selection, maps.

These are the pictures a person checks before believing a number: whether
the classes separate in the latent coordinates, whether the mixture's
clusters line up with the WHAN classes, where BIC, the gap statistic and the
silhouette put the number of clusters (and which K was chosen), how
clusters and classes cross-tabulate, and what the t-SNE map shows.

This module is the one place callers import the figures from; they are
drawn in three modules of one subject each (so each can be read at one
sitting): :mod:`tfelg.outputs.latent_plots` (corner plot, clusters beside
classes, t-SNE map), :mod:`tfelg.outputs.selection_plots` (BIC/AIC, gap,
silhouette, contingency table) and :mod:`tfelg.outputs.training_plots`
(loss curves), on the shared pieces of :mod:`tfelg.outputs.coded_scatter`.

Every function takes plain arrays (the analysis code that produces them is
not imported here), draws with matplotlib's object API on the Agg canvas (no
pyplot state; safe headless and in threads) and, given a ``path``, writes a
PNG atomically (temporary file, then ``os.replace``) and returns the path;
without a ``path`` it returns the :class:`~matplotlib.figure.Figure`.
Scatter plots of more than ``max_points`` (default 50,000) points draw a
seeded random subsample and say so in the title. :func:`log_png_to_tensorboard`
also puts a written PNG into TensorBoard's Images tab.

Colours: a class has its one colour from :mod:`tfelg.outputs.colours` in
every figure; clusters get colours that are never a class's (and their
numbers are written on the map), so a cluster drawn beside the classes is
not mistaken for the class of the same colour. Points are drawn in a seeded
random order with per-class opacity, as in :mod:`tfelg.outputs.diagrams`,
so no class hides another.
"""

from __future__ import annotations

import os

from tfelg.outputs.coded_scatter import (
    MAX_PLOT_POINTS,
    class_colour,
    cluster_colour,
    subsample_for_plot,
)
from tfelg.outputs.latent_plots import (
    FEATURE_LABELS,
    MAX_PAIR_DIMS,
    axis_labels,
    plot_clusters_and_classes,
    plot_latent_pairs,
    plot_tsne_map,
)
from tfelg.outputs.selection_plots import (
    GAP_RULE,
    plot_contingency,
    plot_gap_curve,
    plot_information_criteria,
    plot_silhouette_curve,
)
from tfelg.outputs.training_plots import plot_loss_history

__all__ = [
    "FEATURE_LABELS",
    "GAP_RULE",
    "MAX_PAIR_DIMS",
    "MAX_PLOT_POINTS",
    "axis_labels",
    "class_colour",
    "cluster_colour",
    "log_png_to_tensorboard",
    "plot_clusters_and_classes",
    "plot_contingency",
    "plot_gap_curve",
    "plot_information_criteria",
    "plot_latent_pairs",
    "plot_loss_history",
    "plot_silhouette_curve",
    "plot_tsne_map",
    "subsample_for_plot",
]


def log_png_to_tensorboard(png_path, logdir, tag: str, step: int = 0) -> str:
    """Writes a PNG file as an image summary, shown in TensorBoard's Images tab.

    TensorFlow is imported here, not at module level, so that drawing the
    figures does not load it.

    Args:
      png_path: the PNG to log.
      logdir: the summary directory (a TensorBoard run).
      tag: the image's name in TensorBoard, e.g. "analysis/tsne_map".
      step: the summary step.

    Returns:
      ``logdir``.
    """
    import tensorflow as tf

    with open(os.fspath(png_path), "rb") as f:
        data = f.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{png_path} is not a PNG file")
    image = tf.io.decode_png(data)  # (h, w, channels), uint8; channels 1-4.
    if image.shape[-1] == 2:  # Grey + alpha: the summary wants 1, 3 or 4 channels.
        image = tf.image.grayscale_to_rgb(image[..., :1])
    writer = tf.summary.create_file_writer(os.fspath(logdir))
    try:
        with writer.as_default():
            tf.summary.image(tag, image[tf.newaxis], step=step)
        writer.flush()
    finally:
        writer.close()
    return os.fspath(logdir)
