r"""docs/analysis_results.md from one command: sweep, seed ensembles, ceilings, redshift.

    python scripts/make_analysis_table.py --data_dir=runs/tfds --workdir=runs/analysis_sweep \
        --seeds=3 --epochs=40 --output=docs/analysis_results.md

(docs/analysis_results.md was made with ``--num_galaxies=6000
--selection_max_points=2000 --gap_references=3`` added, to fit a loaded
2-core machine; the command it names is the one that made it.)

The document has several *parts* (``--parts``): one data config and input
each, e.g. the default synthetic sample with the equivalent widths, with
the widths and line ratios, with the spectra, and the wide-redshift sample
(``emission_lines/synthetic_wide_z``). For each part, in order (every step
resumes: finished runs and analyses are reused when their settings match):

1. ``tfelg-latent-sweep``'s library (:func:`tfelg.training.latent_sweep.run_latent_sweep`)
   trains the part's models (``vae_mog``: the VAE with the learnable
   mixture prior) at every latent dimension with ``--seeds`` training seeds.
2. Each representation is analysed as ``tfelg-analyze`` does it, without the
   figures and t-SNE: the K scan on train (BIC/AIC/gap/silhouette; parts
   with the ``kscan`` option), a mixture with K = ``--n_clusters`` (5; 0:
   the BIC choice) fitted on train, matched on test against WHAN, BPT
   (three classes) and the true classes, bootstrap errors.
   Representations: each autoencoder's posterior means; PCA of the part's
   input and, in ``lines/ew`` parts, the line ratios (deterministic, once);
   the mixture-prior VAE read as a classifier (its prior components as
   classes, ``VAE.prior_component_probabilities``); DEC
   (:mod:`tfelg.analysis.dec`, option ``dec``) fine-tuned from each dense AE
   with K = 5 (the number of WHAN classes, as the reference work's K).
3. Redshift: mutual information and R^2 between the latents and redshift,
   the share of the latent variance that redshift explains
   (:mod:`tfelg.analysis.redshift`; the trees' R^2 with option ``ztrees``),
   and the true-class ARI in redshift bins.

Then the supervised ceilings (:mod:`tfelg.analysis.ceilings`) of the inputs
of the parts with option ``ceilings``, per data config, and the seed
ensembles aggregated per part (:mod:`tfelg.analysis.ensembles`): mean ± std
over seeds [bootstrap error], marks against PCA at the same d of the same
part.

The tables are regenerated; the hand-written reading is not: everything
from a line ``## Reading`` on in an existing output file is kept (re-read it
against the new numbers), and the file is replaced atomically.
"""

import dataclasses
import json
import os
import shlex
import sys
import time

import numpy as np
from absl import app, flags

from tfelg import atomic
from tfelg.analysis import analyze, ceilings, matching, redshift, results_tables
from tfelg.analysis import embeddings as emb_lib
from tfelg.training import config as config_lib
from tfelg.training import latent_sweep, loop

_WORKDIR = flags.DEFINE_string("workdir", "runs/analysis_sweep", "Sweep and analysis folder.")
_OUTPUT = flags.DEFINE_string("output", "docs/analysis_results.md", "Markdown file to write.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", None, "Synthetic sample size.")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", None, "Synthetic generator seed.")
_PARTS = flags.DEFINE_list(
    "parts",
    [
        "synthetic:lines/ew:ae+cae+vae+cvae+aae+vae_mog:dec+kscan+ztrees+ceilings",
        "synthetic:lines/ew_and_ratios:ae+cae+vae+cvae+aae+vae_mog:dec+ceilings",
        "synthetic:spectrum:ae+cae+vae+cvae+aae:ceilings+epochs=20",
        "synthetic_wide_z:lines/ew:ae:ztrees+ceilings",
        "synthetic_wide_z:spectrum::ztrees+ceilings",
    ],
    "What is trained and analysed, one part per entry: CONFIG:INPUT:MODELS[:OPTIONS] with "
    "CONFIG an emission_lines config (synthetic, synthetic_wide_z), INPUT lines/ew, "
    "lines/ew_and_ratios or spectrum, MODELS '+'-joined sweep models, OPTIONS '+'-joined "
    "among dec (DEC from each ae run), kscan (the K scan of every representation), ztrees "
    "(the gradient-boosted redshift regression), ceilings (supervised ceilings of this "
    "input on this config) and epochs=N (default --epochs). Each part has its own folder "
    "<workdir>/<CONFIG>_<INPUT>; PCA of the same input is in every part, the line ratios "
    "in every lines/ew part. The default is what docs/analysis_results.md was made with on a "
    "loaded 2-core machine: all five autoencoders (and on the lines the mixture-prior VAE and "
    "DEC) on lines/ew and lines/ew_and_ratios; the five on the spectra for 20 epochs (an AE "
    "on 1,383 pixels costs ~2 CPU s an epoch, the CAE ~11); the AE alone on the wide-z lines "
    "and PCA alone on the wide-z spectra; ceilings of every input.",
)
_EPOCHS = flags.DEFINE_integer("epochs", 40, "Training epochs (parts without epochs=N).")
_SEED = flags.DEFINE_integer("seed", 0, "Base training seed (members: seed + i * 1000).")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Training seeds per model.", lower_bound=1)
_DIMS = flags.DEFINE_list("latent_dims", ["2", "4"], "Latent dimensions.")
_K_MAX = flags.DEFINE_integer("k_max", 10, "Largest K of the K scan.")
_N_CLUSTERS = flags.DEFINE_integer(
    "n_clusters",
    5,
    "K of every mixture whose clusters are scored (0: each representation's BIC choice). "
    "5 = the WHAN and true classes, and DEC's and the mixture prior's K, so every row "
    "partitions the galaxies into as many groups.",
)
_GAP_REFS = flags.DEFINE_integer("gap_references", 5, "Gap statistic references.")
_SELECTION_POINTS = flags.DEFINE_integer(
    "selection_max_points", 5000, "Training galaxies used to choose K (seeded subsample)."
)
_N_BOOT = flags.DEFINE_integer("n_bootstrap", 100, "Bootstrap resamples of the test split.")
_DEC_STEPS = flags.DEFINE_integer("dec_max_steps", 4000, "DEC's largest number of steps.")
_CEILING_METHODS = flags.DEFINE_list("ceiling_methods", list(ceilings.METHODS), "Classifiers.")
_CEILING_INPUTS = flags.DEFINE_list(
    "ceiling_inputs", ["lines/ew", "lines/ew_and_ratios", "spectrum"], "Ceiling inputs."
)
_Z_BINS = flags.DEFINE_integer("redshift_bins", 3, "Equal-count redshift bins.")
_OPENMP_THREADS = flags.DEFINE_integer(
    "openmp_threads",
    1,
    "OpenMP threads of scikit-learn (gradient boosting, k-NN); 0: its default. On a shared, "
    "oversubscribed machine OpenMP's spinning threads starve: measured at load average 10 on "
    "2 cores, one thread fitted the spectrum ceiling 13x faster (16.8 s against 217 s).",
)

METRICS = results_tables.METRICS
N_CLASSES_DEC = 5  # WHAN's five classes (star-forming, strong/weak AGN, retired, passive)
INPUTS = ("lines/ew", "lines/ew_and_ratios", "spectrum")
PART_OPTIONS = ("dec", "kscan", "ztrees", "ceilings")


@dataclasses.dataclass
class Part:
    """One data config and input of the document: its sweep, analyses and folder."""

    config: str
    input: str
    models: list
    epochs: int
    options: frozenset

    @property
    def dataset(self) -> str:
        return f"emission_lines/{self.config}"

    @property
    def label(self) -> str:
        return f"{self.config} · {self.input}"

    @property
    def folder(self) -> str:
        return f"{self.config}_{self.input.replace('/', '_')}"

    def data_config(self, data_dir, num_galaxies, dataset_seed) -> config_lib.DataConfig:
        input, _, features = self.input.partition("/")
        return config_lib.DataConfig(
            dataset=self.dataset,
            data_dir=data_dir,
            num_galaxies=num_galaxies,
            dataset_seed=dataset_seed,
            input=input,
            line_features=features or "ew",
        )

    def record_part(self) -> dict:
        return {"label": self.label, "dataset": self.dataset, "input": self.input}


def parse_part(text: str, default_epochs: int) -> Part:
    """``CONFIG:INPUT:MODELS[:OPTIONS]`` (see --parts) -> Part; ValueError naming the entry."""
    fields = text.split(":")
    if len(fields) not in (3, 4):
        raise ValueError(f"--parts entry {text!r}: expected CONFIG:INPUT:MODELS[:OPTIONS]")
    config, input, models = fields[:3]
    if input not in INPUTS:
        raise ValueError(f"--parts entry {text!r}: input {input!r} is not one of {INPUTS}")
    models = [m for m in models.split("+") if m]
    known = set(latent_sweep.DEFAULT_MODELS) | set(latent_sweep.MODEL_VARIANTS)
    unknown = [m for m in models if m not in known]
    if unknown:
        raise ValueError(
            f"--parts entry {text!r}: unknown models {unknown}; known: {sorted(known)}"
        )
    epochs, options = default_epochs, set()
    for option in fields[3].split("+") if len(fields) == 4 else []:
        if option.startswith("epochs="):
            try:
                epochs = int(option[len("epochs=") :])
            except ValueError:
                raise ValueError(f"--parts entry {text!r}: {option!r} is not an integer") from None
        elif option in PART_OPTIONS:
            options.add(option)
        elif option:
            raise ValueError(
                f"--parts entry {text!r}: unknown option {option!r}; known: "
                f"{', '.join(PART_OPTIONS)}, epochs=N"
            )
    if "dec" in options and "ae" not in models:
        raise ValueError(f"--parts entry {text!r}: dec needs the ae model in the part")
    return Part(config, input, models, epochs, frozenset(options))


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# -- one representation ------------------------------------------------------------------
def _scores(cluster_test, emb, n_clusters, config) -> dict:
    """scheme -> {metric: value, metric_err: bootstrap std} for fixed test clusters."""
    test = emb.split == "test"
    out = {}
    for scheme, (codes, names) in analyze.scheme_views(emb).items():
        try:
            boot = matching.bootstrap_metrics(
                cluster_test,
                codes[test],
                names,
                ignore=analyze.IGNORED_CLASSES,
                n_boot=config.n_bootstrap,
                seed=config.seed,
                n_clusters=n_clusters,
            )
        except ValueError as e:
            _log(f"  [{emb.representation}] no comparison with {scheme}: {e}")
            continue
        out[scheme] = {m: boot[m]["estimate"] for m in METRICS}
        out[scheme].update({f"{m}_err": boot[m]["std"] for m in METRICS})
    return out


def _redshift(emb, cluster_all, n_clusters, n_bins, seed, trees=True) -> dict:
    train, test = emb.split == "train", emb.split == "test"
    dependence = redshift.redshift_dependence(
        emb.latent[train],
        emb.redshift[train],
        emb.latent[test],
        emb.redshift[test],
        seed=seed,
        gbm=trees,
    )
    share = redshift.latent_variance_share(
        emb.latent[train], emb.redshift[train], emb.latent[test], emb.redshift[test]
    )
    bins = []
    views = analyze.scheme_views(emb)
    if "true_class" in views:
        codes, names = views["true_class"]
        edges = redshift.redshift_bins(emb.redshift[test], n_bins)
        bins = redshift.agreement_in_bins(
            cluster_all[test],
            codes[test],
            names,
            emb.redshift[test],
            edges,
            ignore=analyze.IGNORED_CLASSES,
            n_clusters=n_clusters,
        )
    return {"dependence": dependence, "bins": bins, "variance_share": share}


def analyse_mixture(emb, config, n_bins, kscan=True, trees=True) -> dict:
    """K choice (``kscan``), the mixture and its scores, redshift measures of one representation."""
    if kscan:
        selection = analyze.choose_k(emb, config)
        chosen_k = {k: (None if v is None else int(v)) for k, v in selection.chosen_k.items()}
    else:  # the scored mixture has the fixed K
        if not config.n_clusters:
            raise ValueError("a part without kscan needs --n_clusters > 0")
        chosen_k = {"fixed": int(config.n_clusters)}
    inference = analyze.infer_classes(emb, chosen_k, config, log=_log)
    test = emb.split == "test"
    return {
        "chosen_k": chosen_k,
        "scores": _scores(inference.cluster[test], emb, inference.n_clusters, config),
        "redshift": _redshift(
            emb, inference.cluster, inference.n_clusters, n_bins, config.seed, trees
        ),
    }


def analyse_partition(emb, cluster_all, n_clusters, config, n_bins, trees=True) -> dict:
    """Scores and redshift measures of a fixed partition (prior components, DEC)."""
    test = emb.split == "test"
    return {
        "chosen_k": {"fixed": int(n_clusters)},
        "scores": _scores(cluster_all[test], emb, n_clusters, config),
        "redshift": _redshift(emb, cluster_all, n_clusters, n_bins, config.seed, trees),
    }


def _cached(path: str, key: dict, compute):
    """``compute()``'s JSON result, reused from ``path`` when made with the same ``key``."""
    key = json.loads(json.dumps(key, sort_keys=True, default=analyze._json_default))
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if saved.get("key") == key:
            return saved["result"]
    result = compute()
    atomic.write_json(path, {"key": key, "result": result}, default=analyze._json_default)
    return result


# -- the sweep's representations --------------------------------------------------------------
def _prior_classes(run_dir, splits):
    import keras

    trained = loop.load_trained(run_dir)
    proba = np.concatenate(
        [
            keras.ops.convert_to_numpy(
                trained.model.prior_component_probabilities(trained.embed(splits[s]))
            )
            for s in emb_lib.SPLITS
        ]
    )
    return np.argmax(proba, axis=1).astype(np.int32), proba.shape[1]


def _dec_classes(run_dir, splits, seed, max_steps):
    from tfelg.analysis import dec

    trained = loop.load_trained(run_dir)
    x_train, _ = trained.inputs(splits["train"])
    result = dec.fit_dec(
        trained.model.encoder, x_train, N_CLASSES_DEC, seed=seed, max_steps=max_steps
    )
    inputs = [trained.inputs(splits[s])[0] for s in emb_lib.SPLITS]
    cluster = np.concatenate([result.predict(x) for x in inputs])
    codes = np.concatenate([result.encoder(x, training=False).numpy() for x in inputs])
    return cluster, codes, result.steps, result.converged


#: AnalysisConfig fields that say how an analysis runs, not what it computes:
#: left out of the cache keys, so that a new such field does not redo every analysis.
EXECUTION_SETTINGS = ("num_threads",)


def _result_settings(config) -> dict:
    settings = dataclasses.asdict(config)
    for name in EXECUTION_SETTINGS:
        settings.pop(name, None)
    return settings


def analyse_all(part, base, workdir, splits, class_names, config, seeds) -> list[dict]:
    """One record per (representation, d, seed) of one part."""
    records = []
    table_dir = os.path.join(workdir, "table")
    os.makedirs(table_dir, exist_ok=True)
    kscan, trees = "kscan" in part.options, "ztrees" in part.options
    key_base = {"analysis": _result_settings(config), "redshift_bins": _Z_BINS.value}
    # (Keys of the first document's analyses, which had both, stay as they were.)
    if not kscan:
        key_base["kscan"] = False
    if not trees:
        key_base["redshift_trees"] = False
    n_bins = _Z_BINS.value
    tag = part.record_part()
    for d in sorted(int(v) for v in _DIMS.value):
        for rep in ("pca", "line_ratios"):
            if rep == "line_ratios" and (
                part.input != "lines/ew" or d != min(int(v) for v in _DIMS.value)
            ):
                continue  # lines/ew parts only, the same at every d

            def compute(rep=rep, d=d):
                _log(f"analysing {rep} d={d}")
                if rep == "pca":
                    emb = emb_lib.pca_embeddings(
                        splits,
                        d,
                        class_names,
                        input=base.data.input,
                        line_features=base.data.line_features,
                    )
                else:
                    emb = emb_lib.line_ratio_embeddings(splits, class_names)
                return analyse_mixture(emb, config, n_bins, kscan, trees)

            key = {**key_base, "data": base.to_dict()["data"], "rep": rep, "d": d}
            result = _cached(os.path.join(table_dir, f"{rep}_d{d}.json"), key, compute)
            dim = len(emb_lib.LINE_RATIO_FEATURES) if rep == "line_ratios" else d
            records.append(
                {"representation": rep, "latent_dim": dim, "seed": None, "part": tag, **result}
            )
        for model in part.models:
            for seed in seeds:
                name = latent_sweep.run_name(model, d, seed, base.trainer.seed)
                run_dir = os.path.join(workdir, "runs", name)
                with open(os.path.join(run_dir, loop.CONFIG_FILE), encoding="utf-8") as f:
                    run_config = json.load(f)

                def embeddings(run_dir=run_dir, model=model):
                    e = emb_lib.autoencoder_embeddings(run_dir, splits, class_names)
                    e.representation = model
                    return e

                def compute_mixture(name=name, embeddings=embeddings):
                    _log(f"analysing {name}")
                    return analyse_mixture(embeddings(), config, n_bins, kscan, trees)

                key = {**key_base, "run": run_config}
                result = _cached(os.path.join(table_dir, f"{name}.json"), key, compute_mixture)
                records.append(
                    {"representation": model, "latent_dim": d, "seed": seed, "part": tag, **result}
                )
                if model.endswith("_mog"):

                    def compute_prior(run_dir=run_dir, name=name):
                        _log(f"analysing {name}: prior components as classes")
                        emb = embeddings()
                        cluster, k = _prior_classes(run_dir, splits)
                        return analyse_partition(emb, cluster, k, config, n_bins, trees)

                    result = _cached(
                        os.path.join(table_dir, f"{name}_prior.json"), key, compute_prior
                    )
                    records.append(
                        {
                            "representation": f"{model} prior",
                            "latent_dim": d,
                            "seed": seed,
                            "part": tag,
                            **result,
                        }
                    )
                if model == "ae" and "dec" in part.options:

                    def compute_dec(run_dir=run_dir, name=name, seed=seed):
                        _log(f"DEC from {name}")
                        cluster, codes, steps, converged = _dec_classes(
                            run_dir, splits, seed, _DEC_STEPS.value
                        )
                        # DEC's own codes: its fine-tuned encoder is what may encode redshift.
                        emb = dataclasses.replace(embeddings(), latent=codes)
                        out = analyse_partition(emb, cluster, N_CLASSES_DEC, config, n_bins, trees)
                        out["dec"] = {"steps": steps, "converged": converged}
                        return out

                    dec_key = {**key, "dec_max_steps": _DEC_STEPS.value, "dec_codes": True}
                    result = _cached(
                        os.path.join(table_dir, f"{name}_dec.json"), dec_key, compute_dec
                    )
                    records.append(
                        {
                            "representation": "dec (ae)",
                            "latent_dim": d,
                            "seed": seed,
                            "part": tag,
                            **result,
                        }
                    )
    return records


def _ceiling_inputs(parts_of_config) -> list[tuple[str, str]]:
    """(input, line_features) of the ceilings of one config, in --ceiling_inputs order."""
    wanted = set()
    for part in parts_of_config:
        if "ceilings" in part.options:
            wanted.add(part.input)
            if part.input == "lines/ew":
                wanted.add("lines/ew_and_ratios")  # the line ratios' ceiling
    out = []
    for name in _CEILING_INPUTS.value:
        if name in wanted:
            input, _, features = name.partition("/")
            out.append((input, features or "ew"))
    return out


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if _OPENMP_THREADS.value > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(_OPENMP_THREADS.value, user_api="openmp")
    parts = [parse_part(text, _EPOCHS.value) for text in _PARTS.value]
    labels = [p.label for p in parts]
    if len(set(labels)) != len(labels):
        raise app.UsageError(f"--parts names a config and input twice: {labels}")
    command = "python scripts/make_analysis_table.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:]
    )
    seeds = latent_sweep.ensemble_seeds(_SEED.value, _SEEDS.value)
    dims = [int(d) for d in _DIMS.value]
    config = analyze.AnalysisConfig(
        k_max=_K_MAX.value,
        gap_references=_GAP_REFS.value,
        selection_max_points=_SELECTION_POINTS.value,
        n_bootstrap=_N_BOOT.value,
        n_clusters=_N_CLUSTERS.value or None,
        seed=0,
    )
    records, ceiling_rows, sweep_rows, part_docs = [], [], [], []
    loaded: dict[str, tuple] = {}  # dataset -> (splits, class names)
    data_of: dict[str, config_lib.DataConfig] = {}
    for part in parts:
        _log(f"part {part.label}")
        t0, c0 = time.time(), time.process_time()
        base = config_lib.ExperimentConfig(
            data=part.data_config(_DATA_DIR.value, _NUM_GALAXIES.value, _DATASET_SEED.value),
            trainer=config_lib.TrainerConfig(epochs=part.epochs, seed=_SEED.value),
            runtime=config_lib.RuntimeConfig(progress_bar=False),
        )
        if part.dataset not in loaded:
            # Every feature of every split: the same arrays serve each input of this config.
            builder = loop.open_dataset(base.data)
            splits = loop.load_splits(base.data, builder)
            names = emb_lib.default_class_names(builder.info.features["true_class"].names)
            loaded[part.dataset] = (splits, names)
        splits, class_names = loaded[part.dataset]
        workdir = os.path.join(_WORKDIR.value, part.folder)
        # (PCA's reconstruction errors are the sweep's business, not this document's:
        # its representation is analysed below; on spectra its refit costs minutes.)
        rows = (
            latent_sweep.run_latent_sweep(
                base,
                workdir,
                models=part.models,
                latent_dims=dims,
                include_pca=False,
                seeds=_SEEDS.value,
                splits=splits,
                command=command,
                log=_log,
            )
            if part.models
            else []
        )
        sweep_rows += rows
        records += analyse_all(part, base, workdir, splits, class_names, config, seeds)
        data_of[part.dataset] = base.data
        part_docs.append(
            {
                "label": part.label,
                "dataset": part.dataset,
                "input": part.input,
                "models": part.models,
                "epochs": part.epochs,
                "n_galaxies": {s: len(splits[s]["object_id"]) for s in emb_lib.SPLITS},
                "best_epochs": [r["best_epoch"] for r in rows if r["model"] != "pca"],
            }
        )
        _log(
            f"part {part.label} done: {time.time() - t0:.0f} s wall, "
            f"{time.process_time() - c0:.0f} s CPU (this process)"
        )

    for dataset in dict.fromkeys(p.dataset for p in parts):
        inputs = _ceiling_inputs([p for p in parts if p.dataset == dataset])
        if not inputs:
            continue
        splits, class_names = loaded[dataset]
        # The lines/ew data config: the ceilings read every input from the same splits.
        data = dataclasses.replace(data_of[dataset], input="lines", line_features="ew")
        folder = os.path.join(_WORKDIR.value, dataset.partition("/")[2])
        os.makedirs(folder, exist_ok=True)
        found = []
        for input, features in inputs:  # cached one input at a time
            ceiling_key = {
                "data": dataclasses.asdict(data),
                "inputs": [[input, features]],
                "methods": _CEILING_METHODS.value,
                "n_bootstrap": _N_BOOT.value,
            }

            def compute_ceilings(splits=splits, input=input, features=features, names=class_names):
                return ceilings.compute_ceilings(
                    splits,
                    inputs=[(input, features)],
                    methods=_CEILING_METHODS.value,
                    true_class_names=names["true_class"],
                    n_bootstrap=_N_BOOT.value,
                    log=_log,
                )

            name = input if input == "spectrum" else f"{input}_{features}"
            path = os.path.join(folder, f"ceilings_{name}.json")
            found += _cached(path, ceiling_key, compute_ceilings)
        ceiling_rows += [{**row, "dataset": dataset} for row in found]

    rows = results_tables.aggregate_records(records)
    first = parts[0]
    base = config_lib.ExperimentConfig(
        data=first.data_config(_DATA_DIR.value, _NUM_GALAXIES.value, _DATASET_SEED.value),
        trainer=config_lib.TrainerConfig(epochs=first.epochs, seed=_SEED.value),
    )
    text = results_tables.document(
        command,
        base,
        seeds,
        part_docs[0]["n_galaxies"],
        rows,
        ceiling_rows,
        sweep_rows,
        N_CLASSES_DEC,
        _N_CLUSTERS.value or None,
        parts=part_docs,
    )
    reading = ""
    if os.path.exists(_OUTPUT.value):
        with open(_OUTPUT.value, encoding="utf-8") as f:
            old = f.read()
        if "\n## Reading" in old:
            reading = "\n" + old[old.index("\n## Reading") + 1 :]
    atomic.write_text(_OUTPUT.value, text + reading)
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    app.run(main)
