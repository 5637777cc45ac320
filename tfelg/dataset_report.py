"""What is in a prepared emission-line dataset: class counts and diagrams.

Used by ``tfelg-dataset`` (and the demo) so that the first thing a user sees
after building a dataset is whether its classes look like SDSS's.
"""

from __future__ import annotations

import os

import numpy as np

from tfelg import lines, schemes


def table_from_arrays(arrays: dict[str, np.ndarray], source: str = "") -> lines.LineTable:
    """A LineTable from ``tfelg.data.load_split_arrays`` output."""
    return lines.LineTable(
        object_id=arrays["object_id"],
        redshift=arrays["redshift"],
        flux=arrays["flux"],
        flux_err=arrays["flux_err"],
        ew=arrays["ew"],
        ew_err=arrays["ew_err"],
        source=source,
    )


def contingency_text(rows, row_names, cols, col_names, title: str) -> str:
    """Counts of (row class, column class) pairs as an aligned text table."""
    matrix = np.zeros((len(row_names), len(col_names)), dtype=np.int64)
    np.add.at(matrix, (np.asarray(rows, np.int64), np.asarray(cols, np.int64)), 1)
    keep_cols = matrix.sum(axis=0) > 0
    width = max(8, *(len(n) for n in np.array(col_names)[keep_cols]))
    header = f"{title:<16s}" + "".join(f"{n:>{width + 1}s}" for n in np.array(col_names)[keep_cols])
    out = [header]
    for name, row in zip(row_names, matrix, strict=True):
        if row.sum() == 0:
            continue
        out.append(f"{name:<16s}" + "".join(f"{c:>{width + 1}d}" for c in row[keep_cols]))
    return "\n".join(out)


def describe_dataset(builder, plot_dir: str | None = None) -> str:
    """Counts per split, true-vs-scheme tables, and (optionally) diagrams."""
    from tfelg import data

    # The lines and classes only: the spectra (11 kB a galaxy) are not parsed.
    features = [k for k in builder.info.features.keys() if k not in ("spectrum", "spectrum_ivar")]
    per_split = {
        s: data.load_split_arrays(builder, s, features=features) for s in builder.info.splits.keys()
    }
    true_names = builder.info.features["true_class"].names
    out = [
        f"{builder.info.full_name}: "
        + ", ".join(f"{s} {len(a['object_id'])}" for s, a in per_split.items())
    ]
    everything = {
        k: np.concatenate([a[k] for a in per_split.values()])
        for k in next(iter(per_split.values()))
    }
    for title, key, names in (
        ("WHAN", "whan", schemes.WHAN_NAMES),
        ("BPT", "bpt", schemes.BPT_NAMES),
    ):
        out.append(f"\n{title} classes (all splits):")
        counts = schemes.class_counts(everything[key], names)
        total = max(1, sum(counts.values()))
        for name, count in counts.items():
            out.append(f"  {name:<14s} {count:>8d}  {100.0 * count / total:5.1f}%")
    if np.any(everything["true_class"] != true_names.index("unknown")):
        out.append("")
        out.append(
            contingency_text(
                everything["true_class"],
                true_names,
                everything["whan"],
                schemes.WHAN_NAMES,
                "true \\ WHAN",
            )
        )
        out.append("")
        out.append(
            contingency_text(
                everything["true_class"],
                true_names,
                everything["bpt"],
                schemes.BPT_NAMES,
                "true \\ BPT",
            )
        )
    if plot_dir:
        from tfelg.outputs import diagrams

        os.makedirs(plot_dir, exist_ok=True)
        table = table_from_arrays(everything, source=builder.info.full_name)
        path = os.path.join(plot_dir, "bpt_whan.png")
        diagrams.plot_bpt_whan(
            table,
            everything["bpt"],
            schemes.BPT_NAMES,
            path,
            title=builder.info.full_name,
            whan_classes=everything["whan"],
            whan_class_names=schemes.WHAN_NAMES,
        )
        out.append(f"\nwrote {path}")
    return "\n".join(out)
