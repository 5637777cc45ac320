"""Physical measurements of three-band galaxy images and distances between their distributions.

Why: FID, KID and precision/recall measure distances in a feature space
that knows nothing about galaxies. A generated galaxy can fool a feature
extractor with the wrong light profile or the wrong colours; an astronomer
asks whether the generated ellipticals are as concentrated and as red as
the real ones. So both samples go through the same measurement code, and
the 1-D distributions of each quantity are compared per class.

Measured per image (:func:`measure_images`), with the project's own code:

* Gini, M20, concentration C, asymmetry A and the circularised half-light
  radius (``rhalf_circ``, pixels) from :func:`tfelg.morphology.measure` on
  the morphology band (F850LP, as the ``hst_galaxies`` builder measures),
  without the Sersic fit (unreliable on 64x64 stamps, and the slowest part).
* Two observed colours, F435W - F850LP and F850LP - F160W (AB magnitude
  differences; the images are in nJy per pixel, so the zero point cancels),
  from circular-aperture photometry on every band around the F850LP
  centroid: radius ``2 * rhalf_circ`` clipped to [5, 20] pixels (5 pixels
  is 0.3", about 3 F160W PSF FWHMs), each band's sky level from
  :func:`tfelg.morphology.estimate_background` subtracted. A colour is NaN
  when either flux is not positive (a red galaxy below the F435W noise).

Compared per class (:func:`physics_distances`): the 1-D Wasserstein
distance (``scipy.stats.wasserstein_distance``, in the quantity's units,
and divided by the real sample's standard deviation so that quantities
can be read side by side) and the two-sample Kolmogorov-Smirnov statistic
(``scipy.stats.ks_2samp``). NaN values (not measured) are left out and
counted; the fraction of untrusted measurements (``trust_nonparametric``
False) is reported on its own, since a generator that makes more
low-S/N or edge-touching galaxies differs in that too.
"""

from __future__ import annotations

import warnings

import numpy as np

from tfelg import morphology, process_pool
from tfelg.synthetic import hst_galaxies as synthetic

MORPHOLOGY_QUANTITIES = ("gini", "m20", "concentration", "asymmetry", "rhalf_circ")
COLOURS = (("F435W", "F850LP"), ("F850LP", "F160W"))
COLOUR_NAMES = tuple(f"{a}-{b}" for a, b in COLOURS)
QUANTITIES = MORPHOLOGY_QUANTITIES + COLOUR_NAMES
APERTURE_RADIUS_RANGE = (5.0, 20.0)  # pixels
MIN_VALUES_PER_DISTANCE = 5


def check_images(images, name: str) -> np.ndarray:
    """(N, H, W, 3) finite float array, or a ValueError naming the set and image."""
    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] != len(synthetic.BANDS):
        raise ValueError(
            f"{name}: expected images of shape (N, height, width, {len(synthetic.BANDS)}) "
            f"(bands {', '.join(synthetic.BANDS)}), got {array.shape}"
        )
    if len(array) == 0:
        raise ValueError(f"{name}: no images")
    finite = np.isfinite(array).all(axis=(1, 2, 3))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{name}: {len(bad)} images have NaN/inf pixels (first: image {int(bad[0])})"
        )
    return array


def aperture_colours(image: np.ndarray, x: float, y: float, rhalf: float) -> dict[str, float]:
    """AB colours of one (H, W, 3) image in a circular aperture (see the module docstring)."""
    from photutils.aperture import CircularAperture

    ny, nx = image.shape[:2]
    if not (np.isfinite(x) and np.isfinite(y)):
        x, y = (nx - 1) / 2.0, (ny - 1) / 2.0
    radius = 2.0 * rhalf if np.isfinite(rhalf) else APERTURE_RADIUS_RANGE[0]
    aperture = CircularAperture((x, y), r=float(np.clip(radius, *APERTURE_RADIUS_RANGE)))
    fluxes = {}
    for b, band in enumerate(synthetic.BANDS):
        plane = np.asarray(image[:, :, b], np.float64)
        background, _ = morphology.estimate_background(plane, np.isfinite(plane))
        flux, _ = aperture.do_photometry(plane - background)
        fluxes[band] = float(flux[0])
    out = {}
    for (blue, red), name in zip(COLOURS, COLOUR_NAMES, strict=True):
        f_blue, f_red = fluxes[blue], fluxes[red]
        ok = f_blue > 0 and f_red > 0
        out[name] = -2.5 * np.log10(f_blue / f_red) if ok else float("nan")
    return out


def measure_image(image: np.ndarray) -> dict[str, float]:
    """Every quantity of :data:`QUANTITIES` for one image, and ``trusted`` (0 or 1)."""
    band = synthetic.BANDS.index(morphology.MORPHOLOGY_BAND)
    result = morphology.measure(np.asarray(image[:, :, band], np.float64), sersic=False)
    values = {name: float(result.values[name]) for name in MORPHOLOGY_QUANTITIES}
    values.update(
        aperture_colours(
            image,
            result.values["x_centroid"],
            result.values["y_centroid"],
            result.values["rhalf_circ"],
        )
    )
    values["trusted"] = float(result.trust_nonparametric)
    return values


def measure_images(images, *, num_workers: int | None = None, name="images") -> dict:
    """:func:`measure_image` over (N, H, W, 3) images in a process pool: {quantity: (N,)}.

    The morphology is statmorph's, about 0.1-0.5 s per galaxy per core.
    """
    images = check_images(images, name)
    rows = process_pool.map_in_pool(measure_image, list(images), num_workers)
    keys = (*QUANTITIES, "trusted")
    return {k: np.array([r[k] for r in rows], np.float64) for k in keys}


def physics_distances(
    real: dict, fake: dict, *, trusted_only: bool = False, min_values: int = MIN_VALUES_PER_DISTANCE
) -> dict[str, dict[str, float]]:
    """Per quantity: Wasserstein distance, its ratio to the real std, KS statistic and p-value.

    Args:
      real, fake: outputs of :func:`measure_images` (for one class).
      trusted_only: use only measurements with ``trust_nonparametric``.
      min_values: below this many finite values in either sample the
        distances are NaN (a KS statistic of 3 values means nothing).

    Returns:
      {quantity: {"wasserstein", "wasserstein_over_std", "ks", "ks_pvalue",
      "n_real", "n_fake"}}, plus {"untrusted_fraction": {"real", "fake"}}.
    """
    from scipy import stats

    out = {}
    for quantity in QUANTITIES:
        a = np.asarray(real[quantity], np.float64)
        b = np.asarray(fake[quantity], np.float64)
        if trusted_only:
            a, b = a[real["trusted"] > 0], b[fake["trusted"] > 0]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        row = {"n_real": len(a), "n_fake": len(b)}
        if min(len(a), len(b)) < min_values:
            row.update(wasserstein=np.nan, wasserstein_over_std=np.nan, ks=np.nan, ks_pvalue=np.nan)
        else:
            w = float(stats.wasserstein_distance(a, b))
            std = float(np.std(a, ddof=1))
            with warnings.catch_warnings():
                # "Exact calculation unsuccessful, switching to asymp": the p-value only.
                warnings.simplefilter("ignore", RuntimeWarning)
                ks = stats.ks_2samp(a, b)
            row.update(
                wasserstein=w,
                wasserstein_over_std=w / std if std > 0 else np.nan,
                ks=float(ks.statistic),
                ks_pvalue=float(ks.pvalue),
            )
        out[quantity] = row
    out["untrusted_fraction"] = {
        "real": float(1.0 - np.mean(real["trusted"])) if len(real["trusted"]) else np.nan,
        "fake": float(1.0 - np.mean(fake["trusted"])) if len(fake["trusted"]) else np.nan,
    }
    return out


def subset(measurements: dict, mask) -> dict:
    """The rows of a :func:`measure_images` result where ``mask`` is True."""
    return {k: np.asarray(v)[mask] for k, v in measurements.items()}
