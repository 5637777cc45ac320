r"""The analysis with one thread against every core: ``AnalysisConfig.num_threads``.

BLAS, OpenMP and openTSNE start one thread per core, and those threads spin
while they wait; on a machine whose cores are busy with other work the
spinning competes with the work itself (:mod:`tfelg.analysis.threads`).
This benchmark runs the analysis' three computing steps (the K sweep
``analyze.choose_k``, the mixture and matching ``analyze.infer_classes``,
the map ``analyze.tsne_map``) on the same seeded latent space, once per
thread setting and repetition, the settings alternating so that a change of
load hits both, and prints wall and CPU seconds per step and the ratio of
every setting to the first. The load average (``os.getloadavg``) is printed
before and after: the ratio depends on it, and on a quiet machine more
threads should win.

  python benchmarks/analysis_threads.py                     # 1 thread vs every core
  python benchmarks/analysis_threads.py --threads=1,2,4 --repeats=2

TensorFlow's own thread pools (the mixtures' EM and k-means) are fixed when
TensorFlow starts and are the same in every setting here.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
from absl import app, flags

_N = flags.DEFINE_integer("num_points", 6000, "Galaxies in the latent space.")
_DIMS = flags.DEFINE_integer("dims", 4, "Latent dimensions.")
_TSNE_POINTS = flags.DEFINE_integer("tsne_points", 3000, "Points in the t-SNE map.")
_THREADS = flags.DEFINE_list(
    "threads", None, "Thread settings to compare, the first the reference (default: 1,<CPUs>)."
)
_REPEATS = flags.DEFINE_integer("repeats", 1, "Runs of each setting (alternating).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the data and of the analysis.")

STEPS = ("choose_k", "infer_classes", "tsne_map")


def latent_space(n: int, dims: int, seed: int):
    """Seeded Embeddings: four Gaussian classes of unequal size and width, 60/20/20 split."""
    from tfelg.analysis.embeddings import Embeddings

    rng = np.random.default_rng(seed)
    classes = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    centres = rng.normal(0.0, 3.0, size=(4, dims))
    widths = np.array([1.0, 0.7, 1.3, 0.5])
    latent = centres[classes] + rng.normal(size=(n, dims)) * widths[classes, None]
    split = rng.choice(["train", "validation", "test"], size=n, p=[0.6, 0.2, 0.2])
    return Embeddings(
        object_id=np.arange(n).astype(str),
        split=split,
        latent=latent,
        redshift=np.zeros(n, dtype=np.float32),
        labels={"kind": classes.astype(np.int32)},
        class_names={"kind": ["a", "b", "c", "d"]},
        representation="blobs",
    )


def run_once(emb, num_threads: int, seed: int, steps=STEPS) -> dict:
    """Wall and CPU seconds of each of ``steps`` with ``num_threads``."""
    from tfelg.analysis import analyze

    config = analyze.AnalysisConfig(
        k_max=6,
        gap_references=3,
        gap_n_init=3,
        n_bootstrap=50,
        tsne_max_points=_TSNE_POINTS.value,
        num_threads=num_threads,
        seed=seed,
    )
    out = {}
    wall, cpu = time.perf_counter(), time.process_time()

    def lap(step):
        nonlocal wall, cpu
        now_wall, now_cpu = time.perf_counter(), time.process_time()
        out[step] = (now_wall - wall, now_cpu - cpu)
        wall, cpu = now_wall, now_cpu

    selection = analyze.choose_k(emb, config).to_dict()
    lap("choose_k")
    analyze.infer_classes(emb, selection["chosen_k"], config, log=lambda line: None)
    lap("infer_classes")
    if "tsne_map" in steps:
        analyze.tsne_map(emb, config)
        lap("tsne_map")
    return out


def main(argv):
    del argv
    from tfelg.process_pool import available_cpus

    settings = [int(t) for t in (_THREADS.value or ["1", str(available_cpus())])]
    emb = latent_space(_N.value, _DIMS.value, _SEED.value)
    print(
        f"{platform.processor() or platform.machine()}, {available_cpus()} CPUs available; "
        f"{_N.value} x {_DIMS.value} latent, t-SNE of {_TSNE_POINTS.value}; "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    # Warm-up: TensorFlow traces the sweep's passes for these shapes once.
    run_once(emb, settings[0], _SEED.value, steps=("choose_k", "infer_classes"))
    results = {t: [] for t in settings}
    for r in range(_REPEATS.value):
        for t in settings:
            res = run_once(emb, t, _SEED.value)
            results[t].append(res)
            print(
                f"  repeat {r}, {t} thread(s): "
                + ", ".join(f"{s} {res[s][0]:.1f} s wall / {res[s][1]:.1f} s CPU" for s in STEPS),
                flush=True,
            )
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())

    def total(t, i):  # median over repeats of the summed steps
        return float(np.median([sum(res[s][i] for s in STEPS) for res in results[t]]))

    ref = settings[0]
    print(
        f"\n| threads | {' | '.join(f'{s} wall s' for s in STEPS)} | total wall s | CPU s | "
        f"wall / {ref} thread(s) |"
    )
    print("|" + "---|" * (len(STEPS) + 4))
    for t in settings:
        steps = [float(np.median([res[s][0] for res in results[t]])) for s in STEPS]
        print(
            f"| {t} | {' | '.join(f'{x:.1f}' for x in steps)} | {total(t, 0):.1f} | "
            f"{total(t, 1):.1f} | {total(t, 0) / total(ref, 0):.2f} |"
        )
    print(f"load average after: {load_after}")


if __name__ == "__main__":
    app.run(main)
