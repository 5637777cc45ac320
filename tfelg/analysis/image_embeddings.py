"""Image representations as :class:`~tfelg.analysis.embeddings.Embeddings`, for the same analysis.

Every galaxy stamp of every split goes through one extractor, and the
result is written in the format the emission-line analysis reads (one
``.npz``: object ids, splits, coordinates, redshift, label codes and
names), so model selection, the mixture, Hungarian matching, t-SNE, the
projector and the catalogue run on images unchanged
(:func:`tfelg.analysis.analyze.write_analysis`). The labels are the
schemes a cluster is compared with on images: the true type (synthetic
data), the UVJ class (Williams et al. 2009) and the Gini-M20 class (Lotz et
al. 2008).

Representations:

* ``small_resnet`` / ``resnet50``: :mod:`tfelg.models.features`, random
  (seeded) or from a weights file (``weights``; ImageNet for ResNet50);
* ``simclr``: the encoder of a ``tfelg-train --model=simclr`` run
  (``workdir``);
* ``gan``: the discriminator's penultimate features of a ``--model=gan``
  run (its model's ``encode``, on the run's own stretch);
* ``pixel_pca``: PCA of the scaled pixels, the classical baseline.

Dimensions: pooled CNN features have 256 (small ResNet) or 2048 (ResNet50)
dimensions, far more than a full-covariance Gaussian mixture can be fitted
in from a few thousand galaxies (K (d + d(d+1)/2) parameters). They are
reduced by PCA fitted on the training split to ``reduce_dim`` dimensions
(16 by default; 0 keeps them all), and the explained variance is recorded in
``info``. Pixel PCA keeps ``reduce_dim`` components directly.

Gini-M20 classes are only as good as the measurement: a galaxy whose
non-parametric morphology is untrusted (low S/N, statmorph flags; the
dataset's ``trust_nonparametric``) gets ``unclassified`` and is left out of
the matching, as a low-S/N BPT class is.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from tfelg.analysis.embeddings import SPLITS, Embeddings
from tfelg.errors import InputError

#: The schemes clusters of images are compared with, in this order.
IMAGE_SCHEMES = ("true_type", "uvj", "gini_m20")
REPRESENTATIONS = ("small_resnet", "resnet50", "simclr", "gan", "pixel_pca")


@dataclasses.dataclass
class EmbedConfig:
    """What to embed and how.

    Attributes:
      representation: one of :data:`REPRESENTATIONS`.
      weights: ``random`` or a weights file (``small_resnet``, ``resnet50``).
      workdir: the training run (``simclr``, ``gan``).
      seed: seeds random networks and the PCA.
      input_size: network input side (ResNets; None: the stamps' own).
      reduce_dim: PCA dimensions fitted on train (0: keep every feature;
        ``pixel_pca`` needs >= 1).
      batch_size: stamps per forward pass.
      trusted_gini_m20_only: untrusted Gini-M20 classes become ``unclassified``.
    """

    representation: str = "small_resnet"
    weights: str = "random"
    workdir: str | None = None
    seed: int = 0
    input_size: int | None = None
    reduce_dim: int = 16
    batch_size: int = 128
    trusted_gini_m20_only: bool = True

    def __post_init__(self):
        if self.representation not in REPRESENTATIONS:
            raise ValueError(
                f"unknown representation {self.representation!r}; expected one of "
                f"{', '.join(REPRESENTATIONS)}"
            )
        if self.representation in ("simclr", "gan") and not self.workdir:
            raise ValueError(f"representation {self.representation!r} needs a training workdir")
        if self.reduce_dim < 0 or (self.representation == "pixel_pca" and self.reduce_dim < 1):
            raise ValueError(
                f"reduce_dim must be >= 1 for pixel_pca, >= 0 otherwise, got {self.reduce_dim}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def image_class_names(builder) -> dict[str, list[str]]:
    """The schemes' class names of a built ``hst_galaxies`` dataset."""
    return {k: list(builder.info.features[k].names) for k in IMAGE_SCHEMES}


def scheme_labels(arrays, class_names, trusted_gini_m20_only: bool = True) -> dict[str, np.ndarray]:
    """{scheme: codes} of one split (Gini-M20 ``unclassified`` where untrusted)."""
    labels = {}
    for scheme in IMAGE_SCHEMES:
        if scheme not in arrays:
            raise InputError(
                f"the dataset has no {scheme!r} column (columns: {', '.join(sorted(arrays))})",
                column=scheme,
            )
        labels[scheme] = np.asarray(arrays[scheme]).astype(np.int16)
    if trusted_gini_m20_only and "trust_nonparametric" in arrays:
        untrusted = ~np.asarray(arrays["trust_nonparametric"], bool)
        unclassified = list(class_names["gini_m20"]).index("unclassified")
        labels["gini_m20"] = np.where(untrusted, unclassified, labels["gini_m20"]).astype(np.int16)
    return labels


def thumbnails(splits, *, calibrated: bool = True) -> np.ndarray:
    """(N, 64, 64, 3) uint8 RGB for the projector's sprite, rows train, validation, test.

    The project's three-band composites (:func:`tfelg.outputs.hst_plots.lupton_rgb`:
    F160W, F850LP, F435W as R, G, B, PSF-matched, fixed band factors), one
    display fitted on the training split for every stamp. ``calibrated``
    False: display-colour images (``hubble_deep_field``) drawn as given.
    """
    from tfelg.outputs import hst_plots

    display = hst_plots.rgb_display(splits["train"]["image"], calibrated=calibrated)
    return np.stack(
        [hst_plots.lupton_rgb(image, display) for s in SPLITS for image in splits[s]["image"]]
    )


def _reduce(train, others, dim: int, seed: int):
    """PCA fitted on ``train`` (N, D) applied to each array; (outputs, info)."""
    from sklearn.decomposition import PCA

    if dim == 0 or dim >= train.shape[1]:
        return [train, *others], {"reduced_to": None}
    if dim > len(train):
        raise InputError(
            f"reduce_dim {dim} is more than the {len(train)} training galaxies; choose a smaller one"
        )
    pca = PCA(n_components=dim, svd_solver="randomized", random_state=seed).fit(train)
    explained = pca.explained_variance_ratio_
    info = {
        "reduced_to": dim,
        "features_before_pca": int(train.shape[1]),
        "explained_variance_ratio": [float(v) for v in explained],
        "explained_variance_total": float(explained.sum()),
    }
    return [pca.transform(a).astype(np.float32) for a in (train, *others)], info


def _features_by_split(splits, config: EmbedConfig):
    """{split: (N, D) features} and the extractor's provenance."""
    from tfelg.models import features

    train_images = splits["train"]["image"]
    rep = config.representation
    if rep == "pixel_pca":
        scaling = features.band_scaling(train_images)
        flat = {
            s: scaling.scale_images(splits[s]["image"]).reshape(len(splits[s]["image"]), -1)
            for s in SPLITS
        }
        return flat, {
            "preprocessing": features.describe_preprocessing(scaling),
            "features": "pixels",
        }
    if rep == "gan":
        return _gan_features(splits, config)
    if rep == "simclr":
        extractor = features.simclr_extractor(config.workdir)
    else:
        extractor = features.make_extractor(
            rep,
            config.weights,
            fit_images=train_images,
            seed=config.seed,
            input_size=config.input_size,
        )
    out = {s: extractor(splits[s]["image"], batch_size=config.batch_size) for s in SPLITS}
    return out, {"extractor": extractor.name, **extractor.info}


def _gan_features(splits, config: EmbedConfig):
    import keras

    from tfelg.training import loop

    trained = loop.load_trained(config.workdir)
    model = trained.model
    if getattr(model, "INPUT_KIND", None) != "image" or not hasattr(model, "encode"):
        raise InputError(
            f"the model of this run ({type(model).__name__}) is not an image model with "
            "encode(images) (train one with tfelg-train --model=gan)",
            path=config.workdir,
        )
    out = {}
    for s in SPLITS:
        images = trained.preprocessor.scale_images(splits[s]["image"])
        parts = [
            keras.ops.convert_to_numpy(model.encode(images[i : i + config.batch_size]))
            for i in range(0, len(images), config.batch_size)
        ]
        out[s] = np.concatenate(parts).astype(np.float32)
    return out, {"workdir": os.path.abspath(config.workdir), "model": type(model).__name__}


def image_embeddings(splits, class_names, config: EmbedConfig | None = None) -> Embeddings:
    """Every stamp of every split through one representation, as :class:`Embeddings`.

    Args:
      splits: {split: arrays} with ``image`` (N, H, W, 3) flux, the
        :data:`IMAGE_SCHEMES` label codes, ``object_id`` and ``redshift``
        (as :func:`tfelg.training.loop.load_splits` gives for ``hst_galaxies``).
      class_names: {scheme: class names} (:func:`image_class_names`).
      config: what to embed.

    Raises:
      InputError: a missing split, column or label; NaN pixels (row named).
    """
    from tfelg.models.features import check_images

    config = config or EmbedConfig()
    for s in SPLITS:
        if s not in splits or "image" not in splits[s] or len(splits[s]["image"]) == 0:
            raise InputError(f"split {s!r} has no images")
        check_images(splits[s]["image"], f"{s} images")
    raw, info = _features_by_split(splits, config)
    dim = config.reduce_dim
    reduced, reduction = _reduce(raw["train"], [raw[s] for s in SPLITS[1:]], dim, config.seed)
    latent = dict(zip(SPLITS, reduced, strict=True))
    n = {s: len(splits[s]["image"]) for s in SPLITS}
    labels = {
        k: np.concatenate(
            [scheme_labels(splits[s], class_names, config.trusted_gini_m20_only)[k] for s in SPLITS]
        )
        for k in IMAGE_SCHEMES
    }
    ids = [
        np.asarray(splits[s].get("object_id", [f"{s}_{i}" for i in range(n[s])])).astype(str)
        for s in SPLITS
    ]
    redshift = [
        np.asarray(splits[s].get("redshift", np.full(n[s], np.nan)), np.float32) for s in SPLITS
    ]
    name = config.representation
    if name in ("small_resnet", "resnet50"):
        name = info["extractor"]  # e.g. small_resnet_random, resnet50_imagenet
    return Embeddings(
        object_id=np.concatenate(ids),
        split=np.concatenate([np.full(n[s], s) for s in SPLITS]),
        latent=np.concatenate([latent[s] for s in SPLITS]),
        redshift=np.concatenate(redshift),
        labels=labels,
        class_names={k: list(class_names[k]) for k in IMAGE_SCHEMES},
        representation=name,
        info={**info, **reduction, "config": dataclasses.asdict(config)},
    )


def load_image_splits(dataset: str, data_dir=None, manual_dir=None, num_galaxies=None, seed=None):
    """(splits, class names) of an ``hst_galaxies`` config, generated if needed."""
    from tfelg.training import loop
    from tfelg.training.config import DataConfig

    if not dataset.startswith("hst_galaxies"):
        raise ValueError(f"tfelg-embed embeds image datasets (hst_galaxies/...), not {dataset!r}")
    data_config = DataConfig(
        dataset=dataset,
        data_dir=data_dir,
        manual_dir=manual_dir,
        num_galaxies=num_galaxies,
        dataset_seed=seed,
        input="image",
    )
    builder = loop.open_dataset(data_config)
    splits = loop.load_splits(data_config, builder)
    return splits, image_class_names(builder)


def embed_dataset(
    dataset: str,
    output: str,
    config: EmbedConfig | None = None,
    *,
    data_dir=None,
    manual_dir=None,
    num_galaxies=None,
    dataset_seed=None,
    analysis_dir: str | None = None,
    analysis_config=None,
    overwrite: bool = False,
    log=print,
) -> dict:
    """``tfelg-embed``: embeds every stamp of a dataset into ``output`` (.npz), optionally analysed.

    Returns {"embeddings": path, "representation": name, "latent_dim": d,
    "analysis": summary or None}.
    """
    from tfelg.analysis import analyze

    config = config or EmbedConfig()
    if not output.endswith(".npz"):
        raise InputError("the embeddings file must end in .npz", path=output)
    if os.path.exists(output) and not overwrite:
        raise InputError("exists; pass overwrite to replace it", path=output)
    if analysis_dir is not None:
        analyze.check_output_dir(analysis_dir, overwrite=overwrite)
    splits, class_names = load_image_splits(
        dataset, data_dir, manual_dir, num_galaxies, dataset_seed
    )
    counts = {s: len(splits[s]["image"]) for s in SPLITS}
    log(
        f"embedding {sum(counts.values())} galaxies of {dataset} ({counts}) with {config.representation}"
    )
    emb = image_embeddings(splits, class_names, config)
    emb.info["dataset"] = dataset
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    emb.save(output)
    log(f"wrote {output}: {emb.representation}, {len(emb)} galaxies x {emb.latent_dim}")
    summary = None
    if analysis_dir is not None:
        summary = analyze.write_analysis(
            [emb],
            analysis_dir,
            analysis_config,
            sprite_images=thumbnails(splits, calibrated="hubble_deep_field" not in dataset),
            about={"dataset": dataset, "embeddings": os.path.abspath(output)},
            title=f"Analysis of {emb.representation} features of {dataset}",
            overwrite=overwrite,
            log=log,
        )
    return {
        "embeddings": output,
        "representation": emb.representation,
        "latent_dim": emb.latent_dim,
        "analysis": summary,
    }
