"""Thumbnails for the TensorBoard projector: tiny spectra, line-ratio glyphs, galaxy images.

The projector shows a picture per point when it is given a sprite, one image
tiled from equal thumbnails in row-major order. For galaxy cutouts the
thumbnail is the cutout, a three-band colour composite
(:func:`galaxy_thumbnails`); for spectra it is a tiny line plot of the rest-frame
spectrum, and for line-measurement-only data a glyph of the standardised
features (a bar per feature). A person hovering over a cluster then sees at
once whether its galaxies have strong Halpha, a 4000 A break or broad-line
ratios typical of AGN.

Thumbnails are drawn with NumPy broadcasting, not with a matplotlib figure
per galaxy: 20,000 spectra take well under a second, where a figure each
would take minutes. A sprite is at most 8192 x 8192 pixels (the projector's
limit); :func:`make_sprite` shrinks the thumbnails (area averaging) until the
square grid fits.
"""

from __future__ import annotations

import math

import numpy as np
from absl import logging

from tfelg.spectra import REST_LOGLAM

MAX_SPRITE_SIZE = 8192
BACKGROUND = (255, 255, 255)
SPECTRUM_COLOUR = (20, 20, 20)
# The two ends of ColorBrewer's BrBG, a diverging pair that stays distinct
# for colour-blind readers; neither is near a class colour
# (tfelg.outputs.colours), so a bar's colour is never read as a class.
POSITIVE_COLOUR = (1, 102, 94)  # feature above the sample mean: teal, #01665E
NEGATIVE_COLOUR = (140, 81, 10)  # below: brown, #8C510A
MISSING_COLOUR = (200, 200, 200)


def _rgb(colour, n: int) -> np.ndarray:
    """(n, 3) uint8 colours from one RGB triple or an (n, 3) array."""
    colour = np.asarray(colour)
    if colour.ndim == 1:
        if colour.shape != (3,):
            raise ValueError(f"a colour is an RGB triple, got shape {colour.shape}")
        return np.broadcast_to(colour.astype(np.uint8), (n, 3))
    if colour.shape != (n, 3):
        raise ValueError(f"colours must have shape ({n}, 3), got {colour.shape}")
    if colour.dtype.kind == "f":
        colour = np.clip(np.rint(colour * 255.0), 0, 255)
    return colour.astype(np.uint8)


def _paint(mask: np.ndarray, colours: np.ndarray, background=BACKGROUND) -> np.ndarray:
    """(N, h, w) boolean mask -> (N, h, w, 3) uint8 image, ``colours`` (N, 3) where set."""
    n, h, w = mask.shape
    images = np.empty((n, h, w, 3), dtype=np.uint8)
    images[...] = np.asarray(background, dtype=np.uint8)
    for channel in range(3):
        plane = images[..., channel]
        np.copyto(plane, colours[:, channel, None, None], where=mask)
    return images


def render_spectra(
    flux,
    *,
    loglam=None,
    size: int | tuple[int, int] = 32,
    colours=None,
    chunk: int = 4096,
) -> np.ndarray:
    """Draws each spectrum as a tiny line plot.

    The wavelength axis is split into ``width`` equal columns of pixels; in
    each column the spectrum's minimum and maximum (and the previous column's
    last value, so the line is connected) are drawn as a vertical run. Each
    spectrum is scaled to its own minimum and maximum (a thumbnail shows
    shape, not brightness); non-finite pixels are skipped; a spectrum with
    no finite pixel is left blank.

    Args:
      flux: (N, L) flux densities on ``loglam``.
      loglam: (L,) log10 wavelengths, increasing; defaults to
        ``tfelg.spectra.REST_LOGLAM`` (only its length is checked: columns
        are equal pixel counts, which on a log grid are equal velocity
        widths).
      size: thumbnail side, or (height, width), in pixels.
      colours: line colour, an RGB triple or (N, 3) array (uint8, or floats
        in [0, 1]), e.g. by class.
      chunk: spectra drawn per step (bounds memory).

    Returns:
      (N, height, width, 3) uint8 images, white background.
    """
    flux = np.asarray(flux)
    if flux.ndim != 2:
        raise ValueError(f"flux must be 2-D (spectra x pixels), got shape {flux.shape}")
    loglam = REST_LOGLAM if loglam is None else np.asarray(loglam)
    if loglam.shape != (flux.shape[1],):
        raise ValueError(
            f"flux has {flux.shape[1]} pixels per spectrum but loglam has shape {loglam.shape}"
        )
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    if height < 2 or width < 2:
        raise ValueError(f"thumbnail size must be at least 2x2, got {height}x{width}")
    n, num_pixels = flux.shape
    if num_pixels < width:
        raise ValueError(f"spectra have {num_pixels} pixels, fewer than {width} columns")
    colours = _rgb(SPECTRUM_COLOUR if colours is None else colours, n)
    edges = np.linspace(0, num_pixels, width + 1).astype(np.int64)[:-1]
    rows = np.arange(height)[None, :, None]
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    for start in range(0, n, chunk):
        block = np.asarray(flux[start : start + chunk], dtype=np.float32)
        finite = np.isfinite(block)
        # fmin/fmax ignore NaN; infinities are turned into NaN first.
        block = np.where(finite, block, np.nan)
        col_min = np.fmin.reduceat(block, edges, axis=1)
        col_max = np.fmax.reduceat(block, edges, axis=1)
        col_last = block[:, np.r_[edges[1:] - 1, num_pixels - 1]]
        lo = np.fmin.reduce(col_min, axis=1, keepdims=True)
        hi = np.fmax.reduce(col_max, axis=1, keepdims=True)
        blank = ~np.isfinite(lo[:, 0])
        lo = np.where(blank[:, None], 0.0, lo)
        hi = np.where(blank[:, None], 1.0, hi)
        span = np.where(hi > lo, hi - lo, 1.0)
        # Previous column's last finite value joins the columns up.
        prev = np.concatenate([col_min[:, :1], col_last[:, :-1]], axis=1)
        prev = np.where(np.isfinite(prev), prev, col_min)
        top = np.fmax(col_max, prev)
        bottom = np.fmin(col_min, prev)
        scale = (height - 1) / span
        # Row 0 is the top of the image: high flux at small row numbers.
        row_top = np.rint((hi - top) * scale)
        row_bottom = np.rint((hi - bottom) * scale)
        drawn = np.isfinite(row_top) & np.isfinite(row_bottom)
        row_top = np.where(drawn, row_top, height)[:, None, :]
        row_bottom = np.where(drawn, row_bottom, -1)[:, None, :]
        mask = (rows >= row_top) & (rows <= row_bottom)
        out[start : start + len(block)] = _paint(mask, colours[start : start + len(block)])
    return out


def render_feature_glyphs(
    features,
    *,
    size: int | tuple[int, int] = 32,
    limit: float = 3.0,
) -> np.ndarray:
    """Draws standardised features (e.g. line ratios, z-scored) as bar glyphs.

    Each feature is a vertical bar from the middle row, up (teal) for values
    above zero and down (brown) below, its length proportional to the value
    clipped to +-``limit``; a missing (NaN) feature is a short grey tick.
    Galaxies with similar line ratios get similar glyphs.

    Args:
      features: (N, F) standardised values (mean 0, unit variance per column).
      size: glyph side, or (height, width), in pixels; width >= F.
      limit: values beyond +-limit draw a full-height bar.

    Returns:
      (N, height, width, 3) uint8 images, white background.
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D (galaxies x features), got {features.shape}")
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    n, num_features = features.shape
    if num_features == 0 or width < num_features or height < 4:
        raise ValueError(
            f"cannot draw {num_features} features in a {height}x{width} glyph "
            "(need width >= features and height >= 4)"
        )
    if not limit > 0:
        raise ValueError(f"limit must be positive, got {limit}")
    bar = width // num_features
    gap = 1 if bar >= 3 else 0
    column_feature = np.full(width, -1, dtype=np.int64)
    for f in range(num_features):
        column_feature[f * bar : f * bar + bar - gap] = f
    used = column_feature >= 0
    middle = (height - 1) / 2.0
    missing = ~np.isfinite(features)
    value = np.clip(np.where(missing, 0.0, features), -limit, limit)
    length = np.rint(np.abs(value) / limit * middle)
    # (N, width) values per column.
    col_value = np.where(used, value[:, np.maximum(column_feature, 0)], 0.0)
    col_length = np.where(used, length[:, np.maximum(column_feature, 0)], -1.0)
    col_missing = used & missing[:, np.maximum(column_feature, 0)]
    rows = np.arange(height, dtype=np.float32)[None, :, None]
    mid = np.floor(middle)
    up = col_value[:, None, :] >= 0
    top = np.where(up, mid - col_length[:, None, :], mid + 1)
    bottom = np.where(up, mid, mid + 1 + col_length[:, None, :] - 1)
    bar_mask = (rows >= top) & (rows <= bottom) & used[None, None, :] & ~col_missing[:, None, :]
    # A value that rounds to no length draws no bar, only the grey baseline
    # below (the colour alone would otherwise mark a zero as positive).
    bar_mask &= col_length[:, None, :] > 0
    tick_mask = col_missing[:, None, :] & (np.abs(rows - middle) <= 1)
    images = np.empty((n, height, width, 3), dtype=np.uint8)
    images[...] = np.asarray(BACKGROUND, dtype=np.uint8)
    for channel in range(3):
        plane = images[..., channel]
        plane[bar_mask & up] = POSITIVE_COLOUR[channel]
        plane[bar_mask & ~up] = NEGATIVE_COLOUR[channel]
        plane[tick_mask] = MISSING_COLOUR[channel]
    # A thin baseline makes the zero level visible.
    images[:, int(mid), used] = np.minimum(images[:, int(mid), used], 160)
    return images


def to_uint8_images(images) -> np.ndarray:
    """(N, h, w, 3) uint8, or floats in [0, 1] -> uint8; a single channel is repeated."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"thumbnails must have shape (N, h, w, 3) (or (N, h, w) / (N, h, w, 1)), "
            f"got {images.shape}"
        )
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind == "f":
        if not np.isfinite(images).all():
            raise ValueError("thumbnails contain NaN or infinite values")
        return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    if images.dtype.kind in "iu":
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError("integer thumbnails must lie in 0..255")
        return images.astype(np.uint8)
    raise ValueError(f"thumbnails must be uint8 or float, got dtype {images.dtype}")


def _area_resize(images: np.ndarray, height: int, width: int, chunk: int = 8192) -> np.ndarray:
    """Shrinks (N, h, w, 3) uint8 images by averaging the source pixels of each output pixel."""
    n, h, w, _ = images.shape
    row_edges = np.floor(np.arange(height + 1) * h / height).astype(np.int64)
    col_edges = np.floor(np.arange(width + 1) * w / width).astype(np.int64)
    row_counts = np.diff(row_edges).astype(np.float32)
    col_counts = np.diff(col_edges).astype(np.float32)
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    for start in range(0, n, chunk):
        block = images[start : start + chunk].astype(np.float32)
        block = np.add.reduceat(block, row_edges[:-1], axis=1) / row_counts[None, :, None, None]
        block = np.add.reduceat(block, col_edges[:-1], axis=2) / col_counts[None, None, :, None]
        out[start : start + chunk] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
    return out


def resize_images(images, height: int, width: int) -> np.ndarray:
    """(N, h, w, 3) thumbnails shrunk to ``height`` x ``width`` by area averaging (uint8).

    For shrinking only (each output pixel averages the source pixels it
    covers), as :func:`make_sprite` does when a sprite would be too large.
    """
    images = to_uint8_images(images)
    if not (1 <= height <= images.shape[1] and 1 <= width <= images.shape[2]):
        raise ValueError(
            f"resize_images shrinks: {images.shape[1]}x{images.shape[2]} thumbnails cannot "
            f"become {height}x{width}"
        )
    return _area_resize(images, int(height), int(width))


def galaxy_thumbnails(images, *, calibrated: bool = True, display=None) -> np.ndarray:
    """(N, h, w, 3) uint8 RGB thumbnails of galaxy stamps, for a sprite or a thumbnail map.

    The projector of an image embedding shows each galaxy as its three-band
    colour picture; this makes those pictures, all drawn with one display
    so that colour and brightness compare between points.

    Args:
      images: one of
        * uint8 (N, h, w, 3): already RGB (e.g. a display image's stamps),
          returned unchanged;
        * float (N, h, w, 3) in nJy, bands F435W, F850LP, F160W
          (``calibrated=True``): astropy Lupton composites, F160W/F850LP/F435W
          as R/G/B, PSF-matched, with fixed band scales and one stretch
          (``display``, default :func:`tfelg.outputs.hst_plots.rgb_display`
          of these stamps): :func:`tfelg.outputs.hst_plots.lupton_rgb`;
        * float display values 0-1 in the same band slots
          (``calibrated=False``, ``hubble_deep_field``): channels reversed to
          R, G, B and scaled to 0-255 as given, not stretched again (they
          are a display stretch already).
      calibrated: see ``images``.
      display: a :class:`tfelg.outputs.hst_plots.RgbDisplay` for calibrated
        stamps (e.g. one shared by several figures).

    Returns:
      (N, h, w, 3) uint8, row 0 at the bottom of the sky (as the stamps).

    Raises:
      ValueError: not (N, h, w, 3), non-numeric or non-finite values (the
        first bad image is named), display values outside 0-1.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"galaxy images must be (N, h, w, 3), got shape {images.shape}")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.number):
        raise ValueError(f"galaxy images must be numbers, got dtype {images.dtype}")
    finite = np.isfinite(images).reshape(len(images), -1).all(axis=1)
    if not finite.all():
        raise ValueError(
            "galaxy images have NaN or infinite pixels (first in image "
            f"{int(np.flatnonzero(~finite)[0])})"
        )
    if not calibrated:
        if images.size and (images.min() < 0.0 or images.max() > 1.0):
            raise ValueError(
                "display images (calibrated=False) must lie in 0-1, got "
                f"{images.min():g}..{images.max():g}; calibrated flux needs calibrated=True"
            )
        return np.rint(images[..., ::-1] * 255.0).astype(np.uint8)
    if len(images) == 0:
        return np.zeros(images.shape, np.uint8)
    from tfelg.outputs import hst_plots  # matplotlib and astropy: only when drawn

    if display is None:
        display = hst_plots.rgb_display(images, calibrated=True)
    return np.stack([hst_plots.lupton_rgb(image, display) for image in images])


def sprite_grid(n: int) -> int:
    """Thumbnails per row (and at most per column) of the square sprite for ``n`` images."""
    return max(1, math.ceil(math.sqrt(n)))


def max_thumbnail_side(n: int, max_size: int = MAX_SPRITE_SIZE) -> int:
    """The largest thumbnail side whose square grid of ``n`` fits in ``max_size`` pixels."""
    return max_size // sprite_grid(n)


def make_sprite(
    images, *, max_size: int = MAX_SPRITE_SIZE, background=BACKGROUND
) -> tuple[np.ndarray, tuple[int, int]]:
    """Tiles thumbnails into one sprite image, row-major, in a square grid.

    Image ``i`` sits at grid row ``i // g``, column ``i % g`` with
    ``g = ceil(sqrt(N))``, which is the order the projector reads; the sprite
    is ``g`` thumbnails wide and high. When the
    grid would exceed ``max_size`` pixels on a side the thumbnails are shrunk
    (area averaging, aspect ratio kept) and that is logged.

    Args:
      images: (N, h, w, 3) uint8, or floats in [0, 1].
      max_size: largest sprite side in pixels (8192 for the projector).
      background: RGB fill of the unused cells.

    Returns:
      (sprite as (H, W, 3) uint8, (thumb_height, thumb_width)).

    Raises:
      ValueError: no images, a bad shape or dtype, or more images than
        ``max_size`` pixels can hold at one pixel each.
    """
    images = to_uint8_images(images)
    n, h, w, _ = images.shape
    if n == 0:
        raise ValueError("no thumbnails to tile")
    grid = sprite_grid(n)
    side = max_size // grid
    if side < 1:
        raise ValueError(
            f"{n} thumbnails do not fit a {max_size}x{max_size} sprite even at 1 pixel each; "
            "subsample the points first"
        )
    if h > side or w > side:
        factor = side / max(h, w)
        new_h, new_w = max(1, int(h * factor)), max(1, int(w * factor))
        logging.warning(
            "sprite: %d thumbnails of %dx%d would make a %dx%d image (limit %d); "
            "shrinking them to %dx%d",
            n,
            h,
            w,
            grid * h,
            grid * w,
            max_size,
            new_h,
            new_w,
        )
        images = _area_resize(images, new_h, new_w)
        h, w = new_h, new_w
    # A full square grid, as TensorBoard's documentation asks (the frontend
    # derives the number of rows from the image height).
    padded = np.empty((grid * grid, h, w, 3), dtype=np.uint8)
    padded[...] = np.asarray(background, dtype=np.uint8)
    padded[:n] = images
    # (grid, grid, h, w, 3) -> (grid, h, grid, w, 3) -> image.
    sprite = np.ascontiguousarray(
        padded.reshape(grid, grid, h, w, 3).transpose(0, 2, 1, 3, 4).reshape(grid * h, grid * w, 3)
    )
    return sprite, (h, w)
