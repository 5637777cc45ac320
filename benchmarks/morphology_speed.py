r"""Cost of tfelg.morphology.measure per galaxy, with and without what it skips, in one run.

The hst_galaxies builder measures every galaxy with statmorph; at 2,000
galaxies that was ~1,100 s of a ~1,150 s build on two loaded cores, so the
build could not reach 10^4 galaxies. Four ways of measuring the same
synthetic F850LP stamps (hst_galaxies' morphology band, its PSF), one
process, one core, in this order:

* ``statmorph``: statmorph 0.7.2 as it comes (every quantity, its 1e-6 px
  asymmetry-centre search, the Sersic fit with the PSF);
* ``before``: tfelg until this benchmark (0.01 px centre search; every
  quantity, the multimode statistic and the Sersic fit included);
* ``sersic``: tfelg now with ``sersic=True`` (the multimode statistic,
  which tfelg never stored, skipped);
* ``default``: tfelg now with ``sersic=False``, the builder's default
  (config ``synthetic``; ``synthetic_sersic`` fits).

Prints CPU and wall seconds per galaxy, the ratios against ``before``, and
the largest difference of Gini, M20, C, A and the half-light radius between
each way and ``before`` (skipping must not change them), plus flag agreement.

    python benchmarks/morphology_speed.py --num_galaxies=60
"""

from __future__ import annotations

import os
import time
from unittest import mock

import numpy as np
from absl import app, flags

_NUM = flags.DEFINE_integer("num_galaxies", 60, "Galaxies measured by each way.")
_SEED = flags.DEFINE_integer("seed", 0, "Sample seed.")

COMPARED = ("gini", "m20", "concentration", "asymmetry", "rhalf_circ")


def _measure_all(band, psf, *, sersic: bool, skip_unused: bool, plain: bool):
    from tfelg import morphology

    patches = []
    if not skip_unused:
        patches.append(mock.patch.object(morphology, "UNUSED_QUANTITIES", frozenset()))
    if plain:
        patches.append(
            mock.patch.object(morphology, "_source_morphology", lambda base, skip=(): base)
        )
    for p in patches:
        p.start()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        results = [morphology.measure(im, psf=psf, sersic=sersic) for im in band]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        for p in patches:
            p.stop()
    return results, cpu / len(band), wall / len(band)


def main(argv):
    del argv
    from tfelg import morphology
    from tfelg.synthetic import hst_galaxies as hst

    n = _NUM.value
    sample = hst.generate(n, _SEED.value, num_workers=1)
    band = sample.image[:, :, :, hst.BANDS.index(morphology.MORPHOLOGY_BAND)]
    psf = hst.psf_image(morphology.MORPHOLOGY_BAND)
    ways = {
        "statmorph": dict(sersic=True, skip_unused=False, plain=True),
        "before": dict(sersic=True, skip_unused=False, plain=False),
        "sersic": dict(sersic=True, skip_unused=True, plain=False),
        "default": dict(sersic=False, skip_unused=True, plain=False),
    }
    load = os.getloadavg()
    print(f"{n} galaxies of hst_galaxies/synthetic (seed {_SEED.value}), F850LP, one core")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    out = {}
    for name, kw in ways.items():
        out[name] = _measure_all(band, psf, **kw)
    ref = morphology.as_columns(out["before"][0])
    print(
        "\n| way | CPU s/galaxy | wall s/galaxy | CPU vs before | "
        + " | ".join(f"max abs d{c}" for c in COMPARED)
        + " | flags equal |"
    )
    print("|---" * (5 + len(COMPARED)) + "|")
    for name, (results, cpu, wall) in out.items():
        cols = morphology.as_columns(results)
        diffs = []
        for c in COMPARED:
            d = np.abs(cols[c] - ref[c])
            both_nan = np.isnan(cols[c]) & np.isnan(ref[c])
            diffs.append(f"{np.nanmax(np.where(both_nan, 0.0, d)):.2g}")
        same = int(np.sum((cols["flags"] & ~128) == (ref["flags"] & ~128)))
        print(
            f"| {name} | {cpu:.3f} | {wall:.3f} | {out['before'][1] / cpu:.2f}x | "
            + " | ".join(diffs)
            + f" | {same}/{n} |"
        )
    print("(flags compared without SERSIC_BAD, which `default` sets by design)")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    app.run(main)
