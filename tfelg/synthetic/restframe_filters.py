"""Rest-frame U, V and J filter curves for the UVJ diagram, as published tables.

GalSim ships HST bandpasses but no U, V or J curves, and no installed package
does, so the three response curves are written here from their publications
(wavelength in Angstrom, response peak-normalised to 1):

* U and V: Bessell 1990, PASP 102, 1181, Table 2 (``UX`` and ``V``), the
  reference definition of the Johnson-Cousins passbands.
* J: 2MASS J relative spectral response, Cohen, Wheaton & Megeath 2003, AJ
  126, 1090 (their Fig. 1 / the 2MASS Explanatory Supplement table), whose
  atmospheric absorption bands show as dips near 1.14 and 1.35 micron.

The numbers were transcribed from the copies distributed with speclite 1.0.0
(``bessell-U``, ``bessell-V``, ``twomass-J``; BSD-3 licence), which quote the
same sources; the J curve is rescaled to peak 1.

Williams et al. 2009 (the UVJ boundaries of :func:`tfelg.schemes.uvj_class`)
use rest-frame AB colours through these passbands; tfelg integrates every
curve as a photon-counting response (the convention of speclite and of
photometric-redshift codes). Bessell 1990 defined U and V for energy
integration; the difference is about 0.01 mag in U-V, far below the width
of the UVJ boundaries' own scatter.
"""

from __future__ import annotations

import numpy as np

_BESSELL_U = np.array(
    (
        (3000, 0),
        (3050, 0.016),
        (3100, 0.068),
        (3150, 0.167),
        (3200, 0.287),
        (3250, 0.423),
        (3300, 0.56),
        (3350, 0.673),
        (3400, 0.772),
        (3450, 0.841),
        (3500, 0.905),
        (3550, 0.943),
        (3600, 0.981),
        (3650, 0.993),
        (3700, 1),
        (3750, 0.989),
        (3800, 0.916),
        (3850, 0.804),
        (3900, 0.625),
        (3950, 0.423),
        (4000, 0.238),
        (4050, 0.114),
        (4100, 0.051),
        (4150, 0.019),
        (4200, 0),
    ),
    dtype=np.float64,
)

_BESSELL_V = np.array(
    (
        (4700, 0),
        (4800, 0.03),
        (4900, 0.163),
        (5000, 0.458),
        (5100, 0.78),
        (5200, 0.967),
        (5300, 1),
        (5400, 0.973),
        (5500, 0.898),
        (5600, 0.792),
        (5700, 0.684),
        (5800, 0.574),
        (5900, 0.461),
        (6000, 0.359),
        (6100, 0.27),
        (6200, 0.197),
        (6300, 0.135),
        (6400, 0.081),
        (6500, 0.045),
        (6600, 0.025),
        (6700, 0.017),
        (6800, 0.013),
        (6900, 0.009),
        (7000, 0),
    ),
    dtype=np.float64,
)

_TWOMASS_J = np.array(
    (
        (10620, 0),
        (10660, 0.000603027),
        (10700, 0.00240309),
        (10750, 0.00406625),
        (10780, 0.00846767),
        (10820, 0.0187739),
        (10840, 0.0310739),
        (10870, 0.046837),
        (10890, 0.0617445),
        (10930, 0.0782214),
        (10960, 0.0852802),
        (11020, 0.108149),
        (11050, 0.318331),
        (11070, 0.396033),
        (11090, 0.41549),
        (11120, 0.439459),
        (11160, 0.380973),
        (11170, 0.275662),
        (11200, 0.274809),
        (11230, 0.324333),
        (11280, 0.294288),
        (11290, 0.286396),
        (11320, 0.61114),
        (11340, 0.253049),
        (11380, 0.606563),
        (11400, 0.12428),
        (11430, 0.595248),
        (11470, 0.29356),
        (11540, 0.356731),
        (11590, 0.193347),
        (11640, 0.67044),
        (11670, 0.680724),
        (11700, 0.743152),
        (11730, 0.797808),
        (11750, 0.816801),
        (11790, 0.90552),
        (11820, 0.859604),
        (11860, 0.877628),
        (11880, 0.905693),
        (11920, 0.901683),
        (11950, 0.806788),
        (11990, 0.759169),
        (12020, 0.747433),
        (12090, 0.749593),
        (12160, 0.74052),
        (12210, 0.771603),
        (12270, 0.739435),
        (12310, 0.879802),
        (12360, 0.958936),
        (12400, 0.987569),
        (12440, 1),
        (12470, 0.989243),
        (12530, 0.946747),
        (12550, 0.914813),
        (12580, 0.871649),
        (12600, 0.818635),
        (12650, 0.762347),
        (12700, 0.686458),
        (12750, 0.657851),
        (12790, 0.642124),
        (12860, 0.642227),
        (12920, 0.645414),
        (12970, 0.67643),
        (13020, 0.743448),
        (13050, 0.764397),
        (13070, 0.798542),
        (13100, 0.76256),
        (13130, 0.705984),
        (13160, 0.930536),
        (13190, 0.833482),
        (13230, 0.817649),
        (13260, 0.969574),
        (13300, 0.864869),
        (13330, 0.824535),
        (13340, 0.518405),
        (13360, 0.269352),
        (13390, 0.870385),
        (13430, 0.659867),
        (13460, 0.528494),
        (13490, 0.23178),
        (13530, 0.0136832),
        (13550, 0.000189764),
        (13600, 0.0379079),
        (13630, 0.00424464),
        (13700, 0.00028153),
        (13730, 0.0348334),
        (13770, 0.000466831),
        (13830, 0),
        (13880, 9.26264e-05),
        (13920, 0.00304789),
        (13950, 0.000276485),
        (13960, 0.00782813),
        (13970, 0.0222711),
        (13980, 0.114219),
        (14000, 9.18325e-05),
        (14010, 9.18325e-05),
        (14020, 0.0477765),
        (14040, 0.00952337),
        (14060, 0.0437087),
        (14070, 0.000365503),
        (14100, 0.00218835),
        (14120, 0.00482576),
        (14160, 0.00780836),
        (14210, 0.000633328),
        (14260, 0.000270475),
        (14420, 0.000356632),
        (14500, 0),
    ),
    dtype=np.float64,
)

CURVES: dict[str, np.ndarray] = {"U": _BESSELL_U, "V": _BESSELL_V, "J": _TWOMASS_J}
"""Band name -> (N, 2) array of (wavelength in Angstrom, response)."""


def curve(band: str) -> tuple[np.ndarray, np.ndarray]:
    """(wavelength in Angstrom, response) of rest-frame band ``U``, ``V`` or ``J``."""
    try:
        table = CURVES[band]
    except KeyError:
        raise ValueError(f"unknown rest-frame band {band!r}; known: {', '.join(CURVES)}") from None
    return table[:, 0].copy(), table[:, 1].copy()
