r"""tfelg-classify: WHAN and BPT classes of real SDSS data, as a FITS table.

  tfelg-classify --input=gal_line_dr7_v5_2.fit --info=gal_info_dr7_v5_2.fit \
      --output=classes.fits
  tfelg-classify --input=spectra/ --output=classes.fits   # spec-*.fits files
  tfelg-classify --input=spec-0266-51602-0001.fits --output=one.fits
"""

from __future__ import annotations

import sys

from absl import app, flags

from tfelg import classify
from tfelg.cli import define_path, run_binary
from tfelg.cli.output_paths import USER_ERRORS, check_output_path, error_exit

_INPUT = define_path(
    "input", None, "MPA-JHU line catalogue, an SDSS spec-*.fits file, or a folder of them."
)
_INFO = define_path("info", None, "MPA-JHU info catalogue (redshifts, object ids).")
_OUTPUT = define_path("output", None, "FITS table to write.")
_FORMAT = flags.DEFINE_enum(
    "format", "auto", classify.FORMATS, "Input format; auto: by file name / folder."
)
_SNR_MIN = flags.DEFINE_float("snr_min", 3.0, "S/N threshold for lines used by the schemes.")
_EW_CONVENTION = flags.DEFINE_enum(
    "ew_convention",
    "emission_negative",
    ["emission_negative", "emission_positive"],
    "Sign of emission EWs in an MPA-JHU catalogue (MPA-JHU: negative). Output is always "
    "emission-positive.",
)
_OVERWRITE = flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")

flags.mark_flags_as_required(["input", "output"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        # Settings and the output first: a bad one fails before minutes of reading.
        snr_min = classify.check_snr_min(_SNR_MIN.value)
        output = check_output_path(
            _OUTPUT.value, overwrite=_OVERWRITE.value, example="classes.fits"
        )
        table = classify.read_input(
            _INPUT.value,
            info_path=_INFO.value,
            fmt=_FORMAT.value,
            ew_convention=_EW_CONVENTION.value,
            warn=_warn,
        )
        result = classify.classify(table, snr_min=snr_min)
        path = classify.write_classification(
            output, table, result, snr_min=snr_min, overwrite=_OVERWRITE.value
        )
    except USER_ERRORS as e:
        return error_exit("tfelg-classify", e)
    print(classify.format_counts(result))
    print(f"wrote {len(table)} rows to {path}")
    return 0


def _warn(message: str) -> None:
    print(f"tfelg-classify: warning: {message}", file=sys.stderr, flush=True)


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
