"""The results document of scripts/make_analysis_table.py: seed ensembles as Markdown tables.

The script analyses every representation (one *record* per representation,
latent dimension and training seed: the chosen K, the test-split scores per
scheme with bootstrap errors, the redshift measures); this module
aggregates the records over seeds (:mod:`tfelg.analysis.ensembles`), marks
differences from PCA, divides by the supervised ceilings
(:mod:`tfelg.analysis.ceilings`) and writes the tables. Kept apart from the
script so that the tables can be tested on known records.

A record (``part``: optional, the data and input it was made on, when one
document holds several; rows are then grouped and compared within a part)::

    {"representation": "ae", "latent_dim": 2, "seed": 0,
     "part": {"label": "synthetic · lines/ew", "dataset": "emission_lines/synthetic",
              "input": "lines/ew"},
     "chosen_k": {"bic": 9, "aic": 9, "gap": 4, "silhouette": 2} or {"fixed": 5},
     "scores": {"whan": {"ari": 0.3, "ari_err": 0.01, ...}, ...},
     "redshift": {"dependence": {...}, "bins": [...]}}
"""

from __future__ import annotations

import numpy as np

from tfelg.analysis import ceilings, ensembles, redshift

SCHEMES = ("whan", "bpt", "true_class")
METRICS = ("accuracy", "accuracy_many_to_one", "ari", "nmi")
#: Representations without a training seed.
DETERMINISTIC = ("pca", "line_ratios")
#: Metrics marked against PCA.
MARKED = ("accuracy", "ari")


def aggregate_records(records: list[dict]) -> list[dict]:
    """One row per (part, representation, d), in first-seen order: ensemble statistics.

    Each row: ``representation``, ``latent_dim``, ``part`` (None without
    parts), ``n`` (members), ``members`` (the records), and per scheme
    ``{metric: ensembles.aggregate(...)}``.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        key = (_label(r.get("part")), r["representation"], r["latent_dim"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (_, rep, d), members in groups.items():
        row = {
            "representation": rep,
            "latent_dim": d,
            "part": members[0].get("part"),
            "n": len(members),
            "members": members,
        }
        # Every member scored against the scheme, or the scheme is left out of the row.
        for scheme in SCHEMES:
            scored = [m["scores"][scheme] for m in members if scheme in m["scores"]]
            if len(scored) != len(members):
                continue
            row[scheme] = {
                metric: ensembles.aggregate(
                    [s[metric] for s in scored],
                    [s[f"{metric}_err"] for s in scored],
                    deterministic=rep in DETERMINISTIC,
                )
                for metric in METRICS
            }
        rows.append(row)
    return rows


def _label(part) -> str | None:
    return None if part is None else part["label"]


def _ceiling_input(rep: str, input_name: str) -> str:
    return "lines/ew_and_ratios" if rep == "line_ratios" else input_name


def _has_parts(rows) -> bool:
    return any(r.get("part") is not None for r in rows)


def _part_cell(r) -> str:
    return f"{_label(r.get('part'))} | " if r.get("part") is not None else ""


def scheme_table(rows, scheme, ceiling_rows, input_name=None) -> str:
    """One scheme: accuracy, many-to-one accuracy, ARI, NMI (marked vs PCA), ARI / ceiling.

    Marks compare with PCA at the same d *of the same part* (data and
    input); the ceiling is that of the row's input (``input_name`` without
    parts) on the row's dataset (ceiling rows with a ``dataset`` key).
    """
    pca = {
        (_label(r.get("part")), r["latent_dim"]): r for r in rows if r["representation"] == "pca"
    }
    with_parts = _has_parts(rows)
    lines = [
        ("| data · input " if with_parts else "")
        + "| representation | d | seeds | accuracy | many-to-one accuracy | ARI | NMI "
        "| ARI / ceiling |",
        ("|---" if with_parts else "") + "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if scheme not in r:
            continue
        ref = pca.get((_label(r.get("part")), r["latent_dim"]))
        cells = []
        for metric in METRICS:
            stats = r[scheme][metric]
            mark = ""
            if ref is not None and r["representation"] not in DETERMINISTIC and scheme in ref:
                if metric in MARKED:
                    mark = ensembles.compare(stats, ref[scheme][metric])["mark"]
            cells.append(ensembles.format_cell(stats, mark))
        part = r.get("part")
        row_input = part["input"] if part is not None else input_name
        candidates = [
            c
            for c in ceiling_rows
            if part is None or c.get("dataset", part["dataset"]) == part["dataset"]
        ]
        ceiling = ceilings.best_ceiling(
            candidates, _ceiling_input(r["representation"], row_input), scheme
        )
        fraction = r[scheme]["ari"]["mean"] / ceiling if ceiling and ceiling > 0 else float("nan")
        cells.append("–" if np.isnan(fraction) else f"{fraction:.2f}")
        lines.append(
            f"| {_part_cell(r)}{r['representation']} | {r['latent_dim']} | {r['n']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def ceiling_table(ceiling_rows) -> str:
    """Inputs x classifiers, accuracy / ARI / NMI ± bootstrap std per scheme."""
    schemes_present = [s for s in SCHEMES if any(r["scheme"] == s for r in ceiling_rows)]
    with_data = any("dataset" in r for r in ceiling_rows)
    header = (
        ("| data " if with_data else "")
        + "| input | classifier | "
        + " | ".join(f"{s} accuracy | {s} ARI | {s} NMI" for s in schemes_present)
        + " |"
    )
    lines = [
        header,
        ("|---" if with_data else "") + "|---|---|" + "---|" * (3 * len(schemes_present)),
    ]
    keys = list(dict.fromkeys((r.get("dataset"), r["input"], r["method"]) for r in ceiling_rows))
    for dataset, input_name, method in keys:
        cells = []
        for s in schemes_present:
            hit = [
                r
                for r in ceiling_rows
                if (r.get("dataset"), r["input"], r["method"], r["scheme"])
                == (dataset, input_name, method, s)
            ]
            for metric in ("accuracy", "ari", "nmi"):
                cells.append(
                    f"{hit[0][metric]:.3f} ± {hit[0][metric + '_err']:.3f}" if hit else "–"
                )
        data_cell = f"| {dataset} " if with_data else ""
        lines.append(f"{data_cell}| {input_name} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def k_table(rows) -> str:
    """Chosen K by each criterion, one entry per seed."""
    with_parts = _has_parts(rows)
    lines = [
        ("| data · input " if with_parts else "")
        + "| representation | d | K (BIC) | K (AIC) | K (gap) | K (silhouette) |",
        ("|---" if with_parts else "") + "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ks = [m["chosen_k"] for m in r["members"]]
        if "fixed" in ks[0]:
            cells = [f"{ks[0]['fixed']} (fixed)"] + ["–"] * 3
        else:
            cells = [", ".join(str(k[c]) for k in ks) for c in ("bic", "aic", "gap", "silhouette")]
        lines.append(
            f"| {_part_cell(r)}{r['representation']} | {r['latent_dim']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def redshift_table(rows) -> str:
    """Largest MI, R² (linear, trees), true-class ARI per redshift bin, means over seeds.

    With the share of the latent variance that redshift explains (records
    with ``redshift.variance_share``; "–" where not measured) and its verdict
    (:func:`tfelg.analysis.redshift.redshift_verdict`). The bins are those of
    the first record: give rows of one dataset.
    """
    first = next((m for r in rows for m in r["members"] if m["redshift"]["bins"]), None)
    bins = first["redshift"]["bins"] if first else []
    bin_names = [f"ARI z {b['z_low']:.3f}–{b['z_high']:.3f}" for b in bins]
    with_parts = _has_parts(rows)
    lines = [
        ("| data · input " if with_parts else "")
        + "| representation | d | max MI (nats) | R² linear | R² trees | "
        + " | ".join(bin_names)
        + " | z share of latent variance | encodes |",
        ("|---" if with_parts else "")
        + "|---|---|---|---|---|"
        + "---|" * len(bin_names)
        + "---|---|",
    ]
    for r in rows:
        dep = [m["redshift"]["dependence"] for m in r["members"]]
        mi = np.mean([max(x["mutual_information"]) for x in dep])
        lin = np.mean([x["r2_linear"] for x in dep])
        trees = [x["r2_gbm"] for x in dep]
        gbm = "–" if None in trees else f"{np.mean(trees):.3f}"  # None: trees not fitted
        cells = [f"{mi:.3f}", f"{lin:.3f}", gbm]
        for i in range(len(bin_names)):
            values = [m["redshift"]["bins"][i].get("ari") for m in r["members"]]
            values = [v for v in values if v is not None]
            cells.append(f"{np.mean(values):.3f}" if values else "–")
        shares = [m["redshift"].get("variance_share") for m in r["members"]]
        share = np.mean(shares) if shares and None not in shares else None
        cells.append("–" if share is None else f"{share:.2f}")
        cells.append(redshift.redshift_verdict(share))
        lines.append(
            f"| {_part_cell(r)}{r['representation']} | {r['latent_dim']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _parts_paragraph(parts) -> str:
    lines = ["Data and inputs (each a *part*; rows are compared with PCA of the same part):\n"]
    for p in parts:
        n = p["n_galaxies"]
        epochs = p.get("best_epochs") or []
        lines.append(
            f"* **{p['label']}**: `{p['dataset']}`, {n['train']:,} train / "
            f"{n['validation']:,} validation / {n['test']:,} test galaxies, input "
            f"`{p['input']}`; "
            + (
                f"models {', '.join(p['models'])}, {p['epochs']} epochs"
                + (f" (best epochs {min(epochs)}–{max(epochs)})" if epochs else "")
                if p["models"]
                else "no autoencoder (PCA only)"
            )
            + "."
        )
    return "\n".join(lines) + "\n"


def document(
    command: str,
    base,
    seeds,
    n_galaxies: dict,
    rows: list[dict],
    ceiling_rows: list[dict],
    sweep_rows: list[dict],
    n_dec_clusters: int,
    n_clusters: int | None = None,
    parts: list[dict] | None = None,
) -> str:
    """The Markdown document (without the hand-written reading).

    Args:
      command: the command line that made it.
      base: the sweep's ExperimentConfig (data and trainer settings).
      seeds: the training seeds.
      n_galaxies: split -> number of galaxies.
      rows: :func:`aggregate_records` output.
      ceiling_rows: :func:`tfelg.analysis.ceilings.compute_ceilings` output.
      sweep_rows: the latent sweep's rows (for the best epochs).
      n_dec_clusters: DEC's K.
      n_clusters: the mixtures' fixed K (None: each one's BIC choice).
      parts: several data/input parts (dicts with ``label``, ``dataset``,
        ``input``, ``models``, ``epochs``, ``n_galaxies``, ``best_epochs``):
        listed instead of the one-data paragraph, and one redshift table
        per dataset.
    """
    input_name = "spectrum" if base.data.input == "spectrum" else f"lines/{base.data.line_features}"
    best_epochs = [r["best_epoch"] for r in sweep_rows if r["model"] != "pca"]
    mixture = (
        f"Every mixture has K = {n_clusters} components (fitted on train); "
        if n_clusters
        else "The mixture has the BIC choice of K (fitted on train); "
    )
    common = (
        f"with {len(seeds)} training seeds ({', '.join(map(str, seeds))}); checkpoint = the "
        "epoch with the lowest validation loss. "
        + mixture
        + "the K scan (BIC, AIC, gap, silhouette on a seeded subsample of train) is reported "
        "separately; every figure is measured on the test split. BPT is the "
        "three-class view (SF / composite / AGN); low-S/N and unclassified galaxies are left "
        "out of each comparison.\n"
    )
    if parts:
        data_text = [
            _parts_paragraph(parts),
            f"Every autoencoder trained with batch {base.trainer.batch_size}, Adam "
            f"{base.trainer.learning_rate:g}, " + common,
        ]
    else:
        data_text = [
            f"Data: `{base.data.dataset}`, {n_galaxies['train']:,} train / "
            f"{n_galaxies['validation']:,} validation / {n_galaxies['test']:,} test galaxies, "
            f"input `{input_name}`. Every autoencoder trained {base.trainer.epochs} epochs "
            f"(batch {base.trainer.batch_size}, Adam {base.trainer.learning_rate:g}) "
            + common.replace(
                "the lowest validation loss. ",
                f"the lowest validation loss (best epochs {min(best_epochs)}–{max(best_epochs)}). ",
            )
        ]
    parts_text = [
        "# Classes in the latent spaces: seed ensembles, supervised ceilings, redshift\n",
        f"Produced by one command (from the repository root):\n\n```\n{command}\n```\n",
        *data_text,
        "**Cells**: mean over training seeds ± standard deviation over seeds [bootstrap std "
        "over the test galaxies, RMS over seeds]; PCA and the line ratios have no training "
        "seed. **Marks** (accuracy and ARI, against PCA at the same d"
        + (" of the same part" if parts else "")
        + "): `+` / `−` = higher / "
        "lower than PCA by more than 2 sigma, sigma = sqrt(std²/N + boot² + boot_PCA²) "
        "(conservative: the shared test galaxies' correlation is ignored; "
        "`tfelg/analysis/ensembles.py`); no mark = not significant. **Accuracy** is the "
        "strict one-to-one Hungarian accuracy (a lower bound when K > number of classes); "
        "**many-to-one accuracy** gives every non-matched cluster its majority class "
        "(relabelling-invariant, grows with K). **ARI / ceiling**: the mean ARI over the best "
        "supervised classifier's ARI on the same input"
        + (" and data" if parts else "")
        + " (line ratios: `lines/ew_and_ratios`).\n",
        "Rows: `ae`…`aae` and `vae_mog` = the Gaussian mixture (K above) on the posterior "
        "means; `pca` = PCA of the same inputs at the same d; `vae_mog prior` "
        "= the mixture-prior VAE read as a classifier (each galaxy to its most probable prior "
        f"component, K = 5); `dec (ae)` = DEC fine-tuned from each dense AE with K = "
        f"{n_dec_clusters}; `line_ratios` = standardised log [NII]/Hα, [OIII]/Hβ, [SII]/Hα, "
        "[OI]/Hα and asinh EW(Hα), no learning.\n",
        "## Supervised ceilings\n",
        "A classifier trained with the labels on the training split and scored on test with "
        "the same metrics: what the input allows. `gbm` = scikit-learn "
        "HistGradientBoostingClassifier, `mlp` = Keras 64-64 ReLU MLP early-stopped on "
        "validation (`tfelg/analysis/ceilings.py`); ± = bootstrap std.\n",
        ceiling_table(ceiling_rows) + "\n",
    ]
    titles = {"whan": "WHAN", "bpt": "BPT (SF / composite / AGN)", "true_class": "True classes"}
    for scheme in SCHEMES:
        if any(scheme in r for r in rows):
            parts_text += [
                f"## {titles[scheme]}\n",
                scheme_table(rows, scheme, ceiling_rows, input_name) + "\n",
            ]
    k_rows = [r for r in rows if "fixed" not in r["members"][0]["chosen_k"]]
    parts_text += [
        "## Chosen K (one entry per seed)\n",
        (k_table(k_rows) if k_rows else "(no K scan in this document)") + "\n",
        "## Redshift\n",
        "How much each representation encodes redshift (test split, mean over seeds): the "
        "largest mutual information of one latent dimension with redshift (scikit-learn's "
        "k-NN estimator), the R² of a linear regression and of gradient-boosted trees "
        "predicting redshift from all latent dimensions (fitted on train), the true-class "
        "ARI of the representation's clusters in equal-count redshift bins, and the share "
        "of the latent space's variance that redshift explains (each coordinate predicted "
        "by its mean in 20 equal-count redshift bins of train; `encodes` = *mostly "
        f"redshift* from {redshift.MOSTLY_REDSHIFT:g}, *partly* from "
        f"{redshift.PARTLY_REDSHIFT:g}; `tfelg/analysis/redshift.py`).\n",
    ]
    datasets = list(dict.fromkeys(p["dataset"] for p in parts)) if parts else [None]
    for dataset in datasets:
        chosen = [
            r for r in rows if dataset is None or (r.get("part") or {}).get("dataset") == dataset
        ]
        if not chosen:
            continue
        if dataset is not None and len(datasets) > 1:
            parts_text.append(f"### `{dataset}`\n")
        parts_text.append(redshift_table(chosen) + "\n")
    return "\n".join(parts_text)
