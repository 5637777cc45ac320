r"""tfelg-train: train one model (an autoencoder, or an image model) on a tfelg dataset.

  tfelg-train --model=vae --latent_dim=2 --epochs=50 --workdir=runs/vae_d2 \
      --data_dir=runs/tfds
  tfelg-train --model=gan --dataset=hst_galaxies/synthetic --epochs=200 \
      --batch_size=64 --learning_rate=2e-4 --workdir=runs/gan
  tfelg-train --flagfile=runs/vae_d2.flags          # absl's --flagfile
  TF_CONFIG=... tfelg-train --strategy=multi_worker --workdir=gs://bucket/run ...

Only parses flags and calls :func:`tfelg.training.loop.train_and_evaluate`;
running it again with the same flags and workdir resumes the run.
"""

from __future__ import annotations

import json
import sys

from absl import app, flags

from tfelg.cli import define_path, progress, run_binary, training_flags

training_flags.define_data_trainer_runtime_flags()
training_flags.define_model_option_flags()
_MODEL = flags.DEFINE_string(
    "model", "ae", "Model: ae, cae, vae, cvae, aae; on images (hst_galaxies): gan."
)
_LATENT_DIM = flags.DEFINE_integer(
    "latent_dim", None, "Size of the embedding (gan: of the noise); default: the model's (ae: 2)."
)
_WORKDIR = define_path("workdir", None, "Run folder (outputs, backups).")
flags.mark_flag_as_required("workdir")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg.training import loop

    try:
        config = training_flags.experiment_config(flags.FLAGS, _MODEL.value, _LATENT_DIM.value)
        metrics = loop.train_and_evaluate(config, _WORKDIR.value, log=progress)
    except (ValueError, FloatingPointError) as e:  # InputError is a ValueError
        print(f"tfelg-train: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    # The autoencoders' reconstruction errors; a GAN's test losses.
    print(json.dumps(metrics.get("reconstruction_error", metrics["losses"]["test"])))
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
