"""What is in a prepared hst_galaxies dataset: classes, true type x scheme tables, figures.

Used by ``tfelg-dataset --dataset=hst_galaxies/...`` so that the first thing
a user sees is whether the sample's UVJ and Gini-M20 classes sit where the
literature puts its types, and by ``scripts/make_hst_class_table.py`` for
the committed table under docs/.
"""

from __future__ import annotations

import os

import numpy as np

from tfelg import schemes
from tfelg.dataset_report import contingency_text


def load_all(builder) -> dict[str, np.ndarray]:
    """Every split of a prepared builder, concatenated."""
    from tfelg import data

    per_split = [data.load_split_arrays(builder, s) for s in builder.info.splits.keys()]
    return {k: np.concatenate([a[k] for a in per_split]) for k in per_split[0]}


def contingency(rows, n_rows, cols, n_cols) -> np.ndarray:
    matrix = np.zeros((n_rows, n_cols), dtype=np.int64)
    np.add.at(matrix, (np.asarray(rows, np.int64), np.asarray(cols, np.int64)), 1)
    return matrix


def markdown_table(matrix, row_names, col_names, corner: str) -> str:
    """A markdown table of counts with row percentages, empty rows left out."""
    lines = [
        f"| {corner} | " + " | ".join(col_names) + " | total |",
        "|---|" + "---:|" * (len(col_names) + 1),
    ]
    for name, row in zip(row_names, matrix, strict=True):
        total = int(row.sum())
        if total == 0:
            continue
        cells = [f"{int(c)} ({100.0 * c / total:.0f}%)" for c in row]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total} |")
    return "\n".join(lines)


def class_tables(arrays, type_names) -> dict[str, str]:
    """Markdown tables: true type x UVJ, x Gini-M20 (all), x Gini-M20 (trusted only)."""
    t = arrays["true_type"]
    trusted = arrays["trust_nonparametric"].astype(bool)
    return {
        "uvj": markdown_table(
            contingency(t, len(type_names), arrays["uvj"], len(schemes.UVJ_NAMES)),
            type_names,
            schemes.UVJ_NAMES,
            "true type \\ UVJ",
        ),
        "gini_m20": markdown_table(
            contingency(t, len(type_names), arrays["gini_m20"], len(schemes.GINI_M20_NAMES)),
            type_names,
            schemes.GINI_M20_NAMES,
            "true type \\ Gini-M20",
        ),
        "gini_m20_trusted": markdown_table(
            contingency(
                t[trusted],
                len(type_names),
                arrays["gini_m20"][trusted],
                len(schemes.GINI_M20_NAMES),
            ),
            type_names,
            schemes.GINI_M20_NAMES,
            "true type \\ Gini-M20",
        ),
    }


def write_plots(
    arrays, type_names, plot_dir: str, band: str, *, calibrated: bool = True
) -> list[str]:
    """rgb_by_type.png, uvj.png and gini_m20.png in ``plot_dir``.

    ``calibrated``: images in nJy (False for ``hubble_deep_field``'s display
    image, whose channels are drawn as given: see
    :func:`tfelg.outputs.hst_plots.rgb_display`).
    """
    from tfelg.outputs import hst_plots

    os.makedirs(plot_dir, exist_ok=True)
    return [
        hst_plots.plot_rgb_grid(
            arrays["image"],
            arrays["true_type"],
            type_names,
            os.path.join(plot_dir, "rgb_by_type.png"),
            calibrated=calibrated,
        ),
        hst_plots.plot_uvj(
            arrays["u_minus_v"],
            arrays["v_minus_j"],
            arrays["redshift"],
            arrays["true_type"],
            type_names,
            os.path.join(plot_dir, "uvj.png"),
        ),
        hst_plots.plot_gini_m20(
            arrays["gini"],
            arrays["m20"],
            arrays["true_type"],
            type_names,
            os.path.join(plot_dir, "gini_m20.png"),
            trusted=arrays["trust_nonparametric"],
            band=band,
        ),
    ]


def describe_hst_dataset(builder, plot_dir: str | None = None) -> str:
    """Counts per split and per class, true type x UVJ and x Gini-M20, figures."""
    from tfelg import data

    splits = {s: len(data.load_split_arrays(builder, s)["object_id"]) for s in builder.info.splits}
    arrays = load_all(builder)
    type_names = builder.info.features["true_type"].names
    out = [f"{builder.info.full_name}: " + ", ".join(f"{s} {n}" for s, n in splits.items())]
    trusted = arrays["trust_nonparametric"].astype(bool)
    out.append(
        f"morphology ({builder.info.metadata.get('morphology_band', '?')}): "
        f"{int(trusted.sum())} of {len(trusted)} trusted"
    )
    for title, key, names in (
        ("UVJ", "uvj", schemes.UVJ_NAMES),
        ("Gini-M20", "gini_m20", schemes.GINI_M20_NAMES),
    ):
        out.append(f"\n{title} classes (all splits):")
        for name, count in schemes.class_counts(arrays[key], names).items():
            out.append(
                f"  {name:<14s} {count:>8d}  {100.0 * count / max(1, len(arrays[key])):5.1f}%"
            )
    if np.any(arrays["true_type"] != type_names.index("unknown")):
        for key, names, label in (
            ("uvj", schemes.UVJ_NAMES, "true \\ UVJ"),
            ("gini_m20", schemes.GINI_M20_NAMES, "true \\ G-M20"),
        ):
            out.append("")
            out.append(contingency_text(arrays["true_type"], type_names, arrays[key], names, label))
    if plot_dir:
        band = str(builder.info.metadata.get("morphology_band", ""))
        calibrated = getattr(builder.builder_config, "source", "") != "hubble_deep_field"
        for path in write_plots(arrays, type_names, plot_dir, band, calibrated=calibrated):
            out.append(f"wrote {path}")
    return "\n".join(out)
