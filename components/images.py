r"""The HST image domain: its components and what the shared components ask of it.

    hst_dataset_gen -> image_trainer (GAN) -> library_generator -+
          |                                                      | (train_on=real_and_generated)
          +--------------> image_trainer (SimCLR) <--------------+
                                 |
          image_embedding_exporter (simclr, small ResNet, GAN discriminator, pixel PCA,
                                 |  morphology + colours)
                                 v
          model_selector -> clusterer -> tsne -> catalog_writer -> reporter -> projector_writer
          (the shared components: tfelg_components.analysis, .outputs)

Why the images need their own trainer and exporter: the shared trainer
(tfelg_components.training) trains the emission-line autoencoders and
records a reconstruction error that image models do not have, and its
exporter embeds catalogue rows with an autoencoder's encoder. Images are
embedded through several extractors at once (tfelg.analysis.image_embeddings),
most of which are not trained models at all. Everything after the
embeddings is shared: the Embeddings artifact has the same format, so model
selection, the mixture, matching to the schemes, t-SNE, the catalogue, the
report and the projector run unchanged, asking the Domain registered here
for the class names, the RGB thumbnails of the projector's sprite and the
schemes (true type, UVJ, Gini-M20).

The baselines of the domain are the classical representations: `pixel_pca`
(PCA of the asinh-scaled pixels) and `morphology` (the measured
non-parametric morphology, Gini, M20, concentration, asymmetry, smoothness,
log half-light radius, with the catalogue's rest-frame U-V and V-J colours;
standardised on the training split). The morphology vector holds the very
quantities that define the UVJ and Gini-M20 classes, so its agreement with
them is a ceiling for those schemes, not a fair competitor, just as the
line ratios are for WHAN and BPT.

Each component is also a binary (tfelg_components.binary):

    python -m tfelg_components.images hst_dataset_gen --root=runs/a --num_galaxies=400
"""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import numpy as np

from tfelg_components import binary, domains
from tfelg_components.base import (
    Check,
    Clusters,
    Context,
    Dataset,
    Each,
    Embeddings,
    Files,
    Input,
    Model,
    OneOf,
    Output,
    Range,
    Report,
    TSNEMap,
    Unique,
    component,
)
from tfelg_components.common import (
    DATASET_JSON,
    EMBEDDINGS_JSON,
    LOSS_PLOT,
    SEED,
    SPLITS,
    TFDS_DIR,
    load_dataset,
    load_embeddings,
    load_tsne,
    read_json,
    representations,
    say,
    write_json,
)

DATASET_PLOT = os.path.join("plots", "rgb_by_type.png")
DESCRIPTION_FILE = "description.txt"
LIBRARY_JSON = "library.json"
#: The schemes clusters of images are compared with (tfelg.analysis.image_embeddings.IMAGE_SCHEMES).
SCHEMES = ("true_type", "uvj", "gini_m20")
#: The domain's classical baselines, in the order the exporter writes them.
BASELINES = ("pixel_pca", "morphology")
#: Representations the exporter can write: the feature model's, the random small ResNet, the
#: GAN discriminator's penultimate features and the baselines.
REPRESENTATIONS = ("simclr", "small_resnet", "gan", *BASELINES)
#: Image models the trainer trains (tfelg.models.model_names("image"); checked in the tests).
IMAGE_MODELS = ("gan", "simclr")
#: How the feature model is trained: on the real training split, or with the GAN library added.
TRAIN_ON = ("real", "real_and_generated")
#: The measured morphology and colours of the `morphology` baseline (columns of hst_galaxies).
MORPHOLOGY_COLUMNS = (
    "gini",
    "m20",
    "concentration",
    "asymmetry",
    "smoothness",
    "rhalf_circ",
    "u_minus_v",
    "v_minus_j",
)
#: hst_galaxies configs without labels: the Hubble Deep Field's stamps (an 8-bit display stretch of
#: other filters). Nothing to condition a GAN on, no colours, and morphology measured on a JPEG is
#: no reference, so the pipeline makes clusters and maps only (issue 14 item 4).
UNLABELLED_CONFIGS = ("hubble_deep_field",)
#: What can be computed from such stamps: the trained features, random CNN features, pixel PCA.
UNLABELLED_REPRESENTATIONS = ("simclr", "small_resnet", "pixel_pca")


def is_unlabelled(dataset_name: str) -> bool:
    """Whether `dataset_name` (``hst_galaxies/CONFIG``) is an unlabelled display-image config."""
    return dataset_name.partition("/")[2] in UNLABELLED_CONFIGS


# What the trainer copies from its work folder (not backup/: resumption state).
RUN_FILES = ("config.json", "model.keras", "preprocessing.json", "metrics.json", "history.json")

HST_DATASET = Check(
    lambda name: name.partition("/")[0] == "hst_galaxies",
    "hst_galaxies or hst_galaxies/CONFIG",
)


# -- data ---------------------------------------------------------------------------------------
@component(version="1")
def hst_dataset_gen(
    dataset: Output[Dataset],
    raw: Input[Files] = None,
    dataset_name: Annotated[str, HST_DATASET] = "hst_galaxies/synthetic",
    num_galaxies: Annotated[int, Range(ge=10)] | None = None,
    seed: Annotated[int, SEED] | None = None,
):
    """Builds the hst_galaxies TFDS dataset inside the artifact, with class tables and plots.

    `raw` is the manual folder of the candels config (an external input, so
    its contents enter the cache key). `num_galaxies` and `seed` size and seed
    the synthetic config (None: its own, 2,000 galaxies).
    """
    from tfelg import data as tfelg_data
    from tfelg import hst_report

    builder = tfelg_data.make_builder(
        dataset_name, dataset.path(TFDS_DIR), num_galaxies=num_galaxies, seed=seed
    )
    tfelg_data.prepare(builder, manual_dir=raw.uri if raw is not None else None)
    text = hst_report.describe_hst_dataset(
        builder, plot_dir=os.path.dirname(dataset.path(DATASET_PLOT))
    )
    text = text.replace(dataset.uri + os.sep, "")
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
        "has_spectrum": False,
        "tfds_dir": TFDS_DIR,
        "plot": DATASET_PLOT,
    }
    write_json(dataset.path(DATASET_JSON), info)
    dataset.properties.update(full_name=builder.info.full_name, splits=splits)


# -- training -----------------------------------------------------------------------------------
def _library_images(library: Dataset) -> np.ndarray:
    """The generated images (flux) of a library_generator artifact."""
    import tensorflow_datasets as tfds

    from tfelg import data as tfelg_data
    from tfelg.training import generate

    folder = library.path(TFDS_DIR, generate.DATASET_NAME, generate.VERSION)
    arrays = tfelg_data.load_split_arrays(tfds.builder_from_directory(folder), "train")
    return arrays["image"][np.asarray(arrays["generated"], bool)]


def _plot_losses(history: list[dict], path: str, title: str) -> None:
    """Every loss of an image model per epoch (train solid, validation dashed), one panel each.

    The shared reporter copies a loss plot from every model; the loop draws
    one only for reconstruction losses, so image runs get this one.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for h in history for k in h.get("train", {})})
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(3.2 * max(1, len(keys)), 3.0))
    axes = np.atleast_1d(axes)
    epochs = [h["epoch"] for h in history]
    for ax, key in zip(axes, keys, strict=False):
        for split, style in (("train", "-"), ("validation", "--")):
            values = [h.get(split, {}).get(key, np.nan) for h in history]
            ax.plot(epochs, values, style, marker="o", ms=3, label=split)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


@component(version="1")
def image_trainer(
    dataset: Input[Dataset],
    model: Output[Model],
    context: Context,
    library: Input[Dataset] = None,
    model_name: Annotated[str, OneOf(*IMAGE_MODELS)] = "simclr",
    latent_dim: Annotated[int, Range(ge=1)] = 64,
    model_options: dict | None = None,
    epochs: Annotated[int, Range(ge=1)] = 3,
    batch_size: Annotated[int, Range(ge=2)] = 64,
    learning_rate: Annotated[float, Range(gt=0, le=1.0)] = 1e-3,
    seed: Annotated[int, SEED] = 0,
):
    """Trains one image model (GAN or SimCLR) under tfelg's loop and keeps the finished run.

    With `library` (a library_generator artifact) the generated galaxies join
    the real training split (validation and test stay real): the feature
    model then sees every class equally often, which is the reference work's
    idea, tested by training once with and once without it. Training happens
    in the execution's work folder, which survives a kill (the loop resumes
    from its backups); the finished run, a loss plot of every loss and the
    TensorBoard curves are copied into the artifact.
    """
    from tfelg.training import loop
    from tfelg.training.config import ExperimentConfig, ModelConfig, TrainerConfig
    from tfelg_components.common import data_config

    config = ExperimentConfig(
        data=data_config(dataset, "image"),
        model=ModelConfig(
            name=model_name, latent_dim=latent_dim, options=dict(model_options or {})
        ),
        trainer=TrainerConfig(
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
        ),
    )
    config.validate()
    builder, splits = load_dataset(dataset, "image")
    names = class_names(builder)  # the GAN's classes by name, not by code
    if library is not None:
        if model_name == "gan":
            raise ValueError("the GAN trains on real galaxies only; give no library")
        generated = _library_images(library)
        # Only the image travels: SimCLR needs no labels, and the library has no others.
        splits = {
            s: {"image": splits[s]["image"], "object_id": splits[s]["object_id"]} for s in SPLITS
        }
        ids = np.array([f"generated_{i}" for i in range(len(generated))])
        splits["train"] = {
            "image": np.concatenate([splits["train"]["image"], generated]),
            "object_id": np.concatenate([splits["train"]["object_id"], ids]),
        }
        say(context.node)(f"{len(generated)} generated galaxies added to the training split")
    metrics = loop.train_and_evaluate(
        config, context.work_dir, splits=splits, log=say(context.node), class_names=names
    )
    for name in RUN_FILES:
        shutil.copy2(os.path.join(context.work_dir, name), model.path(name))
    shutil.copytree(os.path.join(context.work_dir, "tensorboard"), model.path("tensorboard"))
    history = read_json(os.path.join(context.work_dir, "history.json"))
    _plot_losses(history, model.path(LOSS_PLOT), f"{model_name} on {config.data.dataset}")
    model.properties.update(
        model=model_name,
        latent_dim=latent_dim,
        input="image",
        best_epoch=metrics["best_epoch"],
        trained_on="real" if library is None else "real_and_generated",
    )


@component(version="1")
def library_generator(
    gan: Input[Model],
    library: Output[Dataset],
    per_class: Annotated[int, Range(ge=1)] = 100,
    seed: Annotated[int, SEED] = 0,
):
    """A balanced library: `per_class` galaxies of every class from the GAN's EMA generator.

    Written by tfelg.training.generate (tfelg-generate) as a TFDS dataset in
    the artifact's tfds/ folder, in flux units like the real stamps.
    """
    from tfelg.training import generate

    record = generate.write_library(gan.uri, library.path(TFDS_DIR), per_class, seed=seed)
    record["workdir"] = "the gan input artifact"  # the absolute path would change the bytes
    write_json(library.path(LIBRARY_JSON), record)
    library.properties.update(per_class=per_class, classes=record["classes"])
    print(f"  {per_class} generated galaxies of each of {', '.join(record['classes'])}", flush=True)


# -- embeddings ---------------------------------------------------------------------------------
def _embeddings(splits, class_names, latent_by_split, name: str, info: dict):
    """Embeddings of every split from {split: (N, d)} (labels as image_embeddings makes them)."""
    from tfelg.analysis.embeddings import Embeddings
    from tfelg.analysis.image_embeddings import IMAGE_SCHEMES, scheme_labels

    labels = {
        k: np.concatenate([scheme_labels(splits[s], class_names)[k] for s in SPLITS])
        for k in IMAGE_SCHEMES
    }
    return Embeddings(
        object_id=np.concatenate([np.asarray(splits[s]["object_id"]).astype(str) for s in SPLITS]),
        split=np.concatenate([np.full(len(splits[s]["image"]), s) for s in SPLITS]),
        latent=np.concatenate([latent_by_split[s] for s in SPLITS]),
        redshift=np.concatenate([np.asarray(splits[s]["redshift"], np.float32) for s in SPLITS]),
        labels=labels,
        class_names={k: list(class_names[k]) for k in IMAGE_SCHEMES},
        representation=name,
        info=info,
    )


def morphology_baseline(splits, model_config: dict, class_names: dict):
    """The measured morphology and rest-frame colours, standardised on the training split.

    The half-light radius enters as its logarithm (sizes are log-normal).
    Unmeasured values (statmorph failures) are replaced by the training
    median, so every galaxy has a position; the count is in `info`.
    """
    del model_config  # the same features whatever the model
    columns = {
        s: np.stack([np.asarray(splits[s][c], np.float64) for c in MORPHOLOGY_COLUMNS], 1)
        for s in SPLITS
    }
    for s in SPLITS:
        rhalf = columns[s][:, MORPHOLOGY_COLUMNS.index("rhalf_circ")]
        columns[s][:, MORPHOLOGY_COLUMNS.index("rhalf_circ")] = np.log10(np.clip(rhalf, 1e-3, None))
    train = columns["train"]
    median = np.nanmedian(train, axis=0)
    filled = {s: np.where(np.isfinite(c), c, median) for s, c in columns.items()}
    mean, std = filled["train"].mean(0), filled["train"].std(0)
    std = np.where(std > 0, std, 1.0)
    latent = {s: ((c - mean) / std).astype(np.float32) for s, c in filled.items()}
    info = {
        "features": [*MORPHOLOGY_COLUMNS[:5], "log10_rhalf_circ", *MORPHOLOGY_COLUMNS[6:]],
        "filled_with_train_median": int(
            sum((~np.isfinite(c)).any(1).sum() for c in columns.values())
        ),
        "standardised_on": "train",
    }
    return _embeddings(splits, class_names, latent, "morphology", info)


def pixel_pca_baseline(splits, model_config: dict, class_names: dict, reduce_dim: int = 16, seed=0):
    """PCA of the asinh-scaled pixels (tfelg.analysis.image_embeddings), `reduce_dim` components."""
    from tfelg.analysis import image_embeddings as ie

    del model_config
    config = ie.EmbedConfig(representation="pixel_pca", reduce_dim=reduce_dim, seed=seed)
    return ie.image_embeddings(splits, class_names, config)


def class_names(builder) -> dict[str, list[str]]:
    """True type, UVJ and Gini-M20 names of a built hst_galaxies dataset."""
    from tfelg.analysis.image_embeddings import image_class_names

    return image_class_names(builder)


def thumbnails(builder, splits) -> np.ndarray:
    """Three-band Lupton RGB stamps (uint8) for the projector's sprite, train, validation, test.

    The Hubble Deep Field config holds display-colour images, drawn as given.
    """
    from tfelg.outputs import sprites

    images = np.concatenate([splits[s]["image"] for s in SPLITS])
    return sprites.galaxy_thumbnails(images, calibrated=_calibrated(builder))


def _calibrated(builder) -> bool:
    """Stamps in flux (False: the Hubble Deep Field's display image, drawn as given)."""
    return getattr(builder.builder_config, "source", "") != "hubble_deep_field"


def _unlabelled(emb):
    """`emb` without scheme labels: nothing is matched to classes the stamps do not have."""
    import dataclasses

    info = {**emb.info, "labels": "none (unlabelled display-image stamps)"}
    return dataclasses.replace(emb, labels={}, class_names={}, info=info)


DOMAIN = domains.register_domain(
    domains.Domain(
        name="hst_galaxies",
        class_names=class_names,
        baselines={"pixel_pca": pixel_pca_baseline, "morphology": morphology_baseline},
        thumbnails=thumbnails,
        schemes=SCHEMES,
    )
)


@component(version="1")  # tfelg.analysis.image_embeddings does the extraction
def image_embedding_exporter(
    dataset: Input[Dataset],
    model: Input[Model],
    embeddings: Output[Embeddings],
    gan: Input[Model] = None,
    representations: Annotated[list[str], Each(OneOf(*REPRESENTATIONS)), Unique()] | None = None,
    reduce_dim: Annotated[int, Range(ge=1)] = 16,
    batch_size: Annotated[int, Range(ge=1)] = 128,
    seed: Annotated[int, SEED] = 0,
):
    """Every galaxy through each representation, one `<name>.npz` each, the feature model's first.

    `model` is the feature model's run (SimCLR); `gan` the GAN's, for its
    discriminator's penultimate features (the GAN's `encode`; skipped, and
    said so in embeddings.json, without a GAN). CNN features are reduced by
    PCA fitted on the training split to `reduce_dim` dimensions (a
    full-covariance mixture cannot be fitted in 256 dimensions from a few
    hundred galaxies); pixel PCA keeps `reduce_dim` components. None: every
    representation (on the Hubble Deep Field's display stamps: simclr,
    small_resnet and pixel_pca, and the embeddings carry no labels, so the
    clusters are compared with nothing).
    """
    from tfelg.analysis import image_embeddings as ie
    from tfelg.errors import InputError

    builder, splits = load_dataset(dataset, "image")
    labelled = _calibrated(builder)
    if representations is None:
        chosen = list(REPRESENTATIONS if labelled else UNLABELLED_REPRESENTATIONS)
    else:
        chosen = list(representations)
    if not labelled and set(chosen) - set(UNLABELLED_REPRESENTATIONS):
        raise InputError(
            f"representations {sorted(set(chosen) - set(UNLABELLED_REPRESENTATIONS))} need "
            f"labels, colours or calibrated flux, which {builder.info.full_name} (display-"
            f"stretched stamps) does not have; choose among {', '.join(UNLABELLED_REPRESENTATIONS)}"
        )
    if "simclr" in chosen:  # the trained feature model's representation first
        chosen.remove("simclr")
        chosen.insert(0, "simclr")
    names = class_names(builder)
    made, skipped = [], {}
    for rep in chosen:
        if rep == "morphology":
            emb = morphology_baseline(splits, {}, names)
        elif rep == "pixel_pca":
            emb = pixel_pca_baseline(splits, {}, names, reduce_dim, seed)
        else:
            workdir = {"simclr": model.uri, "gan": gan.uri if gan is not None else None}.get(rep)
            if rep == "gan" and workdir is None:
                skipped[rep] = "no GAN given"
                print("  gan: skipped (no GAN given)", flush=True)
                continue
            config = ie.EmbedConfig(
                representation=rep,
                workdir=workdir,
                seed=seed,
                reduce_dim=reduce_dim,
                batch_size=batch_size,
            )
            emb = ie.image_embeddings(splits, names, config)
        if not labelled:
            emb = _unlabelled(emb)
        emb.check_finite()
        emb.save(embeddings.path(f"{emb.representation}.npz"))
        made.append(emb)
        print(f"  {emb.representation}: {len(emb)} galaxies x {emb.latent_dim}", flush=True)
    written = [emb.representation for emb in made]
    write_json(
        embeddings.path(EMBEDDINGS_JSON),
        {
            "representations": written,
            "latent_dims": {emb.representation: emb.latent_dim for emb in made},
            "n_galaxies": len(made[0]),
            "skipped": skipped,
        },
    )
    embeddings.properties.update(representations=written, n_galaxies=len(made[0]))


@component(version="1")
def image_figures(
    dataset: Input[Dataset],
    embeddings: Input[Embeddings],
    clusters: Input[Clusters],
    tsne_map: Input[TSNEMap],
    figures: Output[Report],
    grid_size: Annotated[int, Range(ge=1)] = 20,
    seed: Annotated[int, SEED] = 0,
):
    """The pictures people expect of an image map, per representation (tfelg.outputs.thumbnail_map).

    `<representation>/thumbnail_map.png`: the t-SNE map with one three-band
    thumbnail per occupied cell of a `grid_size` grid (the reference work's
    galaxy_features.jpg, without overplotting); `map_by_class.png`: the map
    coloured by true type, UVJ class, Gini-M20 class and cluster;
    `uvj_by_cluster.png`: the UVJ diagram coloured by cluster. Galaxies
    outside the t-SNE subsample are left out of the maps. Unlabelled stamps
    (the Hubble Deep Field) get the thumbnail map and the map by cluster
    only: no classes, and no colours for a UVJ diagram.
    """
    from tfelg.analysis import analyze
    from tfelg.outputs import thumbnail_map

    builder, splits = load_dataset(dataset, "image")
    columns = {
        k: np.concatenate([splits[s][k] for s in SPLITS])
        for k in ("image", "u_minus_v", "v_minus_j", "redshift")
    }
    del splits
    titles = {"true_type": "true type", "uvj": "UVJ class", "gini_m20": "Gini-M20 class"}
    made = {}
    for name in representations(embeddings):
        emb = load_embeddings(embeddings, name)
        cluster = analyze.ClassInference.load(clusters.path(name)).cluster
        xy = load_tsne(tsne_map, name)
        shown = np.all(np.isfinite(xy), axis=1)
        folder = figures.path(name)
        os.makedirs(folder, exist_ok=True)
        what = f"t-SNE of {name} features, {builder.info.full_name}"
        thumbnail_map.plot_thumbnail_map(
            xy[shown],
            columns["image"][shown],
            os.path.join(folder, "thumbnail_map.png"),
            grid_size=grid_size,
            calibrated=_calibrated(builder),
            title=what,
        )
        labels = {
            titles[k]: (np.asarray(emb.labels[k], np.int64)[shown], emb.class_names[k])
            for k in SCHEMES
            if k in emb.labels
        }
        thumbnail_map.plot_map_by_labels(
            xy[shown],
            labels,
            np.asarray(cluster)[shown],
            os.path.join(folder, "map_by_class.png"),
            seed=seed,
            title=f"{what}; clusters: the Gaussian mixture",
        )
        if not np.isfinite(columns["u_minus_v"]).any():
            made[name] = sorted(os.listdir(folder))
            continue
        thumbnail_map.plot_uvj_by_cluster(
            columns["u_minus_v"],
            columns["v_minus_j"],
            columns["redshift"],
            cluster,
            os.path.join(folder, "uvj_by_cluster.png"),
            seed=seed,
        )
        made[name] = sorted(os.listdir(folder))
    write_json(figures.path("figures.json"), made)
    figures.properties["representations"] = sorted(made)


COMPONENTS = (
    hst_dataset_gen,
    image_trainer,
    library_generator,
    image_embedding_exporter,
    image_figures,
)

if __name__ == "__main__":
    binary.run(*COMPONENTS)
