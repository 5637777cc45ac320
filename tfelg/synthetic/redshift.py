"""Redshifts of the synthetic emission-line galaxies, and what they hide.

Why a module of its own: in :mod:`tfelg.synthetic.emission_lines` redshift
is not physics of the galaxy (the generator has no distance dimming) but of
the survey. It decides two things only: where the spectrograph's fixed
observed window (3,800-9,200 A, SDSS) falls on each rest-frame spectrum, so
which pixels are masked and which lines cannot be measured, and where on it
the sky noise is high. Keeping the redshift distributions and that coverage here keeps
the generator's physics in one file and the observational selection in
another, and states the wide-redshift sample's limits (``synthetic_wide_z``)
where they are defined:

* the default distribution: 0.02-0.30, a class-dependent beta peaking near
  0.1, as in SDSS's main sample;
* ``redshift_range=(low, high)``: the same beta draw through its own CDF,
  so uniform in [low, high] and independent of the class while every later
  draw of the galaxy (same random stream) is unchanged;
* the coverage: rest-frame pixels not wholly inside the observed window are
  masked (spectrum and ivar 0), and a line whose profile weight is mostly
  on masked pixels is not measured (NaN). Halpha's jointly fitted [NII]
  group bounds the usable range at :data:`MAX_HALPHA_REDSHIFT`;
* the sky noise, a function of the observed wavelength.

The names are re-exported by :mod:`tfelg.synthetic.emission_lines`, where
they have always been imported from.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from tfelg.lines import LINE_WAVELENGTHS

# SDSS spectrograph coverage in the observed frame (Angstrom).
OBSERVED_BLUE_LIMIT = 3800.0
OBSERVED_RED_LIMIT = 9200.0
MIN_REDSHIFT, MAX_REDSHIFT = 0.02, 0.30
# Above this redshift [NII]6584 leaves the observed range, and with it the
# jointly fitted [NII] + Halpha group: WHAN and BPT lose Halpha.
MAX_HALPHA_REDSHIFT = OBSERVED_RED_LIMIT / LINE_WAVELENGTHS["NII_6584"] - 1.0  # 0.397
# ``redshift_range`` of the wide-redshift sample (TFDS config
# ``synthetic_wide_z``): as far as Halpha stays measurable. [SII] leaves the
# range above z = 0.366 (its lines are then missing, NaN) and the rest-frame
# spectrum's red end (6,900 A) above z = 0.333 (those pixels get ivar 0).
WIDE_REDSHIFT_RANGE = (0.02, 0.39)
# Second shape parameter of the redshift beta distribution (the first is
# per class, set by the generator).
_BETA_B = 5.0


def check_redshift_range(redshift_range) -> tuple[float, float] | None:
    """None, or (low, high) as floats with 0 <= low < high <= MAX_HALPHA_REDSHIFT."""
    if redshift_range is None:
        return None
    try:
        low, high = (float(v) for v in redshift_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"redshift_range must be None or two numbers (low, high), got {redshift_range!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and 0.0 <= low < high):
        raise ValueError(f"redshift_range must satisfy 0 <= low < high, got {redshift_range!r}")
    if high > MAX_HALPHA_REDSHIFT:
        raise ValueError(
            f"redshift_range's high end {high:g} is above {MAX_HALPHA_REDSHIFT:.3f}, where "
            f"[NII]6584 and with it Halpha leave the observed range ({OBSERVED_RED_LIMIT:g} A): "
            "WHAN and BPT could not classify those galaxies"
        )
    return (low, high)


def draw_redshifts(
    rng: np.random.Generator, shape: np.ndarray, redshift_range: tuple[float, float] | None
) -> np.ndarray:
    """One redshift per galaxy: one beta draw from ``rng`` with per-galaxy ``shape``.

    ``redshift_range`` None: ``MIN_REDSHIFT + (MAX_REDSHIFT - MIN_REDSHIFT) *
    Beta(shape, 5)``. (low, high): the same draw through its own CDF, uniform
    in [low, high]. Either way exactly one ``rng.beta`` call, so the draws
    after it (the rest of the galaxy) do not depend on the range.
    """
    z_draw = rng.beta(shape, _BETA_B)
    if redshift_range is None:
        return MIN_REDSHIFT + (MAX_REDSHIFT - MIN_REDSHIFT) * z_draw
    # The same draw through its own CDF is uniform on [0, 1]: uniform in
    # redshift and independent of the class, while every other parameter
    # (drawn after it from the same stream) is the galaxy it was.
    low, high = redshift_range
    return low + (high - low) * special.betainc(shape, _BETA_B, z_draw)


def uncovered_pixels(one_plus_z: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(n, pixels) bool: rest-frame pixels not wholly inside the observed coverage.

    ``edges``: the rest-frame pixel edges (pixels + 1, Angstrom); a pixel is
    covered when both its edges, redshifted, lie in [OBSERVED_BLUE_LIMIT,
    OBSERVED_RED_LIMIT].
    """
    first = np.searchsorted(edges[:-1], OBSERVED_BLUE_LIMIT / one_plus_z, side="left")
    stop = np.searchsorted(edges[1:], OBSERVED_RED_LIMIT / one_plus_z, side="right")
    pixel = np.arange(len(edges) - 1)[None, :]
    return (pixel < first[:, None]) | (pixel >= stop[:, None])


def sky_sigma(one_plus_z: np.ndarray, rest_wavelength: np.ndarray, level: float) -> np.ndarray:
    """(n, pixels) float32: sky and read noise sigma of each rest-frame pixel.

    ``level`` at mid wavelengths, rising to 3x at the observed blue end
    (falling throughput, 250 A scale) and linearly from 7,000 A to 1.55x at
    the red end (the sky-line forest): it depends on the observed wavelength
    ``rest_wavelength * (1 + z)``, so a galaxy's redshift moves its noisy ends.
    float32 and in place: it is as large as the spectra.
    """
    f32 = np.float32
    observed = rest_wavelength.astype(f32)[None, :] * one_plus_z.astype(f32)[:, None]
    sky = np.exp((f32(OBSERVED_BLUE_LIMIT) - observed) / f32(250.0))
    sky *= f32(2.0 * level)
    sky += f32(level)
    observed -= f32(7000.0)
    observed *= f32(0.5 / 2000.0)
    np.clip(observed, 0.0, None, out=observed)
    observed += f32(1.0)
    sky *= observed
    return sky


def measurable(design: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n,) bool: the covered pixels hold most of every fitted line's profile weight.

    ``design``: (n, pixels, lines) the line profiles of one fitted group;
    ``weights``: (n, pixels) the inverse variances (0 on masked pixels). A
    group with a line mostly outside the spectrograph's coverage is not
    measured: its fluxes stay NaN, as a survey reports a line it did not see.
    """
    full = np.einsum("npk,npk->nk", design, design)
    seen = np.einsum("npk,np,npk->nk", design, (weights > 0).astype(np.float64), design)
    return np.all(seen > 0.5 * full, axis=1)
