"""Writes docs/hst_synthetic_classes.md: true type x UVJ class, true type x Gini-M20 class.

Reads a prepared ``hst_galaxies`` synthetic dataset (build it first with
``tfelg-dataset --dataset=hst_galaxies/synthetic --plot_dir=docs/hst``; the
default config is 2,000 galaxies, seed 0) and rewrites only the tables
between the ``<!-- tables -->`` markers of the output, so the hand-written
reading around them is kept. Written atomically.

  python scripts/make_hst_class_table.py --data_dir=~/tensorflow_datasets \
      --output=docs/hst_synthetic_classes.md
"""

from __future__ import annotations

from absl import app, flags

from tfelg import data, hst_report
from tfelg.outputs import markdown_block

_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", None, "Size of the synthetic config.")
_SEED = flags.DEFINE_integer("seed", None, "Seed of the synthetic config.")
_OUTPUT = flags.DEFINE_string("output", "docs/hst_synthetic_classes.md", "Markdown file.")

START, END = markdown_block.START, markdown_block.END


def main(argv):
    del argv
    builder = data.make_builder(
        "hst_galaxies/synthetic",
        _DATA_DIR.value,
        num_galaxies=_NUM_GALAXIES.value,
        seed=_SEED.value,
    )
    arrays = hst_report.load_all(builder)
    names = builder.info.features["true_type"].names
    tables = hst_report.class_tables(arrays, names)
    trusted = int(arrays["trust_nonparametric"].sum())
    block = "\n".join(
        [
            START,
            f"Data set `{builder.info.full_name}`: {len(arrays['object_id'])} galaxies, all "
            f"splits; morphology in {builder.info.metadata['morphology_band']} "
            f"({trusted} trusted).",
            "",
            "**True type x UVJ class** (Williams et al. 2009, each galaxy's own redshift bin):",
            "",
            tables["uvj"],
            "",
            "**True type x Gini-M20 class** (Lotz et al. 2008), every measured galaxy:",
            "",
            tables["gini_m20"],
            "",
            "**True type x Gini-M20 class**, trusted measurements only (`trust_nonparametric`):",
            "",
            tables["gini_m20_trusted"],
            END,
        ]
    )
    markdown_block.write(
        _OUTPUT.value, block, "Synthetic HST galaxies: true types against UVJ and Gini-M20"
    )
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    app.run(main)
