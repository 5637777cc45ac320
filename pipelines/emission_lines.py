r"""emission_lines: from a TFDS dataset to classes, maps, a catalogue and a projector.

    tfelg-pipeline --pipeline=emission_lines --root=runs/el
    tfelg-pipeline --pipeline=emission_lines --root=runs/el --param=k_max=8
                                  # only model selection and what follows re-run
    tfelg-pipeline --pipeline=emission_lines --root=runs/sweep \
        --param='models=["ae","vae"]' --param='latent_dims=[2,4]'
    tfelg-pipeline --flagfile=pipelines/demo.flags          # make demo
    python -m tfelg_pipelines.emission_lines --root=runs/el  # the last run's summary

One chain, named by its node ids:

    dataset_gen -> trainer -> embedding_exporter -+-> model_selector -> clusterer -+
                                                  |                                |
                                                  +-> tsne ------------------------+
                                                                                   |
                  projector_writer <- reporter <- catalog_writer <-----------------+

(the reporter and the projector writer also read the dataset, the model and
the earlier analysis artifacts). The embedding exporter adds the baselines
(PCA at the same latent dimension, the classical line ratios), so every later
step handles three representations. Sweep mode (`models` and/or `latent_dims` given) builds one
chain per (model, d) sharing the dataset, with node ids such as
`trainer_vae_d2`, computes each baseline once (PCA once per d, line ratios
once), and folds every chain's report into one table (`comparison`).

Seed ensembles (`seeds=N`): one trained autoencoder is one draw from what its
training produces, and its classes move with the seed by much more than their
bootstrap error (benchmarks/RESULTS.md). With N > 1 each chain is repeated
N - 1 times on the same data with seeds `seed + i * 1000` (trainer, embedding
exporter, model selector, clusterer: `trainer_seed1000`, ...), and
`seed_ensemble` gives chosen K per run and every agreement figure as the mean
over the runs ± their standard deviation [bootstrap error]:

    tfelg-pipeline --pipeline=emission_lines --root=runs/el --param=seeds=5

Only the dataset component is the emission lines' own
(tfelg_components.emission_lines, with the domain's baselines, thumbnails and
schemes); the chain is the shared components of tfelg_components.training,
.analysis and .outputs, which another pipeline wires after its own dataset
component (`chain` below, with that pipeline's parameters).
"""

from __future__ import annotations

import os

from tfelg.analysis.ensembles import SEED_STRIDE, ensemble_seeds
from tfelg_components import common, outputs, runner, training
from tfelg_components import emission_lines as el
from tfelg_components.base import Files, Parameter, Range
from tfelg_components.pipeline import feeds
from tfelg_pipelines import shared
from tfelg_pipelines.registry import register_pipeline

MODEL_NAMES = training.MODEL_NAMES

# Most parameters feed one component's parameter (feeds: its type, default and
# constraints under the pipeline's name), so a bad value is refused by the name
# the user typed, with every other bad value, before any step runs.

PARAMETERS = [
    # Data.
    feeds(el.dataset_gen, "dataset_name", "dataset", help="TFDS dataset NAME/CONFIG."),
    feeds(el.dataset_gen, "num_galaxies", help="Synthetic sample size (None: 20,000)."),
    feeds(
        el.dataset_gen,
        "seed",
        "dataset_seed",
        help="Synthetic generator seed (None: the config's).",
    ),
    Parameter("manual_dir", None, str, help="Folder of real catalogues (mpajhu, sdss_spec)."),
    # Model and training.
    feeds(training.trainer, "model_name", "model", help="Autoencoder."),
    feeds(training.trainer, "input", help="Model input."),
    feeds(training.trainer, "line_features", help="Line features (input=lines)."),
    feeds(training.trainer, "latent_dim", help="Latent dimension d."),
    feeds(training.trainer, "model_options", help='Further model arguments, e.g. {"beta": 2}.'),
    feeds(training.trainer, "epochs", help="Training epochs."),
    feeds(training.trainer, "batch_size", help="Global batch size."),
    feeds(training.trainer, "learning_rate", help="Adam's step size."),
    feeds(training.trainer, "seed", help="Seeds training and every step of the analysis."),
    Parameter(
        "seeds",
        1,
        int,
        help=f"Runs: N > 1 repeats training, model selection and clustering with seeds "
        f"seed + i x {SEED_STRIDE}; the summary gives the mean over the runs ± their spread.",
        constraints=(Range(ge=1, le=100),),
    ),
    # Analysis (after "baselines", every pipeline's: tfelg_pipelines.shared).
    Parameter("baselines", True, help="Also analyse PCA (same d) and the line ratios."),
    *shared.ANALYSIS_PARAMETERS,
    # Sweep mode.
    shared.sweep_parameter(
        "models", training.trainer, "model_name", 'Sweep: models, e.g. ["ae","vae"].'
    ),
    shared.sweep_parameter(
        "latent_dims", training.trainer, "latent_dim", "Sweep: latent dimensions, e.g. [2,4]."
    ),
]


def _sweep(params) -> tuple[list[str], list[int]]:
    """The models and latent dimensions of the chains (one each outside sweep mode)."""
    models = params["models"] if params["models"] is not None else [params["model"]]
    dims = params["latent_dims"] if params["latent_dims"] is not None else [params["latent_dim"]]
    return models, dims


def _chain(params, data, model: str, d: int, suffix: str, baselines: list[str]) -> list:
    """Trainer ... projector writer for one (model, d); node ids end with `suffix`."""
    trained = training.trainer(
        dataset=data.outputs["dataset"],
        model_name=model,
        latent_dim=d,
        input=params["input"],
        line_features=params["line_features"],
        model_options=params["model_options"],
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        learning_rate=params["learning_rate"],
        seed=params["seed"],
    )
    exported = training.embedding_exporter(
        dataset=data.outputs["dataset"], model=trained.outputs["model"], baselines=baselines
    )
    nodes = [
        trained,
        exported,
        *shared.analysis_nodes(
            params,
            data.outputs["dataset"],
            trained.outputs["model"],
            exported.outputs["embeddings"],
        ),
    ]
    report = next(n for n in nodes if n.component is outputs.reporter).outputs["report"]
    nodes += _seed_members(params, data, trained, exported, report)
    return [node.with_id(node.id + suffix) for node in nodes]


def _seed_members(params, data, trained, exported, report) -> list:
    """`seeds` > 1: the other members of the seed ensemble and the table folding them.

    A member repeats the chain's training, export (with the same baselines:
    the same numbers), model selection and clustering with its own seed in
    every step, as an independent run with that seed would; t-SNE, the
    catalogue, the report and the projector stay the first run's. Node ids:
    `trainer_seed1000`, ..., `seed_ensemble`.
    """
    seeds = ensemble_seeds(params["seed"], params["seeds"])
    nodes, previous = [], None
    for i, seed in enumerate(seeds[1:], start=1):
        member = training.trainer(
            **{**trained.params, "seed": seed}, dataset=data.outputs["dataset"]
        )
        member_exported = training.embedding_exporter(
            **exported.params, dataset=data.outputs["dataset"], model=member.outputs["model"]
        )
        selected, clustered = shared.clustering_nodes(
            {**params, "seed": seed}, member_exported.outputs["embeddings"]
        )
        folded = outputs.seed_ensemble(
            report=report,
            selection=selected.outputs["selection"],
            clusters=clustered.outputs["clusters"],
            previous=previous.outputs["table"] if previous else None,
            report_seed=seeds[0],
            member_seed=seed,
        )
        last = i == len(seeds) - 1
        nodes += [
            n.with_id(f"{n.id}_seed{seed}") for n in (member, member_exported, selected, clustered)
        ]
        nodes.append(folded.with_id("seed_ensemble" if last else f"seed_ensemble_seed{seed}"))
        previous = nodes[-1]
    return nodes


def build(params) -> list:
    models, dims = _sweep(params)
    raw = Files(os.path.expanduser(params["manual_dir"])) if params["manual_dir"] else None
    data = el.dataset_gen(
        raw=raw,
        dataset_name=params["dataset"],
        num_galaxies=params["num_galaxies"],
        seed=params["dataset_seed"],
    )
    all_baselines = list(el.BASELINES) if params["baselines"] else []
    if params["models"] is None and params["latent_dims"] is None:
        return [data, *_chain(params, data, models[0], dims[0], "", all_baselines)]
    nodes, previous = [data], None
    for i, model in enumerate(models):
        for j, d in enumerate(dims):
            # Each baseline once: PCA with the first model at each d, line ratios once.
            baselines = [b for b in all_baselines if i == 0 and (b == "pca" or j == 0)]
            tag = f"{model}_d{d}"
            chain = _chain(params, data, model, d, f"_{tag}", baselines)
            last = i == len(models) - 1 and j == len(dims) - 1
            folded = outputs.comparison(
                report=next(n for n in chain if n.component is outputs.reporter).outputs["report"],
                previous=previous.outputs["table"] if previous else None,
                chain=tag,
            ).with_id("comparison" if last else f"comparison_{tag}")
            nodes += [*chain, folded]
            previous = folded
    return nodes


PIPELINE = register_pipeline(
    "emission_lines",
    build,
    PARAMETERS,
    description="emission-line galaxies: train, cluster, compare with WHAN/BPT, map, catalogue",
)


# -- the summary a person reads at the end ---------------------------------------------------
SCHEMES = el.SCHEMES


def summary_text(root: str) -> str:
    """What the last run under `root` found, and where its plots, catalogues and projector are.

    Paths are given as `root` is spelt (relative stays relative). Metrics are
    those of the results table: the value on the test split ± the bootstrap
    standard deviation.
    """
    outputs = shared.last_outputs(os.path.abspath(root))

    def show(path: str) -> str:
        return os.path.normpath(os.path.join(root, os.path.relpath(path, os.path.abspath(root))))

    lines = []
    reporters = [n for n in outputs if n == "reporter" or n.startswith("reporter_")]
    if not reporters:
        return f"{root}: the last run did not reach the reporter (run it again to resume)"
    for node in reporters:
        report = outputs[node]["report"]
        summary = runner.read_json(os.path.join(report, common.SUMMARY_JSON))
        model, data = summary["model"], summary["dataset"]
        counts = ", ".join(f"{s} {data['splits'][s]}" for s in common.SPLITS if s in data["splits"])
        lines.append(
            f"{model['model']} (d = {model['latent_dim']}) on {data['full_name']} ({counts}); "
            f"best epoch {model['best_epoch']} of {model['epochs']}, test reconstruction "
            f"error {model['reconstruction_error']['test']:.4g}"
        )
        for row in summary["results"]:
            name = row["representation"]
            lines.append(
                f"  {name} (d = {row['latent_dim']}): chosen K "
                + shared.bic_text(row, summary["representations"][name])
                + ", "
                f"{row.get('k_aic')} (AIC), {row.get('k_gap')} (gap), "
                f"{row.get('k_silhouette')} (silhouette); "
                + shared.clusters_text(summary["representations"][name])
            )
            for scheme in SCHEMES:
                if f"{scheme}_accuracy" in row:
                    lines.append(
                        f"    vs {scheme} (test split): matched accuracy "
                        f"{shared.metric(row, f'{scheme}_accuracy')}, ARI {shared.metric(row, f'{scheme}_ari')}"
                        f", NMI {shared.metric(row, f'{scheme}_nmi')}"
                    )
        catalogues = [summary["catalogues"][row["representation"]] for row in summary["results"]]
        lines += [
            f"  plots:      {show(os.path.join(report, common.FIGURES_DIR))}/<representation>/*.png",
            f"              {show(os.path.join(report, common.LOSS_PLOT))}",
            f"              {show(os.path.join(root, summary['dataset_plot']))}",
            f"  catalogue:  {', '.join(show(os.path.join(root, c)) for c in catalogues)}",
            f"  summary:    {show(os.path.join(report, common.SUMMARY_JSON))}",
        ]
        ensemble_node = "seed_ensemble" + node[len("reporter") :]
        if ensemble_node in outputs:
            lines += _ensemble_lines(outputs[ensemble_node]["table"], show)
        projector_node = "projector_writer" + node[len("reporter") :]
        if projector_node in outputs:
            logdir = show(outputs[projector_node]["projector"])
            from tfelg.outputs.tensorboard_command import tensorboard_command

            lines.append(f"  projector:  {tensorboard_command(logdir)}")
    if "comparison" in outputs:
        table = os.path.join(outputs["comparison"]["table"], common.RESULTS_MD)
        with open(table, encoding="utf-8") as f:
            text = f.read().strip()
        lines += ["", text[text.index("|") :], f"(table: {show(table)})"]
    return "\n".join(lines)


def _ensemble_lines(table: str, show) -> list[str]:
    """The seed ensemble's rows: chosen K per run, ARI per scheme (mean ± spread [bootstrap])."""
    from tfelg.analysis import ensembles

    rows = runner.read_json(os.path.join(table, common.ENSEMBLE_JSON))["rows"]
    lines = [
        f"  over {max(len(r['seeds']) for r in rows)} runs (seeds=N; mean ± std over the runs "
        "[bootstrap error]):"
    ]
    for row in rows:
        lines.append(
            f"    {row['representation']} (seeds {', '.join(map(str, row['seeds']))}): "
            "chosen K (BIC) "
            + ", ".join(map(str, row["k_bic"]))
            + "; ARI vs "
            + ", ".join(
                f"{s} {ensembles.format_cell(row[f'{s}_ari'])}"
                for s in SCHEMES
                if f"{s}_ari" in row
            )
        )
    lines.append(f"  ensemble:   {show(os.path.join(table, common.RESULTS_MD))}")
    return lines


if __name__ == "__main__":
    shared.summary_main(summary_text, "emission_lines")
