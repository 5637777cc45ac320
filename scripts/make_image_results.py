r"""docs/image_results.md: do a GAN-balanced library and SimCLR features find the galaxy classes?

    python scripts/make_image_results.py --root=runs/image_results --num_galaxies=2000 \
        --seeds=0,1,2 --gan_epochs=20 --feature_epochs=20

The experiment the reference work claimed (issue 14 item 4). For each seed the
hst_images pipeline runs in sweep mode (`train_on_sweep=["real",
"real_and_generated"]`): one GAN, its balanced library, and the SimCLR feature
model trained (a) on the real training galaxies only and (b) on those plus the
library; every galaxy is embedded by both SimCLR models, by a small ResNet with
random weights, by the GAN discriminator and by the two classical baselines
(PCA of the pixels, the measured morphology + colours vector). The pipeline
chooses K on the training split (BIC, gap, silhouette), fits the Gaussian
mixture and matches it on the held-out test split to the true type, the UVJ
class and the Gini-M20 class, with bootstrap errors over the test galaxies.

Seeds change the GAN, the SimCLR model, the random ResNet and the mixture's
starts; the dataset is the same (`--dataset_seed`). Each cell is the mean over
seeds ± the seed spread [the RMS bootstrap error] (tfelg.analysis.ensembles);
the GAN-library question is answered by the difference of the two SimCLR
rows, called significant only beyond 2 sigma of both errors combined.

One run root serves every seed, so the dataset is built once and a re-run with
the same arguments is read from the cache. Only the block between
`<!-- tables -->` and `<!-- /tables -->` of the output is rewritten; the
reading around it is written by hand.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
import time

from absl import app, flags

from tfelg.outputs import markdown_block

START, END = markdown_block.START, markdown_block.END
SCHEMES = ("true_type", "uvj", "gini_m20")
METRICS = ("accuracy", "ari", "nmi")

_ROOT = flags.DEFINE_string("root", "runs/image_results", "Run root (shared by the seeds).")
_OUTPUT = flags.DEFINE_string("output", "docs/image_results.md", "Markdown file to update.")
_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", 2000, "Synthetic galaxies.")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", 0, "Synthetic generator seed.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Training/analysis seeds.")
_GAN_EPOCHS = flags.DEFINE_integer("gan_epochs", 20, "GAN epochs.")
_FEATURE_EPOCHS = flags.DEFINE_integer("feature_epochs", 20, "SimCLR epochs.")
_PER_CLASS = flags.DEFINE_integer("per_class", 300, "Generated galaxies per class.")
_PARAMS = flags.DEFINE_multi_string(
    "param", [], "Further pipeline parameters NAME=JSON (e.g. k_max=8)."
)


def pipeline_params(seed: int) -> dict:
    """The hst_images parameters of one seed's run."""
    params = {
        "num_galaxies": _NUM_GALAXIES.value,
        "dataset_seed": _DATASET_SEED.value,
        "gan_epochs": _GAN_EPOCHS.value,
        "feature_epochs": _FEATURE_EPOCHS.value,
        "per_class": _PER_CLASS.value,
        "train_on_sweep": ["real", "real_and_generated"],
        "seed": seed,
    }
    for item in _PARAMS.value:
        name, _, value = item.partition("=")
        params[name] = json.loads(value)
    return params


def run_seed(root: str, seed: int) -> list[dict]:
    """The comparison rows of one seed (runs the pipeline, or reads it from the cache)."""
    from tfelg_components import common
    from tfelg_components.pipeline import run_pipeline
    from tfelg_pipelines import hst_images

    result = run_pipeline(hst_images.PIPELINE, root, pipeline_params(seed), log=print)
    table = result["comparison"].outputs["table"]
    return common.read_json(table.path(common.COMPARISON_JSON))["rows"]


def label(row: dict) -> str:
    """The table's name of a row: the SimCLR rows say what their model was trained on."""
    if row["representation"] == "simclr":
        return "simclr, real + GAN library" if row["chain"] != "real" else "simclr, real only"
    return row["representation"]


def collect(rows_by_seed: dict[int, list[dict]]) -> dict[str, dict]:
    """{row label: {"d": d, "k": [chosen K per seed], (scheme, metric): aggregate}}."""
    from tfelg.analysis import ensembles

    by_label: dict[str, list[dict]] = {}
    for rows in rows_by_seed.values():
        for row in rows:
            by_label.setdefault(label(row), []).append(row)
    out = {}
    for name, rows in by_label.items():
        entry = {
            "d": rows[0]["latent_dim"],
            "k": [(r.get("k_bic"), r.get("k_gap"), r.get("k_silhouette")) for r in rows],
        }
        for scheme in SCHEMES:
            for metric in METRICS:
                key = f"{scheme}_{metric}"
                if all(key in r for r in rows):
                    entry[scheme, metric] = ensembles.aggregate(
                        [r[key] for r in rows], [r[f"{key}_err"] for r in rows]
                    )
        out[name] = entry
    return out


def order(names) -> list[str]:
    first = ["simclr, real only", "simclr, real + GAN library"]
    last = ["pixel_pca", "morphology"]
    middle = sorted(n for n in names if n not in first + last)
    return [n for n in first + middle + last if n in names]


def markdown(stats: dict[str, dict]) -> str:
    """One table per scheme, then the GAN-library differences."""
    from tfelg.analysis import ensembles

    out = []
    reference = stats.get("simclr, real only")
    for scheme in SCHEMES:
        out += [
            f"**{scheme}** (test split)",
            "",
            "| representation | d | K (BIC, gap, silhouette) per seed | matched accuracy | ARI | NMI |",
            "|---|---|---|---|---|---|",
        ]
        for name in order(stats):
            entry = stats[name]
            if (scheme, "accuracy") not in entry:
                continue
            ks = "; ".join("/".join("–" if v is None else str(v) for v in k) for k in entry["k"])
            cells = [ensembles.format_cell(entry[scheme, m]) for m in METRICS]
            out.append(f"| {name} | {entry['d']} | {ks} | " + " | ".join(cells) + " |")
        out.append("")
    generated = stats.get("simclr, real + GAN library")
    if reference and generated:
        out += [
            "Real + GAN library minus real only (SimCLR; `+`/`−`: beyond 2 sigma, "
            "`?`: one seed, no spread):",
            "",
            "| scheme | metric | difference | sigma | |",
            "|---|---|---|---|---|",
        ]
        for scheme in SCHEMES:
            for metric in METRICS:
                if (scheme, metric) in reference and (scheme, metric) in generated:
                    c = ensembles.compare(generated[scheme, metric], reference[scheme, metric])
                    out.append(
                        f"| {scheme} | {metric} | {c['difference']:+.3f} | {c['sigma']:.3f} "
                        f"| {c['mark']} |"
                    )
        out.append("")
    return "\n".join(out).rstrip()


def write_block(path: str, block: str) -> None:
    """Replaces the tables block of `path` (or writes a new file holding only it)."""
    markdown_block.write(path, block, "Image classes from features")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    t0 = time.time()
    seeds = [int(s) for s in _SEEDS.value]
    rows = {seed: run_seed(_ROOT.value, seed) for seed in seeds}
    stats = collect(rows)
    load = os.getloadavg()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python scripts/make_image_results.py " + shlex.join(sys.argv[1:])
    block = "\n".join(
        [
            START,
            f"Made by `{command}` on {when} in {time.time() - t0:.0f} s (load average "
            f"{load[0]:.1f}; a cached re-run reads the same numbers). hst_galaxies/synthetic, "
            f"{_NUM_GALAXIES.value} galaxies (dataset seed {_DATASET_SEED.value}), seeds "
            f"{', '.join(map(str, seeds))}; GAN {_GAN_EPOCHS.value} epochs, library "
            f"{_PER_CLASS.value} per class, SimCLR {_FEATURE_EPOCHS.value} epochs; other "
            "parameters the pipeline's defaults"
            + (f" but {', '.join(_PARAMS.value)}" if _PARAMS.value else "")
            + ". Cells: mean over seeds ± seed spread [RMS bootstrap error over the test "
            "galaxies].",
            "",
            markdown(stats),
            END,
        ]
    )
    write_block(_OUTPUT.value, block)
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    app.run(main)
