"""Sample quality of a generating model during training, for TensorBoard and ``metrics.json``.

Why: a GAN's losses measure the discriminator of the moment, not the
samples (``SELECTION_LOSS = None`` in :mod:`tfelg.models.gan`), so a run
whose losses look balanced can still produce one blob for every class
(docs/gan.md). Issue 13 asks for the quality metrics *per epoch in
TensorBoard* and as a final value, so that a collapse shows while the run
trains, not after a separate evaluation. :class:`QualityMonitor` is what the
trainer (:mod:`tfelg.training.trainer`) calls every ``runtime.quality_every``
epochs and at the last one, for any model with ``generate(labels, seed=...)``
and ``num_classes`` (the GAN).

What one evaluation computes, against a **fixed** real sample:

* **real**: a seeded subset of the *validation* split (never the test split,
  never the training images the generator was fitted to): up to
  ``per_class`` galaxies of each class (all of a class's validation images
  when it has fewer), drawn once, in flux (the model's stretch inverted).
* **generated**: the same number of images per class from
  ``model.generate`` with the same seed every time, so that the curves over
  epochs show the generator changing, not the noise.
* **features**: extractors of :func:`tfelg.metrics.gan_report.feature_functions`
  fitted once on a seeded subset of at most ``fit_images`` training images:
  ``pixel_pca`` (16 principal components of asinh-stretched pixels, the
  default) and/or ``small_resnet`` (the random, seeded small ResNet of
  :mod:`tfelg.models.features`; 256 features, so its FID needs more than 256
  images per scope and is NaN below: KID and precision/recall are its useful
  numbers at these sizes). On each: FID, KID (unbiased, ± standard error over
  100 subsets of half the smaller sample) and precision/recall (k = 3), for
  all images and per class (:func:`tfelg.metrics.quality.compare`).
* **colours**: F435W - F850LP and F850LP - F160W per class, compared by the
  Wasserstein distance divided by the real sample's standard deviation
  (:func:`tfelg.metrics.physics.physics_distances`). Measured by
  :func:`fast_colours`, a vectorised version of the photometry of
  :func:`tfelg.metrics.physics.aperture_colours`: per-band sky from the
  median of the stamp's outer frame instead of a sigma-clipped, source-masked
  background (which costs ~30 ms an image, more than everything else here
  together). Both samples go through the same code, so the distance is fair;
  its values differ slightly from docs/gan_quality.md's, which uses the full
  photometry.
* **morphology** (optional, ``morphology_per_class`` > 0): statmorph's Gini,
  M20, concentration, asymmetry and half-light radius
  (:func:`tfelg.metrics.physics.measure_images`, in this process) on the
  first ``morphology_per_class`` images of each class of both samples, W/std
  per class. About 0.1-0.3 s of CPU a galaxy (toy stamps): 8 per class x 6
  classes adds 5-15 s per evaluation for the generated images.

Cost (``benchmarks/quality_monitor.py``, measured 2026-12-02 on the shared
2-core machine at load 11-19, CPU seconds; GAN base_filters 32, 6 classes x
32 images a side): set-up once per run (PCA fit on 512 training images, the
real sample's features and colours) 2.2 s; each evaluation 1.5 s, about 0.6
of one GAN training step at batch 64 (3.5 s with the small ResNet added;
statmorph adds 0.1-0.3 s a galaxy-like image). Details in docs/gan.md.

Scalars (:meth:`QualityMonitor.evaluate`), tag -> value:

* ``quality/<features>/{fid,kid,kid_stderr,precision,recall}``: all images;
* ``quality/<features>/<class>/{fid,kid,kid_stderr,precision,recall}``;
* ``quality/colour/<colour>`` and ``quality/colour/<class>/<colour>``: W/std;
* ``quality/morphology/<class>/<quantity>``: W/std (with morphology only).

A value that cannot be computed (too few images for a FID, a colour with
fewer than 5 positive fluxes) is NaN; the trainer writes only finite values
to TensorBoard and NaN as ``null`` into JSON. FIDs on tfelg's extractors are
not comparable with published Inception FIDs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from tfelg import morphology
from tfelg.metrics import physics, quality
from tfelg.synthetic import hst_galaxies as synthetic
from tfelg.training.config import QUALITY_FEATURES as FEATURES

FEATURE_METRICS = ("fid", "kid", "kid_stderr", "precision", "recall")
PCA_COMPONENTS = 16
MAX_FIT_IMAGES = 512
FRAME_PX = 4  # the outer frame of a stamp whose median is the sky of fast_colours
DETECT_SIGMA = 2.0  # pixels above this many sky sigmas count for the centroid and radius
TAG_PREFIX = "quality"


def fast_colours(images, name: str = "images") -> dict[str, np.ndarray]:
    """AB colours (:data:`tfelg.metrics.physics.COLOUR_NAMES`) of (N, H, W, 3) flux images, vectorised.

    Per image: each band's sky is the median of its outer ``FRAME_PX``
    pixels (the stamps are centred on their galaxy) and its noise the
    frame's MAD; the F850LP pixels more than ``DETECT_SIGMA`` noise sigmas
    above the sky give a light-weighted centroid and a half-light radius
    (the radius that holds half of that light); the aperture is the circle
    of radius ``2 * rhalf`` clipped to :data:`physics.APERTURE_RADIUS_RANGE`
    around the centroid (pixel centres inside), as in
    :func:`tfelg.metrics.physics.aperture_colours`. A colour is NaN when a
    flux is not positive; an image without any detected pixel is measured
    at the stamp's centre with the smallest aperture.

    Returns ``{colour: (N,)}`` and ``trusted`` (all ones: there is no
    trust flag without statmorph), the layout of
    :func:`tfelg.metrics.physics.measure_images` for the colour quantities.
    """
    images = np.asarray(physics.check_images(images, name), np.float64)
    n, h, w, _ = images.shape
    frame = np.ones((h, w), bool)
    frame[FRAME_PX:-FRAME_PX, FRAME_PX:-FRAME_PX] = False
    border = images[:, frame, :]  # (N, pixels, bands)
    sky = np.median(border, axis=1)
    noise = 1.4826 * np.median(np.abs(border - sky[:, None, :]), axis=1)
    subtracted = images - sky[:, None, None, :]
    band = synthetic.BANDS.index(morphology.MORPHOLOGY_BAND)
    plane = subtracted[..., band]
    light = np.where(plane > DETECT_SIGMA * noise[:, band, None, None], plane, 0.0)
    total = light.sum(axis=(1, 2))
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    found = total > 0
    safe = np.where(found, total, 1.0)
    x = np.where(found, (light * xx).sum(axis=(1, 2)) / safe, (w - 1) / 2.0)
    y = np.where(found, (light * yy).sum(axis=(1, 2)) / safe, (h - 1) / 2.0)
    radius = np.hypot(xx - x[:, None, None], yy - y[:, None, None]).reshape(n, -1)
    order = np.argsort(radius, axis=1)
    sorted_radius = np.take_along_axis(radius, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(light.reshape(n, -1), order, axis=1), axis=1)
    half = np.argmax(cumulative >= 0.5 * total[:, None], axis=1)
    rhalf = np.where(found, sorted_radius[np.arange(n), half], 0.0)
    aperture = np.clip(2.0 * rhalf, *physics.APERTURE_RADIUS_RANGE)
    inside = (radius <= aperture[:, None]).reshape(n, h, w)
    flux = (subtracted * inside[..., None]).sum(axis=(1, 2))  # (N, bands)
    out = {}
    for (blue, red), colour in zip(physics.COLOURS, physics.COLOUR_NAMES, strict=True):
        f_blue = flux[:, synthetic.BANDS.index(blue)]
        f_red = flux[:, synthetic.BANDS.index(red)]
        ok = (f_blue > 0) & (f_red > 0)
        ratio = np.where(ok, f_blue, 1.0) / np.where(ok, f_red, 1.0)
        out[colour] = np.where(ok, -2.5 * np.log10(ratio), np.nan)
    out["trusted"] = np.ones(n)
    return out


def _tag_name(name: str) -> str:
    """A class name as a TensorBoard tag component (no slashes or spaces)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)) or "_"


def _distances(real: dict, fake: dict, quantities: Sequence[str]) -> dict[str, float]:
    """W/std per quantity (:func:`physics.physics_distances`), others filled with NaN."""
    n_real, n_fake = len(real["trusted"]), len(fake["trusted"])

    def full(values, n):
        return {
            q: np.asarray(values.get(q, np.full(n, np.nan)), np.float64)
            for q in (
                *physics.QUANTITIES,
                "trusted",
            )
        }

    result = physics.physics_distances(full(real, n_real), full(fake, n_fake))
    return {q: result[q]["wasserstein_over_std"] for q in quantities}


class QualityMonitor:
    """FID, KID, precision/recall and colour distances of a generator against fixed real images.

    Args:
      real_images: (N, H, W, 3) flux of the fixed real sample (validation).
      real_labels: (N,) class codes of those images.
      fit_images: (M, H, W, 3) flux of training images the extractors are
        fitted on (never the images judged).
      class_names: the model's classes, in code order.
      inverse: the model's output scale to flux (``ImagePreprocessor.inverse``).
      features: names from :data:`FEATURES`.
      morphology_per_class: images per class measured with statmorph (0: off).
      seed: the noise of the generated sample, the extractors' seeds, KID's
        subsets.

    Raises:
      ValueError: an unknown feature name, no real images, labels out of range.
    """

    def __init__(
        self,
        real_images,
        real_labels,
        fit_images,
        class_names: Sequence[str],
        inverse: Callable[[np.ndarray], np.ndarray],
        *,
        features: Sequence[str] = ("pixel_pca",),
        morphology_per_class: int = 0,
        seed: int = 0,
    ):
        from tfelg.metrics import gan_report

        unknown = sorted(set(features) - set(FEATURES))
        if unknown or not features:
            raise ValueError(
                f"unknown quality feature extractor(s) {unknown or list(features)}; "
                f"choose from {', '.join(FEATURES)}"
            )
        self.class_names = [str(c) for c in class_names]
        self.real_images = physics.check_images(real_images, "real validation images")
        self.labels = quality.check_labels(
            real_labels, len(self.real_images), len(self.class_names), "real validation labels"
        )
        self.inverse = inverse
        self.seed = int(seed)
        self.morphology_per_class = int(morphology_per_class)
        fit_images = physics.check_images(fit_images, "training images for the extractors")
        components = min(PCA_COMPONENTS, len(fit_images) - 1)
        self.features = {}
        for name in features:
            if name == "pixel_pca" and components < 1:
                raise ValueError("pixel_pca needs at least 2 training images")
            (description, fn), *_ = gan_report.feature_functions(
                [name], fit_images, seed=self.seed, pca_components=components
            ).items()
            self.features[name] = (description, fn)
        self._real = {
            name: quality.SampleSummary("real", fn(self.real_images), self.labels, None)
            for name, (_, fn) in self.features.items()
        }
        self._real_colours = fast_colours(self.real_images, "real validation images")
        self._morphology_rows = self._first_per_class(self.morphology_per_class)
        self._real_morphology = (
            physics.measure_images(
                self.real_images[self._morphology_rows], num_workers=1, name="real"
            )
            if len(self._morphology_rows)
            else None
        )

    @classmethod
    def from_splits(
        cls,
        validation: dict,
        train: dict,
        class_names: Sequence[str] | None,
        inverse: Callable[[np.ndarray], np.ndarray],
        *,
        per_class: int,
        max_fit_images: int = MAX_FIT_IMAGES,
        **kwargs,
    ) -> QualityMonitor:
        """A monitor from the trainer's model arrays (``image`` in the model's scale, ``label``).

        Draws, with ``kwargs["seed"]``, up to ``per_class`` validation images
        per class and up to ``max_fit_images`` training images.
        """
        seed = int(kwargs.get("seed", 0))
        names = list(class_names) if class_names else ["all"]
        images = np.asarray(validation["image"])
        labels = np.asarray(validation.get("label", np.zeros(len(images), np.int64)))
        rng = np.random.default_rng([seed, 17])
        rows = []
        for code in range(len(names)):
            members = np.flatnonzero(labels == code)
            rows.append(np.sort(rng.permutation(members)[:per_class]))
        rows = np.concatenate(rows).astype(np.int64)
        if len(rows) == 0:
            raise ValueError("the validation split has no images to judge generated ones against")
        train_images = np.asarray(train["image"])
        fit_rows = np.sort(rng.permutation(len(train_images))[:max_fit_images])
        return cls(
            inverse(images[rows]),
            labels[rows].astype(np.int64),
            inverse(train_images[fit_rows]),
            names,
            inverse,
            **kwargs,
        )

    def _first_per_class(self, count: int) -> np.ndarray:
        rows = [np.flatnonzero(self.labels == c)[:count] for c in range(len(self.class_names))]
        return np.concatenate(rows).astype(np.int64) if count > 0 else np.zeros(0, np.int64)

    def describe(self) -> dict:
        """What the values are measured on, for ``metrics.json``."""
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return {
            "real": "validation split, seeded subset",
            "per_class": {name: int(c) for name, c in zip(self.class_names, counts, strict=True)},
            "features": {name: description for name, (description, _) in self.features.items()},
            "colours": "fast_colours: frame-median sky, aperture 2 rhalf in [5, 20] px; W/std",
            "morphology_per_class": self.morphology_per_class,
            "seed": self.seed,
        }

    def generated_images(self, model) -> np.ndarray:
        """The model's images for the real sample's labels, fixed noise, in flux."""
        return self.inverse(model.generate(self.labels, seed=self.seed))

    def evaluate(self, model) -> dict[str, float]:
        """Every scalar (see the module docstring) for ``model``'s current generator."""
        fake_images = self.generated_images(model)
        fake_images = physics.check_images(fake_images, "generated images")
        per_class = len(self.class_names) > 1
        values: dict[str, float] = {}
        for name, (_, fn) in self.features.items():
            fake = quality.SampleSummary("generated", fn(fake_images), self.labels, None)
            rows = quality.compare(
                self._real[name], fake, class_names=self.class_names, seed=self.seed
            )
            for row in rows:
                if row["scope"] != "all" and not per_class:
                    continue
                scope = "" if row["scope"] == "all" else f"{_tag_name(row['scope'])}/"
                for metric in FEATURE_METRICS:
                    values[f"{TAG_PREFIX}/{name}/{scope}{metric}"] = float(row[metric])
        fake_colours = fast_colours(fake_images, "generated images")
        scopes = [("", np.ones(len(self.labels), bool))]
        if per_class:
            scopes += [
                (f"{_tag_name(c)}/", self.labels == code)
                for code, c in enumerate(self.class_names)
                if (self.labels == code).any()
            ]
        for scope, mask in scopes:
            distances = _distances(
                physics.subset(self._real_colours, mask),
                physics.subset(fake_colours, mask),
                physics.COLOUR_NAMES,
            )
            for colour, value in distances.items():
                values[f"{TAG_PREFIX}/colour/{scope}{colour}"] = float(value)
        if self._real_morphology is not None:
            fake = physics.measure_images(
                fake_images[self._morphology_rows], num_workers=1, name="generated"
            )
            labels = self.labels[self._morphology_rows]
            for code, c in enumerate(self.class_names):
                mask = labels == code
                if not mask.any():
                    continue
                distances = _distances(
                    physics.subset(self._real_morphology, mask),
                    physics.subset(fake, mask),
                    physics.MORPHOLOGY_QUANTITIES,
                )
                for quantity, value in distances.items():
                    values[f"{TAG_PREFIX}/morphology/{_tag_name(c)}/{quantity}"] = float(value)
        return values


def json_values(values: dict[str, float]) -> dict[str, float | None]:
    """``values`` with NaN/inf as None (JSON has no NaN)."""
    return {k: (v if np.isfinite(v) else None) for k, v in values.items()}
