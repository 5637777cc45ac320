"""The results document of scripts/make_analysis_table.py: seed ensembles as Markdown tables.

The script analyses every representation (one *record* per representation,
latent dimension and training seed: the chosen K, the test-split scores per
scheme with bootstrap errors, the redshift measures); this module
aggregates the records over seeds (:mod:`tfelg.analysis.ensembles`), marks
differences from PCA, divides by the supervised ceilings
(:mod:`tfelg.analysis.ceilings`) and writes the tables. Kept apart from the
script so that the tables can be tested on known records.

A record::

    {"representation": "ae", "latent_dim": 2, "seed": 0,
     "chosen_k": {"bic": 9, "aic": 9, "gap": 4, "silhouette": 2} or {"fixed": 5},
     "scores": {"whan": {"ari": 0.3, "ari_err": 0.01, ...}, ...},
     "redshift": {"dependence": {...}, "bins": [...]}}
"""

from __future__ import annotations

import numpy as np

from tfelg.analysis import ceilings, ensembles

SCHEMES = ("whan", "bpt", "true_class")
METRICS = ("accuracy", "accuracy_many_to_one", "ari", "nmi")
#: Representations without a training seed.
DETERMINISTIC = ("pca", "line_ratios")
#: Metrics marked against PCA.
MARKED = ("accuracy", "ari")


def aggregate_records(records: list[dict]) -> list[dict]:
    """One row per (representation, d), in first-seen order: ensemble statistics.

    Each row: ``representation``, ``latent_dim``, ``n`` (members), ``members``
    (the records), and per scheme ``{metric: ensembles.aggregate(...)}``.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["representation"], r["latent_dim"]), []).append(r)
    rows = []
    for (rep, d), members in groups.items():
        row = {"representation": rep, "latent_dim": d, "n": len(members), "members": members}
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


def _ceiling_input(rep: str, input_name: str) -> str:
    return "lines/ew_and_ratios" if rep == "line_ratios" else input_name


def scheme_table(rows, scheme, ceiling_rows, input_name) -> str:
    """One scheme: accuracy, many-to-one accuracy, ARI, NMI (marked vs PCA), ARI / ceiling."""
    pca = {r["latent_dim"]: r for r in rows if r["representation"] == "pca"}
    lines = [
        "| representation | d | seeds | accuracy | many-to-one accuracy | ARI | NMI "
        "| ARI / ceiling |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if scheme not in r:
            continue
        ref = pca.get(r["latent_dim"])
        cells = []
        for metric in METRICS:
            stats = r[scheme][metric]
            mark = ""
            if ref is not None and r["representation"] not in DETERMINISTIC and scheme in ref:
                if metric in MARKED:
                    mark = ensembles.compare(stats, ref[scheme][metric])["mark"]
            cells.append(ensembles.format_cell(stats, mark))
        ceiling = ceilings.best_ceiling(
            ceiling_rows, _ceiling_input(r["representation"], input_name), scheme
        )
        fraction = r[scheme]["ari"]["mean"] / ceiling if ceiling and ceiling > 0 else float("nan")
        cells.append("–" if np.isnan(fraction) else f"{fraction:.2f}")
        lines.append(
            f"| {r['representation']} | {r['latent_dim']} | {r['n']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def ceiling_table(ceiling_rows) -> str:
    """Inputs x classifiers, accuracy / ARI / NMI ± bootstrap std per scheme."""
    schemes_present = [s for s in SCHEMES if any(r["scheme"] == s for r in ceiling_rows)]
    header = (
        "| input | classifier | "
        + " | ".join(f"{s} accuracy | {s} ARI | {s} NMI" for s in schemes_present)
        + " |"
    )
    lines = [header, "|---|---|" + "---|" * (3 * len(schemes_present))]
    keys = list(dict.fromkeys((r["input"], r["method"]) for r in ceiling_rows))
    for input_name, method in keys:
        cells = []
        for s in schemes_present:
            hit = [
                r
                for r in ceiling_rows
                if (r["input"], r["method"], r["scheme"]) == (input_name, method, s)
            ]
            for metric in ("accuracy", "ari", "nmi"):
                cells.append(
                    f"{hit[0][metric]:.3f} ± {hit[0][metric + '_err']:.3f}" if hit else "–"
                )
        lines.append(f"| {input_name} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def k_table(rows) -> str:
    """Chosen K by each criterion, one entry per seed."""
    lines = [
        "| representation | d | K (BIC) | K (AIC) | K (gap) | K (silhouette) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ks = [m["chosen_k"] for m in r["members"]]
        if "fixed" in ks[0]:
            cells = [f"{ks[0]['fixed']} (fixed)"] + ["–"] * 3
        else:
            cells = [", ".join(str(k[c]) for k in ks) for c in ("bic", "aic", "gap", "silhouette")]
        lines.append(f"| {r['representation']} | {r['latent_dim']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def redshift_table(rows) -> str:
    """Largest MI, R² (linear, trees) and true-class ARI per redshift bin, means over seeds."""
    first = next((m for r in rows for m in r["members"] if m["redshift"]["bins"]), None)
    bins = first["redshift"]["bins"] if first else []
    bin_names = [f"ARI z {b['z_low']:.3f}–{b['z_high']:.3f}" for b in bins]
    lines = [
        "| representation | d | max MI (nats) | R² linear | R² trees | "
        + " | ".join(bin_names)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(bin_names),
    ]
    for r in rows:
        dep = [m["redshift"]["dependence"] for m in r["members"]]
        mi = np.mean([max(x["mutual_information"]) for x in dep])
        lin = np.mean([x["r2_linear"] for x in dep])
        gbm = np.mean([x["r2_gbm"] for x in dep])
        cells = [f"{mi:.3f}", f"{lin:.3f}", f"{gbm:.3f}"]
        for i in range(len(bin_names)):
            values = [m["redshift"]["bins"][i].get("ari") for m in r["members"]]
            values = [v for v in values if v is not None]
            cells.append(f"{np.mean(values):.3f}" if values else "–")
        lines.append(f"| {r['representation']} | {r['latent_dim']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    """
    input_name = "spectrum" if base.data.input == "spectrum" else f"lines/{base.data.line_features}"
    best_epochs = [r["best_epoch"] for r in sweep_rows if r["model"] != "pca"]
    parts = [
        "# Classes in the latent spaces: seed ensembles, supervised ceilings, redshift\n",
        f"Produced by one command (from the repository root):\n\n```\n{command}\n```\n",
        f"Data: `{base.data.dataset}`, {n_galaxies['train']:,} train / "
        f"{n_galaxies['validation']:,} validation / {n_galaxies['test']:,} test galaxies, "
        f"input `{input_name}`. Every autoencoder trained {base.trainer.epochs} epochs "
        f"(batch {base.trainer.batch_size}, Adam {base.trainer.learning_rate:g}) with "
        f"{len(seeds)} training seeds ({', '.join(map(str, seeds))}); checkpoint = the epoch "
        f"with the lowest validation loss (best epochs {min(best_epochs)}–{max(best_epochs)}). "
        + (
            f"Every mixture has K = {n_clusters} components (fitted on train); "
            if n_clusters
            else "The mixture has the BIC choice of K (fitted on train); "
        )
        + "the K scan (BIC, AIC, gap, silhouette on a seeded subsample of train) is reported "
        "separately; every figure is measured on the test split. BPT is the "
        "three-class view (SF / composite / AGN); low-S/N and unclassified galaxies are left "
        "out of each comparison.\n",
        "**Cells**: mean over training seeds ± standard deviation over seeds [bootstrap std "
        "over the test galaxies, RMS over seeds]; PCA and the line ratios have no training "
        "seed. **Marks** (accuracy and ARI, against PCA at the same d): `+` / `−` = higher / "
        "lower than PCA by more than 2 sigma, sigma = sqrt(std²/N + boot² + boot_PCA²) "
        "(conservative: the shared test galaxies' correlation is ignored; "
        "`tfelg/analysis/ensembles.py`); no mark = not significant. **Accuracy** is the "
        "strict one-to-one Hungarian accuracy (a lower bound when K > number of classes); "
        "**many-to-one accuracy** gives every non-matched cluster its majority class "
        "(relabelling-invariant, grows with K). **ARI / ceiling**: the mean ARI over the best "
        "supervised classifier's ARI on the same input (line ratios: `lines/ew_and_ratios`).\n",
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
            parts += [
                f"## {titles[scheme]}\n",
                scheme_table(rows, scheme, ceiling_rows, input_name) + "\n",
            ]
    parts += [
        "## Chosen K (one entry per seed)\n",
        k_table([r for r in rows if "fixed" not in r["members"][0]["chosen_k"]]) + "\n",
        "## Redshift\n",
        "How much each representation encodes redshift (test split, mean over seeds): the "
        "largest mutual information of one latent dimension with redshift (scikit-learn's "
        "k-NN estimator), the R² of a linear regression and of gradient-boosted trees "
        "predicting redshift from all latent dimensions (fitted on train), and the true-class "
        "ARI of the representation's clusters in equal-count redshift bins "
        "(`tfelg/analysis/redshift.py`).\n",
        redshift_table(rows) + "\n",
    ]
    return "\n".join(parts)
