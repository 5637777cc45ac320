r"""How much the dense AE's classes move from one training seed to the next, per hidden activation.

    python benchmarks/ae_seed_spread.py                        # 10^5 galaxies, relu and elu, seeds 1-3
    python benchmarks/ae_seed_spread.py --num_galaxies=10000 --activations=relu,elu,tanh

Issue 15 asks that a 10^6-galaxy run give the summary of a 10^5 run within
bootstrap error. PCA and the line ratios do; the d = 2 AE does not, and three
independent 10^5 runs disagreed among themselves as much. This measures that
spread directly: one data set (the pipeline's ``dataset_gen``, seeded), an AE
trained with each training seed and hidden activation (``trainer`` with
``model_options={"hidden_activation": ...}``, the pipeline's defaults except
``epochs``), its embeddings exported, then on them a K = 5 mixture (the WHAN
classes' number) and the pipeline's own K choice (BIC over 1..k_max), each
scored against WHAN and BPT on the test split (ARI). Printed: one row per run,
then per activation the mean and the spread (max - min) over seeds, beside
the bootstrap error of one run.

The components run through tfelg_components.runner into ``--root`` (a
temporary folder unless given), so the data set is generated once and a
re-run with the same root reuses every finished step.
"""

from __future__ import annotations

import json
import tempfile

import numpy as np
from absl import app, flags

_N = flags.DEFINE_integer("num_galaxies", 100_000, "Galaxies in the data set.")
_DATASET_SEED = flags.DEFINE_integer("dataset_seed", 1, "Seed of the synthetic galaxies.")
_SEEDS = flags.DEFINE_list("seeds", ["1", "2", "3"], "Training (and mixture) seeds.")
_ACTIVATIONS = flags.DEFINE_list("activations", ["relu", "elu"], "Hidden activations.")
_EPOCHS = flags.DEFINE_integer("epochs", 10, "Training epochs (pipeline_scale.py's default).")
_ROOT = flags.DEFINE_string("root", None, "Run root (default: a temporary folder).")
_JSON = flags.DEFINE_string("json", None, "Also write the rows here.")

STEPS = ("dataset_gen", "trainer", "embedding_exporter")
SCHEMES = ("whan", "bpt")


def _embeddings(pipeline, root: str, params: dict):
    """Runs dataset_gen, trainer and embedding_exporter; returns the AE's embeddings and error."""
    from tfelg.analysis.embeddings import Embeddings
    from tfelg_components import runner
    from tfelg_components.base import OutputRef

    done = {}
    for node in pipeline.nodes(pipeline.resolve_params(params)):
        if node.id not in STEPS:
            continue
        inputs = {
            name: done[ref.node.id].outputs[ref.name] if isinstance(ref, OutputRef) else ref
            for name, ref in node.inputs.items()
        }
        done[node.id] = runner.execute(node.component, root, inputs, node.params, node=node.id)
    emb = Embeddings.load(done["embedding_exporter"].outputs["embeddings"].path("ae.npz"))
    error = done["trainer"].outputs["model"].properties["reconstruction_error"]["test"]
    return emb, error


def _scores(inference) -> dict:
    return {
        s: (
            inference.comparisons[s]["bootstrap"]["ari"]["estimate"],
            inference.comparisons[s]["bootstrap"]["ari"]["std"],
        )
        for s in SCHEMES
    }


def _run(pipeline, root: str, activation: str, seed: int) -> dict:
    from tfelg.analysis import analyze

    params = {
        "num_galaxies": _N.value,
        "dataset_seed": _DATASET_SEED.value,
        "seed": seed,
        "epochs": _EPOCHS.value,
        "model_options": {"hidden_activation": activation},
    }
    emb, error = _embeddings(pipeline, root, params)
    quiet = lambda _: None  # noqa: E731
    at_5 = analyze.infer_classes(
        emb, {"bic": 5}, analyze.AnalysisConfig(n_clusters=5, seed=seed), log=quiet
    )
    config = analyze.AnalysisConfig(seed=seed)
    chosen = analyze.choose_k(emb, config).to_dict()["chosen_k"]
    at_bic = analyze.infer_classes(emb, chosen, config, log=quiet)
    return {
        "activation": activation,
        "seed": seed,
        "test_reconstruction": error,
        "k5": _scores(at_5),
        "bic_k": int(chosen["bic"]),
        "bic": _scores(at_bic),
    }


def main(argv):
    del argv
    from tfelg_pipelines import registry

    pipeline = registry.get_pipeline("emission_lines")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = _ROOT.value or tmp
        print(
            f"{'activation':<11}{'seed':>5}{'test MSE':>10}"
            f"{'WHAN ARI, K=5':>16}{'BPT ARI, K=5':>15}{'K (BIC)':>9}{'WHAN ARI, BIC K':>17}"
        )
        for activation in _ACTIVATIONS.value:
            for seed in (int(s) for s in _SEEDS.value):
                row = _run(pipeline, root, activation, seed)
                rows.append(row)
                print(
                    f"{activation:<11}{seed:>5}{row['test_reconstruction']:>10.4f}"
                    f"{row['k5']['whan'][0]:>10.3f} ± {row['k5']['whan'][1]:.3f}"
                    f"{row['k5']['bpt'][0]:>15.3f}{row['bic_k']:>9}{row['bic']['whan'][0]:>17.3f}",
                    flush=True,
                )
    print("\nper activation over seeds: mean (spread = max - min; one run's bootstrap std)")
    for activation in _ACTIVATIONS.value:
        mine = [r for r in rows if r["activation"] == activation]
        for label, values, stds in (
            (
                "WHAN ARI, K=5",
                [r["k5"]["whan"][0] for r in mine],
                [r["k5"]["whan"][1] for r in mine],
            ),
            ("BPT ARI, K=5", [r["k5"]["bpt"][0] for r in mine], [r["k5"]["bpt"][1] for r in mine]),
            (
                "WHAN ARI, BIC K",
                [r["bic"]["whan"][0] for r in mine],
                [r["bic"]["whan"][1] for r in mine],
            ),
        ):
            print(
                f"  {activation:<11}{label:<17}{np.mean(values):.3f} "
                f"(spread {np.ptp(values):.3f}; bootstrap std {np.mean(stds):.3f})"
            )
        print(f"  {activation:<11}{'K (BIC)':<17}{sorted(r['bic_k'] for r in mine)}")
    if _JSON.value:
        with open(_JSON.value, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    app.run(main)
