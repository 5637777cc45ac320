"""Draws the synthetic sample on the BPT and WHAN diagrams (the docs/ figures).

Usage: python scripts/make_synthetic_diagrams.py [N] [OUTPUT_DIR]
(defaults: 20000 galaxies, docs/). Prints the true-class vs scheme tables.
"""

import sys
import time

import numpy as np

from tfelg import schemes
from tfelg.dataset_report import contingency_text
from tfelg.outputs import diagrams
from tfelg.synthetic import emission_lines as el

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
out = sys.argv[2] if len(sys.argv) > 2 else "docs"
t = time.time()
sample = el.generate(n, seed=0, with_spectrum=False)
print("generated in", round(time.time() - t, 2), "s")
r = schemes.classify_table(sample.lines)
t_ = sample.lines


def snr(name):
    return t_.line(name, "flux") / t_.line(name, "flux_err")


good_bpt = np.ones(n, bool)
for name in ("H_BETA", "OIII_5007", "H_ALPHA", "NII_6584"):
    good_bpt &= snr(name) >= 3
x, y, w = r["log_nii_ha"], r["log_oiii_hb"], r["ew_ha"]
tc, tn = sample.true_class, el.TRUE_CLASS_NAMES
P = diagrams.DiagramPanel
diagrams.plot_panels(
    [
        P(
            "bpt",
            x[good_bpt],
            y[good_bpt],
            tc[good_bpt],
            tn,
            "BPT, S/N >= 3 in the 4 lines: true class",
        ),
        P("whan", x, w, tc, tn, "WHAN: true class"),
        P("bpt", x, y, r["bpt"], schemes.BPT_NAMES, "BPT: BPT class (all)"),
        P("whan", x, w, r["whan"], schemes.WHAN_NAMES, "WHAN: WHAN class"),
    ],
    f"{out}/synthetic_bpt_whan.png",
    title=f"tfelg synthetic emission-line galaxies (N = {n:,}, seed 0)",
)
diagrams.plot_bpt_whan(
    r,
    tc,
    tn,
    f"{out}/synthetic_true_class.png",
    title=f"Synthetic sample by true class (N = {n:,}, seed 0, all galaxies)",
)


print(contingency_text(tc, tn, r["whan"], schemes.WHAN_NAMES, "true \\ WHAN"))
print(contingency_text(tc, tn, r["bpt"], schemes.BPT_NAMES, "true \\ BPT"))
