"""Readers of real data files (FITS) into tfelg's in-memory formats.

* :mod:`tfelg.io.mpajhu`: MPA-JHU DR7/DR8 line + info catalogues.
* :mod:`tfelg.io.sdss_spec`: SDSS ``spec-PLATE-MJD-FIBER.fits`` files.
* :mod:`tfelg.io.fits_open`: what they share (checked opening, column
  lookup, the rule for unusable values).

Every reader accepts a path or a binary file object and reports bad input as
:class:`tfelg.errors.InputError` naming the file, HDU and column.
"""

from tfelg.io.fits_open import mask_report
from tfelg.io.mpajhu import read_mpajhu
from tfelg.io.sdss_spec import (
    SdssSpectrum,
    list_spec_files,
    read_spec_file,
    read_spec_folder,
    rest_frame_spectrum,
)

__all__ = [
    "SdssSpectrum",
    "list_spec_files",
    "mask_report",
    "read_mpajhu",
    "read_spec_file",
    "read_spec_folder",
    "rest_frame_spectrum",
]
