"""Image feature extractors: global-average-pooled ResNet features of galaxy stamps.

The reference work fed galaxies through ImageNet's ResNet50 *with* its
classification head and used the 1000 class probabilities as features
("how much does this galaxy look like a goldfish"), after ImageNet's "caffe"
preprocessing of images already scaled to [-1, 1]. Here a feature vector is
always the global average of the last convolutional block (2048 numbers for
ResNet50, 256 for the small ResNet), and each weight source gets the
preprocessing it was trained with:

* ``random`` (seeded) or a SimCLR workdir: the project's per-band scaling
  (:func:`band_scaling`, the ``asinh`` stretch over each band's sky noise
  that every image model trains on, fitted on the training split). A
  random network is a fair baseline: random convolutional features are far
  from useless, and anything learned must beat them.
* ImageNet weights from a user file (``weights=PATH``; nothing is ever
  downloaded): ImageNet networks were trained on 8-bit RGB photographs, so
  the three bands are first made into an RGB picture (:class:`RgbDisplay`:
  F160W, F850LP, F435W as R, G, B, one Lupton et al. 2004 asinh stretch on
  the summed intensity, the same for every galaxy so colour stays colour)
  and then go through ``keras.applications.resnet50.preprocess_input`` (the
  "caffe" convention: RGB to BGR, ImageNet channel means subtracted, no
  scaling), exactly as the weights expect.

Input size: ``keras.applications.ResNet50(include_top=False)`` accepts
inputs from 32x32 up, so 64x64 stamps run natively (the last block is then
2x2). ImageNet weights were learned on objects ~100-200 pixels across;
``input_size=224`` upsamples bilinearly to that scale inside the network, at
about 12x the cost. The small ResNet (ResNet-18-like: four stages of two
basic blocks, widths 32-256, a stride-2 stem so the first stage works at
32x32, as ResNets for CIFAR do) costs ~0.3 GFLOP a stamp, about 1/16 of
ResNet50 at 64x64, which is what makes SimCLR pre-training practical on CPUs.

Weights files are checked layer by layer before they are loaded
(:func:`load_weights_checked`): a file of another architecture or with
other shapes is refused with the layer and both shapes named, instead of
Keras's shape error about an anonymous variable.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os

import keras
import numpy as np
import tensorflow as tf

from tfelg.errors import InputError

ARCHITECTURES = ("resnet50", "small_resnet")
#: Band order of ``hst_galaxies`` images, and the RGB channel each becomes.
BANDS = ("F435W", "F850LP", "F160W")
RGB_FROM_BANDS = (2, 1, 0)  # R = F160W, G = F850LP, B = F435W
# Smallest input keras.applications.ResNet50(include_top=False) accepts.
RESNET50_MIN_SIZE = 32
SMALL_RESNET_WIDTHS = (32, 64, 128, 256)


# -- input checks -------------------------------------------------------------------------
def check_images(images, what: str = "images", *, min_size: int = 1) -> np.ndarray:
    """``images`` as float32 (N, H, W, 3), finite; InputError naming the first bad row."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise InputError(f"{what} must have shape (N, H, W, 3) (three bands), got {array.shape}")
    if len(array) == 0:
        raise InputError(f"{what}: no images")
    if min(array.shape[1:3]) < min_size:
        raise InputError(
            f"{what} are {array.shape[1]}x{array.shape[2]}; at least {min_size} needed"
        )
    finite = np.isfinite(array).reshape(len(array), -1).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise InputError(
            f"{what} hold NaN or infinite pixels in {int((~finite).sum())} images",
            column="image",
            row=row,
        )
    return array


# -- preprocessing ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RgbDisplay:
    """Three bands as an ImageNet-style input: Lupton RGB, 0-255, then ``preprocess_input``.

    R, G, B = F160W, F850LP, F435W flux times the fixed band factors of the
    project's composites (``tfelg.outputs.hst_plots.RGB_BAND_SCALES``: a
    galaxy midway between the red sequence and the blue cloud is grey, so
    ellipticals look red and irregulars blue; f_nu without them makes every
    z < 1 galaxy orange), with Lupton et al. (2004)'s stretch: every channel
    is multiplied by ``asinh(Q I / stretch) / (Q I)`` with ``I`` the mean of
    the three, so hue is kept, and a pixel whose brightest channel passes 1
    is scaled down as a whole rather than clipped per channel. ``stretch`` is
    fitted on the training split (the 99.5th percentile of ``I``) and then
    fixed. ``band_scales`` (1, 1, 1) for images already in display colours
    (``hubble_deep_field``).
    """

    stretch: float
    q: float = 8.0
    band_scales: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @classmethod
    def fit(cls, images, q: float = 8.0, *, calibrated: bool = True) -> RgbDisplay:
        from tfelg.outputs.hst_plots import RGB_BAND_SCALES

        scales = tuple(float(v) for v in RGB_BAND_SCALES) if calibrated else (1.0, 1.0, 1.0)
        x = check_images(images, "training images") * np.asarray(scales, np.float32)
        intensity = x.mean(axis=-1)
        stretch = float(np.percentile(intensity, 99.5))
        return cls(stretch if stretch > 0 else 1.0, q, scales)

    def rgb(self, images) -> np.ndarray:
        """(N, H, W, 3) RGB in [0, 255] (float32)."""
        x = np.asarray(images, np.float32) * np.asarray(self.band_scales, np.float32)
        x = np.clip(x[..., list(RGB_FROM_BANDS)], 0.0, None)
        intensity = x.mean(axis=-1, keepdims=True)
        scaled = self.q * intensity / self.stretch
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(intensity > 0, np.arcsinh(scaled) / (self.q * intensity), 0.0)
        rgb = x * factor
        peak = np.maximum(rgb.max(axis=-1, keepdims=True), 1.0)
        return (255.0 * rgb / peak).astype(np.float32)

    def __call__(self, images) -> np.ndarray:
        from keras.applications import resnet50

        return resnet50.preprocess_input(self.rgb(images))

    def to_dict(self) -> dict:
        return {"kind": "imagenet_rgb", **dataclasses.asdict(self)}


def band_scaling(fit_images):
    """The project's per-band scaling, fitted on training-split flux images.

    This is the stretch every image model of tfelg trains on
    (:class:`tfelg.training.images.ImagePreprocessor`: ``asinh(x / s_b) / a_b``
    with ``s_b`` the band's robust sky noise and ``a_b`` putting every
    training pixel in [-1, 1]), so random networks, SimCLR encoders and GAN
    discriminators see the same numbers.
    """
    from tfelg.training import images as images_lib

    return images_lib.ImagePreprocessor.fit({"image": check_images(fit_images, "training images")})


def apply_preprocessing(preprocessing, images) -> np.ndarray:
    """Flux stamps through an :class:`RgbDisplay` or an ``ImagePreprocessor``."""
    if isinstance(preprocessing, RgbDisplay):
        return preprocessing(images)
    return preprocessing.scale_images(images)


def describe_preprocessing(preprocessing) -> dict:
    """JSON-serialisable description (for ``info`` and provenance)."""
    if isinstance(preprocessing, RgbDisplay):
        return preprocessing.to_dict()
    return {"kind": "bands", **json.loads(preprocessing.to_json())}


# -- networks ---------------------------------------------------------------------------------
def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return int(seed)


def small_resnet(
    input_shape=(64, 64, 3),
    widths=SMALL_RESNET_WIDTHS,
    blocks_per_stage: int = 2,
    *,
    stem_stride: int = 2,
    seed: int = 0,
    synchronized_bn: bool = False,
    name: str = "small_resnet",
) -> keras.Model:
    """A ResNet-18-like encoder for 64x64 stamps; output: (batch, widths[-1]) pooled features.

    A 3x3 stem (stride ``stem_stride``), then one stage per width of
    ``blocks_per_stage`` basic blocks (two 3x3 convolutions, batch norm,
    identity or 1x1 projection shortcut), stride 2 from the second stage on,
    then global average pooling. Every kernel initialiser is seeded from
    ``seed``. ``synchronized_bn``: batch statistics over all replicas (what
    SimCLR needs under a multi-replica strategy, so a replica cannot tell
    its positives apart by their local batch statistics).
    """
    seed = _seed(seed)
    counter = iter(range(10_000))

    def conv(x, filters, kernel, stride, label):
        return keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.HeNormal(seed=seed * 1009 + next(counter)),
            name=f"{label}_conv",
        )(x)

    def bn(x, label):
        return keras.layers.BatchNormalization(synchronized=synchronized_bn, name=f"{label}_bn")(x)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.ReLU(name="stem_relu")(
        bn(conv(inputs, widths[0], 3, stem_stride, "stem"), "stem")
    )
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            stride = 2 if (stage > 0 and block == 0) else 1
            label = f"stage{stage + 1}_block{block + 1}"
            shortcut = x
            if stride != 1 or x.shape[-1] != width:
                shortcut = bn(conv(x, width, 1, stride, f"{label}_proj"), f"{label}_proj")
            y = bn(conv(x, width, 3, stride, f"{label}_1"), f"{label}_1")
            y = keras.layers.ReLU(name=f"{label}_relu1")(y)
            y = bn(conv(y, width, 3, 1, f"{label}_2"), f"{label}_2")
            x = keras.layers.ReLU(name=f"{label}_out")(
                keras.layers.Add(name=f"{label}_add")([shortcut, y])
            )
    outputs = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, outputs, name=name)


def resnet50(input_shape=(64, 64, 3), *, seed: int = 0) -> keras.Model:
    """``keras.applications.ResNet50(include_top=False, pooling="avg", weights=None)``.

    keras.applications' initialisers take no seed, so the global Keras seed
    is set to ``seed`` right before building (this resets Python's, NumPy's
    and TensorFlow's global generators too): the same seed gives the same
    random network.
    """
    keras.utils.set_random_seed(_seed(seed))
    return keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=tuple(input_shape), pooling="avg"
    )


# -- weights files ------------------------------------------------------------------------------
def _shapes(layer) -> list[tuple[int, ...]]:
    return [tuple(int(d) for d in w.shape) for w in layer.weights]


def _describe(names, shapes) -> str:
    return ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, shapes, strict=True)) or "none"


def _check_keras_file(f, model, path) -> None:
    """Keras 3 ``.weights.h5``: ``layers/<class name>[_i]/vars/<j>``, in model.layers order."""
    from keras.src.saving.saving_lib import _get_unique_name
    from keras.src.utils.naming import to_snake_case

    layers_group = f["layers"]
    used: dict[str, int] = {}
    seen = set()
    for layer in model.layers:
        key = _get_unique_name(to_snake_case(type(layer).__name__), used)
        seen.add(key)
        expected = _shapes(layer)
        names = [w.path.split("/")[-1] for w in layer.weights]
        group = layers_group.get(key)
        stored = []
        if group is not None and "vars" in group:
            vars_ = group["vars"]
            stored = [tuple(vars_[str(i)].shape) for i in range(len(vars_))]
        if stored != expected:
            raise InputError(
                f"weights of another architecture or shape: layer {layer.name!r} "
                f"({type(layer).__name__}, file entry layers/{key}) expects "
                f"{_describe(names, expected)}; the file holds "
                f"{', '.join(str(s) for s in stored) or 'no weights'} there",
                path=path,
            )
    extra = sorted(
        k
        for k in layers_group
        if k not in seen and "vars" in layers_group[k] and len(layers_group[k]["vars"])
    )
    if extra:
        raise InputError(
            f"weights of another architecture: the file has weights for layers the model "
            f"lacks (first: layers/{extra[0]}; {len(extra)} in all)",
            path=path,
        )


def _check_legacy_file(f, model, path) -> None:
    """Legacy HDF5 (the Keras-distributed ImageNet files): groups by layer name."""
    root = f["model_weights"] if "model_weights" in f else f
    if "layer_names" not in root.attrs:
        raise InputError("not a Keras weights file (no 'layers' group or 'layer_names')", path=path)
    decode = lambda v: v.decode("utf8") if isinstance(v, bytes) else str(v)  # noqa: E731
    stored = {}
    for layer_name in (decode(n) for n in root.attrs["layer_names"]):
        group = root[layer_name]
        weight_names = [decode(n) for n in group.attrs.get("weight_names", [])]
        if weight_names:
            stored[layer_name] = [tuple(group[w].shape) for w in weight_names]
    model_layers = [layer for layer in model.layers if layer.weights]
    for layer in model_layers:
        expected = _shapes(layer)
        names = [w.path.split("/")[-1] for w in layer.weights]
        if layer.name not in stored:
            raise InputError(
                f"weights of another architecture: no weights for layer {layer.name!r} "
                f"({_describe(names, expected)}) in the file",
                path=path,
            )
        if stored[layer.name] != expected:
            raise InputError(
                f"weights of another shape: layer {layer.name!r} expects "
                f"{_describe(names, expected)}; the file holds "
                f"{', '.join(str(s) for s in stored[layer.name])}",
                path=path,
            )
    extra = sorted(set(stored) - {layer.name for layer in model_layers})
    if extra:
        raise InputError(
            f"weights of another architecture: the file has weights for layers the model "
            f"lacks (first: {extra[0]!r}; {len(extra)} in all)",
            path=path,
        )


def load_weights_checked(model: keras.Model, path: str) -> None:
    """Loads a weights file into ``model`` after checking every layer's shapes.

    Reads both Keras 3 ``.weights.h5`` files (``model.save_weights``) and
    legacy Keras HDF5 weights (e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``
    as Keras distributes ImageNet weights; matched by layer name).

    Raises:
      InputError: missing or unreadable file, or a layer whose weights are
        absent or of another shape (named, with both shapes).
    """
    import h5py

    path = os.path.expanduser(str(path))
    if not os.path.exists(path):
        raise InputError("weights file not found", path=path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"not an HDF5 weights file ({e})", path=path) from None
    with f:
        legacy = "layers" not in f
        if legacy:
            _check_legacy_file(f, model, path)
        else:
            _check_keras_file(f, model, path)
    if legacy:
        # Keras 3 reads any "*.h5" that is not "*.weights.h5" as legacy HDF5.
        if not path.endswith((".h5", ".hdf5")) or path.endswith(".weights.h5"):
            raise InputError(
                "legacy Keras weights must be named *.h5 (not *.weights.h5)", path=path
            )
        model.load_weights(path, by_name=True)
    else:
        if not path.endswith(".weights.h5"):
            raise InputError("Keras 3 weights files must be named *.weights.h5", path=path)
        model.load_weights(path)


# -- extractors ---------------------------------------------------------------------------------
@dataclasses.dataclass
class FeatureExtractor:
    """A network from preprocessed stamps to pooled features, with its preprocessing.

    Attributes:
      network: Keras model, (batch, H, W, 3) -> (batch, D).
      preprocessing: an ``ImagePreprocessor`` (:func:`band_scaling`) or an
        :class:`RgbDisplay` (flux -> network input).
      name: a representation name (``small_resnet_random``, ``resnet50_imagenet``, ...).
      info: provenance (architecture, weights, preprocessing, input size), JSON-serialisable.
    """

    network: keras.Model
    preprocessing: object
    name: str
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self._predict = tf.function(
            lambda x: self.network(x, training=False), reduce_retracing=True
        )

    @property
    def feature_dim(self) -> int:
        return int(self.network.output_shape[-1])

    def __call__(self, images, batch_size: int = 128) -> np.ndarray:
        """(N, D) float32 features of flux images (N, H, W, 3)."""
        images = check_images(images)
        out = []
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size]
            x = np.asarray(apply_preprocessing(self.preprocessing, batch), np.float32)
            out.append(self._predict(tf.constant(x)).numpy())
        features = np.concatenate(out).astype(np.float32)
        if not np.all(np.isfinite(features)):
            row = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
            raise InputError(f"{self.name} gave NaN or infinite features", row=row)
        return features


def make_extractor(
    architecture: str,
    weights: str = "random",
    *,
    fit_images=None,
    seed: int = 0,
    input_size: int | None = None,
    preprocessing: str = "auto",
) -> FeatureExtractor:
    """A feature extractor by architecture and weight source.

    Args:
      architecture: ``resnet50`` or ``small_resnet``.
      weights: ``random`` (seeded by ``seed``) or the path of a weights file
        (ImageNet weights for ``resnet50``; ``model.save_weights`` output of
        the same architecture for either).
      fit_images: flux images of the training split; the preprocessing
        constants are fitted on them (never on the images to be embedded).
      seed: seeds a random network.
      input_size: side of the network's input; stamps are resized
        (bilinear) to it inside the network. None: the stamps' own size
        (64: ResNet50's minimum is 32).
      preprocessing: ``auto`` (ImageNet RGB for ``resnet50`` with a weights
        file, the per-band scaling otherwise), ``imagenet`` or ``bands``.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
    if fit_images is None:
        raise ValueError(
            "make_extractor needs fit_images (training-split stamps) for its preprocessing"
        )
    fit_images = check_images(fit_images, "training images")
    stamp = fit_images.shape[1:3]
    size = int(input_size or stamp[0])
    if architecture == "resnet50" and size < RESNET50_MIN_SIZE:
        raise ValueError(
            f"ResNet50 needs inputs of at least {RESNET50_MIN_SIZE} pixels, got {size}"
        )
    from_file = weights != "random"
    if preprocessing == "auto":
        preprocessing = "imagenet" if (architecture == "resnet50" and from_file) else "bands"
    if preprocessing == "imagenet":
        prep = RgbDisplay.fit(fit_images)
    elif preprocessing == "bands":
        prep = band_scaling(fit_images)
    else:
        raise ValueError(f"preprocessing must be auto, imagenet or bands, got {preprocessing!r}")

    build = resnet50 if architecture == "resnet50" else small_resnet
    base = build((size, size, 3), seed=seed)
    if from_file:
        load_weights_checked(base, weights)
    network = base
    if (size, size) != tuple(stamp):
        inputs = keras.Input(shape=(*stamp, 3), name="stamp")
        resized = keras.layers.Resizing(size, size, interpolation="bilinear", name="upsample")(
            inputs
        )
        network = keras.Model(inputs, base(resized), name=f"{base.name}_at_{size}")
    source = "random" if not from_file else ("imagenet" if preprocessing == "imagenet" else "file")
    info = {
        "architecture": architecture,
        "weights": weights if from_file else "random",
        "seed": seed,
        "input_size": size,
        "stamp_size": list(stamp),
        "preprocessing": describe_preprocessing(prep),
        "feature_dim": int(network.output_shape[-1]),
    }
    return FeatureExtractor(network, prep, f"{architecture}_{source}", info)


def save_extractor_info(extractor: FeatureExtractor, path: str) -> None:
    """The extractor's provenance as JSON (atomic)."""
    from tfelg import atomic

    atomic.write_text(path, json.dumps(extractor.info, indent=2, sort_keys=True))


def simclr_extractor(workdir: str) -> FeatureExtractor:
    """The encoder of a finished ``tfelg-train --model=simclr`` run, with the run's scaling.

    Raises:
      InputError: no finished run in ``workdir``, or a run of another model.
    """
    from tfelg.models.simclr import SimCLR
    from tfelg.training import loop

    trained = loop.load_trained(workdir)
    if not isinstance(trained.model, SimCLR):
        raise InputError(
            f"not a SimCLR run (its model is {type(trained.model).__name__}); "
            "train one with tfelg-train --model=simclr",
            path=workdir,
        )
    encoder = trained.model.encoder
    info = {
        "architecture": "small_resnet",
        "weights": "simclr",
        "workdir": os.path.abspath(workdir),
        "model_config": trained.model.get_config(),
        "preprocessing": describe_preprocessing(trained.preprocessor),
        "feature_dim": int(encoder.output_shape[-1]),
    }
    return FeatureExtractor(encoder, trained.preprocessor, "simclr", info)
