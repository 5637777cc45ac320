r"""tfelg-latent-sweep: every model at several latent dimensions, and PCA.

  tfelg-latent-sweep --data_dir=runs/tfds --workdir=runs/latent_sweep \
      --models=ae,cae,vae,cvae,aae --latent_dims=1,2,3,4,6 --epochs=10 [--seeds=3]

``--models`` also takes ``vae_mog`` / ``cvae_mog`` (the VAE / CVAE with the
learnable mixture prior).

Writes ``latent_sweep.csv``, ``latent_sweep.md`` and ``latent_sweep.png`` in
the workdir; rerunning skips the runs that already finished. Only parses
flags and calls :func:`tfelg.training.latent_sweep.run_latent_sweep`.
"""

from __future__ import annotations

import shlex
import sys

from absl import app, flags

from tfelg.cli import define_path, progress, run_binary, training_flags

training_flags.define_data_trainer_runtime_flags()
training_flags.define_model_option_flags()
_MODELS = flags.DEFINE_list("models", ["ae", "cae", "vae", "cvae", "aae"], "Models to train.")
_LATENT_DIMS = flags.DEFINE_list("latent_dims", ["1", "2", "3", "4", "6"], "Latent dimensions.")
_PCA = flags.DEFINE_bool("pca", True, "Include PCA at each latent dimension.")
_SEEDS = flags.DEFINE_integer(
    "seeds",
    1,
    "Train every model this many times, with trainer seeds seed + i * 1000 "
    "(a training-seed ensemble; the table shows mean ± std over seeds).",
    lower_bound=1,
)
_WORKDIR = define_path("workdir", None, "Sweep folder (runs, table, plot).")
flags.mark_flag_as_required("workdir")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg.training import latent_sweep

    try:
        try:
            dims = [int(d) for d in _LATENT_DIMS.value]
        except ValueError:
            raise ValueError(f"--latent_dims must be integers, got {_LATENT_DIMS.value}") from None
        if not dims:
            raise ValueError("--latent_dims is empty")
        # The sweep replaces the model; the base only carries data, trainer and options.
        base = training_flags.experiment_config(flags.FLAGS, "ae", min(dims))
        command = "tfelg-latent-sweep " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        rows = latent_sweep.run_latent_sweep(
            base,
            _WORKDIR.value,
            models=_MODELS.value,
            latent_dims=dims,
            include_pca=_PCA.value,
            seeds=_SEEDS.value,
            command=command,
            log=progress,
        )
    except (ValueError, FloatingPointError) as e:  # InputError is a ValueError
        print(f"tfelg-latent-sweep: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    print(latent_sweep.markdown_table(rows, base, command=command))
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
