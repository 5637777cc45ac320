"""The ten emission lines tfelg works with, and the in-memory line table.

Every reader (MPA-JHU, SDSS spec files, the synthetic generator) produces a
:class:`LineTable`, so the classical schemes, the TFDS builder and the
``tfelg-classify`` binary see one format whatever the source. Missing or
unusable measurements are NaN, never a sentinel number: a NaN cannot be
mistaken for a flux.

Units: fluxes and their errors in 1e-17 erg/s/cm^2 (the SDSS convention),
equivalent widths in Angstrom, *emission-positive* (a line in emission has
EW > 0 whatever the sign convention of the catalogue it came from).
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Order is the feature order used everywhere (TFDS features, model inputs).
LINE_NAMES: tuple[str, ...] = (
    "OII_3727",
    "H_GAMMA",
    "H_BETA",
    "OIII_5007",
    "OI_6300",
    "NII_6548",
    "H_ALPHA",
    "NII_6584",
    "SII_6717",
    "SII_6731",
)

# Rest-frame vacuum wavelengths in Angstrom (SDSS line list). [OII] is the
# unresolved 3726+3729 doublet, quoted at its flux-weighted centre.
LINE_WAVELENGTHS: dict[str, float] = {
    "OII_3727": 3728.48,
    "H_GAMMA": 4341.68,
    "H_BETA": 4862.68,
    "OIII_5007": 5008.24,
    "OI_6300": 6302.05,
    "NII_6548": 6549.86,
    "H_ALPHA": 6564.61,
    "NII_6584": 6585.27,
    "SII_6717": 6718.29,
    "SII_6731": 6732.67,
}

NUM_LINES = len(LINE_NAMES)
LINE_INDEX: dict[str, int] = {name: i for i, name in enumerate(LINE_NAMES)}


def line_index(name: str) -> int:
    """Column of ``name`` in the (N, 10) arrays of a :class:`LineTable`."""
    try:
        return LINE_INDEX[name]
    except KeyError:
        raise KeyError(f"unknown line {name!r}; known lines: {', '.join(LINE_NAMES)}") from None


@dataclasses.dataclass
class LineTable:
    """Line measurements of N galaxies.

    Attributes:
      object_id: (N,) str, unique identifier (e.g. ``"PLATE-MJD-FIBER"``).
      redshift: (N,) float64.
      flux, flux_err: (N, 10) float64 in 1e-17 erg/s/cm^2, NaN if missing.
      ew, ew_err: (N, 10) float64 in Angstrom, emission-positive, NaN if
        missing.
      source: where the rows came from (file names), for error messages and
        FITS headers.
    """

    object_id: np.ndarray
    redshift: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    ew: np.ndarray
    ew_err: np.ndarray
    source: str = ""

    def __post_init__(self):
        n = len(self.object_id)
        self.object_id = np.asarray(self.object_id).astype(str)
        self.redshift = np.asarray(self.redshift, dtype=np.float64)
        for name in ("flux", "flux_err", "ew", "ew_err"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (n, NUM_LINES):
                raise ValueError(
                    f"LineTable.{name} has shape {value.shape}, expected ({n}, {NUM_LINES})"
                )
            setattr(self, name, value)
        if self.redshift.shape != (n,):
            raise ValueError(f"LineTable.redshift has shape {self.redshift.shape}, expected ({n},)")

    def __len__(self) -> int:
        return len(self.object_id)

    def line(self, name: str, quantity: str = "flux") -> np.ndarray:
        """One column: ``table.line("H_ALPHA", "ew")``."""
        return getattr(self, quantity)[:, line_index(name)]

    def subset(self, rows) -> LineTable:
        """Rows selected by an index array or boolean mask."""
        return LineTable(
            object_id=self.object_id[rows],
            redshift=self.redshift[rows],
            flux=self.flux[rows],
            flux_err=self.flux_err[rows],
            ew=self.ew[rows],
            ew_err=self.ew_err[rows],
            source=self.source,
        )

    @staticmethod
    def concatenate(tables: list[LineTable]) -> LineTable:
        if not tables:
            raise ValueError("no line tables to concatenate")
        return LineTable(
            object_id=np.concatenate([t.object_id for t in tables]),
            redshift=np.concatenate([t.redshift for t in tables]),
            flux=np.concatenate([t.flux for t in tables]),
            flux_err=np.concatenate([t.flux_err for t in tables]),
            ew=np.concatenate([t.ew for t in tables]),
            ew_err=np.concatenate([t.ew_err for t in tables]),
            source=";".join(sorted({t.source for t in tables if t.source})),
        )
