r"""Memory and time of the trainer: inputs streamed from the dataset against splits held in memory.

    python benchmarks/trainer_stream.py                       # 3 x 10^4 and 10^5 galaxies
    python benchmarks/trainer_stream.py --sizes=20000 --inputs=spectrum

For each size an `emission_lines` synthetic dataset (with spectra) is built
by the pipeline's `dataset_gen`; then a d = 2 AE is trained on it for
``--epochs`` epochs, for each input (the 10 line features; the ~1,380-pixel
spectra), two ways, each in a fresh process:

* ``memory``: what the `trainer` component did before (and what a script
  that passes ``splits=`` still does): every split's features read whole
  (`common.load_dataset`), preprocessed whole, and trained on;
* ``streamed``: the `trainer` component now (`tfelg.training.splits.DatasetSplits`):
  the training split read twice in batches of 4,096 galaxies (once to fit
  the preprocessing, once to spool its inputs), the others once, each batch's
  ``(x, w)`` written to disk and the training batches gathered from the
  mapped files (`tfelg.training.inputs`).

In each process the libraries are imported first, then the peak-RSS mark is
reset (``/proc/self/clear_refs``, Linux), so "+MB" is what training needed
on top of an idle process. The two ways' models are compared weight by
weight (they must be equal, bit for bit) before the ratios are printed.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import peak_memory
from absl import app, flags

_SIZES = flags.DEFINE_list("sizes", ["30000", "100000"], "Numbers of galaxies.")
_INPUTS = flags.DEFINE_list("inputs", ["lines", "spectrum"], "Model inputs.")
_EPOCHS = flags.DEFINE_integer("epochs", 1, "Epochs per training.")
_WAY = flags.DEFINE_enum("way", None, ["memory", "streamed"], "Internal: measure one way here.")
_DATASET = flags.DEFINE_string("dataset", None, "Internal: the Dataset artifact's folder.")
_INPUT = flags.DEFINE_string("input", None, "Internal: the model input.")
_OUT = flags.DEFINE_string("out", None, "Internal: the workdir to train in.")


def _config(dataset, input: str):
    from tfelg.training.config import ExperimentConfig, ModelConfig, TrainerConfig
    from tfelg_components import common

    return ExperimentConfig(
        data=common.data_config(dataset, input),
        model=ModelConfig(name="ae", latent_dim=2),
        trainer=TrainerConfig(epochs=_EPOCHS.value, batch_size=200, seed=0),
    )


def _measure_here() -> None:
    import tensorflow as tf  # noqa: F401  (imports are not training's memory)

    from tfelg.training import loop
    from tfelg_components import base, common

    dataset = base.Dataset(_DATASET.value)
    config = _config(dataset, _INPUT.value)
    with peak_memory.Measured() as measured:
        if _WAY.value == "memory":
            _, splits = common.load_dataset(dataset, _INPUT.value)
        else:
            splits = loop.DatasetSplits(loop.open_dataset(config.data))
        loop.train_and_evaluate(config, _OUT.value, splits=splits, log=lambda _: None)
    measured.print_json()


def _run(way: str, dataset: str, input: str, out: str) -> dict:
    return peak_memory.run_fresh(
        __file__,
        f"the {way} training",
        way=way,
        dataset=dataset,
        input=input,
        out=out,
        epochs=_EPOCHS.value,
    )


def _same_models(a: str, b: str) -> None:
    from tfelg.training import loop

    for x, y in zip(
        loop.load_trained(a).model.get_weights(),
        loop.load_trained(b).model.get_weights(),
        strict=True,
    ):
        if not np.array_equal(x, y):
            raise SystemExit(f"the models trained in {a} and {b} differ")
    if (
        loop.read_json(f"{a}/metrics.json")["losses"]
        != loop.read_json(f"{b}/metrics.json")["losses"]
    ):
        raise SystemExit(f"the losses of {a} and {b} differ")


def main(argv):
    del argv
    if _WAY.value:
        _measure_here()
        return
    from tfelg_components import emission_lines as el
    from tfelg_components import runner

    rows = []
    for n in (int(s) for s in _SIZES.value):
        with tempfile.TemporaryDirectory() as root:
            print(f"{n:,} galaxies: building the dataset...", flush=True)
            params = {"num_galaxies": n, "seed": 0}
            dataset = runner.execute(el.dataset_gen, root, params=params).outputs["dataset"].uri
            for input in _INPUTS.value:
                outs = {way: os.path.join(root, f"{input}_{way}") for way in ("memory", "streamed")}
                results = {way: _run(way, dataset, input, out) for way, out in outs.items()}
                _same_models(outs["memory"], outs["streamed"])
                rows.append((n, input, results))
                print(f"{n:,} galaxies, {input}: {results}", flush=True)
    print(f"\ntrainer (AE, d = 2, {_EPOCHS.value} epoch(s)); the two ways' models are identical")
    print(f"{'galaxies':>10} {'input':<9} {'way':<9} {'seconds':>8} {'+MB':>7}")
    for n, input, results in rows:
        for way, r in results.items():
            print(f"{n:>10,} {input:<9} {way:<9} {r['seconds']:8.1f} {r['rise_mb']:7.0f}")
        m, s = results["memory"], results["streamed"]
        print(
            f"{n:>10,} {input:<9} streamed / memory: memory x{s['rise_mb'] / m['rise_mb']:.2f}, "
            f"time x{s['seconds'] / m['seconds']:.2f}"
        )
    for input in _INPUTS.value:  # what each galaxy adds: the growth between the first and last size
        sized = [(n, r) for n, i, r in rows if i == input]
        if len(sized) > 1:
            (n1, first), (n2, last) = sized[0], sized[-1]
            for way in ("memory", "streamed"):
                slope = (last[way]["rise_mb"] - first[way]["rise_mb"]) * 2**20 / (n2 - n1)
                print(f"{input} {way}: {slope:+,.0f} bytes a galaxy from {n1:,} to {n2:,}")


if __name__ == "__main__":
    app.run(main)
