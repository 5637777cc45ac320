r"""Memory and time of the embedding exporter: streamed batch by batch against splits read whole.

    python benchmarks/exporter_stream.py                      # 10^5 and 3 x 10^5 galaxies
    python benchmarks/exporter_stream.py --sizes=20000,100000

For each size, an `emission_lines` synthetic dataset is built and a d = 2 AE
trained on it for one epoch (the components of the pipeline, in a temporary
run root); then the pipeline's `embedding_exporter` writes the AE's, PCA's and
the line ratios' embeddings two ways, each in a fresh process:

* ``whole``: the exporter's path for a domain without batch baselines (what
  every domain did before issue 15): every split's line features read into
  memory (`common.load_dataset`), each representation computed on them and
  saved;
* ``streamed``: the exporter as the `emission_lines` domain runs it now
  (`tfelg.analysis.embeddings.write_streamed`): the dataset read in batches of
  4,096 galaxies (`tfelg.data.split_batches`), each representation's rows spooled to disk as they
  come, the `.npz` files assembled at the end.

In each process the libraries are imported first, then the peak-RSS mark is
reset (``/proc/self/clear_refs``, Linux), so "+MB" is what the export needed
on top of an idle process. The two ways' files are compared array by array
(PCA to 1e-5: its scatter matrix is summed in other batches) before the ratios
are printed.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from unittest import mock

import numpy as np
import peak_memory
from absl import app, flags

_SIZES = flags.DEFINE_list("sizes", ["100000", "300000"], "Numbers of galaxies.")
_WAY = flags.DEFINE_enum("way", None, ["whole", "streamed"], "Internal: measure one way here.")
_DATASET = flags.DEFINE_string("dataset", None, "Internal: the Dataset artifact's folder.")
_MODEL = flags.DEFINE_string("model", None, "Internal: the Model artifact's folder.")
_OUT = flags.DEFINE_string("out", None, "Internal: the Embeddings folder to write.")

REPRESENTATIONS = ("ae", "pca", "line_ratios")


def _measure_here() -> None:
    import tensorflow as tf  # noqa: F401  (imports are not the export's memory)

    from tfelg.analysis import embeddings  # noqa: F401
    from tfelg.training import loop  # noqa: F401
    from tfelg_components import base, domains, training
    from tfelg_components import emission_lines as el

    os.makedirs(_OUT.value)
    context = base.Context(root=_OUT.value, node="embedding_exporter", execution="x", work_dir="")
    kwargs = dict(
        dataset=base.Dataset(_DATASET.value),
        model=base.Model(_MODEL.value),
        embeddings=base.Embeddings(_OUT.value),
        context=context,
        baselines=None,
    )
    whole_domain = dataclasses.replace(el.DOMAIN, batch_baselines={})
    with peak_memory.Measured() as measured:
        if _WAY.value == "whole":
            with mock.patch.object(domains, "domain_of", return_value=whole_domain):
                training.embedding_exporter.fn(**kwargs)
        else:
            training.embedding_exporter.fn(**kwargs)
    measured.print_json()


def _run(way: str, dataset: str, model: str, out: str) -> dict:
    return peak_memory.run_fresh(
        __file__, f"the {way} export", way=way, dataset=dataset, model=model, out=out
    )


def _same_files(a: str, b: str) -> None:
    from tfelg.analysis.embeddings import Embeddings

    for name in REPRESENTATIONS:
        x = Embeddings.load(os.path.join(a, f"{name}.npz"), mmap=False)
        y = Embeddings.load(os.path.join(b, f"{name}.npz"), mmap=False)
        atol = 1e-5 if name == "pca" else 0.0
        same = (
            np.array_equal(x.object_id, y.object_id)
            and np.array_equal(x.split, y.split)
            and np.allclose(x.latent, y.latent, rtol=0, atol=atol)
            and all(np.array_equal(x.labels[k], y.labels[k]) for k in x.labels)
        )
        if not same:
            raise SystemExit(f"the two exports differ in {name}")


def _prepare(root: str, n: int) -> tuple[str, str]:
    from tfelg_components import emission_lines as el
    from tfelg_components import runner, training

    data = runner.execute(el.dataset_gen, root, params={"num_galaxies": n, "seed": 0})
    dataset = data.outputs["dataset"]
    params = {"epochs": 1, "latent_dim": 2, "model_name": "ae"}
    model = runner.execute(training.trainer, root, {"dataset": dataset}, params)
    return dataset.uri, model.outputs["model"].uri


def main(argv):
    del argv
    if _WAY.value:
        _measure_here()
        return
    rows = []
    for n in (int(s) for s in _SIZES.value):
        with tempfile.TemporaryDirectory() as root:
            print(f"{n:,} galaxies: building the dataset and training the AE...", flush=True)
            dataset, model = _prepare(root, n)
            outs = {way: os.path.join(root, f"export_{way}") for way in ("whole", "streamed")}
            results = {way: _run(way, dataset, model, out) for way, out in outs.items()}
            _same_files(outs["whole"], outs["streamed"])
            rows.append((n, results))
            print(f"{n:,} galaxies: {results}", flush=True)
    print("\nembedding_exporter (AE, PCA, line ratios); the two ways' files hold the same values")
    print(f"{'galaxies':>10} {'way':<9} {'seconds':>8} {'+MB':>7}")
    for n, results in rows:
        for way, r in results.items():
            print(f"{n:>10,} {way:<9} {r['seconds']:8.1f} {r['rise_mb']:7.0f}")
        w, s = results["whole"], results["streamed"]
        print(
            f"{n:>10,} streamed / whole: memory x{s['rise_mb'] / w['rise_mb']:.2f}, "
            f"time x{s['seconds'] / w['seconds']:.2f}"
        )
    if len(rows) > 1:  # what each galaxy adds: the growth between the first and last size
        (n1, first), (n2, last) = rows[0], rows[-1]
        for way in ("whole", "streamed"):
            slope = (last[way]["rise_mb"] - first[way]["rise_mb"]) * 2**20 / (n2 - n1)
            print(f"{way}: +{slope:.0f} bytes a galaxy from {n1:,} to {n2:,} galaxies")


if __name__ == "__main__":
    app.run(main)
