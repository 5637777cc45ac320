r"""Memory and time of a mixture's prediction: in blocks of rows against the whole array at once.

    python benchmarks/mixture_predict.py                  # 10^6 points, d = 5, K = 10
    python benchmarks/mixture_predict.py --rows=300000 --clusters=5

The clusterer gives every galaxy its membership probabilities
(:func:`tfelg.analysis.gmm.predict_proba`). Two ways, each in a fresh process:

* ``whole array``: every row at once (what tfelg did before; scikit-learn's
  ``predict_proba`` does the same), by setting
  :data:`tfelg.analysis.mixture.PREDICT_ROWS` above N;
* ``blocks``: as it is now, :data:`tfelg.analysis.mixture.PREDICT_ROWS` rows at a time.

The points (float32, as the embeddings are stored) and the mixture (fitted on
the first 20,000 points) are made first; then the process's peak-RSS mark is
reset (``/proc/self/clear_refs``, Linux) and the prediction measured, so "+MB"
includes the (N, K) float64 result itself. The two results are compared before
the ratios are printed.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import peak_memory
from absl import app, flags

_ROWS = flags.DEFINE_integer("rows", 1_000_000, "Points (galaxies).")
_CLUSTERS = flags.DEFINE_integer("clusters", 10, "K of the mixture.")
_DIM = flags.DEFINE_integer("dim", 5, "Dimensions d (the line ratios' 5).")
_WAY = flags.DEFINE_enum("way", None, ["whole", "blocks"], "Internal: measure one way and exit.")
_PATH = flags.DEFINE_string("path", None, "Internal: where the measured way saves its result.")

WAYS = {"whole": "whole array", "blocks": "blocks"}


def _measure_one(way: str, path: str) -> None:
    from tfelg.analysis import gmm, mixture

    rng = np.random.default_rng(0)
    x = rng.normal(size=(_ROWS.value, _DIM.value)).astype(np.float32)
    fit = gmm.fit_gmm(x[:20_000], _CLUSTERS.value, seed=0)
    if way == "whole":
        mixture.PREDICT_ROWS = x.shape[0]
    with peak_memory.Measured() as measured:
        proba = gmm.predict_proba(fit, x)
    np.save(path, proba)
    measured.print_json()


def main(argv):
    del argv
    if _WAY.value:
        _measure_one(_WAY.value, _PATH.value)
        return
    from tfelg.analysis import mixture

    print(
        f"{_ROWS.value:,} points, d = {_DIM.value}, K = {_CLUSTERS.value}; "
        f"blocks of {mixture.PREDICT_ROWS:,} rows; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for way in WAYS:
            path = os.path.join(scratch, f"{way}.npy")
            results[way] = peak_memory.run_fresh(__file__, WAYS[way], way=way, path=path)
            print(
                f"  {WAYS[way]:<12s} +{results[way]['rise_mb']:7.0f} MB  "
                f"{results[way]['seconds']:6.2f} s",
                flush=True,
            )
        whole, blocks = (np.load(os.path.join(scratch, f"{w}.npy")) for w in WAYS)
        difference = float(np.max(np.abs(whole - blocks)))
    if difference > 1e-12:
        raise SystemExit(f"the two ways disagree by {difference:.3g}")
    print(f"  same probabilities (largest difference {difference:.1g})")
    print(
        f"blocks / whole array: memory x{results['blocks']['rise_mb'] / results['whole']['rise_mb']:.2f}, "
        f"time x{results['blocks']['seconds'] / results['whole']['seconds']:.2f}"
    )


if __name__ == "__main__":
    app.run(main)
