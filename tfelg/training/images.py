"""Images as model inputs: a per-band asinh stretch fitted on the training split.

The loop's image models (``tfelg.models.gan``, and any model whose class says
``INPUT_KIND = "image"``) see a batch as a dict: ``image`` (B, H, W, C)
float32 and, for a model conditioned on a class, ``label`` (B,) int32 in
``[0, num_classes)``. This module makes those arrays from a split of
``hst_galaxies`` (or any dataset with an ``image`` feature) and turns model
output back into calibrated flux.

Why asinh, per band, fitted on train: galaxy pixels span four decades of
flux above a sky whose noise is symmetric around zero. ``asinh(x / s)`` is
linear within ~``s`` of zero (the noise keeps its Gaussian shape, negative
values included, where a logarithm would have to drop them) and logarithmic
above (bright cores do not swamp the faint outskirts), the stretch of Lupton
et al. (2004) for astronomical images. Per band, because F435W, F850LP and
F160W differ in depth and sky noise; the colours stay physical because the
transform is monotone and inverted exactly (:meth:`ImagePreprocessor.inverse`).

* ``scale`` s_b: the robust noise of band b, ``1.4826 * MAD`` of all its
  training pixels (most pixels of a stamp are sky). A band without noise
  (noise-free simulations) falls back to ``1e-3`` of its largest ``|x|``.
* ``stretch`` a_b: the largest ``|asinh(x / s_b)|`` on the training split, so
  every training pixel lies in [-1, 1], the range of a generator's ``tanh``.

Transformed: ``y = asinh(x / s_b) / a_b``; inverse: ``x = s_b sinh(a_b y)``.
Pixels of other splits may fall slightly outside [-1, 1]; they are not clipped.

Labels: a ``ClassLabel`` column (``true_type``, ``uvj``, ``gini_m20``, ...).
Rows whose class is named ``unknown`` or ``unclassified`` carry no label and
are left out of a conditional model's splits (counted in
``num_unlabelled``). Every remaining class of the column (or of the
``classes`` the user chose) needs training examples: a class without any
cannot be learned, and a generated library would be balanced over noise.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import numpy as np

from tfelg.errors import InputError
from tfelg.preprocessing import write_text_atomically

FORMAT_NAME = "tfelg.image_preprocessing"
FORMAT_VERSION = 1
IMAGE_FEATURE = "image"
UNLABELLED_NAMES = ("unknown", "unclassified")
MAD_TO_SIGMA = 1.4826
SKY_FRAME = 4  # pixels: the outer frame of a stamp that measures the sky noise


def _row_name(arrays: Mapping[str, np.ndarray], row: int) -> str:
    if "object_id" in arrays:
        return f"row {row} (object_id {np.asarray(arrays['object_id'])[row]!s})"
    return f"row {row}"


def check_images(arrays: Mapping[str, np.ndarray], split: str, shape=None) -> np.ndarray:
    """The split's images as float32 (N, H, W, C); InputError naming the first bad row.

    Bad: no ``image`` feature, wrong rank or shape, or a NaN or infinite pixel
    (a cutout off the mosaic, a failed render): such a row would turn every
    loss of its batch into NaN.
    """
    if IMAGE_FEATURE not in arrays:
        raise InputError(
            f"split {split!r} has no {IMAGE_FEATURE!r} feature (features present: "
            f"{', '.join(sorted(arrays))}); image models need an image dataset such as "
            "hst_galaxies/synthetic",
            column=IMAGE_FEATURE,
        )
    images = np.asarray(arrays[IMAGE_FEATURE], dtype=np.float32)
    if images.ndim != 4:
        raise InputError(
            f"split {split!r}: images must be (N, height, width, bands), got shape {images.shape}",
            column=IMAGE_FEATURE,
        )
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        raise InputError(
            f"split {split!r}: images of shape {images.shape[1:]}, but the model was fitted on "
            f"{tuple(shape)}",
            column=IMAGE_FEATURE,
        )
    bad = ~np.isfinite(images).reshape(len(images), -1)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise InputError(
            f"split {split!r}, {_row_name(arrays, row)}: the image has {int(bad[row].sum())} "
            f"NaN or infinite pixel(s) (of {bad.shape[1]}); {int(bad.any(axis=1).sum())} "
            "image(s) of this split are affected. Remove them or fill the pixels",
            column=IMAGE_FEATURE,
        )
    return images


@dataclasses.dataclass
class ImagePreprocessor:
    """The fitted per-band asinh stretch, and the class labels a model is conditioned on.

    Attributes:
      image_shape: (H, W, C) of the training images.
      scale, stretch: per band, see the module docstring.
      label: the label column, or None for a model without classes.
      label_names: the column's class names, in the dataset's index order.
      classes: the model's classes, in the model's index order (a subset of
        ``label_names`` without the unlabelled names).
      num_fitted: training images the stretch was fitted on.
      num_unlabelled: training rows left out for having no usable class.
      sky_sigma: per band, the sky noise in flux units: 1.4826 MAD of the
        pixels in the outer ``SKY_FRAME`` pixels of every training stamp,
        where the centred galaxy contributes least (``scale`` is the MAD of
        all pixels and is larger where galaxies are extended: 1.5x in
        F160W on hst_galaxies/synthetic). The GAN's noise model uses it.
        None in files written before it existed.
    """

    image_shape: tuple[int, ...]
    scale: tuple[float, ...]
    stretch: tuple[float, ...]
    label: str | None = None
    label_names: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    num_fitted: int = 0
    num_unlabelled: int = 0
    sky_sigma: tuple[float, ...] | None = None

    # -- fitting ------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        train: Mapping[str, np.ndarray],
        *,
        label: str | None = None,
        label_names: Sequence[str] | None = None,
        classes: Sequence[str] | None = None,
        dataset: str = "the dataset",
    ) -> ImagePreprocessor:
        """Fits the stretch on ``train`` and resolves the classes.

        Args:
          train: the training split's arrays.
          label: label column (None: no classes).
          label_names: that column's class names (a TFDS ``ClassLabel``'s
            ``names``); default ``"0"``, ``"1"``, ... up to the largest value.
          classes: the classes to condition on (default: every named class
            but ``unknown``/``unclassified``).
          dataset: its name, for messages.

        Raises:
          InputError: no images, NaN pixels, a missing label column, an
            unknown class name, a class without training examples, a band
            that is zero in every image.
        """
        images = check_images(train, "train")
        if len(images) == 0:
            raise InputError("the train split has no images")
        scale, stretch, sky = [], [], []
        for band in range(images.shape[-1]):
            sky.append(_frame_sigma(images[..., band]))
            pixels = images[..., band].ravel().astype(np.float64)
            mad = float(np.median(np.abs(pixels - np.median(pixels))))
            s = MAD_TO_SIGMA * mad
            peak = float(np.max(np.abs(pixels)))
            if peak == 0:
                raise InputError(
                    f"band {band} of {dataset}'s images is zero in every training image; "
                    "nothing to learn from it",
                    column=IMAGE_FEATURE,
                )
            if not s > 0:
                s = 1e-3 * peak
            a = float(np.max(np.abs(np.arcsinh(pixels / s))))
            scale.append(s)
            stretch.append(a)
        prep = cls(
            image_shape=tuple(int(d) for d in images.shape[1:]),
            scale=tuple(scale),
            stretch=tuple(stretch),
            num_fitted=len(images),
            sky_sigma=tuple(sky),
        )
        if label is None:
            return prep
        values = _labels(train, label, "train", dataset)
        if label_names is None:
            label_names = [str(i) for i in range(int(values.max(initial=-1)) + 1)]
        label_names = tuple(str(n) for n in label_names)
        usable = [n for n in label_names if n not in UNLABELLED_NAMES]
        if classes is None:
            classes = usable
        classes = tuple(str(c) for c in classes)
        unknown = [c for c in classes if c not in usable]
        if unknown or not classes:
            raise InputError(
                f"classes {unknown or list(classes)} are not classes of column {label!r} "
                f"(its classes: {', '.join(usable)})",
                column=label,
            )
        counts = {c: int(np.sum(values == label_names.index(c))) for c in classes}
        empty = [c for c, n in counts.items() if n == 0]
        if empty:
            raise InputError(
                f"class(es) {', '.join(repr(c) for c in empty)} of column {label!r} have no "
                f"example in the train split of {dataset} (counts: "
                + ", ".join(f"{c} {n}" for c, n in counts.items())
                + "); a conditional model cannot learn a class it never sees. Choose the "
                "classes with --model_options='{\"classes\": [...]}' or another label column",
                column=label,
            )
        prep.label = label
        prep.label_names = label_names
        prep.classes = classes
        prep.num_unlabelled = int(len(values) - sum(counts.values()))
        return prep

    # -- using it ---------------------------------------------------------------------------
    @property
    def num_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def scale_images(self, images) -> np.ndarray:
        """Flux (..., H, W, C) to the model's stretched values."""
        images = np.asarray(images, dtype=np.float64)
        scale, stretch = np.asarray(self.scale), np.asarray(self.stretch)
        return (np.arcsinh(images / scale) / stretch).astype(np.float32)

    def inverse(self, values) -> np.ndarray:
        """The model's stretched values back to flux (float32), exactly."""
        values = np.asarray(values, dtype=np.float64)
        scale, stretch = np.asarray(self.scale), np.asarray(self.stretch)
        return (scale * np.sinh(stretch * values)).astype(np.float32)

    def transform(self, arrays: Mapping[str, np.ndarray], split: str = "data") -> dict:
        """A split as the batch dict: ``image`` (stretched) and, with classes, ``label``.

        Rows without a usable class are left out when the model has classes.
        """
        images = check_images(arrays, split, self.image_shape)
        out = {IMAGE_FEATURE: self.scale_images(images)}
        if self.classes is None:
            return out
        values = _labels(arrays, self.label, split, "the dataset")
        index = {self.label_names.index(c): i for i, c in enumerate(self.classes)}
        mapped = np.array([index.get(int(v), -1) for v in values], dtype=np.int32)
        keep = mapped >= 0
        return {IMAGE_FEATURE: out[IMAGE_FEATURE][keep], "label": mapped[keep]}

    # -- (de)serialisation -------------------------------------------------------------------
    def to_json(self) -> str:
        d = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **dataclasses.asdict(self)}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, path: str = "") -> ImagePreprocessor:
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != FORMAT_NAME:
            raise InputError(f"not a tfelg image preprocessing file ({FORMAT_NAME})", path=path)
        if d.get("version") != FORMAT_VERSION:
            raise InputError(f"image preprocessing version {d.get('version')!r}", path=path)
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in fields}
        for key in ("image_shape", "scale", "stretch", "label_names", "classes", "sky_sigma"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def save(self, path: str) -> None:
        write_text_atomically(path, self.to_json())

    @classmethod
    def load(cls, path: str) -> ImagePreprocessor:
        import tensorflow as tf

        if not tf.io.gfile.exists(path):
            raise InputError("preprocessing file not found", path=path)
        with tf.io.gfile.GFile(path, "r") as f:
            return cls.from_json(f.read(), path=path)


def _frame_sigma(band_images: np.ndarray) -> float:
    """1.4826 MAD of the outer ``SKY_FRAME`` pixels of (N, H, W) stamps (all pixels if smaller)."""
    h, w = band_images.shape[1:3]
    f = SKY_FRAME
    if h <= 2 * f or w <= 2 * f:
        pixels = band_images.ravel()
    else:
        mask = np.ones((h, w), bool)
        mask[f:-f, f:-f] = False
        pixels = band_images[:, mask].ravel()
    pixels = pixels.astype(np.float64)
    return float(MAD_TO_SIGMA * np.median(np.abs(pixels - np.median(pixels))))


def is_image_preprocessing(path: str) -> bool:
    """Whether ``path`` (a ``preprocessing.json``) holds an image stretch."""
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "r") as f:
        return json.loads(f.read()).get("format") == FORMAT_NAME


def _labels(arrays, label: str, split: str, dataset: str) -> np.ndarray:
    if label not in arrays:
        raise InputError(
            f"the {split} split of {dataset} has no label column {label!r} to condition on "
            f"(columns: {', '.join(sorted(arrays))}); choose one with "
            '--model_options=\'{"label": "..."}\'',
            column=label,
        )
    values = np.asarray(arrays[label])
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise InputError(
            f"label column {label!r} must hold integer class indices (a ClassLabel), got "
            f"{values.dtype} of shape {values.shape}",
            column=label,
        )
    return values


def display_rgb(values) -> np.ndarray:
    """Stretched images (..., H, W, 3) as RGB in [0, 1] for TensorBoard and figures.

    The reddest band (F160W, last) is shown red and the bluest (F435W) blue;
    sky (about 0) is black and the brightest training pixel of a band is 1.
    """
    values = np.asarray(values, dtype=np.float32)
    return np.clip(values[..., ::-1], 0.0, 1.0)
