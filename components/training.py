r"""Shared components that make representations: train a model, export its embeddings.

    dataset -> trainer -> embedding_exporter -> (analysis.py)

The trainer trains one model of tfelg.models (tfelg.training.loop) on a
Dataset artifact of any domain; the exporter writes the model's embeddings of
every galaxy and the baselines of the dataset's Domain (tfelg_components.domains)
beside them, one `<representation>.npz` each.

Every component is also a binary (tfelg_components.binary):

    python -m tfelg_components.training trainer --root=runs/a \
        --input_dataset=runs/a/dataset_gen/dataset/<execution> --model_name=vae --epochs=5
"""

from __future__ import annotations

import os
import shutil
from typing import Annotated

from tfelg.preprocessing import INPUTS, LINE_FEATURES
from tfelg.training.config import MAX_LEARNING_RATE
from tfelg_components import binary, domains
from tfelg_components.base import (
    Context,
    Dataset,
    Each,
    Embeddings,
    Input,
    Model,
    OneOf,
    Output,
    Range,
    Unique,
    component,
)
from tfelg_components.common import (
    EMBEDDINGS_JSON,
    LOSS_PLOT,
    SEED,
    SPECTRUM_FEATURES,
    load_dataset,
)

# A component's source is hashed into its cache key (base.Component.code_version).
# The trainer moved here from emission_lines.py unchanged, so its body keeps the
# names it used there and runs cached before the move stay cached.
from tfelg_components.common import data_config as _data_config
from tfelg_components.common import read_json as _read_json
from tfelg_components.common import say as _say
from tfelg_components.common import write_json as _write_json

# What the trainer copies from its work folder (not backup/: resumption state).
RUN_FILES = (
    "config.json",
    "model.keras",
    "preprocessing.json",
    "metrics.json",
    "history.json",
    LOSS_PLOT,
)
RUN_DIRS = ("tensorboard",)

# What the library accepts, for the parameters' constraints. The copy keeps the
# module free of TensorFlow (so that a pipeline is checked in a second);
# tests/components/emission_lines_test.py checks it against tfelg.models.model_names("vector").
MODEL_NAMES = ("aae", "ae", "cae", "cvae", "vae")
#: Every domain's baselines (domains.known_baselines): what the exporter may be asked for.
BASELINES = domains.known_baselines()


@component(version="1")
def trainer(
    dataset: Input[Dataset],
    model: Output[Model],
    context: Context,
    model_name: Annotated[str, OneOf(*MODEL_NAMES)] = "ae",
    latent_dim: Annotated[int, Range(ge=1)] = 2,
    input: Annotated[str, OneOf(*INPUTS)] = "lines",
    line_features: Annotated[str, OneOf(*LINE_FEATURES)] = "ew",
    model_options: dict | None = None,
    epochs: Annotated[int, Range(ge=1)] = 50,
    batch_size: Annotated[int, Range(ge=1)] = 200,
    learning_rate: Annotated[float, Range(gt=0, le=MAX_LEARNING_RATE)] = 1e-3,
    seed: Annotated[int, SEED] = 0,
):
    """Trains one autoencoder (tfelg.training.loop) and keeps the finished run.

    The dataset is read in batches, never whole. Training happens in the
    execution's work folder, which survives a kill:
    the loop's own backups resume the run there. The finished run (config,
    model, preprocessing, metrics, history, loss plot, TensorBoard curves) is
    copied into the artifact; the backups are not.
    """
    from tfelg.training import loop
    from tfelg.training.config import ExperimentConfig, ModelConfig, TrainerConfig

    config = ExperimentConfig(
        data=_data_config(dataset, input, line_features),
        model=ModelConfig(
            name=model_name, latent_dim=latent_dim, options=dict(model_options or {})
        ),
        trainer=TrainerConfig(
            epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed
        ),
    )
    config.validate()  # a bad name fails before the data are read
    # Read in batches and spooled (tfelg.training.inputs): memory does not grow with the data.
    splits = loop.DatasetSplits(loop.open_dataset(config.data))
    metrics = loop.train_and_evaluate(
        config, context.work_dir, splits=splits, log=_say(context.node)
    )
    for name in RUN_FILES:
        shutil.copy2(os.path.join(context.work_dir, name), model.path(name))
    for name in RUN_DIRS:
        shutil.copytree(os.path.join(context.work_dir, name), model.path(name))
    model.properties.update(
        model=model_name,
        latent_dim=latent_dim,
        input=input,
        best_epoch=metrics["best_epoch"],
        reconstruction_error=metrics["reconstruction_error"],
    )


# 2: class names and baselines from the dataset's domain; 3: line ratios drawn, not mean-filled;
# 4: streamed batch by batch (PCA from its scatter matrix: the SVD's fit to ~1e-7)
@component(version="4")
def embedding_exporter(
    dataset: Input[Dataset],
    model: Input[Model],
    embeddings: Output[Embeddings],
    context: Context,
    baselines: Annotated[list[str], Each(OneOf(*BASELINES)), Unique()] | None = None,
):
    """The model's posterior means and the domain's baselines, one `<name>.npz` each.

    Baselines are those of the dataset's Domain (tfelg_components.domains),
    written in the domain's order; None: all of them. For emission lines:
    `pca` (PCA at the model's latent dimension, on the same preprocessed
    inputs) and `line_ratios` (the classical features).

    Where the domain computes every chosen baseline batch by batch
    (`Domain.batch_baselines`: emission lines), the data set is streamed
    through the model and them, and each file written as the batches come
    (tfelg.analysis.embeddings.write_streamed): memory holds a batch, not
    the million galaxies. Otherwise the splits are read whole.
    """
    from tfelg.analysis import embeddings as emb_lib

    domain = domains.domain_of(dataset)
    chosen = domain.chosen_baselines(baselines)  # another domain's fails before any work
    config = _read_json(model.path("config.json"))
    if all(name in domain.batch_baselines for name in chosen):
        names = _export_streamed(dataset, model, embeddings, domain, chosen, config, context)
    else:
        builder, splits = load_dataset(dataset, config["data"]["input"])
        class_names = domain.class_names(builder)
        made = [emb_lib.autoencoder_embeddings(model.uri, splits, class_names)]
        made += [domain.baselines[name](splits, config, class_names) for name in chosen]
        for emb in made:
            emb.check_finite()
            emb.save(embeddings.path(f"{emb.representation}.npz"))
        names = [emb.representation for emb in made]
    written = {name: emb_lib.Embeddings.load(embeddings.path(f"{name}.npz")) for name in names}
    n_galaxies = len(written[names[0]])
    _write_json(
        embeddings.path(EMBEDDINGS_JSON),
        {
            "representations": names,
            "latent_dims": {name: emb.latent_dim for name, emb in written.items()},
            "n_galaxies": n_galaxies,
        },
    )
    embeddings.properties.update(representations=names, n_galaxies=n_galaxies)


def _export_streamed(dataset, model, embeddings, domain, chosen, config, context) -> list[str]:
    """The exporter's streaming path; returns the representations written, the model's first."""
    from tfelg import data as tfelg_data
    from tfelg.analysis import embeddings as emb_lib
    from tfelg.training import loop

    builder = loop.open_dataset(_data_config(dataset, config["data"]["input"]))
    features = None
    if config["data"]["input"] == "lines":
        features = [k for k in builder.info.features.keys() if k not in SPECTRUM_FEATURES]
    autoencoder = emb_lib.AutoencoderEncoder(model.uri)
    encoders = [autoencoder]
    encoders += [domain.batch_baselines[name](config, autoencoder.trained) for name in chosen]
    emb_lib.write_streamed(
        lambda split: tfelg_data.split_batches(builder, split, features=features),
        encoders,
        [embeddings.path(f"{e.representation}.npz") for e in encoders],
        domain.class_names(builder),
        log=_say(context.node),
    )
    return [e.representation for e in encoders]


COMPONENTS = (trainer, embedding_exporter)

if __name__ == "__main__":
    binary.run(*COMPONENTS)
