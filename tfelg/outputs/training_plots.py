"""The training-curve figure: loss and reconstruction error per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tfelg.outputs.coded_scatter import finish, new_figure


def _history_values(history: Sequence[Mapping], split: str, key: str) -> np.ndarray:
    return np.array(
        [np.nan if h.get(split, {}).get(key) is None else float(h[split][key]) for h in history]
    )


def plot_loss_history(history: Sequence[Mapping], path=None, *, title: str = "", dpi: int = 100):
    """Loss and reconstruction error per epoch, train and validation.

    One panel when the loss *is* the reconstruction error at every epoch (a
    plain autoencoder), two otherwise (the VAE's loss adds the KL term). The
    legend sits below the panels, off the curves. A log axis is used when
    every value is positive.

    Args:
      history: one dict per epoch: ``epoch``, ``train`` and ``validation``
        (each {metric: value}, ``loss`` and ``reconstruction`` among them).
      path: PNG to write, or None to get the Figure back.
      title: figure title.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    history = list(history)
    if not history:
        raise ValueError("no epochs in the history to plot")
    epochs = [h["epoch"] for h in history]
    values = {
        (split, key): _history_values(history, split, key)
        for split in ("train", "validation")
        for key in ("loss", "reconstruction")
    }
    same = all(
        np.array_equal(values[split, "loss"], values[split, "reconstruction"], equal_nan=True)
        for split in ("train", "validation")
    )
    keys = ("loss",) if same else ("loss", "reconstruction")
    fig = new_figure(6.0 if same else 10.0, 4.4)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    styles = (
        ("train", "-", "#0072B2", "train (mean over the epoch's steps)"),
        ("validation", "--", "#D55E00", "validation (after the epoch)"),
    )
    for ax, key in zip(axes, keys, strict=True):
        for split, style, colour, label in styles:
            ax.plot(epochs, values[split, key], style, color=colour, marker="o", ms=3, label=label)
        plotted = np.concatenate([values[s, key] for s, *_ in styles])
        plotted = plotted[np.isfinite(plotted)]
        if plotted.size and (plotted > 0).all():
            ax.set_yscale("log")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss = reconstruction error" if same else key)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return finish(fig, path, dpi)
