"""Sources and stamps from the HST eXtreme Deep Field image that scikit-image ships.

Why: a real HST sky image that needs no download, for detection, stamps
and maps. ``skimage.data.hubble_deep_field()`` is an 8-bit RGB display
rendering (872 x 1000) of the XDF made from other filters than F435W,
F850LP and F160W, with a non-linear stretch: fine for finding sources and
cutting stamps, useless for colours or morphology (statmorph calls 29 of
its 30 largest sources, smooth red early types and stars included, Sb-Ir:
the stretch flattens the profiles). Stamps keep the display values (0-1),
blue, green and red in the slots of F435W, F850LP and F160W (bluest to
reddest), so that a model reads them like the other configs.

Detection: photutils on the sum of the three channels, background from a
sigma-clipped median, the image smoothed by a 3-pixel-FWHM Gaussian,
``detect_sources`` at 1.5 sigma with 10 connected pixels, then
``deblend_sources`` (32 levels, contrast 0.001).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np


@dataclasses.dataclass
class DeepFieldStamps:
    """Stamps around detected sources, largest segment first.

    Attributes:
      stamps: (N, size, size, 3) float32, display values 0-1 (B, G, R).
      label: segment label in the deblended map.
      x, y: source centroid in the full image (pixels, 0-based).
      stamp_xy: (N, 2) the centroid's position inside its stamp.
      area: segment area (pixels).
      num_segments: segments detected in the whole image (after deblending).
      skipped_near_edge: large-enough sources too near the edge for a stamp.
    """

    stamps: np.ndarray
    label: np.ndarray
    x: np.ndarray
    y: np.ndarray
    stamp_xy: np.ndarray
    area: np.ndarray
    num_segments: int
    skipped_near_edge: int


def detect(gray: np.ndarray):
    """(deblended SegmentationImage, SourceCatalog) of a 2-D image."""
    from astropy.convolution import convolve
    from astropy.stats import sigma_clipped_stats
    from photutils.segmentation import (
        SourceCatalog,
        deblend_sources,
        detect_sources,
        make_2dgaussian_kernel,
    )

    _, median, std = sigma_clipped_stats(gray, sigma=3.0, maxiters=10)
    data = gray - median
    smoothed = convolve(data, make_2dgaussian_kernel(3.0, size=5), normalize_kernel=True)
    segm = detect_sources(smoothed, 1.5 * std, n_pixels=10)
    if segm is None:
        raise ValueError("no sources detected in the deep field image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        segm = deblend_sources(
            smoothed, segm, n_pixels=10, nlevels=32, contrast=0.001, progress_bar=False
        )
    return segm, SourceCatalog(data, segm, convolved_data=smoothed)


def hubble_deep_field_stamps(
    size: int = 64, *, min_area: int = 50, max_sources: int = 0
) -> DeepFieldStamps:
    """Detects sources in skimage's deep field and cuts ``size`` x ``size`` stamps.

    Args:
      size: stamp side (pixels).
      min_area: smallest segment kept (pixels).
      max_sources: keep only the largest N (0: all).
    """
    from skimage import data as skdata

    rgb = skdata.hubble_deep_field().astype(np.float32) / 255.0
    gray = rgb.sum(axis=-1).astype(np.float64)
    segm, catalog = detect(gray)
    area = np.asarray(catalog.area.value)
    x = np.asarray(catalog.x_centroid)
    y = np.asarray(catalog.y_centroid)
    labels = np.asarray(catalog.label)
    order = [i for i in np.argsort(-area, kind="stable") if area[i] >= min_area]
    bgr = rgb[:, :, ::-1]
    ny, nx = gray.shape
    half = size // 2
    out = {k: [] for k in ("stamps", "label", "x", "y", "stamp_xy", "area")}
    skipped = 0
    for i in order:
        if max_sources and len(out["label"]) >= max_sources:
            break
        ix, iy = int(round(x[i])), int(round(y[i]))
        if ix - half < 0 or iy - half < 0 or ix + half > nx or iy + half > ny:
            skipped += 1
            continue
        out["stamps"].append(bgr[iy - half : iy + half, ix - half : ix + half])
        out["label"].append(int(labels[i]))
        out["x"].append(float(x[i]))
        out["y"].append(float(y[i]))
        out["stamp_xy"].append((x[i] - (ix - half), y[i] - (iy - half)))
        out["area"].append(float(area[i]))
    return DeepFieldStamps(
        stamps=np.array(out["stamps"], dtype=np.float32).reshape(-1, size, size, 3),
        label=np.array(out["label"], dtype=np.int64),
        x=np.array(out["x"]),
        y=np.array(out["y"]),
        stamp_xy=np.array(out["stamp_xy"]).reshape(-1, 2),
        area=np.array(out["area"]),
        num_segments=int(segm.n_labels),
        skipped_near_edge=skipped,
    )
