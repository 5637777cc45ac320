"""How much does each latent dimension buy? Every model at several d, and PCA.

The reference work found that PCA reconstructed the line data better than
every autoencoder for d >= 3, which says the autoencoders were not the
right tool above two dimensions, or were not trained well. This sweep makes
that comparison a reproducible experiment: every model at every latent
dimension, trained by the one loop (:mod:`tfelg.training.loop`) on the same
data and preprocessing, selected on the validation split, and PCA fitted on
the same standardised training features with the same weighted error. The
table (CSV and Markdown) and the plot use the *validation* error; test errors
are in the CSV for the record.

Each run lives in ``<workdir>/runs/<model>_d<d>/`` and is skipped when it has
already finished with the same configuration, so an interrupted sweep
continues where it stopped.

Training-seed ensembles (``seeds=N``): one autoencoder run is one draw from
the distribution of what its training procedure produces (initial weights,
shuffles, sampling noise), and on the default data that spread is larger
than the bootstrap error over test galaxies (docs/analysis_results.md). With
``seeds=N`` every model is trained N times, with trainer seeds
``base_seed + i * SEED_STRIDE`` (i = 0..N-1); the first keeps the run folder
``<model>_d<d>``, the others are ``<model>_d<d>_seed<seed>``. The stride keeps
the per-epoch shuffle seeds (``seed + epoch``) of different members apart
for any run shorter than :data:`SEED_STRIDE` epochs. PCA has no training
seed: it is computed once.

Model variants: besides the registry's names, :data:`MODEL_VARIANTS` names
a model with fixed options (``vae_mog``: the VAE with the learnable mixture
prior, whose components can be read as classes).
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import io
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from absl import logging

from tfelg.analysis.ensembles import SEED_STRIDE, ensemble_seeds
from tfelg.preprocessing import Preprocessor, write_bytes_atomically, write_text_atomically
from tfelg.training import loop
from tfelg.training.config import ExperimentConfig, ModelConfig

DEFAULT_MODELS = ("ae", "cae", "vae", "cvae", "aae")
DEFAULT_LATENT_DIMS = (1, 2, 3, 4, 6)
#: Sweep names that are a registry model with fixed options.
MODEL_VARIANTS = {
    "vae_mog": ("vae", {"prior": "mog"}),
    "cvae_mog": ("cvae", {"prior": "mog"}),
}
CSV_FILE = "latent_sweep.csv"
MARKDOWN_FILE = "latent_sweep.md"
PLOT_FILE = "latent_sweep.png"
COLUMNS = (
    "model",
    "latent_dim",
    "seed",
    "validation",
    "test",
    "train",
    "best_epoch",
    "epochs",
    "seconds",
)


def options_for(model: str, options: Mapping) -> dict:
    """The subset of ``options`` that ``model``'s constructor takes.

    A sweep over several models shares one set of options (``beta`` for the
    VAEs, ``prior_std`` for the AAE); each model gets those it understands.
    A variant (:data:`MODEL_VARIANTS`) adds its own fixed options.
    """
    from tfelg.models import MODEL_REGISTRY

    registry_name, fixed = MODEL_VARIANTS.get(model, (model, {}))
    accepted = inspect.signature(MODEL_REGISTRY[registry_name].__init__).parameters
    return {**{k: v for k, v in options.items() if k in accepted}, **fixed}


def registry_name(model: str) -> str:
    """The registry model behind a sweep name (``vae_mog`` -> ``vae``)."""
    return MODEL_VARIANTS.get(model, (model, {}))[0]


def run_name(model: str, latent_dim: int, seed: int, base_seed: int) -> str:
    """``<model>_d<d>`` for the base seed, ``<model>_d<d>_seed<seed>`` for the others."""
    name = f"{model}_d{latent_dim}"
    return name if seed == base_seed else f"{name}_seed{seed}"


def _pca_rows(arrays, latent_dims: Sequence[int]) -> list[dict]:
    from tfelg.models import PCA

    x_train, w_train = arrays["train"]
    rows = []
    for d in latent_dims:
        if d > x_train.shape[1]:
            continue
        start = time.monotonic()
        pca = PCA(x_train.shape[1], d).fit(x_train, w_train)
        errors = {
            split: float(np.mean(pca.reconstruction_error(*arrays[split]))) for split in loop.SPLITS
        }
        rows.append(
            {
                "model": "pca",
                "latent_dim": d,
                "seed": "",
                **errors,
                "best_epoch": "",
                "epochs": "",
                "seconds": time.monotonic() - start,
            }
        )
    return rows


def _finished_metrics(config: ExperimentConfig, run_dir: str) -> dict | None:
    """The metrics of a finished run of ``config`` in ``run_dir``, else None."""
    metrics_path = os.path.join(run_dir, loop.METRICS_FILE)
    if loop.check_workdir_config(config, run_dir) and os.path.exists(metrics_path):
        return loop.read_json(metrics_path)
    return None


def run_latent_sweep(
    base: ExperimentConfig,
    workdir: str,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    latent_dims: Sequence[int] = DEFAULT_LATENT_DIMS,
    include_pca: bool = True,
    seeds: int = 1,
    splits: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Trains every model at every latent dimension; writes the table and the plot.

    Args:
      base: data, trainer and runtime settings shared by every run; its
        ``model.options`` are given to each model that takes them.
      workdir: the sweep's folder (runs, CSV, Markdown, PNG).
      models, latent_dims: what to sweep.
      include_pca: add PCA at each d (as a line in the plot).
      seeds: train every model this many times, with the seeds of
        :func:`ensemble_seeds` (see the module docstring).
      splits: pre-loaded arrays (default: load ``base.data`` once).
      command: the command line, quoted in the Markdown.
      log: progress lines (default absl INFO).

    Returns:
      One row per (model, d, seed): validation/test/train reconstruction
      error, best epoch, epochs, seconds (PCA: one row per d, seed "").
    """
    log = log or logging.info
    if not models and not include_pca:
        raise ValueError("nothing to sweep: no models and no PCA")
    latent_dims = sorted({int(d) for d in latent_dims})
    if not latent_dims:
        raise ValueError("latent_dims is empty")
    base.validate()
    seed_list = ensemble_seeds(base.trainer.seed, seeds)
    configs = []
    for model in models:
        for d in latent_dims:
            model_config = ModelConfig(name=registry_name(model), latent_dim=d)
            dataclasses.replace(base, model=model_config).validate()  # names and sizes first
            model_config.options = options_for(model, base.model.options)
            for seed in seed_list:
                trainer = dataclasses.replace(base.trainer, seed=seed)
                configs.append(
                    (model, dataclasses.replace(base, model=model_config, trainer=trainer))
                )

    if splits is None:
        splits = loop.load_splits(base.data)
    loop.check_splits(splits, base.data.dataset)
    preprocessor = Preprocessor.fit(
        splits["train"], input=base.data.input, line_features=base.data.line_features
    )
    arrays = {split: preprocessor.transform(splits[split]) for split in loop.SPLITS}

    rows = _pca_rows(arrays, latent_dims) if include_pca else []
    for row in rows:
        log(f"pca d={row['latent_dim']}: validation reconstruction error {row['validation']:.4g}")
    for name, config in configs:
        d, seed = config.model.latent_dim, config.trainer.seed
        run_dir = os.path.join(workdir, "runs", run_name(name, d, seed, base.trainer.seed))
        label = f"{name} d={d}" + (f" seed={seed}" if len(seed_list) > 1 else "")
        metrics = _finished_metrics(config, run_dir)
        if metrics is not None:
            log(f"{label}: already trained in {run_dir}")
        else:
            log(f"{label}: training in {run_dir}")
            metrics = loop.train_and_evaluate(config, run_dir, splits=splits, log=log)
            _clear_session()
        errors = metrics["reconstruction_error"]
        rows.append(
            {
                "model": name,
                "latent_dim": d,
                "seed": seed,
                **{split: errors[split] for split in loop.SPLITS},
                "best_epoch": metrics["best_epoch"],
                "epochs": metrics["epochs"],
                "seconds": metrics["train_seconds"],
            }
        )
        write_outputs(rows, workdir, base, command=command)
    write_outputs(rows, workdir, base, command=command)
    return rows


def _clear_session() -> None:
    """Frees the finished run's graphs (a sweep builds dozens of models in one process)."""
    import keras

    keras.backend.clear_session()


# -- outputs ------------------------------------------------------------------------------
def write_outputs(rows: Sequence[dict], workdir: str, base: ExperimentConfig, command=None) -> None:
    """CSV, Markdown and PNG of ``rows`` in ``workdir`` (each written atomically)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row[k]) for k in COLUMNS})
    write_text_atomically(os.path.join(workdir, CSV_FILE), buffer.getvalue())
    write_text_atomically(
        os.path.join(workdir, MARKDOWN_FILE), markdown_table(rows, base, command=command)
    )
    write_sweep_plot(rows, os.path.join(workdir, PLOT_FILE), base)


def _csv_value(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def markdown_table(rows: Sequence[dict], base: ExperimentConfig, command=None) -> str:
    """Validation reconstruction error, models x latent dimensions, best per column in bold.

    With several seeds per model a cell is the mean over seeds ± their
    standard deviation (ddof = 1).
    """
    dims = sorted({r["latent_dim"] for r in rows})
    models = list(dict.fromkeys(r["model"] for r in rows))
    value, spread = _seed_means(rows)
    n_seeds = max((len(v) for v in _by_model_dim(rows).values()), default=1)
    best = {
        d: min((value[m, d] for m in models if (m, d) in value), default=math.nan) for d in dims
    }
    lines = [
        "# Validation reconstruction error vs latent dimension",
        "",
        f"Data: `{base.data.dataset}`"
        + (f" ({base.data.num_galaxies} galaxies)" if base.data.num_galaxies else "")
        + f", input `{base.data.input}`"
        + (f" ({base.data.line_features})" if base.data.input == "lines" else "")
        + f"; {base.trainer.epochs} epochs, batch {base.trainer.batch_size}, "
        f"learning rate {base.trainer.learning_rate:g}, "
        + (
            f"seed {base.trainer.seed}."
            if n_seeds == 1
            else f"{n_seeds} seeds per model ({base.trainer.seed} + i x {SEED_STRIDE})."
        ),
        "",
        "Weighted mean squared error of the standardised features on the validation split "
        "(lower is better; best per column in bold). Each autoencoder is the epoch with the "
        "lowest validation loss; PCA is fitted on the training split."
        + (" Mean over seeds ± std." if n_seeds > 1 else ""),
        "",
    ]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines.append("| model | " + " | ".join(f"d = {d}" for d in dims) + " |")
    lines.append("|---|" + "---:|" * len(dims))
    for m in models:
        cells = []
        for d in dims:
            v = value.get((m, d))
            if v is None:
                cells.append("")
            else:
                text = f"{v:.4f}"
                if spread.get((m, d)) is not None:
                    text += f" ± {spread[m, d]:.4f}"
                cells.append(f"**{text}**" if v == best[d] else text)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _by_model_dim(rows: Sequence[dict]) -> dict[tuple[str, int], list[float]]:
    groups: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["latent_dim"]), []).append(float(r["validation"]))
    return groups


def _seed_means(rows: Sequence[dict]):
    """(model, d) -> mean validation error, and -> std over seeds (None for one seed)."""
    groups = _by_model_dim(rows)
    mean = {k: float(np.mean(v)) for k, v in groups.items()}
    std = {k: (float(np.std(v, ddof=1)) if len(v) > 1 else None) for k, v in groups.items()}
    return mean, std


def write_sweep_plot(rows: Sequence[dict], path: str, base: ExperimentConfig) -> None:
    """Validation error vs d: a marker line per model (mean ± std over seeds), PCA in black."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    models = list(dict.fromkeys(r["model"] for r in rows))
    mean, spread = _seed_means(rows)
    for model in models:
        ds = sorted(d for m, d in mean if m == model)
        values = [mean[model, d] for d in ds]
        errors = [spread[model, d] or 0.0 for d in ds]
        if model == "pca":
            ax.plot(ds, values, "-", color="black", linewidth=2.2, label="PCA", zorder=3)
        else:
            ax.errorbar(
                ds,
                values,
                yerr=errors if any(errors) else None,
                fmt="o--",
                markersize=5,
                linewidth=1.2,
                capsize=3,
                label=model.upper(),
            )
    values = [r["validation"] for r in rows if r["validation"] > 0]
    if values and max(values) / min(values) > 8:
        ax.set_yscale("log")
    ax.set_xticks(sorted({r["latent_dim"] for r in rows}))
    ax.set_xlabel("latent dimension d")
    ax.set_ylabel("validation reconstruction error\n(weighted MSE, standardised features)")
    ax.set_title(f"{base.data.dataset}, input {base.data.input}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_bytes_atomically(path, buffer.getvalue())
