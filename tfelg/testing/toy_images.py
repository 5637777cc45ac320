"""Toy three-band galaxy stamps for fast tests of image models (no GalSim).

Two kinds of elliptical Gaussian blobs in F435W, F850LP, F160W (nJy-like
units) with white noise: "red" compact round blobs with an elliptical's
colours and "blue" extended flat ones with an irregular's. Real renderings
(:mod:`tfelg.synthetic.hst_galaxies`) cost ~0.1 s a galaxy; these cost
microseconds, and their two kinds are easy to tell apart, which is what a
test of "training separates something" needs.
"""

from __future__ import annotations

import numpy as np

#: f_nu ratios F435W : F850LP : F160W of the two kinds, from the synthetic
#: sample's median AB colours: ellipticals F435W-F850LP 4.9, F850LP-F160W
#: 1.1; irregulars 1.6 and 0.7 (docs, tfelg.outputs.hst_plots).
RED = np.array([10 ** (-0.4 * 4.9), 1.0, 10 ** (0.4 * 1.1)], np.float32)
BLUE = np.array([10 ** (-0.4 * 1.6), 1.0, 10 ** (0.4 * 0.7)], np.float32)


def toy_stamps(n: int, seed: int = 0, size: int = 64, noise: float = 0.05):
    """``(images (n, size, size, 3) float32, kind (n,) int: 0 red, 1 blue)``, seeded."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, size=n)
    yy, xx = np.mgrid[:size, :size].astype(np.float32) - (size - 1) / 2.0
    images = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        cx, cy = rng.uniform(-3, 3, size=2)
        angle = rng.uniform(0, np.pi)
        if kind[i] == 0:
            sx, sy, colour = rng.uniform(2.0, 3.0), None, RED
            sy = sx * rng.uniform(0.8, 1.0)
        else:
            sx, colour = rng.uniform(6.0, 9.0), BLUE
            sy = sx * rng.uniform(0.25, 0.45)
        c, s = np.cos(angle), np.sin(angle)
        u = c * (xx - cx) + s * (yy - cy)
        v = -s * (xx - cx) + c * (yy - cy)
        profile = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
        flux = rng.uniform(0.5, 2.0)
        images[i] = flux * profile[..., None] * colour
    images += rng.normal(scale=noise, size=images.shape).astype(np.float32)
    return images, kind
