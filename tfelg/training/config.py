"""What a training run is, as plain dataclasses written into its workdir.

Model Garden's split: :class:`DataConfig` (which galaxies and how they become
inputs), :class:`ModelConfig` (which autoencoder), :class:`TrainerConfig`
(optimisation and seeds), :class:`RuntimeConfig` (where and how fast it
runs), all inside :class:`ExperimentConfig`. A run's ``config.json`` is the
record of what produced its outputs, and the key to resuming it: a workdir
is resumed only by the same data, model and trainer settings. Runtime
settings (strategy, XLA, progress bar) say how the run executes, not what it
computes, so they may change between a run and its resumption (e.g. resume
a one-machine run on two workers).

Validation here is pure Python, so a wrong name or size fails in
milliseconds, before TensorFlow starts a device or a dataset is generated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from typing import Any

from tfelg.preprocessing import INPUTS, LINE_FEATURES

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
# Image models (a GAN, SimCLR) read the ``image`` feature of these datasets;
# the autoencoders read the feature vectors of the others.
IMAGE_INPUT = "image"
IMAGE_DATASETS = ("hst_galaxies",)
DATA_INPUTS = (*INPUTS, IMAGE_INPUT)
# Adam moves each weight by about the learning rate per step, whatever the
# gradient's size: on inputs scaled to unit variance a step above 1 throws
# the weights far outside any useful range (inf or 1e300 overflow at once),
# so such a rate is a typo, refused before the data are loaded.
MAX_LEARNING_RATE = 1.0
# Feature extractors of the per-epoch quality monitor (tfelg.metrics.monitor.FEATURES).
QUALITY_FEATURES = ("pixel_pca", "small_resnet")
# Sections whose change changes the result (see the module docstring).
RESULT_SECTIONS = ("data", "model", "trainer")


@dataclasses.dataclass
class DataConfig:
    """Which galaxies, and how they become model inputs.

    Attributes:
      dataset: TFDS name ``emission_lines/CONFIG`` or ``hst_galaxies/CONFIG``.
      data_dir: TFDS data directory (None: TFDS's default).
      manual_dir: folder holding real catalogues (``mpajhu``, ``sdss_spec``).
      num_galaxies, dataset_seed: size and seed of a synthetic config (None:
        the config's own).
      input: ``lines`` (equivalent widths), ``spectrum``, or ``image`` (the
        three-band stamps of ``hst_galaxies``, for image models).
      line_features: ``ew`` or ``ew_and_ratios`` (``lines`` only).
    """

    dataset: str = "emission_lines/synthetic"
    data_dir: str | None = None
    manual_dir: str | None = None
    num_galaxies: int | None = None
    dataset_seed: int | None = None
    input: str = "lines"
    line_features: str = "ew"


@dataclasses.dataclass
class ModelConfig:
    """Which autoencoder.

    Attributes:
      name: a key of ``tfelg.models.MODEL_REGISTRY`` (``ae``, ``cae``,
        ``vae``, ``cvae``, ``aae``) or an image model (``gan``).
      latent_dim: d, the size of the embedding.
      options: further constructor arguments of that model (``beta``,
        ``noise_std``, ``prior``, ...).
    """

    name: str = "ae"
    latent_dim: int = 2
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainerConfig:
    """Optimisation.

    Attributes:
      epochs: passes over the training split.
      batch_size: the *global* batch size (split over replicas and workers).
        The reference used 200.
      learning_rate: Adam's step size (reference: 1e-3).
      seed: seeds the model's initialisers and samplers, Keras/NumPy/Python
        and the per-epoch shuffles (epoch e uses ``seed + e``).
    """

    epochs: int = 50
    batch_size: int = 200
    learning_rate: float = 1e-3
    seed: int = 0


@dataclasses.dataclass
class RuntimeConfig:
    """How the run executes.

    Attributes:
      strategy: ``default``, ``mirrored``, ``multi_worker`` (cluster from
        ``TF_CONFIG``) or ``tpu``.
      tpu: TPU address for ``tpu`` (None: the local or Cloud TPU from the
        environment).
      jit_compile: compile the per-replica step with XLA. Per model and
        machine a measured choice (benchmarks/train_throughput.py).
      progress_bar: show a bar within each epoch when stderr is a terminal.
      keep_checkpoints: number of backup checkpoints kept.
      quality_every: for a model that generates images (the GAN): FID, KID,
        precision/recall and colour distances against the validation split
        every this many epochs and at the last, as ``quality/...`` scalars
        in TensorBoard and the last values in ``metrics.json``
        (:mod:`tfelg.metrics.monitor`); 0: off. Default 5, the GAN's default
        sample-grid cadence. A monitor: it reads the generator, never
        changes what is trained.
      quality_per_class: validation images (and as many generated) per
        class that the quality is measured on.
      quality_features: feature extractors of FID/KID/precision/recall:
        ``pixel_pca`` and/or ``small_resnet`` (random, seeded).
      quality_morphology: images per class measured with statmorph for the
        morphology distances (0: off; ~0.1-0.3 s of CPU an image, per
        evaluation; at least 5 for a distance).
    """

    strategy: str = "default"
    tpu: str | None = None
    jit_compile: bool = False
    progress_bar: bool = True
    keep_checkpoints: int = 2
    quality_every: int = 5
    quality_per_class: int = 32
    quality_features: list[str] = dataclasses.field(default_factory=lambda: ["pixel_pca"])
    quality_morphology: int = 0


@dataclasses.dataclass
class ExperimentConfig:
    """One training run."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

    # -- (de)serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExperimentConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing ones default."""
        sections = {
            "data": DataConfig,
            "model": ModelConfig,
            "trainer": TrainerConfig,
            "runtime": RuntimeConfig,
        }
        if not isinstance(d, dict):
            raise ValueError(f"an experiment config must be a JSON object, got {type(d).__name__}")
        unknown = set(d) - set(sections)
        if unknown:
            raise ValueError(f"unknown config sections: {', '.join(sorted(unknown))}")
        parts = {}
        for name, section_cls in sections.items():
            values = d.get(name, {})
            known = {f.name for f in dataclasses.fields(section_cls)}
            extra = set(values) - known
            if extra:
                raise ValueError(f"unknown keys in config section {name!r}: {sorted(extra)}")
            parts[name] = section_cls(**values)
        return cls(**parts)

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        return cls.from_dict(json.loads(text))

    def result_dict(self) -> dict[str, Any]:
        """The sections that determine the result (compared when resuming)."""
        d = self.to_dict()
        return {name: d[name] for name in RESULT_SECTIONS}

    # -- validation ----------------------------------------------------------------
    def validate(self) -> None:
        """Raises ValueError naming the first setting that cannot work.

        Checks names against the known models, datasets, inputs and
        strategies, and sizes against their ranges. Cheap: no TensorFlow op
        runs, no file is read.
        """
        from tfelg import data as tfelg_data
        from tfelg.training.trainer import all_models

        name, _, _ = self.data.dataset.partition("/")
        if name not in tfelg_data.KNOWN_DATASETS:
            raise ValueError(
                f"unknown dataset {self.data.dataset!r}; known datasets: "
                f"{', '.join(tfelg_data.KNOWN_DATASETS)} (as NAME or NAME/CONFIG)"
            )
        _choice(self.data.input, DATA_INPUTS, "data.input")
        if (name in IMAGE_DATASETS) != (self.data.input == IMAGE_INPUT):
            raise ValueError(
                f"data.input {self.data.input!r} does not fit dataset {self.data.dataset!r}: "
                + (
                    f"{name} holds images, use input 'image' (--input=image)"
                    if name in IMAGE_DATASETS
                    else f"input 'image' needs an image dataset ({', '.join(IMAGE_DATASETS)})"
                )
            )
        _choice(self.data.line_features, LINE_FEATURES, "data.line_features")
        if self.data.num_galaxies is not None:
            _integer(self.data.num_galaxies, "data.num_galaxies", minimum=10)
        if self.data.dataset_seed is not None:
            _integer(self.data.dataset_seed, "data.dataset_seed", minimum=0)

        models = all_models()
        _choice(self.model.name, tuple(sorted(models)), "model.name")
        image_model = getattr(models[self.model.name], "INPUT_KIND", "vector") == IMAGE_INPUT
        if image_model != (self.data.input == IMAGE_INPUT):
            raise ValueError(
                f"model {self.model.name!r} trains on "
                + (
                    "images: use an image dataset (hst_galaxies/...) with input 'image'"
                    if image_model
                    else f"feature vectors, not on input {self.data.input!r}"
                )
            )
        _integer(self.model.latent_dim, "model.latent_dim", minimum=1)
        if not isinstance(self.model.options, dict):
            raise ValueError(f"model.options must be a dict, got {self.model.options!r}")

        _integer(self.trainer.epochs, "trainer.epochs", minimum=1)
        _integer(self.trainer.batch_size, "trainer.batch_size", minimum=1)
        _integer(self.trainer.seed, "trainer.seed", minimum=0)
        lr = self.trainer.learning_rate
        if (
            isinstance(lr, bool)
            or not isinstance(lr, numbers.Real)
            or not math.isfinite(lr)
            or not 0 < lr <= MAX_LEARNING_RATE
        ):
            raise ValueError(
                f"trainer.learning_rate must be a finite number in (0, {MAX_LEARNING_RATE:g}], "
                f"got {lr!r} (reference: 1e-3)"
            )

        _choice(self.runtime.strategy, STRATEGIES, "runtime.strategy")
        _integer(self.runtime.keep_checkpoints, "runtime.keep_checkpoints", minimum=1)
        _integer(self.runtime.quality_every, "runtime.quality_every", minimum=0)
        _integer(self.runtime.quality_per_class, "runtime.quality_per_class", minimum=2)
        _integer(self.runtime.quality_morphology, "runtime.quality_morphology", minimum=0)
        features = self.runtime.quality_features
        if (
            not isinstance(features, (list, tuple))
            or not features
            or any(f not in QUALITY_FEATURES for f in features)
        ):
            raise ValueError(
                f"runtime.quality_features must be a non-empty list of {', '.join(QUALITY_FEATURES)}"
                f", got {features!r}"
            )


def _choice(value, choices, name: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of: {', '.join(choices)}")


def _integer(value, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
