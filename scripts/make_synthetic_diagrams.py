"""Draws the synthetic sample on the BPT and WHAN diagrams (the docs/ figures).

Usage: python scripts/make_synthetic_diagrams.py [N] [OUTPUT_DIR]
(defaults: 20000 galaxies, docs/). Writes ``synthetic_bpt_whan.png`` (top
row: the true classes on the [N II], [S II] and [O I] BPT diagrams and
WHAN; bottom row: the classes tfelg.schemes gives, BPT on the three BPT
diagrams and WHAN on WHAN) and ``synthetic_true_class.png`` (the true classes
alone, 2 x 2). Galaxies with S/N < 3 in a line of a diagram are drawn small
and faint there. Prints the true-class vs scheme tables.
"""

import sys
import time

from PIL import Image

from tfelg import atomic, schemes
from tfelg.dataset_report import contingency_text
from tfelg.outputs import diagrams
from tfelg.synthetic import emission_lines as el

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
out = sys.argv[2] if len(sys.argv) > 2 else "docs"
t = time.time()
sample = el.generate(n, seed=0, with_spectrum=False)
print("generated in", round(time.time() - t, 2), "s")
r = schemes.classify_table(sample.lines)
tc, tn = sample.true_class, el.TRUE_CLASS_NAMES

truth = diagrams.bpt_whan_panels(sample.lines, tc, tn, label="true class")
found = diagrams.bpt_whan_panels(
    sample.lines,
    r["bpt"],
    schemes.BPT_NAMES,
    whan_classes=r["whan"],
    whan_class_names=schemes.WHAN_NAMES,
    label="tfelg.schemes class",
)
diagrams.plot_panels(
    truth + found,
    f"{out}/synthetic_bpt_whan.png",
    title=f"tfelg synthetic emission-line galaxies (N = {n:,}, seed 0): "
    "true classes (top) and the classes the BPT and WHAN schemes give (bottom)",
    ncols=4,
    dpi=100,
)
diagrams.plot_bpt_whan(
    sample.lines,
    tc,
    tn,
    f"{out}/synthetic_true_class.png",
    title=f"Synthetic sample by true class (N = {n:,}, seed 0, all galaxies)",
)


def shrink(path):
    """Re-saves a docs PNG with a 256-colour palette: a third of the bytes, same look."""
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(256, Image.Quantize.MEDIANCUT, dither=0)
    with atomic.atomic_open(path, "wb") as f:
        palette.save(f, format="PNG", optimize=True)


for name in ("synthetic_bpt_whan.png", "synthetic_true_class.png"):
    shrink(f"{out}/{name}")

print(contingency_text(tc, tn, r["whan"], schemes.WHAN_NAMES, "true \\ WHAN"))
print(contingency_text(tc, tn, r["bpt"], schemes.BPT_NAMES, "true \\ BPT"))
