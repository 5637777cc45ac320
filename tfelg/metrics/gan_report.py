"""The samples and the markdown of docs/gan_quality.md: GAN, floor and baseline against real.

Why a library module: ``scripts/make_gan_quality_table.py`` only parses
flags; the samples it compares are made here, where a test can make them
small. Three rows per class and feature extractor, always computed together:

* **GAN vs held-out real**: a generated library (``tfelg-generate``'s
  output folder, read with TFDS) against real galaxies the GAN never saw.
* **Second real sample (the floor)**: another independent real sample of
  the same size against the same held-out sample. No generator can be
  expected to beat it; a GAN row near it is as good as the metric can tell.
* **Blurred class mean + noise (the baseline)**: per class, the mean image
  of a training-like sample, blurred by a Gaussian, plus white noise of
  each band's measured pixel noise. Every image of a class is the same
  galaxy: a GAN that does not beat this has learnt nothing about variety.

On ``hst_galaxies/synthetic`` the real samples are rendered directly with
:func:`tfelg.synthetic.hst_galaxies.generate`, exactly balanced per class,
from seeds that differ from the training data's (seed 0 by default): the
same renderer as the data set, galaxies that no model was trained on.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from tfelg import morphology
from tfelg.metrics import physics, quality
from tfelg.synthetic import hst_galaxies as synthetic


@dataclasses.dataclass
class LabelledImages:
    name: str
    images: np.ndarray
    labels: np.ndarray  # codes into the report's class list


def render_balanced(
    classes, per_class: int, seed: int, *, name: str, num_workers=None, cache_dir=None
):
    """``per_class`` synthetic galaxies of each true type in ``classes``, seeded.

    Class i of the list is drawn from seed ``seed * 64 + i`` (galaxy j of a
    seed depends only on the seed and j), so samples of different seeds
    never share a galaxy. ``cache_dir``: keep the rendered sample there
    (an .npz named by classes, size and seed; the renderer is deterministic).
    """
    import os

    from tfelg import atomic

    path = None
    if cache_dir is not None:
        path = os.path.join(cache_dir, f"render_{'-'.join(classes)}_{per_class}_{seed}.npz")
        if os.path.exists(path):
            with np.load(path) as data:
                return LabelledImages(name, data["images"], data["labels"])
    images, labels = [], []
    for i, cls in enumerate(classes):
        if cls not in synthetic.TRUE_TYPE_NAMES:
            raise ValueError(f"unknown true type {cls!r}; known: {synthetic.TRUE_TYPE_NAMES}")
        sample = synthetic.generate(
            per_class, seed * 64 + i, num_workers=num_workers, type_fractions={cls: 1.0}
        )
        images.append(sample.image)
        labels.append(np.full(per_class, i, np.int64))
    out = LabelledImages(name, np.concatenate(images), np.concatenate(labels))
    if path is not None:
        os.makedirs(cache_dir, exist_ok=True)
        with atomic.atomic_open(path, "wb") as f:
            np.savez(f, images=out.images, labels=out.labels)
    return out


def blurred_mean_baseline(source: LabelledImages, per_class: int, *, sigma_px=1.0, seed=0):
    """Per class: Gaussian-blurred mean image of ``source`` plus white noise, ``per_class`` times.

    The noise of each band is the median over ``source`` of
    :func:`tfelg.morphology.pixel_noise`, so the baseline's images are as
    noisy as real ones (a noiseless mean would be trivially told apart).
    """
    from scipy import ndimage

    images = physics.check_images(source.images, source.name)
    bands = images.shape[-1]
    full = np.ones(images.shape[1:3], bool)
    noise = np.array(
        [
            np.median([morphology.pixel_noise(im[:, :, b], full) for im in images])
            for b in range(bands)
        ]
    )
    rng = np.random.default_rng(seed)
    out, labels = [], []
    for code in np.unique(source.labels):
        mean = images[source.labels == code].mean(axis=0, dtype=np.float64)
        blurred = ndimage.gaussian_filter(mean, sigma=(sigma_px, sigma_px, 0))
        out.append(blurred + rng.normal(size=(per_class, *mean.shape)) * noise)
        labels.append(np.full(per_class, code, np.int64))
    return LabelledImages(
        "blurred class mean + noise", np.concatenate(out).astype(np.float32), np.concatenate(labels)
    )


def _dataset_directory(folder: str) -> str:
    """The folder holding ``dataset_info.json``: ``folder`` itself or its one NAME/VERSION."""
    import glob
    import os

    if os.path.exists(os.path.join(folder, "dataset_info.json")):
        return folder
    found = sorted(glob.glob(os.path.join(folder, "*", "*", "dataset_info.json")))
    if len(found) != 1:
        raise ValueError(
            f"{folder}: expected one TFDS data set (NAME/VERSION/dataset_info.json, as "
            f"tfelg-generate --output writes), found {len(found)}"
        )
    return os.path.dirname(found[0])


def load_generated(folder: str, classes, *, label: str = "true_type", name="GAN"):
    """The generated images of a ``tfelg-generate`` output, labels mapped onto ``classes`` by name.

    ``folder`` is ``tfelg-generate --output`` (or the NAME/VERSION folder in
    it). Real galaxies mixed in (``generated`` False) are left out.

    Raises:
      ValueError: no data set, no ``image`` or ``label`` feature, or a class
        of ``classes`` with no generated image.
    """
    import tensorflow_datasets as tfds

    path = _dataset_directory(folder)
    builder = tfds.builder_from_directory(path)
    features = builder.info.features
    for key in ("image", label):
        if key not in features:
            raise ValueError(
                f"{path}: the generated data set has no {key!r} feature "
                f"(it has {sorted(features.keys())})"
            )
    names = list(features[label].names) if hasattr(features[label], "names") else None
    images, codes = [], []
    for split in builder.info.splits.keys():
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        keep = np.asarray(data["generated"], bool) if "generated" in data else slice(None)
        images.append(np.asarray(data["image"], np.float32)[keep])
        codes.append(np.asarray(data[label])[keep])
    images, codes = np.concatenate(images), np.concatenate(codes)
    codes = np.array([names[c] for c in codes]) if names is not None else codes.astype(str)
    missing = [c for c in classes if c not in set(codes)]
    if missing:
        raise ValueError(f"{path}: no generated images of class(es) {missing}")
    keep = np.isin(codes, list(classes))
    labels = np.array([list(classes).index(c) for c in codes[keep]], np.int64)
    return LabelledImages(name, images[keep], labels)


def feature_functions(names, fit_images, *, seed=0, pca_components=16):
    """{description: feature_fn} for ``pixel_pca`` and/or ``small_resnet`` (random, seeded).

    Both are fitted (preprocessing, PCA, the rms scale of
    :func:`tfelg.metrics.quality.rms_scale`) on ``fit_images``, a
    training-like real sample, never on a sample being judged.
    """
    out = {}
    for name in names:
        if name == "pixel_pca":
            fn = quality.pixel_pca_features(fit_images, n_components=pca_components, seed=seed)
            out[fn.description] = fn
        elif name == "small_resnet":
            from tfelg.models import features

            extractor = features.make_extractor(
                "small_resnet", "random", fit_images=fit_images, seed=seed
            )
            desc = (
                f"small ResNet, random weights (seed {seed}), {extractor.feature_dim} pooled "
                "features, per-band asinh scaling and one rms scale fitted on the training-like "
                "sample"
            )
            out[desc] = quality.scaled_features(extractor, fit_images, description=desc)
        else:
            raise ValueError(f"unknown feature extractor {name!r}; use pixel_pca or small_resnet")
    return out


def measure_cached(images, cache_dir, num_workers, name) -> dict:
    """:func:`physics.measure_images`, read from / written to ``cache_dir`` when given."""
    import hashlib
    import os

    from tfelg import atomic

    if cache_dir is None:
        return physics.measure_images(images, num_workers=num_workers, name=name)
    array = np.ascontiguousarray(images, np.float32)
    key = hashlib.sha256(array.tobytes() + str(array.shape).encode()).hexdigest()[:24]
    path = os.path.join(cache_dir, f"physics_{key}.npz")
    if os.path.exists(path):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    measured = physics.measure_images(array, num_workers=num_workers, name=name)
    os.makedirs(cache_dir, exist_ok=True)
    with atomic.atomic_open(path, "wb") as f:
        np.savez(f, **measured)
    return measured


def run(
    reference: LabelledImages,
    others: list[LabelledImages],
    feature_fns: dict,
    classes,
    *,
    num_workers=None,
    kid_subsets=100,
    kid_subset_size=1000,
    seed=0,
    log=print,
    cache_dir=None,
):
    """Rows of every comparison: {extractor: {other name: rows}}, and the physics rows.

    Physics is measured once per sample; features once per sample and
    extractor. ``cache_dir``: keep each sample's measurements there under the
    SHA-256 of its images, so a re-run with a new generated sample measures
    only that one (statmorph is most of the run time).
    """
    t = time.time()
    measured = {}
    for sample in [reference, *others]:
        measured[sample.name] = measure_cached(sample.images, cache_dir, num_workers, sample.name)
        log(f"measured {sample.name}: {len(sample.images)} images, {time.time() - t:.0f} s")
    n = len(classes)
    kwargs = dict(class_names=list(classes), kid_subsets=kid_subsets, seed=seed)
    kwargs["kid_subset_size"] = kid_subset_size
    by_extractor = {}
    physics_rows = {}
    for desc, fn in feature_fns.items():

        def summary(sample, fn=fn):
            s = quality.summarize(
                sample.images,
                sample.labels,
                fn,
                num_classes=n,
                name=sample.name,
                measure_physics=False,
            )
            return dataclasses.replace(s, physics=measured[sample.name])

        ref = summary(reference)
        by_extractor[desc] = {}
        for other in others:
            rows = quality.compare(ref, summary(other), **kwargs)
            by_extractor[desc][other.name] = rows
            physics_rows[other.name] = rows
        log(f"features {desc[:40]}...: {time.time() - t:.0f} s")
    return by_extractor, physics_rows


def markdown(by_extractor: dict, physics_rows: dict) -> str:
    """The tables block of docs/gan_quality.md: one feature table per extractor, then physics."""
    parts = []
    for desc, results in by_extractor.items():
        parts += [f"**Features: {desc}.**", "", quality.feature_table(results), ""]
    parts += [
        "**Physics**, the same for every extractor: per quantity the Wasserstein distance "
        "divided by the held-out sample's standard deviation, then the KS statistic.",
        "",
        quality.physics_table(physics_rows),
    ]
    return "\n".join(parts)
