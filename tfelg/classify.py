"""Classical WHAN/BPT classification of real catalogues, as a FITS table.

The library behind ``tfelg-classify``: read an MPA-JHU line catalogue (with
its info file), one SDSS spec file, or a folder of them; classify every
object with :mod:`tfelg.schemes`; write one row per object with the ratios
used, both classes and flags saying why an object could not be classified.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Callable

import numpy as np
from absl import logging

import tfelg
from tfelg import lines, schemes
from tfelg.errors import InputError
from tfelg.outputs.fits_table import write_fits_table

FORMATS = ("auto", "mpajhu", "sdss_spec")

# FLAGS bits: why a class may be missing or weak. 0 means nothing to report.
FLAG_BITS: dict[str, int] = {
    "HALPHA_MISSING": 1,  # Halpha flux or EW not finite / not positive
    "NII_MISSING": 2,  # [NII]6584 flux not finite / not positive
    "OIII_MISSING": 4,
    "HBETA_MISSING": 8,
    "WHAN_LOW_SN": 16,  # WHAN needed log([NII]/Ha) but S/N < threshold
    "BPT_LOW_SN": 32,  # a BPT line has S/N < threshold
    "BAD_REDSHIFT": 64,  # redshift missing or negative
}


def detect_format(path) -> str:
    """``sdss_spec`` for a folder or a ``spec-*.fits`` file, else ``mpajhu``."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return "sdss_spec"
    if fnmatch.fnmatch(os.path.basename(path), "spec-*.fits"):
        return "sdss_spec"
    return "mpajhu"


def check_snr_min(snr_min) -> float:
    """``snr_min`` as a float, or ValueError: a threshold must be a finite number >= 0.

    NaN would make every S/N comparison false (every galaxy ``low_sn``) and
    inf the same; checked before any file is read.
    """
    try:
        value = float(snr_min)
    except (TypeError, ValueError):
        raise ValueError(f"--snr_min must be a number, got {snr_min!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"--snr_min must be a finite number >= 0, got {snr_min!r}")
    return value


def read_input(
    path,
    *,
    info_path=None,
    fmt: str = "auto",
    ew_convention: str = "emission_negative",
    warn: Callable[[str], None] = logging.warning,
) -> lines.LineTable:
    """Reads any supported input into a :class:`~tfelg.lines.LineTable`.

    A folder of spec files may hold one object in several files (the same
    spectrum downloaded twice into different sub-folders): each object is
    kept once, from the first of its files in path order (the order of
    :func:`tfelg.io.sdss_spec.list_spec_files`), and ``warn`` receives one
    message with the count and examples.
    """
    from tfelg.io import mpajhu, sdss_spec  # astropy only when needed

    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError("input not found", path=path)
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "sdss_spec":
        if info_path is not None:
            raise ValueError("--info applies to MPA-JHU catalogues, not to SDSS spec files")
        if os.path.isdir(path):
            # Line measurements only: no need to resample every spectrum.
            files = sdss_spec.list_spec_files(path)
            return _without_duplicates(
                [(f, sdss_spec.read_spec_file(f).lines) for f in files], warn
            )
        return sdss_spec.read_spec_file(path).lines
    return mpajhu.read_mpajhu(path, info_path, ew_convention=ew_convention)


def _without_duplicates(read: list, warn: Callable[[str], None]) -> lines.LineTable:
    """Concatenates ``[(file, LineTable)]``, keeping each object id from its first file."""
    first_file: dict[str, object] = {}
    dropped: list[tuple[str, object]] = []
    keep = []
    for path, table in read:
        rows = []
        for row, object_id in enumerate(table.object_id):
            if object_id in first_file:
                dropped.append((object_id, path))
            else:
                first_file[object_id] = path
                rows.append(row)
        keep.append(table if len(rows) == len(table) else table.subset(np.array(rows, int)))
    if dropped:
        examples = "; ".join(
            f"{object_id}: kept {first_file[object_id]}, skipped {path}"
            for object_id, path in dropped[:3]
        )
        more = f" (and {len(dropped) - 3} more)" if len(dropped) > 3 else ""
        warn(
            f"{len(dropped)} duplicate spectra: their objects were already read from another "
            f"file; each object is kept once, from its first file in path order: {examples}{more}"
        )
    return lines.LineTable.concatenate(keep)


def classify(table: lines.LineTable, snr_min: float = 3.0) -> dict[str, np.ndarray]:
    """Classes, ratios and FLAGS for every row of ``table``."""
    snr_min = check_snr_min(snr_min)
    result = schemes.classify_table(table, snr_min=snr_min)

    def missing(name):
        flux = table.line(name, "flux")
        with np.errstate(invalid="ignore"):
            return ~(np.isfinite(flux) & (flux > 0))

    ha_ew = table.line("H_ALPHA", "ew")
    flags = np.zeros(len(table), dtype=np.int32)
    flags |= np.where(missing("H_ALPHA") | ~np.isfinite(ha_ew), FLAG_BITS["HALPHA_MISSING"], 0)
    flags |= np.where(missing("NII_6584"), FLAG_BITS["NII_MISSING"], 0)
    flags |= np.where(missing("OIII_5007"), FLAG_BITS["OIII_MISSING"], 0)
    flags |= np.where(missing("H_BETA"), FLAG_BITS["HBETA_MISSING"], 0)
    flags |= np.where(result["whan"] == schemes.WHAN["low_sn"], FLAG_BITS["WHAN_LOW_SN"], 0)
    flags |= np.where(result["bpt"] == schemes.BPT["low_sn"], FLAG_BITS["BPT_LOW_SN"], 0)
    with np.errstate(invalid="ignore"):
        bad_z = ~np.isfinite(table.redshift) | (table.redshift < 0)
    flags |= np.where(bad_z, FLAG_BITS["BAD_REDSHIFT"], 0)
    result["flags"] = flags
    return result


def write_classification(
    path, table: lines.LineTable, result: dict[str, np.ndarray], *, snr_min: float, overwrite=False
) -> str:
    """One row per object: id, redshift, ratios, EWs, classes, flags."""
    columns = {
        "OBJID": table.object_id,
        "Z": table.redshift,
        "LOG_NII_HA": result["log_nii_ha"],
        "LOG_OIII_HB": result["log_oiii_hb"],
        "LOG_SII_HA": result["log_sii_ha"],
        "LOG_OI_HA": result["log_oi_ha"],
        "EW_HA": result["ew_ha"],
        "EW_NII": result["ew_nii"],
        "WHAN": np.array(schemes.WHAN_NAMES)[result["whan"]],
        "BPT": np.array(schemes.BPT_NAMES)[result["bpt"]],
        "WHAN_CODE": result["whan"].astype(np.int16),
        "BPT_CODE": result["bpt"].astype(np.int16),
        "FLAGS": result["flags"],
    }
    descriptions = {
        "LOG_NII_HA": "log10 [NII]6584/Halpha",
        "LOG_OIII_HB": "log10 [OIII]5007/Hbeta",
        "LOG_SII_HA": "log10 ([SII]6717+6731)/Halpha",
        "LOG_OI_HA": "log10 [OI]6300/Halpha",
        "EW_HA": "EW(Halpha), emission-positive",
        "EW_NII": "EW([NII]6584), emission-positive",
        "WHAN": "Cid Fernandes et al. 2011",
        "BPT": "Kauffmann 03 / Kewley 01 / Kewley 06",
        "FLAGS": "bits: " + ",".join(f"{v}={k}" for k, v in FLAG_BITS.items()),
    }
    header = {
        "ORIGIN": f"tfelg {tfelg.__version__}",
        "SNRMIN": (snr_min, "S/N threshold of the schemes"),
        "SOURCE": (os.path.basename(table.source)[:60] if table.source else "", "input"),
    }
    for name, bit in FLAG_BITS.items():
        header[f"FLAG_{name}"] = bit
    return write_fits_table(
        path,
        columns,
        header=header,
        units={"EW_HA": "Angstrom", "EW_NII": "Angstrom"},
        descriptions=descriptions,
        extname="CLASSES",
        overwrite=overwrite,
    )


def format_counts(result: dict[str, np.ndarray]) -> str:
    """A small text table of class counts for the terminal."""
    out = []
    for title, codes, names in (
        ("WHAN", result["whan"], schemes.WHAN_NAMES),
        ("BPT", result["bpt"], schemes.BPT_NAMES),
    ):
        counts = schemes.class_counts(codes, names)
        total = max(1, sum(counts.values()))
        out.append(f"{title} classes ({sum(counts.values())} objects):")
        for name, count in counts.items():
            out.append(f"  {name:<14s} {count:>9d}  {100.0 * count / total:5.1f}%")
    return "\n".join(out)
