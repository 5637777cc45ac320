r"""tfelg-morphology: Gini, M20, CAS, Sersic index and classes of galaxies in FITS images.

  tfelg-morphology --input=ngc4472_f814w.fits --output=morph.fits
  tfelg-morphology --input=mosaic_f160w.fits --ra=53.1208 --dec=-27.8060 --output=one.fits
  tfelg-morphology --input=stamps/ --catalogue=targets.fits --output=morph.fits

One row per (image, target): statmorph's measurements on a photutils
segment (background subtracted here), the Gini-M20 (Lotz et al. 2008) and
CAS (Conselice 2003) classes, flags, and TRUST_NONPARAMETRIC /
TRUST_SERSIC saying which numbers to believe: a galaxy that overfills its
frame or touches the edge (NO_SKY, EDGE) is measured but not trusted.
"""

from __future__ import annotations

from absl import app, flags

from tfelg.cli import define_path, run_binary
from tfelg.cli.output_paths import USER_ERRORS, check_output_path, error_exit

_INPUT = define_path("input", None, "A FITS image, or a folder of FITS images (any band).")
_OUTPUT = define_path("output", None, "FITS table to write.")
_RA = flags.DEFINE_float("ra", None, "Target RA (deg, ICRS); needs the image's WCS.")
_DEC = flags.DEFINE_float("dec", None, "Target DEC (deg).")
_CATALOGUE = define_path(
    "catalogue", None, "FITS table or CSV with RA, DEC (and ID) columns: one target per row."
)
_PSF = define_path("psf", None, "FITS image of the PSF (odd size, centred) for the Sersic fit.")
_SERSIC = flags.DEFINE_bool("sersic", True, "Fit a Sersic profile (the slowest step).")
_DEBLEND = flags.DEFINE_bool("deblend", False, "Deblend overlapping sources (photutils).")
_DETECT_NSIGMA = flags.DEFINE_float("detect_nsigma", 1.5, "Detection threshold (sky sigma).")
_MIN_AREA = flags.DEFINE_integer("min_area", 10, "Smallest segment (pixels).")
_WORKERS = flags.DEFINE_integer("num_workers", None, "Processes (default: all CPUs).")
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")

flags.mark_flags_as_required(["input", "output"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg import morphology_table
    from tfelg.outputs.fits_table import write_fits_table

    try:
        if _DETECT_NSIGMA.value <= 0 or _MIN_AREA.value < 1:
            raise ValueError("--detect_nsigma must be > 0 and --min_area >= 1")
        output = check_output_path(
            _OUTPUT.value, overwrite=_OVERWRITE.value, example="morphology.fits"
        )
        paths = morphology_table.list_inputs(_INPUT.value)
        psf = morphology_table.read_image(_PSF.value).data if _PSF.value else None
        columns = morphology_table.measure_files(
            paths,
            ra=_RA.value,
            dec=_DEC.value,
            catalogue=_CATALOGUE.value,
            psf=psf,
            num_workers=_WORKERS.value,
            sersic=_SERSIC.value,
            deblend=_DEBLEND.value,
            detect_nsigma=_DETECT_NSIGMA.value,
            min_area=_MIN_AREA.value,
        )
        path = write_fits_table(
            output,
            columns,
            header={"CREATOR": "tfelg-morphology", "GM20REF": "Lotz et al. 2008, ApJ 672, 177"},
            units={k: v for k, v in morphology_table.COLUMN_UNITS.items() if k in columns},
            descriptions=morphology_table.COLUMN_DESCRIPTIONS,
            extname="MORPHOLOGY",
            overwrite=_OVERWRITE.value,
        )
    except USER_ERRORS as e:
        return error_exit("tfelg-morphology", e)
    print(morphology_table.format_summary(columns))
    print(f"wrote {len(columns['FILE'])} rows to {path}")
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
