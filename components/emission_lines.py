r"""The emission-line domain: its dataset component and what the shared components ask of it.

    dataset_gen -> trainer -> embedding_exporter -+-> model_selector -> clusterer -+
    (this module)  (training.py)                  |   (analysis.py)                |
                                                  +-> tsne ------------------------+
                                                                                   |
                  projector_writer <- reporter <- catalog_writer <-----------------+
                  (outputs.py)

Only `dataset_gen` is specific to emission lines; every later step is a shared
component (tfelg_components.training, .analysis, .outputs) that asks the
dataset's Domain (tfelg_components.domains) for what differs between kinds of
galaxy: the class names, the baselines (`pca`: PCA at the model's latent
dimension on the same preprocessed inputs; `line_ratios`: the classical
features), the projector's thumbnails (rendered spectra or, without spectra,
line-ratio glyphs) and the schemes clusters are compared with (WHAN, BPT and
the synthetic true class; the analysis reads them from the embeddings'
labels, tfelg.analysis.analyze.scheme_views).

One trained model gives three representations (the autoencoder's posterior
means and the two baselines), so every analysis artifact holds one file or
folder per representation, in the order listed by `embeddings.json` of the
Embeddings artifact.

Each component is also a binary (tfelg_components.binary):

    python -m tfelg_components.emission_lines dataset_gen --root=runs/a --num_galaxies=2000
    python -m tfelg_components.training trainer --root=runs/a \
        --input_dataset=runs/a/dataset_gen/dataset/<execution> --model_name=vae --epochs=5
"""

from __future__ import annotations

import os
from typing import Annotated

import numpy as np

from tfelg.data import KNOWN_DATASETS
from tfelg_components import binary, domains
from tfelg_components.base import Check, Dataset, Files, Input, Output, Range, component
from tfelg_components.common import DATASET_JSON, SEED, SPLITS, TFDS_DIR
from tfelg_components.common import write_json as _write_json  # the name dataset_gen's source uses

# File names inside the Dataset artifact (beside common.DATASET_JSON and TFDS_DIR).
DATASET_PLOT = os.path.join("plots", "bpt_whan.png")
DESCRIPTION_FILE = "description.txt"
#: The baselines, in the order the exporter writes them.
BASELINES = ("pca", "line_ratios")
#: What clusters are compared with, in the order a summary lists them.
SCHEMES = ("whan", "bpt", "true_class")

# tfelg.data.make_builder makes no smaller sample.
DATASET_NAME = Check(
    lambda name: name.partition("/")[0] in KNOWN_DATASETS,
    f"NAME or NAME/CONFIG with NAME one of {', '.join(KNOWN_DATASETS)}",
)


@component(version="2")  # 2: emission_lines 2.0.0 (synthetic galaxies drawn in seed blocks)
def dataset_gen(
    dataset: Output[Dataset],
    raw: Input[Files] = None,
    dataset_name: Annotated[str, DATASET_NAME] = "emission_lines/synthetic",
    num_galaxies: Annotated[int, Range(ge=10)] | None = None,
    seed: Annotated[int, SEED] | None = None,
):
    """Builds the TFDS dataset inside the artifact, with class counts and the BPT/WHAN plot.

    `raw` is the manual folder of a real config (mpajhu, sdss_spec), an external
    input, so its contents enter the cache key. `num_galaxies` and `seed` size
    and seed a synthetic config (None: the config's own, 20,000 galaxies).
    """
    from tfelg import data as tfelg_data
    from tfelg import dataset_report

    builder = tfelg_data.make_builder(
        dataset_name, dataset.path(TFDS_DIR), num_galaxies=num_galaxies, seed=seed
    )
    tfelg_data.prepare(builder, manual_dir=raw.uri if raw is not None else None)
    text = dataset_report.describe_dataset(
        builder, plot_dir=os.path.dirname(dataset.path(DATASET_PLOT))
    )
    text = text.replace(dataset.uri + os.sep, "")  # "wrote <path>": relative to the artifact
    with open(dataset.path(DESCRIPTION_FILE), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text.split("\n", 1)[0], flush=True)
    splits = {s: builder.info.splits[s].num_examples for s in builder.info.splits.keys()}
    info = {
        "dataset": dataset_name,
        "num_galaxies": num_galaxies,
        "seed": seed,
        "full_name": builder.info.full_name,
        "splits": splits,
        "features": sorted(builder.info.features.keys()),
        "has_spectrum": "spectrum" in builder.info.features,
        "tfds_dir": TFDS_DIR,
        "plot": DATASET_PLOT,
    }
    _write_json(dataset.path(DATASET_JSON), info)
    dataset.properties.update(
        full_name=builder.info.full_name, splits=splits, has_spectrum=info["has_spectrum"]
    )


# -- the Domain: what the shared components ask of emission-line data ---------------------
def class_names(builder) -> dict[str, list[str]]:
    """WHAN and BPT names (tfelg.schemes) and the dataset's true classes."""
    from tfelg.analysis import embeddings as emb_lib

    return emb_lib.default_class_names(builder.info.features["true_class"].names)


def pca_baseline(splits, model_config: dict, class_names: dict):
    """PCA at the model's latent dimension, on the inputs the model was trained on."""
    from tfelg.analysis import embeddings as emb_lib

    return emb_lib.pca_embeddings(
        splits,
        model_config["model"]["latent_dim"],
        class_names,
        input=model_config["data"]["input"],
        line_features=model_config["data"]["line_features"],
    )


def line_ratio_baseline(splits, model_config: dict, class_names: dict):
    """The classical features: the BPT/WHAN line ratios and equivalent widths."""
    from tfelg.analysis import embeddings as emb_lib

    del model_config  # the same features whatever the model
    return emb_lib.line_ratio_embeddings(splits, class_names)


def pca_encoder(model_config: dict, trained):
    """`pca_baseline` batch by batch, with the model's own preprocessing (the same numbers)."""
    from tfelg.analysis import embeddings as emb_lib

    return emb_lib.PCAEncoder(
        model_config["model"]["latent_dim"],
        input=model_config["data"]["input"],
        line_features=model_config["data"]["line_features"],
        preprocessor=trained.preprocessor,
    )


def line_ratio_encoder(model_config: dict, trained):
    """`line_ratio_baseline` batch by batch."""
    from tfelg.analysis import embeddings as emb_lib

    del model_config, trained
    return emb_lib.LineRatioEncoder()


def thumbnails(builder, splits) -> np.ndarray:
    """Rendered spectra, or (without spectra: the catalogue configs) line-ratio glyphs."""
    from tfelg.outputs import sprites

    if "spectrum" in splits["train"]:  # rows in the order of the embeddings: train, val, test
        return sprites.render_spectra(np.concatenate([splits[s]["spectrum"] for s in SPLITS]))
    emb = line_ratio_baseline(splits, {}, class_names(builder))
    # Imputed ratios as the glyphs' grey "missing" ticks, not as values.
    return sprites.render_feature_glyphs(np.where(emb.imputed, np.nan, emb.latent))


def thumbnail_features(builder) -> list[str] | None:
    """The spectra only, where there are spectra; the line features (all) otherwise."""
    return ["spectrum"] if "spectrum" in builder.info.features else None


def thumbnail_drawer(builder):
    """Rendered spectra, batch by batch (each is scaled to itself); glyphs: None (they
    need the training split's statistics)."""
    if "spectrum" not in builder.info.features:
        return None
    from tfelg.outputs import sprites

    return lambda batch: sprites.render_spectra(batch["spectrum"])


DOMAIN = domains.register_domain(
    domains.Domain(
        name="emission_lines",
        class_names=class_names,
        baselines={"pca": pca_baseline, "line_ratios": line_ratio_baseline},
        batch_baselines={"pca": pca_encoder, "line_ratios": line_ratio_encoder},
        thumbnails=thumbnails,
        schemes=SCHEMES,
        thumbnail_features=thumbnail_features,
        thumbnail_drawer=thumbnail_drawer,
    )
)

COMPONENTS = (dataset_gen,)

if __name__ == "__main__":
    binary.run(*COMPONENTS)
