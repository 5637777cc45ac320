"""A balanced library of generated galaxies, written as a TFDS dataset.

The reference work's idea: a GAN trained on the observed galaxies fills in
the classes the sky gives few of, so a classifier or a map of the image
space sees every population equally. :func:`write_library` takes a trained
GAN run (``tfelg-train --model=gan``) and writes ``per_class`` images of each
of its classes, from the EMA generator, back in calibrated flux (nJy per
pixel: the run's per-band asinh stretch inverted), as a TFDS dataset that
``tfds.load`` and the rest of tfelg read like ``hst_galaxies``:

* ``image`` (64, 64, 3) float32, nJy per pixel, bands F435W, F850LP, F160W;
* the run's label column (e.g. ``true_type``) as a ``ClassLabel`` with the
  *dataset's* class names, so class indices mean the same as in the real
  data;
* ``object_id`` (``generated_<class>_<i>`` for generated images);
* ``generated`` (bool): False for real galaxies mixed in.

Optionally (``real=``, ``tfelg-generate --mix_with_real``) the real training
split's galaxies of the same classes are added with ``generated = False``,
so one dataset holds both.

The dataset is ``hst_galaxies_generated`` (one ``train`` split) in the given
data directory: ``tfds.load("hst_galaxies_generated", data_dir=DIR)``, or
``tfds.builder_from_directory(DIR/hst_galaxies_generated/1.0.0)`` (what
:func:`tfelg.metrics.gan_report.load_generated` takes; a mixed library's
real rows have ``generated`` False). TFDS finds it from its files
(``dataset_info.json``), no builder code is needed. The noise of class k is drawn from ``(seed, k)``: the same seed
gives the same library.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from tfelg.errors import InputError

DATASET_NAME = "hst_galaxies_generated"
VERSION = "1.0.0"
PROVENANCE_FILE = "generate.json"


def _library_features(image_shape, label: str | None, label_names):
    import tensorflow_datasets as tfds

    features = {
        "image": tfds.features.Tensor(shape=tuple(image_shape), dtype=np.float32),
        "object_id": tfds.features.Text(),
        "generated": np.bool_,
    }
    if label is not None:
        features[label] = tfds.features.ClassLabel(names=list(label_names))
    return tfds.features.FeaturesDict(features)


def sky_noise_seed(seed: int, class_index: int) -> int:
    """The seed of the sky noise added to class ``class_index``'s images.

    Its own stream per (seed, class): with one fixed seed every class's i-th
    image would carry the same noise pattern, and ``--seed`` would change the
    galaxies but not their noise.
    """
    return int(np.random.SeedSequence([seed, class_index, 1]).generate_state(1)[0])


def generated_arrays(
    trained, per_class: int, seed: int = 0, noiseless: bool = False
) -> dict[str, np.ndarray]:
    """``per_class`` images (flux) of every class of a trained GAN, with their columns.

    ``noiseless``: the generator's galaxies without the sky noise that its
    noise model adds (:meth:`tfelg.models.gan.GAN.generate`); the default,
    observed images, is what reads like the real data.
    """
    model, prep = trained.model, trained.preprocessor
    images, labels, ids = [], [], []
    classes = prep.classes or ("all",)
    for k, name in enumerate(classes):
        noise = np.random.default_rng([seed, k]).standard_normal((per_class, model.latent_dim))
        stretched = model.generate(
            np.full(per_class, k), noise=noise, seed=sky_noise_seed(seed, k), noiseless=noiseless
        )
        images.append(prep.inverse(stretched))
        ids += [f"generated_{name}_{i}" for i in range(per_class)]
        if prep.label is not None:
            labels.append(np.full(per_class, prep.label_names.index(name), np.int64))
    arrays = {
        "image": np.concatenate(images).astype(np.float32),
        "object_id": np.array(ids),
        "generated": np.ones(len(ids), bool),
    }
    if prep.label is not None:
        arrays[prep.label] = np.concatenate(labels)
    return arrays


def real_arrays(trained, real: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The real training rows of the GAN's classes, in the library's columns."""
    prep = trained.preprocessor
    from tfelg.training.images import check_images

    images = check_images(real, "train")
    keep = np.ones(len(images), bool)
    out = {}
    if prep.label is not None:
        if prep.label not in real:
            raise InputError(
                f"the real train split has no column {prep.label!r}", column=prep.label
            )
        values = np.asarray(real[prep.label]).astype(np.int64)
        chosen = [prep.label_names.index(c) for c in prep.classes]
        keep = np.isin(values, chosen)
        out[prep.label] = values[keep]
    ids = real.get("object_id", np.array([f"real_{i}" for i in range(len(images))]))
    out.update(
        {
            "image": images[keep],
            "object_id": np.asarray(ids).astype(str)[keep],
            "generated": np.zeros(int(keep.sum()), bool),
        }
    )
    return out


def write_library(
    workdir: str,
    output: str,
    per_class: int,
    *,
    seed: int = 0,
    real: Mapping[str, np.ndarray] | None = None,
    noiseless: bool = False,
) -> dict:
    """Writes the library of the GAN in ``workdir`` into the TFDS data dir ``output``.

    Args:
      workdir: a finished ``tfelg-train --model=gan`` run.
      output: TFDS data directory to write into (created).
      per_class: generated images per class (>= 1).
      seed: noise seed.
      real: the real training split's arrays to mix in (None: generated only).
      noiseless: write the generator's galaxies without the sky noise its
        noise model adds (the GAN's ``sky_noise``, on by default): clean
        pictures, but no longer like observed stamps, so not for mixing
        with real data or training on. The real rows are never changed.

    Returns:
      The provenance record (also in ``<output>/hst_galaxies_generated/generate.json``):
      counts per class, generated and real.

    Raises:
      InputError: no finished GAN in ``workdir``, or the library already exists.
      ValueError: per_class < 1.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from tfelg.training import loop

    if isinstance(per_class, bool) or not isinstance(per_class, int | np.integer) or per_class < 1:
        raise ValueError(f"per_class must be an integer >= 1, got {per_class!r}")
    trained = loop.load_trained(workdir)
    if not hasattr(trained.model, "generate") or not hasattr(trained.preprocessor, "inverse"):
        raise InputError(
            f"the run is a {type(trained.model).__name__}, not a GAN (tfelg-train --model=gan)",
            path=workdir,
        )
    target = os.path.join(output, DATASET_NAME)
    if tf.io.gfile.exists(os.path.join(target, VERSION)):
        raise InputError(
            "a generated library is already there; give another --output or remove it",
            path=target,
        )
    prep = trained.preprocessor
    arrays = generated_arrays(trained, per_class, seed, noiseless=noiseless)
    if real is not None:
        mixed = real_arrays(trained, real)
        arrays = {key: np.concatenate([arrays[key], mixed[key]]) for key in arrays}
    features = _library_features(prep.image_shape, prep.label, prep.label_names)
    classes = list(prep.classes or ("all",))
    counts = {
        kind: {
            name: int(
                np.sum(
                    (arrays["generated"] == (kind == "generated"))
                    & (
                        arrays[prep.label] == prep.label_names.index(name)
                        if prep.label is not None
                        else True
                    )
                )
            )
            for name in classes
        }
        for kind in ("generated", "real")
    }
    record = {
        "workdir": os.path.abspath(workdir),
        "per_class": int(per_class),
        "seed": int(seed),
        "label": prep.label,
        "classes": classes,
        "mixed_with_real": real is not None,
        "noiseless": bool(noiseless),
        "counts": counts,
        "image_unit": "nJy per pixel (the run's asinh stretch inverted)",
    }
    description = (
        f"Galaxies generated by the GAN in {record['workdir']} ({per_class} per class of "
        f"{prep.label or 'no label'}: {', '.join(classes)}; seed {seed})"
        + ("; noiseless (no sky noise added)" if noiseless else "")
        + ("; mixed with the real training split (generated=False)" if real is not None else "")
    )
    tfds.dataset_builders.store_as_tfds_dataset(
        name=DATASET_NAME,
        version=VERSION,
        features=features,
        split_datasets={"train": tf.data.Dataset.from_tensor_slices(arrays)},
        data_dir=output,
        description=description,
    )
    with tf.io.gfile.GFile(os.path.join(target, PROVENANCE_FILE), "w") as f:
        f.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record
