r"""Analyses the latent-sweep runs at d = 2 and 4 and writes docs/analysis_results.md.

    tfelg-latent-sweep --data_dir=runs/tfds --workdir=runs/latent_sweep --epochs=40 \
        --latent_dims=2,4
    python scripts/make_analysis_table.py --sweep=runs/latent_sweep --output=docs/analysis_results.md

Each run is analysed by `tfelg.analysis.analyze.analyze_workdir` (the library
behind tfelg-analyze); the PCA and line-ratio baselines are analysed with the
AE run of each latent dimension (they do not depend on the autoencoder).

The table is regenerated; the hand-written reading of it is not: everything
from a line ``## Reading`` on in an existing output file is kept (re-read it
against the new numbers), and the file is replaced atomically.
"""

import os

from absl import app, flags

from tfelg import atomic
from tfelg.analysis import analyze

_SWEEP = flags.DEFINE_string("sweep", "runs/latent_sweep", "tfelg-latent-sweep workdir.")
_OUTPUT = flags.DEFINE_string("output", "docs/analysis_results.md", "Markdown table to write.")
_MODELS = flags.DEFINE_list("models", ["ae", "cae", "vae", "cvae", "aae"], "Models.")
_DIMS = flags.DEFINE_list("latent_dims", ["2", "4"], "Latent dimensions.")
_TSNE_MAX = flags.DEFINE_integer("tsne_max_points", 3000, "Galaxies in each t-SNE map.")
_GAP_REFS = flags.DEFINE_integer("gap_references", 5, "Gap statistic references.")
_K_MAX = flags.DEFINE_integer("k_max", 10, "Largest K.")
_N_BOOT = flags.DEFINE_integer("n_bootstrap", 100, "Bootstrap resamples.")


_ACCURACY_NOTE = """\
"Accuracy" is the strict one-to-one Hungarian accuracy: when K (BIC) exceeds the number
of classes, only as many clusters as classes are matched and the galaxies of the other
clusters count as errors, so it is a lower bound; the many-to-one accuracy (extra
clusters given their majority class), purity and completeness per class are in each
run's `analysis/<representation>/summary.json`. ARI and NMI do not depend on the matching.
"""


def main(argv):
    del argv
    config = analyze.AnalysisConfig(
        k_max=_K_MAX.value,
        gap_references=_GAP_REFS.value,
        n_bootstrap=_N_BOOT.value,
        tsne_max_points=_TSNE_MAX.value,
    )
    rows = []
    for d in _DIMS.value:
        for model in _MODELS.value:
            workdir = os.path.join(_SWEEP.value, "runs", f"{model}_d{d}")
            out_dir = os.path.join(workdir, "analysis")
            summary = analyze.analyze_workdir(workdir, out_dir, config, baselines=model == "ae")
            for row in summary["results"]:
                if row["representation"] == "line_ratios" and d != _DIMS.value[0]:
                    continue  # the same at every d
                rows.append(row)
    command = (
        "python scripts/make_analysis_table.py "
        f"--sweep={_SWEEP.value} --tsne_max_points={_TSNE_MAX.value} "
        f"--gap_references={_GAP_REFS.value} --k_max={_K_MAX.value} "
        f"--n_bootstrap={_N_BOOT.value}"
    )
    reading = ""
    if os.path.exists(_OUTPUT.value):
        with open(_OUTPUT.value, encoding="utf-8") as f:
            old = f.read()
        if "\n## Reading" in old:
            reading = "\n" + old[old.index("\n## Reading") + 1 :]
    atomic.write_text(
        _OUTPUT.value,
        (
            "# Classes in the latent spaces: chosen K and agreement with WHAN, BPT, truth\n\n"
            f"Produced by `{command}` over the runs of `docs/latent_sweep.md`.\n\n"
            "K chosen on the training split (16,042 galaxies); the mixture with the BIC "
            "choice is fitted on train and matched (Hungarian, many-to-one for extra "
            "clusters reported separately in each summary.json) on the test split "
            "(1,979 galaxies); ± is the std over bootstrap resamples of the test split. "
            "BPT is the three-class view (SF / composite / AGN); low-S/N and "
            "unclassified galaxies are left out of each comparison.\n\n"
            + analyze.results_table(rows)
            + "\n"
            + _ACCURACY_NOTE
            + reading
        ),
    )
    print(f"wrote {_OUTPUT.value}")


if __name__ == "__main__":
    app.run(main)
