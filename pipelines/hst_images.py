r"""hst_images: three-band galaxy stamps to classes, compared with true type, UVJ and Gini-M20.

    tfelg-pipeline --pipeline=hst_images --root=runs/img
    tfelg-pipeline --pipeline=hst_images --root=runs/img --param=gan_epochs=5
                                  # the GAN, its library and what follows them re-run
    tfelg-pipeline --pipeline=hst_images --root=runs/img \
        --param='train_on_sweep=["real","real_and_generated"]'
    tfelg-pipeline --flagfile=pipelines/demo_images.flags      # make demo, second half
    python -m tfelg_pipelines.hst_images --root=runs/img       # the last run's summary

One chain, named by its node ids:

    dataset_gen -> gan_trainer -> library_generator -+ (train_on=real_and_generated)
         |                                           v
         +------------------------------------> feature_trainer (SimCLR)
                                                     |
         embedding_exporter (simclr, small_resnet_random, gan, pixel_pca, morphology)
                                                     |
         model_selector -> clusterer -+-> catalog_writer -> reporter -> projector_writer
         tsne ------------------------+-> image_figures (thumbnail map, maps by class, UVJ)

The reference work's claim was that a GAN-balanced library and a ResNet
feature space separate spirals from early types in agreement with colours.
Here each step of that claim is a component: the conditional GAN
(tfelg.models.gan) trains on the real training split, its EMA generator
writes a balanced library (`per_class` galaxies of every class), the
feature model (SimCLR, tfelg.models.simclr) trains on the real galaxies or
on real + generated (`train_on`), and every galaxy is embedded through the
SimCLR encoder and the comparison representations: a small ResNet with
random weights (how much is architecture alone), the GAN discriminator's
features (when the GAN offers them), PCA of the pixels and the measured
morphology + colours (the classical baselines). Everything after the
embeddings is the emission-line pipeline's shared chain
(tfelg_pipelines.shared), matched on the test split to true type, UVJ and
Gini-M20.

Sweep mode (`train_on_sweep`) trains one feature model per choice, sharing
the dataset, the GAN and the library, with node ids such as
`feature_trainer_real_and_generated`, and folds every chain's report into one
table (`comparison`): the answer to "does the GAN library help?" at the
pipeline's size. The representations that do not depend on the feature
model are computed in the first chain only.

Unlabelled stamps (`--param=dataset=hst_galaxies/hubble_deep_field`: the
Hubble Deep Field's stamps, an 8-bit display stretch of other filters, no
classes, no colours) run without the GAN and its library (there is nothing
to condition on, and `gan_*`, `per_class` and `num_galaxies` do not apply);
SimCLR trains on the real stamps, the representations are simclr,
small_resnet and pixel_pca, and the clusters are compared with no scheme:
the outputs are the clusters, the t-SNE maps (thumbnails, by cluster), the
catalogue and the projector (issue 14 item 4).

The defaults are small so that the demo runs on two CPU cores in a few
minutes (400 galaxies, 3 GAN and 3 SimCLR epochs with narrow networks);
they show the pipeline working, not converged models.
"""

from __future__ import annotations

import os

from tfelg_components import analysis, common, images, outputs, runner
from tfelg_components.base import Each, Files, OneOf, Parameter, Unique
from tfelg_components.pipeline import feeds
from tfelg_pipelines import shared
from tfelg_pipelines.registry import register_pipeline

# Narrow networks for CPU: a GAN of base width 16 and a SimCLR ResNet of widths 16-128
# (the models' own defaults are 32 and 32-256, meant for a GPU).
GAN_OPTIONS = {"base_filters": 16, "sample_every": 1, "samples_per_class": 4}
SIMCLR_OPTIONS = {"widths": [16, 32, 64, 128], "blocks_per_stage": 1, "projection_units": 64}

PARAMETERS = [
    # Data.
    feeds(
        images.hst_dataset_gen,
        "dataset_name",
        "dataset",
        help="TFDS dataset NAME/CONFIG (hst_galaxies/hubble_deep_field: unlabelled, no GAN).",
    ),
    feeds(
        images.hst_dataset_gen,
        "num_galaxies",
        default=400,
        help="Synthetic sample size (None: the config's 2,000).",
    ),
    feeds(
        images.hst_dataset_gen,
        "seed",
        "dataset_seed",
        help="Synthetic generator seed (None: the config's).",
    ),
    Parameter("manual_dir", None, str, help="Folder of the candels files."),
    # The GAN and its library.
    Parameter("label", "true_type", str, help="Class column the GAN is conditioned on."),
    feeds(images.image_trainer, "latent_dim", "gan_latent_dim", help="GAN noise dimension."),
    feeds(
        images.image_trainer,
        "model_options",
        "gan_options",
        default=GAN_OPTIONS,
        help="Further GAN arguments (tfelg.models.gan.GAN).",
    ),
    feeds(images.image_trainer, "epochs", "gan_epochs", default=3, help="GAN epochs."),
    feeds(images.image_trainer, "batch_size", "gan_batch_size", default=32, help="GAN batch."),
    feeds(
        images.image_trainer,
        "learning_rate",
        "gan_learning_rate",
        default=2e-4,
        help="GAN Adam step size.",
    ),
    feeds(images.library_generator, "per_class", help="Generated galaxies per class."),
    # The feature model.
    Parameter(
        "train_on",
        "real",
        str,
        help="Feature model's training set: real, or real_and_generated (+ the GAN library).",
        constraints=(OneOf(*images.TRAIN_ON),),
    ),
    feeds(images.image_trainer, "latent_dim", "feature_latent_dim", help="SimCLR feature size."),
    feeds(
        images.image_trainer,
        "model_options",
        "feature_options",
        default=SIMCLR_OPTIONS,
        help="Further SimCLR arguments (tfelg.models.simclr.SimCLR).",
    ),
    feeds(images.image_trainer, "epochs", "feature_epochs", default=3, help="SimCLR epochs."),
    feeds(images.image_trainer, "batch_size", "feature_batch_size", help="SimCLR batch."),
    feeds(images.image_trainer, "learning_rate", "feature_learning_rate", help="SimCLR step size."),
    feeds(
        images.image_trainer,
        "seed",
        help="Seeds training, the library, the embeddings and every step of the analysis.",
    ),
    # Embeddings.
    feeds(
        images.image_embedding_exporter,
        "representations",
        help=f"Representations (None: all of {', '.join(images.REPRESENTATIONS)}).",
    ),
    feeds(
        images.image_embedding_exporter,
        "reduce_dim",
        help="CNN features are reduced to this many PCA dimensions (fitted on train).",
    ),
    # Analysis (every pipeline's: tfelg_pipelines.shared).
    *shared.ANALYSIS_PARAMETERS,
    feeds(
        images.image_figures,
        "grid_size",
        "thumbnail_grid",
        help="Cells along the longer side of the thumbnail map's grid.",
    ),
    # Sweep mode.
    Parameter(
        "train_on_sweep",
        None,
        list,
        help='Sweep: feature-model training sets, e.g. ["real","real_and_generated"].',
        item_type=str,
        constraints=(
            Each(OneOf(*images.TRAIN_ON)),
            Unique(),
        ),
    ),
]


def _check_unlabelled(params) -> None:
    """The choices that need labels or calibrated flux, refused for unlabelled stamps."""
    from tfelg.errors import InputError

    sweep = params["train_on_sweep"] or [params["train_on"]]
    wanted = params["representations"] or []
    problems = []
    if "real_and_generated" in sweep:
        problems.append("train_on real_and_generated (there is no GAN library without classes)")
    problems += [
        f"representation {r!r}" for r in wanted if r not in images.UNLABELLED_REPRESENTATIONS
    ]
    if problems:
        raise InputError(
            f"{params['dataset']} has no labels, colours or calibrated flux: "
            + "; ".join(problems)
            + f" cannot run on it (representations: {', '.join(images.UNLABELLED_REPRESENTATIONS)})"
        )


def build(params) -> list:
    raw = Files(os.path.expanduser(params["manual_dir"])) if params["manual_dir"] else None
    seed = params["seed"]
    unlabelled = images.is_unlabelled(params["dataset"])
    if unlabelled:
        _check_unlabelled(params)
    data = images.hst_dataset_gen(
        raw=raw,
        dataset_name=params["dataset"],
        num_galaxies=None if unlabelled else params["num_galaxies"],
        seed=None if unlabelled else params["dataset_seed"],
    ).with_id("dataset_gen")
    dataset = data.outputs["dataset"]
    gan_options = {**dict(params["gan_options"] or {}), "label": params["label"]}
    gan = images.image_trainer(
        dataset=dataset,
        model_name="gan",
        latent_dim=params["gan_latent_dim"],
        model_options=gan_options,
        epochs=params["gan_epochs"],
        batch_size=params["gan_batch_size"],
        learning_rate=params["gan_learning_rate"],
        seed=seed,
    ).with_id("gan_trainer")
    library = images.library_generator(
        gan=gan.outputs["model"], per_class=params["per_class"], seed=seed
    ).with_id("library_generator")
    sweep = params["train_on_sweep"]
    choices = sweep if sweep is not None else [params["train_on"]]
    nodes = [data] if unlabelled else [data, gan]
    if "real_and_generated" in choices:
        nodes.append(library)
    wanted = params["representations"]
    if wanted is None and unlabelled:
        wanted = list(images.UNLABELLED_REPRESENTATIONS)
    previous = None
    for i, train_on in enumerate(choices):
        suffix = "" if sweep is None else f"_{train_on}"
        trained = images.image_trainer(
            dataset=dataset,
            library=library.outputs["library"] if train_on == "real_and_generated" else None,
            model_name="simclr",
            latent_dim=params["feature_latent_dim"],
            model_options=params["feature_options"],
            epochs=params["feature_epochs"],
            batch_size=params["feature_batch_size"],
            learning_rate=params["feature_learning_rate"],
            seed=seed,
        )
        reps = list(wanted) if wanted is not None else list(images.REPRESENTATIONS)
        if i > 0:  # what does not depend on the feature model: once, in the first chain
            reps = [r for r in reps if r == "simclr"] or ["simclr"]
        exported = images.image_embedding_exporter(
            dataset=dataset,
            model=trained.outputs["model"],
            gan=None if unlabelled else gan.outputs["model"],
            representations=reps,
            reduce_dim=params["reduce_dim"],
            seed=seed,
        )
        analysed = shared.analysis_nodes(
            params, dataset, trained.outputs["model"], exported.outputs["embeddings"]
        )
        pictures = images.image_figures(
            dataset=dataset,
            embeddings=exported.outputs["embeddings"],
            clusters=next(n for n in analysed if n.component is analysis.clusterer).outputs[
                "clusters"
            ],
            tsne_map=next(n for n in analysed if n.component is analysis.tsne).outputs["tsne_map"],
            grid_size=params["thumbnail_grid"],
            seed=seed,
        )
        chain = [
            trained.with_id("feature_trainer"),
            exported.with_id("embedding_exporter"),
            *analysed,
            pictures,
        ]
        nodes += [node.with_id(node.id + suffix) for node in chain]
        if sweep is not None:
            reporter = next(n for n in nodes[::-1] if n.component is outputs.reporter)
            last = i == len(choices) - 1
            folded = outputs.comparison(
                report=reporter.outputs["report"],
                previous=previous.outputs["table"] if previous else None,
                chain=train_on,
            ).with_id("comparison" if last else f"comparison{suffix}")
            nodes.append(folded)
            previous = folded
    return nodes


PIPELINE = register_pipeline(
    "hst_images",
    build,
    PARAMETERS,
    description=(
        "HST three-band stamps: GAN library, SimCLR features, clusters vs true type/UVJ/"
        "Gini-M20, map, catalogue"
    ),
)


# -- the summary a person reads at the end ---------------------------------------------------
def summary_text(root: str) -> str:
    """What the last run under `root` found, and where its plots, catalogues and projector are."""
    found = shared.last_outputs(os.path.abspath(root))

    def show(path: str) -> str:
        return os.path.normpath(os.path.join(root, os.path.relpath(path, os.path.abspath(root))))

    reporters = [n for n in found if n == "reporter" or n.startswith("reporter_")]
    if not reporters:
        return f"{root}: the last run did not reach the reporter (run it again to resume)"
    lines = []
    for node in reporters:
        report = found[node]["report"]
        summary = runner.read_json(os.path.join(report, common.SUMMARY_JSON))
        model, data = summary["model"], summary["dataset"]
        counts = ", ".join(f"{s} {data['splits'][s]}" for s in common.SPLITS if s in data["splits"])
        trained_on = node[len("reporter_") :] if node != "reporter" else None
        lines.append(
            f"{model['model']} features (d = {model['latent_dim']}, {model['epochs']} epochs"
            + (f", trained on {trained_on}" if trained_on else "")
            + f") on {data['full_name']} ({counts})"
        )
        for row in summary["results"]:
            name = row["representation"]
            lines.append(
                f"  {name} (d = {row['latent_dim']}): chosen K "
                + shared.bic_text(row, summary["representations"][name])
                + ", "
                f"{row.get('k_gap')} (gap), {row.get('k_silhouette')} (silhouette); "
                + shared.clusters_text(summary["representations"][name])
            )
            for scheme in images.SCHEMES:
                if f"{scheme}_accuracy" in row:
                    lines.append(
                        f"    vs {scheme} (test split): matched accuracy "
                        f"{shared.metric(row, f'{scheme}_accuracy')}, ARI {shared.metric(row, f'{scheme}_ari')}"
                        f", NMI {shared.metric(row, f'{scheme}_nmi')}"
                    )
        pictures = found.get("image_figures" + node[len("reporter") :], {}).get("figures")
        lines += [
            f"  plots:      {show(os.path.join(report, common.FIGURES_DIR))}/<representation>/*.png",
            *(
                [f"              {show(pictures)}/<representation>/thumbnail_map.png"]
                if pictures
                else []
            ),
            f"              {show(os.path.join(root, summary['dataset_plot']))}",
            f"  summary:    {show(os.path.join(report, common.SUMMARY_JSON))}",
        ]
        projector_node = "projector_writer" + node[len("reporter") :]
        if projector_node in found:
            from tfelg.outputs.tensorboard_command import tensorboard_command

            lines.append(
                f"  projector:  {tensorboard_command(show(found[projector_node]['projector']))}"
            )
    if "comparison" in found:
        table = os.path.join(found["comparison"]["table"], common.RESULTS_MD)
        with open(table, encoding="utf-8") as f:
            text = f.read().strip()
        lines += ["", text[text.index("|") :], f"(table: {show(table)})"]
    return "\n".join(lines)


# The analysis steps are the shared ones; named here so a reader of this module finds them.
SHARED_COMPONENTS = (analysis.model_selector, analysis.clusterer, analysis.tsne)

if __name__ == "__main__":
    shared.summary_main(summary_text, "hst_images")
