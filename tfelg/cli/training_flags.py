"""Command-line flags shared by ``tfelg-train`` and ``tfelg-latent-sweep``.

Flags only ever become an :class:`~tfelg.training.config.ExperimentConfig`
here, in the binaries' layer; the library never reads ``FLAGS``. Defaults
come from the config dataclasses, so a flag left unset means "the config's
default", and ``--flagfile`` (absl's own) replays a whole command line.
"""

from __future__ import annotations

import json

from absl import flags

from tfelg.cli import define_path
from tfelg.training import config as config_lib

_DATA = config_lib.DataConfig()
_TRAINER = config_lib.TrainerConfig()
_RUNTIME = config_lib.RuntimeConfig()

# Model options that have their own flag: flag name -> constructor argument.
MODEL_OPTION_FLAGS = (
    "beta",
    "noise_std",
    "prior",
    "prior_std",
    "prior_components",
    "hidden_units",
)


def define_data_trainer_runtime_flags() -> None:
    """Data, trainer and runtime flags (everything but the model's identity)."""
    flags.DEFINE_string("dataset", _DATA.dataset, "NAME/CONFIG of a tfelg TFDS dataset.")
    define_path("data_dir", _DATA.data_dir, "TFDS data directory.")
    define_path("manual_dir", _DATA.manual_dir, "Folder with mpajhu/ or sdss_spec/.")
    flags.DEFINE_integer("num_galaxies", None, "Synthetic configs: sample size.")
    flags.DEFINE_integer("dataset_seed", None, "Synthetic configs: generator seed.")
    flags.DEFINE_enum(
        "input",
        None,
        list(config_lib.DATA_INPUTS),
        f"Model input (default: 'image' on {'/'.join(config_lib.IMAGE_DATASETS)}, "
        f"else {_DATA.input!r}).",
    )
    flags.DEFINE_enum(
        "line_features",
        _DATA.line_features,
        ["ew", "ew_and_ratios"],
        "input=lines: equivalent widths, or EWs plus log line ratios to Halpha.",
    )
    flags.DEFINE_integer("epochs", _TRAINER.epochs, "Passes over the training split.")
    flags.DEFINE_integer("batch_size", _TRAINER.batch_size, "Global batch size.")
    flags.DEFINE_float("learning_rate", _TRAINER.learning_rate, "Adam learning rate.")
    flags.DEFINE_integer("seed", _TRAINER.seed, "Seed of weights, sampling and shuffles.")
    flags.DEFINE_enum(
        "strategy",
        _RUNTIME.strategy,
        list(config_lib.STRATEGIES),
        "tf.distribute strategy; multi_worker reads the cluster from TF_CONFIG.",
    )
    flags.DEFINE_string("tpu", _RUNTIME.tpu, "strategy=tpu: TPU name or address.")
    flags.DEFINE_bool("jit_compile", _RUNTIME.jit_compile, "Compile the step with XLA.")
    flags.DEFINE_bool("progress_bar", _RUNTIME.progress_bar, "Progress bar on a terminal.")
    flags.DEFINE_integer(
        "quality_every",
        _RUNTIME.quality_every,
        "GAN: FID/KID/precision/recall/colour distances against validation images every N "
        "epochs and at the last, in TensorBoard (quality/...) and metrics.json; 0: off.",
    )
    flags.DEFINE_integer(
        "quality_per_class", _RUNTIME.quality_per_class, "Images per class of that measurement."
    )
    flags.DEFINE_list(
        "quality_features",
        _RUNTIME.quality_features,
        f"Its feature extractors: {', '.join(config_lib.QUALITY_FEATURES)}.",
    )
    flags.DEFINE_integer(
        "quality_morphology",
        _RUNTIME.quality_morphology,
        "Galaxies per class also measured with statmorph for morphology distances (0: off).",
    )


def define_model_option_flags() -> None:
    """Flags for the models' own options (unset: the model's default)."""
    flags.DEFINE_float("beta", None, "VAE/CVAE: KL weight (reference 5e-4).")
    flags.DEFINE_float("noise_std", None, "VAE/CVAE: scale of the sampling noise ('STD').")
    flags.DEFINE_enum("prior", None, ["normal", "mog"], "VAE/CVAE/AAE: latent prior.")
    flags.DEFINE_float("prior_std", None, "AAE: standard deviation of the prior (1 or 5).")
    flags.DEFINE_integer("prior_components", None, "Mixture prior: number of components.")
    flags.DEFINE_list("hidden_units", None, "Dense widths of the encoder, e.g. 64,16.")
    flags.DEFINE_string(
        "model_options",
        None,
        "Further model constructor arguments as JSON, e.g. '{\"filters\": [8, 16, 32]}'.",
    )


def model_options(values) -> dict:
    """The model options set on the command line (``values``: ``flags.FLAGS``)."""
    options = {}
    if values.model_options:
        try:
            options = json.loads(values.model_options)
        except json.JSONDecodeError as e:
            raise ValueError(f"--model_options is not valid JSON: {e}") from e
        if not isinstance(options, dict):
            raise ValueError("--model_options must be a JSON object")
    for name in MODEL_OPTION_FLAGS:
        value = getattr(values, name)
        if value is None:
            continue
        if name == "hidden_units":
            try:
                value = [int(v) for v in value]
            except ValueError:
                raise ValueError(f"--hidden_units must be integers, got {value}") from None
        options[name] = value
    return options


def default_input(dataset: str) -> str:
    """``image`` for an image dataset, else the config's default (``lines``)."""
    name = dataset.partition("/")[0]
    return config_lib.IMAGE_INPUT if name in config_lib.IMAGE_DATASETS else _DATA.input


def default_latent_dim(model: str) -> int:
    """The model class's ``DEFAULT_LATENT_DIM`` (a GAN's noise size), else 2."""
    from tfelg.training.trainer import all_models

    cls = all_models().get(model.lower())
    return int(getattr(cls, "DEFAULT_LATENT_DIM", config_lib.ModelConfig().latent_dim))


def experiment_config(values, model: str, latent_dim: int | None) -> config_lib.ExperimentConfig:
    """An ExperimentConfig from parsed flags (``values``: ``flags.FLAGS``).

    Unset ``--input`` follows the dataset (:func:`default_input`), unset
    ``--latent_dim`` the model (:func:`default_latent_dim`).
    """
    if latent_dim is None:
        latent_dim = default_latent_dim(model)
    return config_lib.ExperimentConfig(
        data=config_lib.DataConfig(
            dataset=values.dataset,
            data_dir=values.data_dir,
            manual_dir=values.manual_dir,
            num_galaxies=values.num_galaxies,
            dataset_seed=values.dataset_seed,
            input=values.input or default_input(values.dataset),
            line_features=values.line_features,
        ),
        model=config_lib.ModelConfig(
            name=model, latent_dim=latent_dim, options=model_options(values)
        ),
        trainer=config_lib.TrainerConfig(
            epochs=values.epochs,
            batch_size=values.batch_size,
            learning_rate=values.learning_rate,
            seed=values.seed,
        ),
        runtime=config_lib.RuntimeConfig(
            strategy=values.strategy,
            tpu=values.tpu,
            jit_compile=values.jit_compile,
            progress_bar=values.progress_bar,
            quality_every=values.quality_every,
            quality_per_class=values.quality_per_class,
            quality_features=list(values.quality_features),
            quality_morphology=values.quality_morphology,
        ),
    )
