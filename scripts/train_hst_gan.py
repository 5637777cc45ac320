r"""Train the conditional GAN on hst_galaxies/synthetic's images without building the TFDS dataset.

  python scripts/train_hst_gan.py --workdir=runs/gan_synthetic --epochs=30 \
      --base_filters=16 --batch_size=32 [--per_class=200 --library=runs/gan_library]

``tfelg-train --model=gan --dataset=hst_galaxies/synthetic`` is the normal
way; it reads the TFDS dataset, whose build also measures every galaxy's
morphology with statmorph (seconds a galaxy on a loaded two-core machine,
about an hour for the 2,000 galaxies), which the GAN does not use. This
script renders the same galaxies (:func:`tfelg.synthetic.hst_galaxies.generate`,
the config's 2,000 galaxies and seed 0), splits them by the builder's own
md5 rule (:func:`split_of`), labels them with ``true_type`` under the
dataset's class names, and trains with the same :class:`tfelg.training.loop.Trainer`
and config (``dataset = hst_galaxies/synthetic``): the run is resumable and
its outputs are those of ``tfelg-train``. With ``--library`` it then writes
``tfelg-generate``'s balanced library.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "Run folder.", required=True)
_NUM = flags.DEFINE_integer("num_galaxies", 2000, "hst_galaxies/synthetic's size (2,000).")
_DATA_SEED = flags.DEFINE_integer("dataset_seed", 0, "hst_galaxies/synthetic's seed (0).")
_EPOCHS = flags.DEFINE_integer("epochs", 30, "Epochs.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Global batch size.")
_LR = flags.DEFINE_float("learning_rate", 2e-4, "Adam step size of both networks.")
_FILTERS = flags.DEFINE_integer("base_filters", 16, "GAN width at 64x64.")
_LATENT = flags.DEFINE_integer("latent_dim", 64, "Noise size.")
_SEED = flags.DEFINE_integer("seed", 0, "Trainer seed.")
_PER_CLASS = flags.DEFINE_integer("per_class", 200, "Library: images per class.")
_LIBRARY = flags.DEFINE_string("library", None, "Write tfelg-generate's library here.")
_FIGURE = flags.DEFINE_string(
    "figure", None, "PNG: real test galaxies beside generated, per class."
)
_CACHE = flags.DEFINE_string(
    "cache", None, "NPZ of the rendered splits: read if present, else written (renders once)."
)
_PER_ROW = 5


def write_figure(workdir: str, test: dict, path: str) -> None:
    """One row per class: six real test-split galaxies, then six EMA-generator samples.

    Both shown through the run's own stretch (F160W/F850LP/F435W as red/green/
    blue, sky black: :func:`tfelg.training.images.display_rgb`); the
    generated ones from the fixed noise of the TensorBoard grid.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tfelg.training import loop
    from tfelg.training.images import display_rgb

    trained = loop.load_trained(workdir)
    prep, model = trained.preprocessor, trained.model
    fake = model.sample_grid(_PER_ROW)
    fig, axes = plt.subplots(
        len(prep.classes), 2 * _PER_ROW, figsize=(2 * _PER_ROW * 0.9, len(prep.classes) * 0.95)
    )
    for k, name in enumerate(prep.classes):
        rows = np.flatnonzero(test["true_type"] == prep.label_names.index(name))[:_PER_ROW]
        real = prep.scale_images(test["image"][rows])
        for j in range(2 * _PER_ROW):
            ax = axes[k, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < _PER_ROW and j < len(real):
                ax.imshow(display_rgb(real[j]))
            elif j >= _PER_ROW:
                ax.imshow(display_rgb(fake[k, j - _PER_ROW]))
            else:
                ax.axis("off")
        axes[k, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    axes[0, _PER_ROW // 2].set_title("real (test split)", fontsize=9)
    axes[0, _PER_ROW + _PER_ROW // 2].set_title("generated (EMA generator)", fontsize=9)
    fig.subplots_adjust(left=0.1, right=0.99, top=0.93, bottom=0.01, wspace=0.05, hspace=0.05)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def rendered_splits(num_galaxies: int, seed: int):
    """hst_galaxies/synthetic's images and true types, split as its builder splits them."""
    from tfelg.synthetic import hst_galaxies as synthetic
    from tfelg_datasets.emission_lines.emission_lines_dataset_builder import split_of

    sample = synthetic.generate(num_galaxies, seed)
    split = np.array([split_of(i) for i in sample.object_id])
    return {
        name: {
            "image": sample.image[split == name].astype(np.float32),
            "true_type": sample.true_type[split == name].astype(np.int64),
            "object_id": sample.object_id[split == name],
        }
        for name in ("train", "validation", "test")
    }


def main(argv):
    del argv
    from tfelg.training import generate, loop
    from tfelg.training.config import (
        DataConfig,
        ExperimentConfig,
        ModelConfig,
        RuntimeConfig,
        TrainerConfig,
    )
    from tfelg_datasets.hst_galaxies.hst_galaxies_dataset_builder import TRUE_TYPE_NAMES

    start = time.monotonic()
    if _CACHE.value and os.path.exists(_CACHE.value):
        with np.load(_CACHE.value) as f:
            splits = {
                name: {key: f[f"{name}/{key}"] for key in ("image", "true_type", "object_id")}
                for name in ("train", "validation", "test")
            }
    else:
        splits = rendered_splits(_NUM.value, _DATA_SEED.value)
        if _CACHE.value:
            np.savez(
                _CACHE.value,
                **{f"{n}/{k}": v for n, arrays in splits.items() for k, v in arrays.items()},
            )
    print(
        f"rendered {_NUM.value} galaxies in {time.monotonic() - start:.0f} s: "
        + ", ".join(f"{k} {len(v['image'])}" for k, v in splits.items()),
        flush=True,
    )
    config = ExperimentConfig(
        data=DataConfig(
            dataset="hst_galaxies/synthetic",
            input="image",
            num_galaxies=None if _NUM.value == 2000 else _NUM.value,
            dataset_seed=None if _DATA_SEED.value == 0 else _DATA_SEED.value,
        ),
        model=ModelConfig(
            name="gan", latent_dim=_LATENT.value, options={"base_filters": _FILTERS.value}
        ),
        trainer=TrainerConfig(
            epochs=_EPOCHS.value,
            batch_size=_BATCH.value,
            learning_rate=_LR.value,
            seed=_SEED.value,
        ),
        runtime=RuntimeConfig(progress_bar=False),
    )
    loop.train_and_evaluate(
        config,
        _WORKDIR.value,
        splits=splits,
        log=lambda line: print(f"{time.strftime('%H:%M:%S')} {line}", flush=True),
        class_names={"true_type": list(TRUE_TYPE_NAMES)},
    )
    if _FIGURE.value:
        write_figure(_WORKDIR.value, splits["test"], _FIGURE.value)
    if _LIBRARY.value:
        record = generate.write_library(_WORKDIR.value, _LIBRARY.value, _PER_CLASS.value)
        print(record["counts"], flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    app.run(main)
