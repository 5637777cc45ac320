"""Writes docs/gan_quality.md: FID, KID, precision/recall and physics distances per class.

Rows per class and feature extractor (see :mod:`tfelg.metrics.gan_report`):
a generated library (``--generated``, a ``tfelg-generate`` output folder)
against held-out real galaxies, a second real sample (the floor) and a
Gaussian-blurred class-mean image plus noise (the baseline). Real samples
are rendered with the ``hst_galaxies/synthetic`` renderer from seeds no
model was trained on; only the tables between the ``<!-- tables -->``
markers are rewritten, so the hand-written reading around them is kept.

  nice python scripts/make_gan_quality_table.py --per_class=100 \
      --generated=/path/to/generated --output=docs/gan_quality.md
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import time

from absl import app, flags

from tfelg.metrics import gan_report
from tfelg.outputs import markdown_block
from tfelg.synthetic import hst_galaxies as synthetic

_OUTPUT = flags.DEFINE_string("output", "docs/gan_quality.md", "Markdown file to (re)write.")
_CLASSES = flags.DEFINE_list("classes", list(synthetic.TRUE_TYPE_NAMES), "True types compared.")
_PER_CLASS = flags.DEFINE_integer("per_class", 100, "Galaxies per class in every sample.")
_REFERENCE_SEED = flags.DEFINE_integer("reference_seed", 101, "Seed of the held-out real sample.")
_FLOOR_SEED = flags.DEFINE_integer("floor_seed", 102, "Seed of the second real sample.")
_TRAIN_SEED = flags.DEFINE_integer(
    "train_seed", 103, "Seed of the training-like sample (baseline means, extractor fits)."
)
_GENERATED = flags.DEFINE_string("generated", None, "tfelg-generate output folder (optional).")
_GENERATED_LABEL = flags.DEFINE_string("generated_label", "true_type", "Its class label feature.")
_FEATURES = flags.DEFINE_list("features", ["small_resnet", "pixel_pca"], "Feature extractors.")
_PCA_COMPONENTS = flags.DEFINE_integer("pca_components", 16, "Components of pixel_pca.")
_KID_SUBSETS = flags.DEFINE_integer("kid_subsets", 100, "KID subsets.")
_NUM_WORKERS = flags.DEFINE_integer("num_workers", None, "Processes (default: all CPUs).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the extractors, KID subsets and baseline noise.")
_CACHE_DIR = flags.DEFINE_string(
    "cache_dir", None, "Keep the rendered real samples and every sample's measurements here."
)

START, END = markdown_block.START, markdown_block.END


def _shown_path(path: str) -> str:
    """A path as the committed page shows it: relative to the checkout, or a placeholder.

    The page is documentation; a scratch folder of one machine means nothing to a
    reader (and tests/packaging_test.py refuses checkout paths in docs).
    """
    absolute = os.path.abspath(path)
    if absolute.startswith(os.getcwd() + os.sep):
        return os.path.relpath(absolute)
    return f"<{os.path.basename(absolute.rstrip(os.sep)) or 'dir'}>"


def _shown_argument(argument: str) -> str:
    name, sep, value = argument.partition("=")
    if sep and os.path.isabs(value):
        return f"{name}={_shown_path(value)}"
    return argument


def main(argv):
    del argv
    t0 = time.time()
    classes, per_class, workers = _CLASSES.value, _PER_CLASS.value, _NUM_WORKERS.value
    cache = _CACHE_DIR.value
    reference = gan_report.render_balanced(
        classes,
        per_class,
        _REFERENCE_SEED.value,
        name="held-out real",
        num_workers=workers,
        cache_dir=cache,
    )
    floor = gan_report.render_balanced(
        classes,
        per_class,
        _FLOOR_SEED.value,
        name="second real sample",
        num_workers=workers,
        cache_dir=cache,
    )
    train = gan_report.render_balanced(
        classes,
        per_class,
        _TRAIN_SEED.value,
        name="training-like",
        num_workers=workers,
        cache_dir=cache,
    )
    print(f"rendered 3 x {len(reference.images)} galaxies: {time.time() - t0:.0f} s")
    others = []
    if _GENERATED.value:
        others.append(
            gan_report.load_generated(_GENERATED.value, classes, label=_GENERATED_LABEL.value)
        )
    others += [floor, gan_report.blurred_mean_baseline(train, per_class, seed=_SEED.value)]
    fns = gan_report.feature_functions(
        _FEATURES.value, train.images, seed=_SEED.value, pca_components=_PCA_COMPONENTS.value
    )
    by_extractor, physics_rows = gan_report.run(
        reference,
        others,
        fns,
        classes,
        num_workers=workers,
        kid_subsets=_KID_SUBSETS.value,
        seed=_SEED.value,
        cache_dir=_CACHE_DIR.value,
    )
    load = os.getloadavg()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python scripts/make_gan_quality_table.py " + shlex.join(
        _shown_argument(a) for a in sys.argv[1:]
    )
    block = "\n".join(
        [
            START,
            f"Made by `{command}` on {when} in {time.time() - t0:.0f} s "
            f"(load average {load[0]:.1f}). Reference: {per_class} held-out real galaxies "
            f"per class (seed {_REFERENCE_SEED.value}); floor: seed {_FLOOR_SEED.value}; "
            f"baseline and extractor fits: seed {_TRAIN_SEED.value}. "
            + (
                f"Generated: `{_shown_path(_GENERATED.value)}`."
                if _GENERATED.value
                else "No GAN row yet."
            ),
            "",
            gan_report.markdown(by_extractor, physics_rows),
            END,
        ]
    )
    path = markdown_block.write(_OUTPUT.value, block, "Quality of generated galaxies")
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
