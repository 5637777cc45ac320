r"""tfelg-generate: a balanced library of galaxies from a trained GAN, as a TFDS dataset.

  tfelg-train --model=gan --dataset=hst_galaxies/synthetic --workdir=runs/gan ...
  tfelg-generate --workdir=runs/gan --per_class=500 --output=runs/library
  tfelg-generate --workdir=runs/gan --per_class=500 --output=runs/mixed --mix_with_real
  tfelg-generate --workdir=runs/gan --per_class=16 --output=runs/pictures --noiseless

Then, in Python: ``tfds.load("hst_galaxies_generated", data_dir="runs/library")``
(features ``image`` in nJy, the run's label column, ``object_id``,
``generated``). ``--mix_with_real`` adds the real training split of the
run's dataset (read from its ``config.json``; ``--data_dir`` overrides where
TFDS finds it) with ``generated = False``. ``--noiseless`` leaves out the
sky noise that the GAN's noise model adds to the generator's galaxies: the
images to look at, not to train on (see :mod:`tfelg.training.generate`).
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags

from tfelg.cli import define_path, run_binary

_WORKDIR = define_path("workdir", None, "A finished tfelg-train --model=gan run.")
_OUTPUT = define_path("output", None, "TFDS data directory to write the library into.")
_PER_CLASS = flags.DEFINE_integer("per_class", None, "Generated images per class.")
_SEED = flags.DEFINE_integer("seed", 0, "Noise seed (the same seed gives the same library).")
_MIX = flags.DEFINE_bool("mix_with_real", False, "Add the run's real training split.")
_DATA_DIR = define_path("data_dir", None, "--mix_with_real: TFDS data directory of the run.")
_NOISELESS = flags.DEFINE_bool(
    "noiseless",
    False,
    "Write the generator's galaxies without the sky noise the GAN's noise model adds "
    "(clean pictures to look at). Default: observed images with sky noise, like the real "
    "stamps, which is what to train on or mix with real data.",
)
flags.mark_flags_as_required(["workdir", "output", "per_class"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg.training import generate

    try:
        real = _real_train_split() if _MIX.value else None
        record = generate.write_library(
            _WORKDIR.value,
            _OUTPUT.value,
            _PER_CLASS.value,
            seed=_SEED.value,
            real=real,
            noiseless=_NOISELESS.value,
        )
    except ValueError as e:  # InputError is a ValueError
        print(f"tfelg-generate: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(record["counts"]))
    return 0


def _real_train_split():
    """The run's training split, from the dataset its config.json names."""
    import dataclasses

    from tfelg import data as tfelg_data
    from tfelg.errors import InputError
    from tfelg.training import loop
    from tfelg.training.config import ExperimentConfig

    path = os.path.join(_WORKDIR.value, loop.CONFIG_FILE)
    if not os.path.exists(path):
        raise InputError("no run config here (did training finish?)", path=path)
    data_config = ExperimentConfig.from_json(open(path, encoding="utf-8").read()).data
    if _DATA_DIR.value:
        data_config = dataclasses.replace(data_config, data_dir=_DATA_DIR.value)
    builder = loop.open_dataset(data_config)
    tfelg_data.prepare(builder, manual_dir=data_config.manual_dir)
    return tfelg_data.load_split_arrays(builder, "train")


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
