r"""tfelg-analyze: the latent-space analysis of a training run.

  tfelg-analyze --workdir=runs/vae_d2 --output_dir=runs/vae_d2/analysis

Writes, for the run's model and for the PCA and line-ratio baselines:
model-selection curves (BIC, AIC, gap, silhouette) with the chosen K, the
mixture's clusters matched to WHAN, BPT and (synthetic data) the true
classes, a t-SNE map, a TensorBoard projector, a value-added FITS catalogue,
figures, ``results.md`` and ``summary.json``.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from tfelg.cli import define_path, run_binary

_WORKDIR = define_path("workdir", None, "A finished tfelg-train workdir.")
_OUTPUT_DIR = define_path("output_dir", None, "Where to write (default: WORKDIR/analysis).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing analysis in --output_dir.")
_BASELINES = flags.DEFINE_bool("baselines", True, "Also analyse PCA and raw line ratios.")
_K_MAX = flags.DEFINE_integer("k_max", 10, "Largest number of mixture components.")
_COVARIANCE = flags.DEFINE_enum("covariance_type", "full", ["full", "diag"], "Mixture covariances.")
_GAP_REFS = flags.DEFINE_integer("gap_references", 10, "Reference sets of the gap statistic.")
_GAP_N_INIT = flags.DEFINE_integer(
    "gap_n_init", 10, "k-means++ starts per K and data set of the gap statistic (best kept)."
)
_MIXTURE_N_INIT = flags.DEFINE_integer(
    "mixture_n_init", 4, "EM starts of every mixture (K sweep and final fit; most likely kept)."
)
_N_CLUSTERS = flags.DEFINE_integer("n_clusters", None, "K of the class inference (default: BIC's).")
_N_BOOT = flags.DEFINE_integer("n_bootstrap", 200, "Bootstrap resamples for the errors.")
_TSNE_PERPLEXITY = flags.DEFINE_float("tsne_perplexity", 30.0, "t-SNE perplexity.")
_TSNE_MAX = flags.DEFINE_integer("tsne_max_points", 20_000, "Galaxies in the t-SNE map.")
_TSNE_ITER = flags.DEFINE_integer("tsne_iterations", 500, "t-SNE iterations after the early phase.")
_TSNE_EARLY = flags.DEFINE_integer("tsne_early_iterations", 250, "Early-exaggeration iterations.")
_TSNE_EXAGGERATION = flags.DEFINE_float(
    "tsne_exaggeration", None, "t-SNE attraction after the early phase (default 1: plain t-SNE)."
)
_TSNE_INIT = flags.DEFINE_enum(
    "tsne_initialization", "pca", ["pca", "spectral", "random"], "t-SNE initialisation."
)
_TSNE_METHOD = flags.DEFINE_enum(
    "tsne_method", "auto", ["auto", "fft", "bh"], "t-SNE repulsion (auto: Barnes-Hut < 20k points)."
)
_NUM_THREADS = flags.DEFINE_integer(
    "num_threads",
    None,
    "BLAS/OpenMP threads and t-SNE jobs of the model selection, mixture and map (default: "
    "$TFELG_NUM_THREADS, else every CPU). Use 1 on a machine shared with other work: "
    "waiting threads spin and compete with the work (tfelg.analysis.threads).",
    lower_bound=1,
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of every random choice.")

flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg.analysis import analyze
    from tfelg.errors import InputError

    out_dir = _OUTPUT_DIR.value or os.path.join(_WORKDIR.value, "analysis")
    if os.path.exists(os.path.join(out_dir, "summary.json")) and not _OVERWRITE.value:
        print(
            f"tfelg-analyze: error: {out_dir} already holds an analysis; "
            "pass --overwrite to replace it",
            file=sys.stderr,
        )
        return 2
    try:
        config = analyze.AnalysisConfig(
            k_max=_K_MAX.value,
            covariance_type=_COVARIANCE.value,
            gap_references=_GAP_REFS.value,
            gap_n_init=_GAP_N_INIT.value,
            mixture_n_init=_MIXTURE_N_INIT.value,
            n_clusters=_N_CLUSTERS.value,
            n_bootstrap=_N_BOOT.value,
            tsne_perplexity=_TSNE_PERPLEXITY.value,
            tsne_max_points=_TSNE_MAX.value,
            tsne_n_iter=_TSNE_ITER.value,
            tsne_early_exaggeration_iter=_TSNE_EARLY.value,
            tsne_exaggeration=_TSNE_EXAGGERATION.value,
            tsne_initialization=_TSNE_INIT.value,
            tsne_method=_TSNE_METHOD.value,
            num_threads=_NUM_THREADS.value,
            seed=_SEED.value,
        )
        summary = analyze.analyze_workdir(
            _WORKDIR.value, out_dir, config, baselines=_BASELINES.value, overwrite=_OVERWRITE.value
        )
    except (InputError, ValueError) as e:
        print(f"tfelg-analyze: error: {e}", file=sys.stderr)
        return 2
    print(f"\nresults: {os.path.join(out_dir, 'results.md')}")
    print(f"summary: {os.path.join(out_dir, 'summary.json')}")
    # One folder: a run per representation (<name>/projector) and the training
    # curves (training/); not --logdir_spec, under which the projector shows nothing.
    print(
        f"projector ({', '.join(summary['representations'])}) and training curves: "
        + summary["tensorboard_command"]
    )
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
