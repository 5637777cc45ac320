r"""tfelg-embed: image features of every galaxy of a dataset, in the analysis' embeddings format.

  tfelg-embed --dataset=hst_galaxies/synthetic --representation=small_resnet \
      --output=runs/embed/small_resnet.npz --analysis_dir=runs/embed/small_resnet
  tfelg-embed --representation=resnet50 \
      --weights=~/keras/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 --output=r50.npz
  tfelg-embed --representation=simclr --workdir=runs/simclr --output=simclr.npz
  tfelg-embed --representation=pixel_pca --output=pixel_pca.npz

Representations: small_resnet / resnet50 (random, seeded, or --weights=FILE;
a file of another architecture is refused naming the layer), simclr and gan
(a tfelg-train run in --workdir), pixel_pca (the classical baseline).
Features are reduced by PCA fitted on the training split (--reduce_dim).
The .npz is the embeddings format of the emission-line analysis
(tfelg.analysis.embeddings.Embeddings); --analysis_dir runs that same
analysis on it (model selection, clusters matched to true type, UVJ and
Gini-M20, t-SNE, projector with RGB thumbnails, catalogue).
"""

from __future__ import annotations

import sys

from absl import app, flags

from tfelg.cli import define_path, run_binary

_DATASET = flags.DEFINE_string("dataset", "hst_galaxies/synthetic", "hst_galaxies/CONFIG.")
_DATA_DIR = define_path("data_dir", None, "TFDS data directory (default: TFDS's).")
_MANUAL_DIR = define_path("manual_dir", None, "Folder of the candels files.")
_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", None, "Synthetic configs: how many.")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", None, "Synthetic configs: their seed.")
_REPRESENTATION = flags.DEFINE_enum(
    "representation",
    "small_resnet",
    ["small_resnet", "resnet50", "simclr", "gan", "pixel_pca"],
    "What turns a stamp into features.",
)
_WEIGHTS = flags.DEFINE_string(
    "weights", "random", "small_resnet/resnet50: 'random' or a weights file (.weights.h5 or .h5)."
)
_WORKDIR = define_path("workdir", None, "simclr/gan: the tfelg-train run.")
_INPUT_SIZE = flags.DEFINE_integer("input_size", None, "ResNet input side (default: the stamp's).")
_REDUCE_DIM = flags.DEFINE_integer("reduce_dim", 16, "PCA dimensions fitted on train (0: all).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Stamps per forward pass.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of random networks, PCA and the analysis.")
_ALL_GINI = flags.DEFINE_bool(
    "untrusted_gini_m20", False, "Keep Gini-M20 classes of untrusted measurements."
)
_OUTPUT = define_path("output", None, "The embeddings file (.npz).")
_ANALYSIS_DIR = define_path("analysis_dir", None, "Also analyse the embeddings into this folder.")
_K_MAX = flags.DEFINE_integer("k_max", 10, "Analysis: largest number of mixture components.")
_N_BOOT = flags.DEFINE_integer("n_bootstrap", 200, "Analysis: bootstrap resamples.")
_PERPLEXITY = flags.DEFINE_float("tsne_perplexity", 30.0, "Analysis: t-SNE perplexity.")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing output.")
flags.mark_flag_as_required("output")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg.analysis import analyze, image_embeddings

    try:
        config = image_embeddings.EmbedConfig(
            representation=_REPRESENTATION.value,
            weights=_WEIGHTS.value,
            workdir=_WORKDIR.value,
            seed=_SEED.value,
            input_size=_INPUT_SIZE.value,
            reduce_dim=_REDUCE_DIM.value,
            batch_size=_BATCH_SIZE.value,
            trusted_gini_m20_only=not _ALL_GINI.value,
        )
        analysis_config = analyze.AnalysisConfig(
            k_max=_K_MAX.value,
            n_bootstrap=_N_BOOT.value,
            tsne_perplexity=_PERPLEXITY.value,
            seed=_SEED.value,
        )
        result = image_embeddings.embed_dataset(
            _DATASET.value,
            _OUTPUT.value,
            config,
            data_dir=_DATA_DIR.value,
            manual_dir=_MANUAL_DIR.value,
            num_galaxies=_NUM_GALAXIES.value,
            dataset_seed=_DATASET_SEED.value,
            analysis_dir=_ANALYSIS_DIR.value,
            analysis_config=analysis_config,
            overwrite=_OVERWRITE.value,
        )
    except ValueError as e:  # InputError is a ValueError
        print(f"tfelg-embed: error: {e}", file=sys.stderr)
        return 2
    print(
        f"embeddings: {result['embeddings']} ({result['representation']}, d = {result['latent_dim']})"
    )
    if result["analysis"] is not None:
        print(f"analysis: {_ANALYSIS_DIR.value}; {result['analysis']['tensorboard_command']}")
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
