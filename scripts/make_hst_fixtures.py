"""Writes tiny CANDELS-format mosaics + catalogue, and a realistic elliptical image.

The files are what the ``hst_galaxies/candels`` builder test and the
``tfelg-morphology`` test run on (see :mod:`tfelg.testing.hst_fixtures` for
what they contain). Seeded: re-running writes the same values.

  <output_dir>/candels/   three drizzled mosaics (F435W, F850LP, F160W) and
                          hlsp_candels_hst_wfc3_gs-tot-multiband_f160w_v1_cat.fits
  <elliptical>            an ACS F814W-like FITS image of an elliptical

Usage:
  python scripts/make_hst_fixtures.py \
      --output_dir=datasets/hst_galaxies/dummy_data \
      --elliptical=tests/testdata/elliptical_f814w.fits
"""

from __future__ import annotations

import os

from absl import app, flags

from tfelg.testing import hst_fixtures

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder for candels/.", required=True)
_ELLIPTICAL = flags.DEFINE_string("elliptical", None, "Also write the elliptical image here.")
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")


def main(argv):
    del argv
    info = hst_fixtures.write_candels(os.path.join(_OUTPUT_DIR.value, "candels"), seed=_SEED.value)
    for name, path in info["files"].items():
        print(f"{name}: {path}")
    print(f"kept ids: {info['ids_kept']}; planted galaxy at RA, DEC = {info['align_ra_dec']}")
    if _ELLIPTICAL.value:
        print(hst_fixtures.write_elliptical(_ELLIPTICAL.value, seed=_SEED.value))


if __name__ == "__main__":
    app.run(main)
