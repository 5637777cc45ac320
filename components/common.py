"""What the shared components agree on: file names inside artifacts, readers, shared rules.

The pipelines' components are split by what they do (training.py, analysis.py,
outputs.py: the same for every kind of galaxy) and by domain (emission_lines.py:
how the data are made and what is compared with the clusters; see domains.py).
They meet through artifacts, and this module is the contract of those artifacts:

* A **Dataset** artifact (any domain's dataset component) holds a TFDS data
  directory in `TFDS_DIR` and `DATASET_JSON` with at least `dataset`
  (NAME/CONFIG; NAME picks the domain), `num_galaxies`, `seed` (None: the
  config's), `full_name`, `splits` ({split: count}) and `plot` (an overview
  figure, relative to the artifact).
* An **Embeddings** artifact holds one `<representation>.npz`
  (tfelg.analysis.embeddings.Embeddings) per representation and
  `EMBEDDINGS_JSON` listing them, the model's first.
* Every analysis artifact (ModelSelection, Clusters, TSNEMap, Catalogue) holds
  one file or folder per representation, named after it.

Nothing here imports TensorFlow: a pipeline is built and checked in a second.
The helpers are not part of any component's hashed source, so **bump the
version of the components that call one when it changes what they write**.
"""

from __future__ import annotations

import json
import os

import numpy as np

from tfelg_components.base import Dataset, Embeddings, Range, TSNEMap

# File names inside the artifacts, shared by the components, the pipelines and the tests.
DATASET_JSON = "dataset.json"
TFDS_DIR = "tfds"
EMBEDDINGS_JSON = "embeddings.json"
SUMMARY_JSON = "summary.json"
RESULTS_MD = "results.md"
COMPARISON_JSON = "comparison.json"
ENSEMBLE_JSON = "ensemble.json"
FIGURES_DIR = "figures"
LOSS_PLOT = "loss.png"
TRAINING_LOGDIR = "training"
SPLITS = ("train", "validation", "test")

# Seeds seed NumPy's generators, which refuse negative seeds.
SEED = Range(ge=0)


def read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path: str, value) -> str:
    """`value` as JSON at `path` (atomically, as every library output), folders made."""
    from tfelg.analysis import analyze

    os.makedirs(os.path.dirname(path), exist_ok=True)
    return analyze.write_json(path, value)


def say(node: str):
    """A progress printer: the pipeline prints one line per node, this the lines in between."""

    def say(line: str) -> None:
        print(f"  {node}: {line}", flush=True)

    return say


def relative(path: str, start: str) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


def data_config(dataset: Dataset, input: str = "lines", line_features: str = "ew"):
    """The DataConfig that reopens the TFDS dataset inside a Dataset artifact."""
    from tfelg.training.config import DataConfig

    info = read_json(dataset.path(DATASET_JSON))
    return DataConfig(
        dataset=info["dataset"],
        data_dir=dataset.path(TFDS_DIR),
        num_galaxies=info["num_galaxies"],
        dataset_seed=info["seed"],
        input=input,
        line_features=line_features,
    )


#: Features only the spectrum input reads (2 x 1,383 float32: 11 kB of a galaxy's ~12 kB).
SPECTRUM_FEATURES = ("spectrum", "spectrum_ivar")


def load_dataset(dataset: Dataset, input: str = "lines"):
    """(builder, {split: arrays}) of a Dataset artifact, read without writing to it.

    With ``input="lines"`` the spectra are not parsed: every other feature is
    a few numbers per galaxy, so a million galaxies fit in a few hundred MB
    (with the spectra they would take 11 GB).
    """
    from tfelg import data as tfelg_data
    from tfelg.training import loop

    builder = loop.open_dataset(data_config(dataset, input))
    features = None
    if input == "lines":
        features = [k for k in builder.info.features.keys() if k not in SPECTRUM_FEATURES]
    return builder, {s: tfelg_data.load_split_arrays(builder, s, features=features) for s in SPLITS}


def load_thumbnails(dataset: Dataset, domain, rows) -> np.ndarray:
    """The domain's thumbnails of the galaxies `rows` (sorted, in the embeddings' order).

    Where the domain draws a galaxy's thumbnail from that galaxy alone
    (`Domain.thumbnail_drawer`), each batch is drawn as it is read and its
    features dropped: 100,000 spectra (1.1 GB) never exist at once, only their
    thumbnails (0.3 GB). Otherwise the chosen rows' features are read (memory
    grows with len(rows), not with the dataset: tfelg.data.load_rows) and
    drawn together.
    """
    from tfelg import data as tfelg_data
    from tfelg.training import loop

    builder = loop.open_dataset(data_config(dataset))
    draw = domain.thumbnail_drawer(builder)
    features = domain.thumbnail_features(builder)
    if draw is None:
        return domain.thumbnails(
            builder, tfelg_data.load_rows(builder, SPLITS, rows, features=features)
        )
    drawn = tfelg_data.load_rows(
        builder,
        SPLITS,
        rows,
        features=features,
        transform=lambda batch: {"thumbnail": draw(batch)},
    )
    return np.concatenate([drawn[s]["thumbnail"] for s in SPLITS])


def representations(embeddings: Embeddings) -> list[str]:
    """The representations of an Embeddings artifact, the model's first."""
    return list(read_json(embeddings.path(EMBEDDINGS_JSON))["representations"])


def load_embeddings(embeddings: Embeddings, name: str):
    from tfelg.analysis.embeddings import Embeddings as EmbeddingsData

    return EmbeddingsData.load(embeddings.path(f"{name}.npz"))


def load_tsne(tsne_map: TSNEMap, name: str) -> np.ndarray:
    with np.load(tsne_map.path(f"{name}.npz")) as z:
        return z["xy"]


def analysis_config(**settings):
    from tfelg.analysis.analyze import AnalysisConfig

    return AnalysisConfig(**settings)
