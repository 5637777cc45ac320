"""Figures for choosing K and judging the clusters: criteria curves, contingency.

BIC/AIC, the gap statistic and the mean silhouette against K, each with
the chosen K marked (the gap plot also marks its maximum and states the
one-standard-error rule, so the maximum is not taken for the choice), and
the clusters-by-classes contingency table as a heatmap coloured by counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.colors import Normalize

from tfelg.outputs.coded_scatter import finish, new_figure


def _curve_inputs(ks, values, chosen_k, name: str, errors=None):
    ks = np.asarray(ks)
    values = np.asarray(values, dtype=np.float64)
    if ks.ndim != 1 or values.ndim != 1:
        raise ValueError(f"ks and {name} must be 1-D, got shapes {ks.shape} and {values.shape}")
    if len(ks) != len(values):
        raise ValueError(f"ks has {len(ks)} values but {name} has {len(values)}")
    if len(ks) == 0:
        raise ValueError("no K values to plot")
    if errors is not None:
        errors = np.asarray(errors, dtype=np.float64)
        if errors.shape != values.shape:
            raise ValueError(
                f"errors has {errors.size} values but {name} has {len(values)} (one per K)"
            )
    if chosen_k is not None and chosen_k not in ks:
        raise ValueError(f"chosen_k={chosen_k} is not among ks {ks.tolist()}")
    return ks, values, errors


def _legend_below(ax, ncol: int = 2) -> None:
    """The legend under the axes, where it cannot cover a curve or a marker."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8, frameon=False)


def _mark_chosen(ax, ks, values, chosen_k, label: str):
    if chosen_k is None:
        return
    at = int(np.flatnonzero(ks == chosen_k)[0])
    ax.axvline(chosen_k, color="0.3", ls="--", lw=1.0)
    ax.plot(
        [chosen_k],
        [values[at]],
        marker="*",
        ms=16,
        color="#d62728",
        ls="",
        zorder=5,
        label=f"{label}: K = {chosen_k}",
    )


def plot_information_criteria(
    ks,
    bic,
    chosen_k=None,
    path=None,
    *,
    aic=None,
    title: str = "Gaussian mixture: information criteria",
    dpi: int = 110,
):
    """BIC (and AIC) against K, the chosen K marked.

    Args:
      ks: (M,) numbers of components.
      bic: (M,) BIC values (lower is better).
      chosen_k: the K chosen (marked), or None.
      path: PNG to write, or None to get the Figure back.
      aic: optional (M,) AIC values, drawn on the same axes.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, bic, _ = _curve_inputs(ks, bic, chosen_k, "bic")
    fig = new_figure(6.4, 4.4)
    ax = fig.subplots()
    ax.plot(ks, bic, "o-", color="#1f77b4", label="BIC")
    if aic is not None:
        _, aic, _ = _curve_inputs(ks, aic, None, "aic")
        ax.plot(ks, aic, "s--", color="#ff7f0e", label="AIC")
    _mark_chosen(ax, ks, bic, chosen_k, "chosen")
    ax.set_xlabel("number of components K")
    ax.set_ylabel("information criterion (lower is better)")
    ax.set_xticks(ks)
    _legend_below(ax, ncol=3)
    ax.set_title(title)
    return finish(fig, path, dpi)


GAP_RULE = r"1-SE rule: the smallest K with Gap(K) $\geq$ Gap(K+1) $-$ s$_{K+1}$"


def plot_gap_curve(
    ks,
    gap,
    errors,
    chosen_k=None,
    path=None,
    *,
    title: str = "Gap statistic (Tibshirani et al. 2001)",
    dpi: int = 110,
):
    """The gap statistic with its standard errors against K; the 1-SE choice and the maximum.

    The choice is Tibshirani et al.'s one-standard-error rule, which often
    stops well before the K of the largest gap; the figure states the rule
    and marks both, so a reader does not take the maximum for the choice.

    Args:
      ks: (M,) numbers of clusters.
      gap: (M,) Gap(K) (NaN where not computed).
      errors: (M,) s_K, the simulation-corrected standard errors.
      chosen_k: the K chosen by the 1-standard-error rule, or None.
      path: PNG to write, or None to get the Figure back.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, gap, errors = _curve_inputs(ks, gap, chosen_k, "gap", errors)
    fig = new_figure(6.4, 4.9)
    ax = fig.subplots()
    ax.errorbar(ks, gap, yerr=errors, fmt="o-", color="#009E73", capsize=3, label="Gap(K) ± s$_K$")
    if np.isfinite(gap).any():
        at = int(np.nanargmax(gap))
        ax.plot(
            [ks[at]],
            [gap[at]],
            marker="D",
            ms=11,
            mfc="none",
            mec="k",
            mew=1.5,
            ls="",
            zorder=6,
            label=f"maximum Gap: K = {ks[at]}",
        )
    _mark_chosen(ax, ks, gap, chosen_k, "1-SE choice")
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("Gap(K)")
    ax.set_xticks(ks)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda h: (not labels[h].startswith("Gap"), labels[h]))
    ax.legend(
        [handles[h] for h in order],
        [labels[h] for h in order],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    ax.set_title(f"{title}\n{GAP_RULE}", fontsize=10)
    return finish(fig, path, dpi)


def plot_silhouette_curve(
    ks,
    silhouette,
    chosen_k=None,
    path=None,
    *,
    title: str = "Mean silhouette",
    dpi: int = 110,
):
    """The mean silhouette coefficient against K, the chosen K marked.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    ks, silhouette, _ = _curve_inputs(ks, silhouette, chosen_k, "silhouette")
    fig = new_figure(6.4, 4.4)
    ax = fig.subplots()
    ax.plot(ks, silhouette, "o-", color="#9467bd", label="mean silhouette")
    _mark_chosen(ax, ks, silhouette, chosen_k, "chosen")
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("silhouette (higher is better)")
    ax.set_xticks(ks)
    _legend_below(ax)
    ax.set_title(title)
    return finish(fig, path, dpi)


def plot_contingency(
    table,
    row_names: Sequence[str],
    column_names: Sequence[str],
    path=None,
    *,
    title: str = "Clusters against classes",
    row_label: str = "cluster",
    column_label: str = "class",
    left_out: Mapping[str, int] | None = None,
    dpi: int = 110,
):
    """The contingency table as an annotated heatmap, coloured by counts.

    Each cell shows its count and its share of the row; the colour is the
    count, so a cluster of one galaxy is a pale cell, not a dark "pure"
    one. Rows without a galaxy (e.g. a cluster empty on the test split) are
    dropped and named in the title, and the title says how many galaxies
    are not in the table at all (``left_out``: low S/N, unclassified).

    Args:
      table: (R, C) counts, rows clusters and columns classes.
      row_names: R row labels (e.g. "cluster 0").
      column_names: C column labels (e.g. WHAN class names).
      path: PNG to write, or None to get the Figure back.
      left_out: {reason or class: galaxies left out of the table}, e.g.
        ``tfelg.analysis.matching``'s ``ignored_counts``.

    Returns:
      ``path`` (str) if given, else the Figure.
    """
    table = np.asarray(table)
    if table.ndim != 2:
        raise ValueError(f"table must be 2-D (clusters x classes), got shape {table.shape}")
    if not np.isfinite(table).all() or (table.size and table.min() < 0):
        raise ValueError("table must hold finite, non-negative counts")
    rows, cols = table.shape
    if len(row_names) != rows:
        raise ValueError(f"table has {rows} rows but row_names has {len(row_names)}")
    if len(column_names) != cols:
        raise ValueError(f"table has {cols} columns but column_names has {len(column_names)}")
    totals = table.sum(axis=1)
    kept = np.flatnonzero(totals > 0)
    empty = [str(row_names[r]) for r in np.flatnonzero(totals <= 0)]
    table, totals = table[kept], totals[kept]
    names = [f"{row_names[r]} (n = {_count_text(totals[i])})" for i, r in enumerate(kept)]
    rows = len(kept)
    fraction = np.divide(
        table, totals[:, None], out=np.zeros(table.shape), where=totals[:, None] > 0
    )
    norm = Normalize(0.0, max(float(table.max()) if table.size else 0.0, 1.0))
    fig = new_figure(1.5 + 1.0 * cols + 1.5, 1.6 + 0.55 * max(rows, 1) + 1.0)
    ax = fig.subplots()
    image = ax.imshow(
        table if rows else np.zeros((1, cols)), cmap="Blues", norm=norm, aspect="auto"
    )
    for r in range(rows):
        for c in range(cols):
            ax.text(
                c,
                r,
                f"{_count_text(table[r, c])}\n{100 * fraction[r, c]:.0f}%",
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if norm(table[r, c]) > 0.6 else "black",
            )
    ax.set_xticks(range(cols), [str(v) for v in column_names], rotation=35, ha="right")
    ax.set_yticks(range(rows), names)
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    fig.colorbar(image, ax=ax, label="galaxies in the cell (count)")
    notes = [
        f"{_count_text(table.sum())} galaxies in the table; cells: count and % of the {row_label}"
    ]
    left_out = {k: v for k, v in (left_out or {}).items() if v}
    if left_out:
        total = sum(left_out.values())
        parts = ", ".join(f"{k} {_count_text(v)}" for k, v in left_out.items())
        notes.append(f"left out of the table: {_count_text(total)} galaxies ({parts})")
    if empty:
        notes.append(f"empty, not shown: {', '.join(empty)}")
    ax.set_title(title + "\n" + "\n".join(notes), fontsize=9)
    return finish(fig, path, dpi)


def _count_text(value) -> str:
    value = float(value)
    return f"{int(value):,}" if value.is_integer() else f"{value:.3g}"
