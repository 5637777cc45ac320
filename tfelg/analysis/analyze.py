"""The latent-space analysis of one representation, end to end.

For one :class:`~tfelg.analysis.embeddings.Embeddings` (an autoencoder's
posterior means, PCA, or the classical line ratios) this module:

1. chooses the number of Gaussian-mixture components on the *training* split
   by BIC, AIC, the gap statistic and the silhouette;
2. fits the mixture with the chosen K on the training split and assigns
   every galaxy a cluster and cluster probabilities;
3. matches clusters to WHAN, BPT (star-forming / composite / AGN) and, for
   synthetic data, the true classes by the Hungarian method, with metrics and
   bootstrap errors measured on the *test* split (never seen by the model,
   its checkpoint choice or the mixture);
4. maps the galaxies with t-SNE, writes the TensorBoard projector, the
   value-added catalogue, the figures, and ``summary.json``.

The schemes compared with live in :mod:`tfelg.analysis.views`, the figures
and projector log in :mod:`tfelg.analysis.figures` (drawing only; the
pipeline's components call them on saved results).

:func:`analyze_workdir` (``tfelg-analyze``) writes one folder: a sub-folder
per representation and ``training/`` (a copy of the run's TensorBoard
training curves), so that one ``tensorboard --logdir <folder>`` shows each
representation's projector and the training curves together (TensorBoard's
projector finds nothing under ``--logdir_spec``, so several log folders
cannot be combined at the command line). The folder is built beside its
final place and swapped in whole (:func:`tfelg.atomic.atomic_directory`):
a re-run leaves nothing of the previous analysis (a representation no
longer analysed, event files of earlier runs), and a failed or killed run
leaves the previous analysis as it was.

Why train/test here: the reference work chose its checkpoint and fitted its
clusters on the same galaxies it then scored. Here the autoencoder's
checkpoint is chosen on ``validation``, the mixture is fitted on ``train``,
and every agreement figure is measured on ``test``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable

import numpy as np

from tfelg import atomic
from tfelg.analysis import threads
from tfelg.analysis.embeddings import Embeddings

# Re-exported: the scheme views and the figures were part of this module, and
# the pipeline's components and the scripts call them as analyze.<name>.
from tfelg.analysis.figures import write_figures, write_projector_log
from tfelg.analysis.views import IGNORED_CLASSES, scheme_views

#: The copy of the training run's TensorBoard curves in an analysis folder
#: (the same name as in the pipeline's projector log).
TRAINING_LOGDIR = "training"


@dataclasses.dataclass
class AnalysisConfig:
    """Settings of the analysis (all seeded).

    Attributes:
      k_max: largest number of mixture components tried.
      covariance_type: ``full`` or ``diag``.
      gap_references: B, reference sets of the gap statistic.
      gap_n_init: k-means++ starts per K and data set of the gap statistic,
        the lowest W_K kept (one start leaves log W_K up to ~0.05 high and
        can change the 1-SE choice; see
        :data:`tfelg.analysis.model_selection.GAP_N_INIT`, which this default
        equals).
      mixture_n_init: EM starts (k-means++ seeded) of every mixture, in the K
        sweep and in the final fit; the one with the highest log-likelihood
        is kept. One start leaves the fit to its start: on the line ratios
        (100,000 synthetic galaxies, K = 5) three single starts ended about
        0.01 nats a galaxy apart with ARIs against WHAN of 0.36 and 0.48;
        the best of five gave 0.359 for every seed on two independent
        samples. Each start costs one more fit (the clusterer took 29 s at
        10^6 galaxies with four starts, 13 s with one).
      silhouette_sample: points used for the silhouette (a seeded subsample).
      selection_max_points: training points used for the K sweep (a seeded
        subsample above this; the final mixture uses all of them).
      n_clusters: K of the class inference; None: the BIC choice.
      n_bootstrap: bootstrap resamples of the test split for the errors.
      tsne_max_points: galaxies in the t-SNE map (a seeded subsample above;
        catalogue rows outside it get NaN map coordinates).
      tsne_perplexity, tsne_n_iter, tsne_exaggeration,
        tsne_early_exaggeration_iter, tsne_method: openTSNE settings (see
        :func:`tfelg.analysis.tsne.run_tsne`).
      tsne_initialization: "pca", "spectral" or "random"; PCA falls back to
        random for a 1-D latent space (PCA has nothing to take).
      projector_max_points: TensorBoard loads at most 100,000 points.
      num_threads: BLAS/OpenMP threads and openTSNE's ``n_jobs`` for the
        model selection, the mixture and the t-SNE (None: ``$TFELG_NUM_THREADS``,
        else the CPUs this process may use; 1 on a machine shared with other
        work, see :mod:`tfelg.analysis.threads`).
      seed: seeds every random choice above.
    """

    k_max: int = 10
    covariance_type: str = "full"
    gap_references: int = 10
    gap_n_init: int = 10
    mixture_n_init: int = 4
    silhouette_sample: int = 4000
    selection_max_points: int = 50_000
    n_clusters: int | None = None
    n_bootstrap: int = 200
    tsne_max_points: int = 20_000
    tsne_perplexity: float = 30.0
    tsne_n_iter: int = 500
    tsne_exaggeration: float | None = None
    tsne_early_exaggeration_iter: int = 250
    tsne_initialization: str = "pca"
    tsne_method: str = "auto"
    projector_max_points: int = 100_000
    num_threads: int | None = None
    seed: int = 0

    def __post_init__(self):
        if self.k_max < 2:
            raise ValueError(f"k_max must be >= 2, got {self.k_max}")
        if self.covariance_type not in ("full", "diag"):
            raise ValueError(f"covariance_type must be full or diag, got {self.covariance_type!r}")
        if self.gap_n_init < 1:
            raise ValueError(f"gap_n_init must be >= 1, got {self.gap_n_init}")
        if self.mixture_n_init < 1:
            raise ValueError(f"mixture_n_init must be >= 1, got {self.mixture_n_init}")
        if self.n_clusters is not None and self.n_clusters < 1:
            raise ValueError(f"n_clusters must be >= 1, got {self.n_clusters}")
        # Checked here, not left to matching.bootstrap_metrics: infer_classes
        # reads a ValueError there as "nothing to compare in this scheme" and
        # would drop every comparison instead of failing.
        if self.n_bootstrap < 2:
            raise ValueError(f"n_bootstrap must be >= 2, got {self.n_bootstrap}")
        if self.num_threads is not None:
            threads.resolve(self.num_threads)  # ValueError below 1


def _seeded_rows(n: int, max_points: int, seed: int) -> np.ndarray:
    """All rows, or a sorted seeded subsample of ``max_points`` of them."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str, value) -> str:
    """JSON written atomically (temporary file, then rename); NumPy values allowed."""
    return atomic.write_json(path, value, default=_json_default)


@dataclasses.dataclass
class ClassInference:
    """The mixture's clusters and their agreement with the schemes.

    Attributes:
      n_clusters: K of the mixture.
      cluster: (N,) hard assignment of every galaxy (all splits).
      proba: (N, K) cluster probabilities.
      comparisons: scheme -> {"match": ..., "bootstrap": ...} on the test
        split, or {"skipped": reason}.
      mixture: the fitted mixture's summary (BIC, log-likelihood, ...).
    """

    n_clusters: int
    cluster: np.ndarray
    proba: np.ndarray
    comparisons: dict
    mixture: dict

    def save(self, directory: str) -> None:
        with atomic.atomic_open(os.path.join(directory, "clusters.npz")) as f:
            np.savez(f, cluster=self.cluster, proba=self.proba)
        write_json(
            os.path.join(directory, "class_inference.json"),
            {
                "n_clusters": self.n_clusters,
                "comparisons": self.comparisons,
                "mixture": self.mixture,
            },
        )

    @classmethod
    def load(cls, directory: str) -> ClassInference:
        with np.load(os.path.join(directory, "clusters.npz")) as z:
            cluster, proba = z["cluster"], z["proba"]
        with open(os.path.join(directory, "class_inference.json"), encoding="utf-8") as f:
            meta = json.load(f)
        return cls(
            n_clusters=meta["n_clusters"],
            cluster=cluster,
            proba=proba,
            comparisons=meta["comparisons"],
            mixture=meta["mixture"],
        )


def choose_k(emb: Embeddings, config: AnalysisConfig):
    """BIC, AIC, gap and silhouette over K = 1..k_max on the training split."""
    from tfelg.analysis import model_selection

    emb.check_finite()
    train = emb.for_split("train")
    if len(train) < 3:
        raise ValueError(f"{emb.representation}: the training split has {len(train)} galaxies")
    rows = _seeded_rows(len(train), config.selection_max_points, config.seed)
    k_max = min(config.k_max, len(rows) - 1)
    with threads.limited(config.num_threads):
        return model_selection.select_k(
            train.latent[rows],
            k_max,
            covariance_type=config.covariance_type,
            gap_references=config.gap_references,
            gap_n_init=config.gap_n_init,
            n_init=config.mixture_n_init,
            seed=config.seed,
            silhouette_sample=config.silhouette_sample,
        )


#: A component whose smallest covariance eigenvalue is below this fraction of
#: the data's smallest one has shrunk onto a point, line or plane of the data.
COLLAPSE_RATIO = 1e-4


def collapsed_components(mixture, x) -> dict:
    """Components sitting on a point, line or plane of ``x``, and how many rows repeat.

    A full-covariance mixture gains without bound by shrinking a component
    onto rows that lie exactly on a point, line or plane: galaxies an
    encoder maps there (a ReLU layer with every unit at zero gives one
    latent vector for a whole region of inputs, with one unit active a
    line: 0.7% of the galaxies on one point with the default dense AE at
    d = 2 on 10,000 galaxies, a third of them on one line in the
    5,000-galaxy demo) or values filled in with a constant; and a component
    holding fewer galaxies than dimensions + 1 is flat by construction (a
    K = 7 mixture on 322 image embeddings of 16 dimensions). The fit is
    then decided by those rows, not by the population's shape. Reported in
    ``class_inference.json`` and the log.

    Returns:
      {"components": [indices], "weights": [their weights],
       "repeated_rows": rows of ``x`` equal to an earlier row}.
    """
    x = np.asarray(x)
    cov = np.asarray(mixture.covariances)
    if mixture.covariance_type == "full":
        smallest = np.array([np.linalg.eigvalsh(c).min() for c in cov])
        data = np.linalg.eigvalsh(np.atleast_2d(np.cov(x, rowvar=False))).min()
    else:
        smallest = cov.min(axis=1)
        data = np.var(x, axis=0).min()
    collapsed = np.flatnonzero(smallest < COLLAPSE_RATIO * max(float(data), 1e-30))
    repeated = len(x) - len(np.unique(x, axis=0))
    return {
        "components": collapsed.tolist(),
        "weights": [float(mixture.weights[i]) for i in collapsed],
        "repeated_rows": int(repeated),
    }


def infer_classes(emb: Embeddings, chosen_k: dict, config: AnalysisConfig, log=print):
    """Mixture with the chosen K (fitted on train), matched to the schemes on test."""
    from tfelg.analysis import gmm, matching

    emb.check_finite()
    k = int(config.n_clusters or chosen_k["bic"])
    train = emb.for_split("train")
    with threads.limited(config.num_threads):
        mixture = gmm.fit_gmm(
            train.latent,
            k,
            covariance_type=config.covariance_type,
            seed=config.seed,
            n_init=config.mixture_n_init,
        )
        proba = gmm.predict_proba(mixture, emb.latent)
    cluster = np.argmax(proba, axis=1).astype(np.int32)
    test_rows = emb.split == "test"
    if not test_rows.any():
        raise ValueError(f"{emb.representation}: the test split holds no galaxies")
    comparisons = {}
    for scheme, (codes, names) in scheme_views(emb).items():
        try:
            match = matching.match_clusters(
                cluster[test_rows], codes[test_rows], names, ignore=IGNORED_CLASSES, n_clusters=k
            )
            boot = matching.bootstrap_metrics(
                cluster[test_rows],
                codes[test_rows],
                names,
                ignore=IGNORED_CLASSES,
                n_boot=config.n_bootstrap,
                seed=config.seed,
                n_clusters=k,
            )
        except ValueError as e:  # e.g. every galaxy unclassified in this scheme
            log(f"  [{emb.representation}] no comparison with {scheme}: {e}")
            comparisons[scheme] = {"skipped": str(e)}
            continue
        comparisons[scheme] = {"match": match.to_dict(), "bootstrap": boot}
    collapse = collapsed_components(mixture, train.latent)
    if collapse["components"]:
        log(
            f"  [{emb.representation}] warning: {len(collapse['components'])} of {k} mixture "
            f"components collapsed onto a point, line or plane of the data (weights "
            + ", ".join(f"{w:.3f}" for w in collapse["weights"])
            + f" of {len(train):,} training galaxies in {emb.latent_dim} dimensions; "
            f"{collapse['repeated_rows']:,} of them repeat another's coordinates exactly): "
            "its likelihood grows without bound there, so it follows that flat set, not the "
            "population's shape (a ReLU encoder maps whole regions of inputs onto one point "
            "or line; a component with fewer galaxies than dimensions + 1 is flat)"
        )
    summary = {
        "k": k,
        "bic": mixture.bic,
        "log_likelihood": mixture.log_likelihood,
        "converged": mixture.converged,
        "n_iter": mixture.n_iter,
        "collapsed": collapse,
    }
    return ClassInference(k, cluster, proba, comparisons, summary)


def tsne_map(emb: Embeddings, config: AnalysisConfig, log: Callable[[str], None] | None = None):
    """t-SNE of all galaxies (a seeded subsample above ``tsne_max_points``).

    ``log`` receives the t-SNE's progress lines (a bar on a terminal instead).
    Returns (coordinates (N, 2) with NaN outside the map, rows mapped, result).
    """
    from tfelg.analysis import tsne

    emb.check_finite()
    rows = _seeded_rows(len(emb), config.tsne_max_points, config.seed)
    with threads.limited(config.num_threads) as n_jobs:
        result = tsne.run_tsne(
            emb.latent[rows],
            perplexity=config.tsne_perplexity,
            n_iter=config.tsne_n_iter,
            exaggeration=config.tsne_exaggeration,
            early_exaggeration_iter=config.tsne_early_exaggeration_iter,
            negative_gradient_method=config.tsne_method,
            seed=config.seed,
            n_jobs=n_jobs,
            # PCA initialisation needs two dimensions to take.
            initialization=(
                "random"
                if config.tsne_initialization == "pca" and emb.latent_dim < 2
                else config.tsne_initialization
            ),
            log=log,
        )
    xy = np.full((len(emb), 2), np.nan, dtype=np.float32)
    xy[rows] = result.embedding
    return xy, rows, result


def write_value_added_catalogue(
    emb, inference: ClassInference, tsne_xy, path, config, tsne_placed=None
) -> str:
    """The FITS catalogue: id, latent and t-SNE coordinates, cluster, probabilities, classes.

    ``tsne_placed``: (N,) bools, True where the map position was placed on a
    map fitted on a subsample (column TSNE_PLACED); None: no such column.
    """
    from tfelg.outputs import catalogue

    return catalogue.write_catalogue(
        path,
        object_id=emb.object_id,
        latent=emb.latent,
        tsne=tsne_xy,
        tsne_placed=tsne_placed,
        latent_imputed=emb.imputed,
        cluster=inference.cluster,
        cluster_proba=inference.proba,
        whan=emb.labels.get("whan"),
        bpt=emb.labels.get("bpt"),
        redshift=emb.redshift,
        true_class=emb.labels.get("true_class"),
        class_names=emb.class_names.get("true_class"),
        classes={
            k: (v, emb.class_names[k])
            for k, v in emb.labels.items()
            if k not in ("whan", "bpt", "true_class")
        },
        extra_header={
            "REPRESENTATION": emb.representation,
            "N_CLUSTERS": inference.n_clusters,
            "SEED": config.seed,
        },
        overwrite=True,
    )


def analyze_embeddings(
    emb: Embeddings,
    out_dir: str,
    config: AnalysisConfig | None = None,
    *,
    sprite_images: np.ndarray | None = None,
    final_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Runs the whole analysis of one representation into ``out_dir``.

    Writes ``figures/``, ``projector/`` (a TensorBoard log directory),
    ``catalogue.fits``, ``clusters.npz`` and ``summary.json``; returns the
    summary. ``final_dir``: where ``out_dir`` will be moved once complete
    (a folder built aside, then swapped in); the summary names its files
    there.
    """
    config = config or AnalysisConfig()
    emb.check_finite()
    os.makedirs(out_dir, exist_ok=True)
    name = emb.representation
    timings: dict[str, float] = {}

    start = time.perf_counter()
    selection = choose_k(emb, config).to_dict()
    timings["model_selection"] = time.perf_counter() - start
    log(f"  [{name}] chosen K: " + ", ".join(f"{k}={v}" for k, v in selection["chosen_k"].items()))

    start = time.perf_counter()
    inference = infer_classes(emb, selection["chosen_k"], config, log=log)
    inference.save(out_dir)
    timings["class_inference"] = time.perf_counter() - start

    start = time.perf_counter()
    tsne_xy, map_rows, tsne_result = tsne_map(emb, config, log=log)
    timings["tsne"] = time.perf_counter() - start
    log(f"  [{name}] t-SNE of {len(map_rows)} galaxies: KL {tsne_result.kl_divergence:.3f}")

    start = time.perf_counter()
    figures = write_figures(
        emb, selection, inference, tsne_xy, os.path.join(out_dir, "figures"), config
    )
    projector_info = write_projector_log(
        emb, inference.cluster, os.path.join(out_dir, "projector"), config, sprite_images, figures
    )
    catalogue_path = write_value_added_catalogue(
        emb, inference, tsne_xy, os.path.join(out_dir, "catalogue.fits"), config
    )
    timings["outputs"] = time.perf_counter() - start

    summary = {
        "representation": name,
        "latent_dim": emb.latent_dim,
        "n_galaxies": {s: int(np.sum(emb.split == s)) for s in ("train", "validation", "test")},
        "config": dataclasses.asdict(config),
        "model_selection": selection,
        "chosen_k": selection["chosen_k"],
        "n_clusters": inference.n_clusters,
        "mixture": inference.mixture,
        "comparisons": inference.comparisons,
        "tsne": {"n_points": len(map_rows), **tsne_result.params, "kl": tsne_result.kl_divergence},
        "projector": projector_info,
        "catalogue": catalogue_path,
        "figures": figures,
        "timings_seconds": timings,
        "info": emb.info,
    }
    if final_dir is not None:
        summary = _relocate(summary, out_dir, final_dir)
    write_json(os.path.join(out_dir, "summary.json"), summary)
    return summary


def _relocate(value, old: str, new: str):
    """``value`` with every path under folder ``old`` moved under ``new`` (dicts, lists, str)."""
    if isinstance(value, dict):
        return {k: _relocate(v, old, new) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_relocate(v, old, new) for v in value)
    if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
        return new + value[len(old) :]
    return value


def headline(summary: dict) -> dict:
    """One results-table row: chosen K and test-split agreement per scheme."""
    row = {
        "representation": summary["representation"],
        "latent_dim": summary["latent_dim"],
        **{f"k_{c}": v for c, v in summary["chosen_k"].items()},
    }
    for scheme, result in summary["comparisons"].items():
        if "bootstrap" not in result:
            continue
        boot = result["bootstrap"]
        for metric in ("accuracy", "ari", "nmi"):
            stats = boot.get(metric)
            if stats is not None:
                row[f"{scheme}_{metric}"] = stats["estimate"]
                row[f"{scheme}_{metric}_err"] = stats["std"]
    return row


def _format_cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "–"
    err = row.get(f"{key}_err")
    return f"{value:.3f} ± {err:.3f}" if err is not None else f"{value}"


def results_table(rows: list[dict]) -> str:
    """The comparison as a Markdown table (chosen K, matched accuracy/ARI/NMI)."""
    # Schemes in the order the rows name them (whan, bpt, true_class for emission lines).
    schemes_present = list(
        dict.fromkeys(k[: -len("_ari")] for r in rows for k in r if k.endswith("_ari"))
    )
    header = ["representation", "d", "K (BIC)", "K (AIC)", "K (gap)", "K (silhouette)"]
    for s in schemes_present:
        header += [f"{s} accuracy", f"{s} ARI", f"{s} NMI"]
    lines_ = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [
            str(r["representation"]),
            str(r["latent_dim"]),
            *(str(r.get(f"k_{c}", "–")) for c in ("bic", "aic", "gap", "silhouette")),
        ]
        for s in schemes_present:
            cells += [_format_cell(r, f"{s}_{m}") for m in ("accuracy", "ari", "nmi")]
        lines_.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines_)


def _holds_analysis(path: str) -> bool:
    """Whether folder ``path`` holds a finished analysis (its ``summary.json`` says so)."""
    try:
        with open(os.path.join(path, "summary.json"), encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and "representations" in summary and "results" in summary


def check_output_dir(out_dir: str, *, workdir: str | None = None, overwrite: bool = False) -> None:
    """Refuses an analysis folder that must not be replaced whole, before any work is done.

    The folder is replaced whole, so it must be new, empty or an earlier
    analysis (then only with ``overwrite``), and must not be, or hold, the
    training run.

    Raises:
      InputError: naming the folder and what to do instead.
    """
    from tfelg.errors import InputError

    real = os.path.realpath(out_dir)
    if workdir is not None:
        work = os.path.realpath(workdir)
        if work == real or work.startswith(real.rstrip(os.sep) + os.sep):
            raise InputError(
                "the analysis folder would hold the training run, and it is replaced whole; "
                "choose a folder inside or beside the run (default: WORKDIR/analysis)",
                path=out_dir,
            )
    if not os.path.lexists(out_dir):
        return
    if os.path.islink(out_dir) or not os.path.isdir(out_dir):
        raise InputError("the analysis output exists and is not a folder", path=out_dir)
    entries = sorted(os.listdir(out_dir))
    if not entries:
        return
    if not _holds_analysis(out_dir):
        raise InputError(
            f"the folder holds other files than an analysis (e.g. {entries[0]}) and would be "
            "replaced whole; choose a new or empty folder",
            path=out_dir,
        )
    if not overwrite:
        raise InputError(
            "the folder already holds an analysis; pass overwrite to replace it", path=out_dir
        )


def write_analysis(
    representations: list[Embeddings],
    out_dir: str,
    config: AnalysisConfig | None = None,
    *,
    sprite_images: np.ndarray | None = None,
    training_logdir: str | None = None,
    about: dict | None = None,
    title: str = "Analysis",
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Analyses each representation into one new folder ``out_dir`` and compares them.

    The folder is built beside ``out_dir`` and swapped in whole when
    complete (see the module docstring); :func:`check_output_dir` says
    which folders may be replaced.

    Args:
      representations: the embeddings to analyse, each into
        ``<out_dir>/<representation>/``.
      out_dir: the analysis folder.
      config: analysis settings.
      sprite_images: projector thumbnails, in the rows of every representation.
      training_logdir: a TensorBoard log folder of the training run, copied to
        ``<out_dir>/training`` so that one ``tensorboard --logdir`` shows
        the projectors and the training curves.
      about: further entries of the overall ``summary.json`` (workdir, dataset).
      title: the heading of ``results.md``.
      overwrite: replace an earlier analysis in ``out_dir``.
      log: progress lines.

    Returns:
      The overall summary (also in ``<out_dir>/summary.json``), with
      ``tensorboard_logdir`` (``out_dir``) and ``tensorboard_command``.
    """
    from tfelg.outputs import tensorboard_command

    config = config or AnalysisConfig()
    out_dir = os.path.abspath(out_dir)
    check_output_dir(out_dir, overwrite=overwrite)
    with atomic.atomic_directory(out_dir) as build:
        summaries = {}
        for emb in representations:
            log(f"analysing {emb.representation} (d = {emb.latent_dim}) ...")
            folder = os.path.join(build, emb.representation)
            emb.save(os.path.join(folder, "embeddings.npz"))
            summaries[emb.representation] = analyze_embeddings(
                emb,
                folder,
                config,
                sprite_images=sprite_images,
                final_dir=os.path.join(out_dir, emb.representation),
                log=log,
            )
        training = None
        if training_logdir is not None and os.path.isdir(training_logdir):
            shutil.copytree(training_logdir, os.path.join(build, TRAINING_LOGDIR))
            training = os.path.join(out_dir, TRAINING_LOGDIR)
        rows = [headline(s) for s in summaries.values()]
        table = results_table(rows)
        atomic.write_text(
            os.path.join(build, "results.md"),
            f"# {title}\n\n"
            "Chosen K on the training split; agreement with each scheme on the test split "
            f"(value on the test split ± std over {config.n_bootstrap} bootstrap resamples).\n\n"
            f"{table}\n",
        )
        overall = {
            **(about or {}),
            "results": rows,
            "representations": {k: os.path.join(out_dir, k, "summary.json") for k in summaries},
            "figures": {k: s["figures"] for k, s in summaries.items()},
            "training_curves": training,
            "tensorboard_logdir": out_dir,
            "tensorboard_command": tensorboard_command.tensorboard_command(out_dir),
        }
        write_json(os.path.join(build, "summary.json"), overall)
    log(table)
    return overall


def analyze_workdir(
    workdir: str,
    out_dir: str,
    config: AnalysisConfig | None = None,
    *,
    baselines: bool = True,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Analyses a training run and, beside it, the PCA and line-ratio baselines.

    The data are those the run was trained on (its ``config.json``); PCA has
    the run's latent dimension and input. Writes ``<out_dir>/<representation>/``
    for each, ``<out_dir>/training`` (the run's TensorBoard curves), plus
    ``results.md`` and ``summary.json`` comparing them; ``out_dir`` is
    replaced whole (see :func:`write_analysis`; ``overwrite`` to replace an
    earlier analysis).
    """
    from tfelg.analysis import embeddings as emb_lib
    from tfelg.errors import InputError
    from tfelg.outputs import sprites
    from tfelg.training import config as config_lib
    from tfelg.training import loop

    config = config or AnalysisConfig()
    config_path = os.path.join(workdir, loop.CONFIG_FILE)
    if not os.path.exists(os.path.join(workdir, loop.MODEL_FILE)) or not os.path.exists(
        config_path
    ):
        raise InputError(
            "no trained model here (expected config.json and model.keras from tfelg-train)",
            path=workdir,
        )
    check_output_dir(out_dir, workdir=workdir, overwrite=overwrite)
    with open(config_path, encoding="utf-8") as f:
        experiment = config_lib.ExperimentConfig.from_dict(json.load(f))
    builder = loop.open_dataset(experiment.data)
    splits = loop.load_splits(experiment.data, builder)
    class_names = emb_lib.default_class_names(builder.info.features["true_class"].names)

    representations = [emb_lib.autoencoder_embeddings(workdir, splits, class_names)]
    if baselines:
        representations.append(
            emb_lib.pca_embeddings(
                splits,
                experiment.model.latent_dim,
                class_names,
                input=experiment.data.input,
                line_features=experiment.data.line_features,
            )
        )
        representations.append(emb_lib.line_ratio_embeddings(splits, class_names))

    all_arrays = {
        k: np.concatenate([splits[s][k] for s in emb_lib.SPLITS]) for k in splits["train"]
    }
    if "spectrum" in all_arrays:
        thumbs = sprites.render_spectra(all_arrays["spectrum"])
    else:
        ratios = next((r for r in representations if r.representation == "line_ratios"), None)
        if ratios is None:  # --nobaselines
            ratios = emb_lib.line_ratio_embeddings(splits, class_names)
        # Imputed ratios as the glyphs' grey "missing" ticks, not as values.
        thumbs = sprites.render_feature_glyphs(np.where(ratios.imputed, np.nan, ratios.latent))
    return write_analysis(
        representations,
        out_dir,
        config,
        sprite_images=thumbs,
        training_logdir=os.path.join(workdir, loop.TENSORBOARD_DIR),
        about={"workdir": os.path.abspath(workdir), "dataset": experiment.data.dataset},
        title=f"Analysis of {os.path.abspath(workdir)}",
        overwrite=overwrite,
        log=log,
    )
