r"""The components of the emission-line pipeline, each a thin wrapper over the library.

    dataset_gen -> trainer -> embedding_exporter -+-> model_selector -> clusterer -+
                                                  |                                |
                                                  +-> tsne ------------------------+
                                                                                   |
                  projector_writer <- reporter <- catalog_writer <-----------------+

Each function below only moves artifacts in and out of the library's own
functions (tfelg.data, tfelg.training.loop, tfelg.analysis.*): the science is
tested where it lives, and a component's code is small enough that its hash
(the cache key's code version) changes only when the wiring does. **Bump a
component's `version` when a library function it calls changes what it
writes**: that code is not hashed.

One trained model gives three representations (the autoencoder's posterior
means, PCA at the same latent dimension, the classical line ratios), so every
analysis artifact holds one file or folder per representation, in the order
listed by `embeddings.json` of the Embeddings artifact.

The projector comes last, after the reporter, so that one TensorBoard log
directory (the ProjectorLog) holds everything a person opens TensorBoard
for: a projector per representation (one TensorBoard *run* per sub-folder),
the figures of each representation in the Images tab of that run, and the
training curves (`training/train`, `training/validation`). Several log
directories would need `tensorboard --logdir_spec`, under which TensorBoard's
projector plugin shows nothing (it works under `--logdir` only).

Paths written into files are relative (the runner renames the output
folders into place after the function returns); `summary.json` gives paths
relative to the run root.

Every component is also a binary (tfelg_components.binary):

    python -m tfelg_components.emission_lines trainer --root=runs/a \
        --input_dataset=runs/a/dataset_gen/dataset/<execution> --model_name=vae --epochs=5
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Annotated

import numpy as np

from tfelg.data import KNOWN_DATASETS
from tfelg.preprocessing import INPUTS, LINE_FEATURES
from tfelg.training.config import MAX_LEARNING_RATE
from tfelg_components import binary
from tfelg_components.base import (
    Catalogue,
    Check,
    Clusters,
    Context,
    Dataset,
    Each,
    Embeddings,
    Files,
    Input,
    Model,
    ModelSelection,
    OneOf,
    Output,
    ProjectorLog,
    Range,
    Report,
    TSNEMap,
    Unique,
    component,
)

# File names inside the artifacts, shared with the pipeline and the tests.
DATASET_JSON = "dataset.json"
TFDS_DIR = "tfds"
DATASET_PLOT = os.path.join("plots", "bpt_whan.png")
DESCRIPTION_FILE = "description.txt"
EMBEDDINGS_JSON = "embeddings.json"
SUMMARY_JSON = "summary.json"
RESULTS_MD = "results.md"
COMPARISON_JSON = "comparison.json"
FIGURES_DIR = "figures"
LOSS_PLOT = "loss.png"
TRAINING_LOGDIR = "training"
BASELINES = ("pca", "line_ratios")
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
SPLITS = ("train", "validation", "test")

# What the library accepts, for the parameters' constraints. These copies keep
# the module free of TensorFlow and openTSNE (so that a pipeline is checked in
# a second); tests/components/emission_lines_test.py checks them against the
# originals: tfelg.models.MODEL_REGISTRY, tfelg.analysis.gmm.COVARIANCE_TYPES,
# tfelg.analysis.tsne's INITIALIZATIONS and NEGATIVE_GRADIENT_METHODS,
# tfelg.outputs.projector.PROJECTOR_MAX_POINTS.
MODEL_NAMES = ("aae", "ae", "cae", "cvae", "vae")
COVARIANCE_TYPES = ("full", "diag")
TSNE_INITIALIZATIONS = ("pca", "spectral", "random")
TSNE_METHODS = ("auto", "fft", "bh")
PROJECTOR_MAX_POINTS = 100_000

# Constraints shared by several components. Seeds seed NumPy's generators,
# which refuse negative seeds; tfelg.data.make_builder makes no smaller sample.
SEED = Range(ge=0)
DATASET_NAME = Check(
    lambda name: name.partition("/")[0] in KNOWN_DATASETS,
    f"NAME or NAME/CONFIG with NAME one of {', '.join(KNOWN_DATASETS)}",
)


# -- helpers shared by the components (not hashed: bump versions when they change) -------
def _read_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _write_json(path: str, value) -> str:
    from tfelg.analysis import analyze

    os.makedirs(os.path.dirname(path), exist_ok=True)
    return analyze.write_json(path, value)


def _say(node: str):
    """A progress printer: the pipeline prints one line per node, this the lines in between."""

    def say(line: str) -> None:
        print(f"  {node}: {line}", flush=True)

    return say


def _data_config(dataset: Dataset, input: str = "lines", line_features: str = "ew"):
    """The DataConfig that reopens the TFDS dataset inside a Dataset artifact."""
    from tfelg.training.config import DataConfig

    info = _read_json(dataset.path(DATASET_JSON))
    return DataConfig(
        dataset=info["dataset"],
        data_dir=dataset.path(TFDS_DIR),
        num_galaxies=info["num_galaxies"],
        dataset_seed=info["seed"],
        input=input,
        line_features=line_features,
    )


def load_dataset(dataset: Dataset, input: str = "lines"):
    """(builder, {split: arrays}) of a Dataset artifact, read without writing to it."""
    from tfelg import data as tfelg_data
    from tfelg.training import loop

    builder = loop.open_dataset(_data_config(dataset, input))
    return builder, {s: tfelg_data.load_split_arrays(builder, s) for s in SPLITS}


def representations(embeddings: Embeddings) -> list[str]:
    """The representations of an Embeddings artifact, the autoencoder first."""
    return list(_read_json(embeddings.path(EMBEDDINGS_JSON))["representations"])


def load_embeddings(embeddings: Embeddings, name: str):
    from tfelg.analysis.embeddings import Embeddings as EmbeddingsData

    return EmbeddingsData.load(embeddings.path(f"{name}.npz"))


def load_tsne(tsne_map: TSNEMap, name: str) -> np.ndarray:
    with np.load(tsne_map.path(f"{name}.npz")) as z:
        return z["xy"]


def _analysis_config(**settings):
    from tfelg.analysis.analyze import AnalysisConfig

    return AnalysisConfig(**settings)


def _relative(path: str, start: str) -> str:
    return os.path.relpath(path, start).replace(os.sep, "/")


# -- the components ----------------------------------------------------------------------
@component(version="2")  # 2: emission_lines 2.0.0 (synthetic galaxies drawn in seed blocks)
def dataset_gen(
    dataset: Output[Dataset],
    raw: Input[Files] = None,
    dataset_name: Annotated[str, DATASET_NAME] = "emission_lines/synthetic",
    num_galaxies: Annotated[int, Range(ge=10)] | None = None,
    seed: Annotated[int, SEED] | None = None,
):
    """Builds the TFDS dataset inside the artifact, with class counts and the BPT/WHAN plot.

    `raw` is the manual folder of a real config (mpajhu, sdss_spec), an external
    input, so its contents enter the cache key. `num_galaxies` and `seed` size
    and seed a synthetic config (None: the config's own, 20,000 galaxies).
    """
    from tfelg import data as tfelg_data
    from tfelg import dataset_report

    builder = tfelg_data.make_builder(
        dataset_name, dataset.path(TFDS_DIR), num_galaxies=num_galaxies, seed=seed
    )
    tfelg_data.prepare(builder, manual_dir=raw.uri if raw is not None else None)
    text = dataset_report.describe_dataset(
        builder, plot_dir=os.path.dirname(dataset.path(DATASET_PLOT))
    )
    text = text.replace(dataset.uri + os.sep, "")  # "wrote <path>": relative to the artifact
    with open(dataset.path(DESCRIPTION_FILE), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text.split("\n", 1)[0], flush=True)
    splits = {s: builder.info.splits[s].num_examples for s in builder.info.splits.keys()}
    info = {
        "dataset": dataset_name,
        "num_galaxies": num_galaxies,
        "seed": seed,
        "full_name": builder.info.full_name,
        "splits": splits,
        "features": sorted(builder.info.features.keys()),
        "has_spectrum": "spectrum" in builder.info.features,
        "tfds_dir": TFDS_DIR,
        "plot": DATASET_PLOT,
    }
    _write_json(dataset.path(DATASET_JSON), info)
    dataset.properties.update(
        full_name=builder.info.full_name, splits=splits, has_spectrum=info["has_spectrum"]
    )


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

    Training happens in the execution's work folder, which survives a kill:
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
    _, splits = load_dataset(dataset, input)
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


@component(version="1")
def embedding_exporter(
    dataset: Input[Dataset],
    model: Input[Model],
    embeddings: Output[Embeddings],
    baselines: Annotated[list[str], Each(OneOf(*BASELINES)), Unique()] = BASELINES,
):
    """The autoencoder's posterior means and the baselines, one `<name>.npz` each.

    Baselines: `pca` (PCA at the model's latent dimension, on the same
    preprocessed inputs) and `line_ratios` (the classical features).
    """
    from tfelg.analysis import embeddings as emb_lib

    config = _read_json(model.path("config.json"))
    builder, splits = load_dataset(dataset, config["data"]["input"])
    class_names = emb_lib.default_class_names(builder.info.features["true_class"].names)
    made = [emb_lib.autoencoder_embeddings(model.uri, splits, class_names)]
    if "pca" in baselines:
        made.append(
            emb_lib.pca_embeddings(
                splits,
                config["model"]["latent_dim"],
                class_names,
                input=config["data"]["input"],
                line_features=config["data"]["line_features"],
            )
        )
    if "line_ratios" in baselines:
        made.append(emb_lib.line_ratio_embeddings(splits, class_names))
    for emb in made:
        emb.check_finite()
        emb.save(embeddings.path(f"{emb.representation}.npz"))
    names = [emb.representation for emb in made]
    _write_json(
        embeddings.path(EMBEDDINGS_JSON),
        {
            "representations": names,
            "latent_dims": {emb.representation: emb.latent_dim for emb in made},
            "n_galaxies": len(made[0]),
        },
    )
    embeddings.properties.update(representations=names, n_galaxies=len(made[0]))


@component(version="1")
def model_selector(
    embeddings: Input[Embeddings],
    selection: Output[ModelSelection],
    k_max: Annotated[int, Range(ge=2)] = 10,
    covariance_type: Annotated[str, OneOf(*COVARIANCE_TYPES)] = "full",
    gap_references: Annotated[int, Range(ge=1)] = 10,
    silhouette_sample: Annotated[int, Range(ge=2)] = 4000,
    selection_max_points: Annotated[int, Range(ge=3)] = 50_000,
    seed: Annotated[int, SEED] = 0,
):
    """BIC, AIC, gap statistic and silhouette over K = 1..k_max (training split), per representation."""
    from tfelg.analysis import analyze

    config = _analysis_config(
        k_max=k_max,
        covariance_type=covariance_type,
        gap_references=gap_references,
        silhouette_sample=silhouette_sample,
        selection_max_points=selection_max_points,
        seed=seed,
    )
    chosen = {}
    for name in representations(embeddings):
        result = analyze.choose_k(load_embeddings(embeddings, name), config).to_dict()
        _write_json(selection.path(f"{name}.json"), result)
        chosen[name] = result["chosen_k"]
        print(f"  {name}: chosen K " + ", ".join(f"{k}={v}" for k, v in chosen[name].items()))
    selection.properties["chosen_k"] = chosen


@component(version="1")
def clusterer(
    embeddings: Input[Embeddings],
    selection: Input[ModelSelection],
    clusters: Output[Clusters],
    covariance_type: Annotated[str, OneOf(*COVARIANCE_TYPES)] = "full",
    n_clusters: Annotated[int, Range(ge=1)] | None = None,
    n_bootstrap: Annotated[int, Range(ge=2)] = 200,
    seed: Annotated[int, SEED] = 0,
):
    """A Gaussian mixture with the chosen K (BIC; or `n_clusters`), matched to WHAN/BPT on test."""
    from tfelg.analysis import analyze

    config = _analysis_config(
        covariance_type=covariance_type, n_clusters=n_clusters, n_bootstrap=n_bootstrap, seed=seed
    )
    for name in representations(embeddings):
        chosen_k = _read_json(selection.path(f"{name}.json"))["chosen_k"]
        inference = analyze.infer_classes(
            load_embeddings(embeddings, name), chosen_k, config, log=_say(name)
        )
        inference.save(clusters.path(name))
        clusters.properties[name] = inference.n_clusters


@component(version="2")
def tsne(
    embeddings: Input[Embeddings],
    tsne_map: Output[TSNEMap],
    perplexity: Annotated[float, Range(gt=0)] = 30.0,
    max_points: Annotated[int, Range(ge=4)] = 20_000,
    iterations: Annotated[int, Range(ge=0)] = 500,
    early_exaggeration_iterations: Annotated[int, Range(ge=0)] = 250,
    exaggeration: Annotated[float, Range(gt=0)] = 1.0,
    initialization: Annotated[str, OneOf(*TSNE_INITIALIZATIONS)] = "pca",
    method: Annotated[str, OneOf(*TSNE_METHODS)] = "auto",
    seed: Annotated[int, SEED] = 0,
):
    """A t-SNE map (openTSNE) per representation; galaxies outside a subsample get NaN."""
    from tfelg.analysis import analyze

    config = _analysis_config(
        tsne_perplexity=perplexity,
        tsne_max_points=max_points,
        tsne_n_iter=iterations,
        tsne_early_exaggeration_iter=early_exaggeration_iterations,
        tsne_exaggeration=exaggeration,
        tsne_initialization=initialization,
        tsne_method=method,
        seed=seed,
    )
    for name in representations(embeddings):
        xy, rows, result = analyze.tsne_map(load_embeddings(embeddings, name), config)
        with open(tsne_map.path(f"{name}.npz"), "wb") as f:
            np.savez(f, xy=xy, rows=rows)
        params = {k: v for k, v in result.params.items() if "second" not in k}  # stable bytes
        _write_json(
            tsne_map.path(f"{name}.json"),
            {"n_points": len(rows), "kl": result.kl_divergence, "params": params},
        )
        print(f"  {name}: t-SNE of {len(rows)} galaxies, KL {result.kl_divergence:.3f}", flush=True)


@component(version="1")
def catalog_writer(
    embeddings: Input[Embeddings],
    clusters: Input[Clusters],
    tsne_map: Input[TSNEMap],
    catalogue: Output[Catalogue],
    seed: Annotated[int, SEED] = 0,
):
    """The value-added FITS catalogue per representation: ids, latent and map coordinates,
    cluster and probabilities, WHAN, BPT (and true class)."""
    from tfelg.analysis import analyze

    config = _analysis_config(seed=seed)
    for name in representations(embeddings):
        analyze.write_value_added_catalogue(
            load_embeddings(embeddings, name),
            analyze.ClassInference.load(clusters.path(name)),
            load_tsne(tsne_map, name),
            catalogue.path(f"{name}.fits"),
            config,
        )


@component(version="1")
def reporter(
    dataset: Input[Dataset],
    model: Input[Model],
    embeddings: Input[Embeddings],
    selection: Input[ModelSelection],
    clusters: Input[Clusters],
    tsne_map: Input[TSNEMap],
    catalogue: Input[Catalogue],
    report: Output[Report],
    context: Context,
    seed: Annotated[int, SEED] = 0,
):
    """Figures per representation, the loss plot, `summary.json` and `results.md`.

    Paths in `summary.json` are relative to the run root (the folder holding
    pipeline.json); the report's own files are where the runner puts them:
    `<node>/report/<execution>/`.
    """
    from tfelg.analysis import analyze

    config = _analysis_config(seed=seed)
    final = os.path.join(context.root, context.node, "report", context.execution)

    def rel(path: str) -> str:  # a path of this report (still temporary) or an input
        if os.path.commonpath([os.path.abspath(path), report.uri]) == report.uri:
            path = os.path.join(final, os.path.relpath(path, report.uri))
        return _relative(path, context.root)

    shutil.copy2(model.path(LOSS_PLOT), report.path(LOSS_PLOT))
    metrics = _read_json(model.path("metrics.json"))
    data_info = _read_json(dataset.path(DATASET_JSON))
    summaries, rows = {}, []
    for name in representations(embeddings):
        emb = load_embeddings(embeddings, name)
        chosen = _read_json(selection.path(f"{name}.json"))
        inference = analyze.ClassInference.load(clusters.path(name))
        xy = load_tsne(tsne_map, name)
        figures = analyze.write_figures(
            emb, chosen, inference, xy, report.path(FIGURES_DIR, name), config
        )
        summary = {
            "representation": name,
            "latent_dim": emb.latent_dim,
            "n_galaxies": {s: int(np.sum(emb.split == s)) for s in SPLITS},
            "chosen_k": chosen["chosen_k"],
            "n_clusters": inference.n_clusters,
            "mixture": inference.mixture,
            "comparisons": inference.comparisons,
            "tsne": _read_json(tsne_map.path(f"{name}.json")),
            "figures": {k: rel(p) for k, p in sorted(figures.items())},
            "catalogue": rel(catalogue.path(f"{name}.fits")),
        }
        summaries[name] = summary
        rows.append(analyze.headline(summary))
    table = analyze.results_table(rows)
    n_boot = next(
        (
            c["bootstrap"]["n_boot"]
            for s in summaries.values()
            for c in s["comparisons"].values()
            if "n_boot" in c.get("bootstrap", {})
        ),
        None,
    )
    with open(report.path(RESULTS_MD), "w", encoding="utf-8") as f:
        f.write(
            f"# {metrics['model']} (d = {metrics['latent_dim']}) on {data_info['full_name']}\n\n"
            "Chosen K on the training split; agreement with each scheme on the test split "
            f"(value on the test split ± std over {n_boot} bootstrap resamples).\n\n{table}\n"
        )
    _write_json(
        report.path(SUMMARY_JSON),
        {
            "paths_relative_to": "the run root (the folder holding pipeline.json)",
            "dataset": {k: data_info[k] for k in ("dataset", "full_name", "splits")},
            "dataset_plot": rel(dataset.path(DATASET_PLOT)),
            "model": metrics,
            "loss_plot": rel(report.path(LOSS_PLOT)),
            "results": rows,
            "results_table": rel(report.path(RESULTS_MD)),
            "representations": summaries,
            "figures": {name: s["figures"] for name, s in summaries.items()},
            "catalogues": {name: s["catalogue"] for name, s in summaries.items()},
        },
    )
    print(table, flush=True)
    report.properties["results"] = rows


@component(version="2")  # 2: tensors of fewer than 3 columns padded with zeros
def projector_writer(
    dataset: Input[Dataset],
    model: Input[Model],
    embeddings: Input[Embeddings],
    clusters: Input[Clusters],
    report: Input[Report],
    projector: Output[ProjectorLog],
    max_points: Annotated[int, Range(ge=1, le=PROJECTOR_MAX_POINTS)] = PROJECTOR_MAX_POINTS,
    seed: Annotated[int, SEED] = 0,
):
    """One TensorBoard log directory: a projector run per representation, with its figures,
    and the training curves.

    Sub-folder `<representation>/` holds the embedding checkpoint, metadata
    (id, WHAN, BPT, cluster, redshift, split, true class) and a sprite of
    rendered spectra (or, without spectra, line-ratio glyphs), plus the
    report's figures as images, whose event file is what makes the folder a
    TensorBoard run (the projector only looks in runs).
    """
    from tfelg.analysis import analyze
    from tfelg.analysis import embeddings as emb_lib
    from tfelg.outputs import sprites

    config = _analysis_config(projector_max_points=max_points, seed=seed)
    builder, splits = load_dataset(dataset)
    if "spectrum" in splits["train"]:  # rows in the order of the embeddings: train, val, test
        thumbs = sprites.render_spectra(np.concatenate([splits[s]["spectrum"] for s in SPLITS]))
    else:
        class_names = emb_lib.default_class_names(builder.info.features["true_class"].names)
        thumbs = sprites.render_feature_glyphs(
            emb_lib.line_ratio_embeddings(splits, class_names).latent
        )
    del splits
    runs = {}
    for name in representations(embeddings):
        emb = load_embeddings(embeddings, name)
        inference = analyze.ClassInference.load(clusters.path(name))
        folder = report.path(FIGURES_DIR, name)
        pngs = {
            os.path.splitext(f)[0]: os.path.join(folder, f)
            for f in sorted(os.listdir(folder) if os.path.isdir(folder) else [])
            if f.endswith(".png")
        }
        info = analyze.write_projector_log(
            emb, inference.cluster, projector.path(name), config, thumbs, pngs
        )
        runs[name] = {
            "n_points": info["n_points"],
            "n_total": info["n_total"],
            "subsampled": info["subsampled"],
            "sprite": info["sprite_path"] is not None,
        }
    for split in ("train", "validation"):
        shutil.copytree(model.path("tensorboard", split), projector.path(TRAINING_LOGDIR, split))
    _write_json(projector.path("projector_runs.json"), runs)
    projector.properties["runs"] = sorted(runs)


@component(version="1")
def comparison(
    report: Input[Report],
    table: Output[Report],
    previous: Input[Report] = None,
    chain: str = "",
):
    """One table across a sweep: the rows of `previous` (a comparison) and of `report`.

    A component has a fixed set of inputs, so a sweep folds its reports into
    one table node by node (comparison_<model>_d<d>, ..., comparison).
    """
    from tfelg.analysis import analyze

    rows = list(_read_json(previous.path(COMPARISON_JSON))["rows"]) if previous else []
    for row in _read_json(report.path(SUMMARY_JSON))["results"]:
        rows.append({**row, "chain": chain})
    order = {"pca": 1, "line_ratios": 2}
    rows.sort(key=lambda r: (order.get(r["representation"], 0), r["latent_dim"], r["chain"]))
    _write_json(table.path(COMPARISON_JSON), {"rows": rows})
    text = analyze.results_table(rows)
    with open(table.path(RESULTS_MD), "w", encoding="utf-8") as f:
        f.write(
            "# Comparison across models and latent dimensions\n\n"
            "Chosen K on the training split; agreement with each scheme on the test split "
            "(value on the test split ± std over bootstrap resamples).\n\n" + text + "\n"
        )
    table.properties["rows"] = len(rows)


COMPONENTS = (
    dataset_gen,
    trainer,
    embedding_exporter,
    model_selector,
    clusterer,
    tsne,
    catalog_writer,
    reporter,
    projector_writer,
    comparison,
)

if __name__ == "__main__":
    binary.run(*COMPONENTS)
