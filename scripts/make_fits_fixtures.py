"""Writes tiny MPA-JHU and SDSS spec FITS files in the real formats.

The files are what tfelg's real readers are tested on and what the TFDS
``emission_lines`` builder uses as dummy data; they are small (KB to ~200 KB
each) and seeded, so re-running with the same flags writes the same values.
Layout (the TFDS ``manual_dir`` layout)::

  <output_dir>/mpajhu/     gal_line_dr7_v5_2.fit + gal_info_dr7_v5_2.fit (and/or DR8)
  <output_dir>/sdss_spec/  spec-PLATE-MJD-FIBER.fits
  <output_dir>/broken/     with --with_broken: not FITS, truncated, missing
                           column, missing HDU, wrong HDU

Usage:
  python scripts/make_fits_fixtures.py --output_dir=/tmp/fixtures
"""

from __future__ import annotations

from absl import app, flags, logging

from tfelg.testing import fits_fixtures

_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder to write into.", required=True)
_SEED = flags.DEFINE_integer("seed", 0, "Random seed.")
_NUM_GALAXIES = flags.DEFINE_integer(
    "num_galaxies",
    12,
    f"Rows of the MPA-JHU catalogues (at least {fits_fixtures.MIN_MPAJHU_ROWS}).",
)
_NUM_SPECTRA = flags.DEFINE_integer(
    "num_spectra",
    12,
    "Number of SDSS spec files (~175 KB each). With seed 0, 12 is the fewest that give the "
    "emission_lines builder's id-hashed train, validation and test splits an example each.",
)
_MPAJHU_RELEASE = flags.DEFINE_enum(
    "mpajhu_release", "dr7", ["dr7", "dr8", "both"], "Which MPA-JHU file pair(s) to write."
)
_WITH_BROKEN = flags.DEFINE_bool("with_broken", False, "Also write the broken files.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    written = fits_fixtures.write_fixture_tree(
        _OUTPUT_DIR.value,
        seed=_SEED.value,
        num_galaxies=_NUM_GALAXIES.value,
        num_spectra=_NUM_SPECTRA.value,
        mpajhu_release=_MPAJHU_RELEASE.value,
        with_broken=_WITH_BROKEN.value,
    )
    for kind, paths in written.items():
        for path in paths:
            logging.info("wrote %s file %s", kind, path)


if __name__ == "__main__":
    app.run(main)
