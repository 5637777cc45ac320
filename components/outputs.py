r"""Shared components that write what people read: catalogue, report, projector, comparison.

    (analysis.py) -> catalog_writer -> reporter -> projector_writer
                                          +-> comparison (sweeps: one table of every chain)
                                          +-> seed_ensemble (seeds=N: the figures over N runs with other seeds)

Each handles every representation of an Embeddings artifact of any domain.
The projector comes last, after the reporter, so that one TensorBoard log
directory (the ProjectorLog) holds everything a person opens TensorBoard
for: a projector per representation (one TensorBoard *run* per sub-folder),
with the domain's thumbnails as its sprite, the figures of each
representation in the Images tab of that run, and the training curves
(`training/train`, `training/validation`). Several log directories would need
`tensorboard --logdir_spec`, under which TensorBoard's projector plugin shows
nothing (it works under `--logdir` only).

Paths written into files are relative (the runner renames the output
folders into place after the function returns); `summary.json` gives paths
relative to the run root.

Every component is also a binary (tfelg_components.binary):

    python -m tfelg_components.outputs comparison --root=runs/a \
        --input_report=runs/a/reporter/report/<execution> --chain=ae_d2
"""

from __future__ import annotations

import os
import shutil
from typing import Annotated

import numpy as np

from tfelg_components import binary, domains
from tfelg_components.base import (
    Catalogue,
    Clusters,
    Context,
    Dataset,
    Embeddings,
    Input,
    Model,
    ModelSelection,
    Output,
    ProjectorLog,
    Range,
    Report,
    TSNEMap,
    component,
)
from tfelg_components.common import (
    COMPARISON_JSON,
    DATASET_JSON,
    EMBEDDINGS_JSON,
    ENSEMBLE_JSON,
    FIGURES_DIR,
    LOSS_PLOT,
    RESULTS_MD,
    SEED,
    SPLITS,
    SUMMARY_JSON,
    TRAINING_LOGDIR,
    load_embeddings,
    load_thumbnails,
    load_tsne,
    representations,
)

# A component's source is hashed into its cache key (base.Component.code_version).
# The catalogue writer and the comparison moved here from emission_lines.py
# unchanged, so their bodies keep the names they used there and runs cached
# before the move stay cached.
from tfelg_components.common import analysis_config as _analysis_config
from tfelg_components.common import read_json as _read_json
from tfelg_components.common import relative as _relative
from tfelg_components.common import write_json as _write_json

# TensorBoard's projector loads at most this many points; the copy keeps the
# module free of TensorFlow (tests/components/emission_lines_test.py checks it against
# tfelg.outputs.projector.PROJECTOR_MAX_POINTS).
PROJECTOR_MAX_POINTS = 100_000


@component(version="3")  # 2: TSNE_PLACED where galaxies were placed on the map; 3: LATENT_IMPUTED
def catalog_writer(
    embeddings: Input[Embeddings],
    clusters: Input[Clusters],
    tsne_map: Input[TSNEMap],
    catalogue: Output[Catalogue],
    seed: Annotated[int, SEED] = 0,
):
    """The value-added FITS catalogue per representation: ids, latent and map coordinates
    (TSNE_PLACED: placed on a map fitted on a subsample), cluster and probabilities, WHAN,
    BPT (and true class)."""
    from tfelg.analysis import analyze

    config = _analysis_config(seed=seed)
    for name in representations(embeddings):
        xy = load_tsne(tsne_map, name)
        with np.load(tsne_map.path(f"{name}.npz")) as z:
            fitted = z["rows"]
        # Galaxies with map coordinates that were not fitted were placed on the
        # map (the tsne component's place_rest); flagged only where there are any.
        placed = np.all(np.isfinite(xy), axis=1)
        placed[fitted] = False
        analyze.write_value_added_catalogue(
            load_embeddings(embeddings, name),
            analyze.ClassInference.load(clusters.path(name)),
            xy,
            catalogue.path(f"{name}.fits"),
            config,
            tsne_placed=placed if placed.any() else None,
        )


@component(version="3")  # 2: the dataset's overview plot named by its dataset.json; 3: k_max
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
            "k_max": int(max(chosen["ks"])),
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
            "dataset_plot": rel(dataset.path(data_info["plot"])),
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


@component(version="4")  # 4: thumbnails of the shown subsample only, streamed
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
    (id, every scheme's class, cluster, split, ...) and a sprite of the
    domain's thumbnails (for emission lines rendered spectra or, without
    spectra, line-ratio glyphs), plus the report's figures as images, whose
    event file is what makes the folder a TensorBoard run (the projector only
    looks in runs). Tensors of fewer than 3 columns are padded with zeros.
    """
    from tfelg.analysis import analyze
    from tfelg.outputs.projector import subsample_rows

    config = _analysis_config(projector_max_points=max_points, seed=seed)
    # Thumbnails of only the galaxies the projector shows (write_projector's own
    # seeded subsample), their features streamed from the dataset: rendering a
    # million spectra would take 3 GB of thumbnails and 11 GB of spectra.
    n_total = _read_json(embeddings.path(EMBEDDINGS_JSON))["n_galaxies"]
    rows = subsample_rows(n_total, max_points, seed)
    thumbs = load_thumbnails(dataset, domains.domain_of(dataset), rows)  # train, val, test
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


@component(version="1")
def seed_ensemble(
    report: Input[Report],
    selection: Input[ModelSelection],
    clusters: Input[Clusters],
    table: Output[Report],
    previous: Input[Report] = None,
    report_seed: Annotated[int, SEED] = 0,
    member_seed: Annotated[int, SEED] = 0,
):
    """Chosen K and agreement with each scheme over runs with other seeds: mean ± spread.

    One trained autoencoder is one draw from what its training produces: on
    the synthetic data another seed moves its ARI against WHAN by 15-40 times
    the bootstrap error over test galaxies (benchmarks/RESULTS.md), and a
    mixture at a K where BIC has no minimum splits the continuum differently
    from one EM start to the next. So the pipeline's `seeds=N` repeats the
    run N - 1 times on the same data with seeds `seed + i * SEED_STRIDE`
    (training, model selection and clustering; the baselines are the same
    numbers, their mixtures are not) and folds the members into this table
    one by one (a component has a fixed set of inputs): the first fold starts
    from the first run's report (`report_seed`, its rows as they are), each
    adds one member (its `selection` and `clusters`, `member_seed`).
    Statistics: tfelg.analysis.ensembles (std over members, ddof = 1; the
    bootstrap error is the members' RMS).
    """
    from tfelg.analysis import analyze

    if previous:
        records = list(_read_json(previous.path(ENSEMBLE_JSON))["records"])
    else:
        records = [
            {**row, "seed": report_seed} for row in _read_json(report.path(SUMMARY_JSON))["results"]
        ]
    if any(r["seed"] == member_seed for r in records):
        raise ValueError(f"seed {member_seed} is already a member of the ensemble")
    dims = {r["representation"]: r["latent_dim"] for r in records}
    for name in sorted(e.name for e in os.scandir(clusters.uri) if e.is_dir()):
        if name not in dims:
            raise ValueError(
                f"{clusters.uri}: representation {name!r} is not in the report's "
                f"({', '.join(dims)}): an ensemble member must repeat the report's run"
            )
        inference = analyze.ClassInference.load(clusters.path(name))
        row = analyze.headline(
            {
                "representation": name,
                "latent_dim": dims[name],
                "chosen_k": _read_json(selection.path(f"{name}.json"))["chosen_k"],
                "comparisons": inference.comparisons,
            }
        )
        records.append({**row, "seed": member_seed})
    rows = ensemble_rows(records)
    _write_json(table.path(ENSEMBLE_JSON), {"records": records, "rows": rows})
    with open(table.path(RESULTS_MD), "w", encoding="utf-8") as f:
        f.write(ensemble_markdown(rows) + "\n")
    table.properties["rows"] = rows


ENSEMBLE_METRICS = ("accuracy", "ari", "nmi")


def ensemble_rows(records: list[dict]) -> list[dict]:
    """One row per representation (first-seen order): seeds, chosen Ks, aggregated metrics."""
    from tfelg.analysis import ensembles

    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["representation"], []).append(r)
    rows = []
    for name, members in groups.items():
        row = {
            "representation": name,
            "latent_dim": members[0]["latent_dim"],
            "seeds": [m["seed"] for m in members],
            "k_bic": [m.get("k_bic") for m in members],
        }
        for key in dict.fromkeys(k for m in members for k in m if k.endswith(ENSEMBLE_METRICS)):
            if any(key not in m or f"{key}_err" not in m for m in members):
                continue  # a metric every member has, or none
            row[key] = ensembles.aggregate(
                [m[key] for m in members], [m[f"{key}_err"] for m in members]
            )
        rows.append(row)
    return rows


def ensemble_markdown(rows: list[dict]) -> str:
    """The ensemble as Markdown: K (BIC) per seed, then mean ± seed std [bootstrap] per metric."""
    from tfelg.analysis import ensembles

    keys = list(dict.fromkeys(k for r in rows for k in r if k.endswith(ENSEMBLE_METRICS)))

    def title(key: str) -> str:  # whan_ari -> whan ARI
        scheme, metric = key.rsplit("_", 1)
        return f"{scheme} {metric.upper() if metric != 'accuracy' else metric}"

    header = ["representation", "d", "seeds", "K (BIC) per seed", *map(title, keys)]
    lines = [
        "# Over seeds",
        "",
        "Each figure: mean over the runs with these seeds ± their standard deviation "
        "[bootstrap error over test galaxies, the runs' RMS]. The model is trained "
        "again with each seed; PCA and the line ratios are the same numbers in every run, "
        "their spread is that of model selection and the mixture's EM starts.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in rows:
        cells = [
            r["representation"],
            str(r["latent_dim"]),
            ", ".join(map(str, r["seeds"])),
            ", ".join(map(str, r["k_bic"])),
            *(ensembles.format_cell(r[k]) if k in r else "–" for k in keys),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


COMPONENTS = (catalog_writer, reporter, projector_writer, comparison, seed_ensemble)

if __name__ == "__main__":
    binary.run(*COMPONENTS)
