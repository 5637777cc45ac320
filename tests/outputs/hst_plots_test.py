"""tfelg.outputs.hst_plots: the RGB composite's colours mean colours; figures written.

The stamps here are Gaussian galaxies in nJy per pixel, seen through each
band's PSF width, with the sky noise
of the synthetic GOODS-like data, their band fluxes set from AB colours:
blue ones like the synthetic irregulars' medians (F435W-F850LP = 1.6,
F850LP-F160W = 0.7), red ones like the ellipticals' (4.9, 1.1).
"""

import dataclasses
import os

import numpy as np
from absl.testing import absltest
from PIL import Image

from tfelg.outputs import hst_plots
from tfelg.synthetic import hst_galaxies as hst

SKY = np.array([hst.sky_sigma_njy(b) for b in hst.BANDS])
BLUE = (1.6, 0.7)
RED = (4.9, 1.1)


def _stamp(colours, *, z_njy=4000.0, seed=0, noise=True, size=64):
    """A round Gaussian galaxy (sigma 3 pixels) with F850LP flux ``z_njy`` and the given colours.

    Seen through each band's PSF (a Gaussian of the band's FWHM), so F160W
    is broader than F435W as in the data.
    """
    b_z, z_h = colours
    flux = np.array([z_njy * 10 ** (-0.4 * b_z), z_njy, z_njy * 10 ** (0.4 * z_h)])
    y, x = np.mgrid[:size, :size] - (size - 1) / 2.0
    image = np.empty((size, size, 3))
    for band, name in enumerate(hst.BANDS):
        psf_sigma = hst.PSF_FWHM_ARCSEC[name] / 2.3548 / hst.PIXEL_SCALE
        var = 3.0**2 + psf_sigma**2
        image[..., band] = flux[band] * np.exp(-0.5 * (x**2 + y**2) / var) / (2 * np.pi * var)
    if noise:
        image = image + np.random.default_rng(seed).normal(size=image.shape) * SKY
    return image.astype(np.float32)


def _centre_rgb(rgb, half=4):
    """Mean R, G, B of the central (2 half)^2 pixels, as floats."""
    c = rgb.shape[0] // 2
    return rgb[c - half : c + half, c - half : c + half].reshape(-1, 3).astype(float).mean(0)


class RgbColourTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        stamps = np.stack([_stamp(BLUE, seed=1), _stamp(RED, seed=2)])
        self.display = hst_plots.rgb_display(stamps)

    def test_blue_galaxy_is_blue_and_red_galaxy_red(self):
        r, _, b = _centre_rgb(hst_plots.lupton_rgb(_stamp(BLUE, seed=1), self.display))
        self.assertGreater(b, 2.0 * r, "a galaxy with a bright F435W must render blue")
        r, g, b = _centre_rgb(hst_plots.lupton_rgb(_stamp(RED, seed=2), self.display))
        self.assertGreater(r, 2.0 * b, "a galaxy faint in F435W must render red/orange")
        self.assertGreater(r, g)

    def test_neutral_colours_render_grey(self):
        neutral = (
            hst_plots.RGB_NEUTRAL_AB["F435W-F850LP"],
            hst_plots.RGB_NEUTRAL_AB["F850LP-F160W"],
        )
        rgb = _centre_rgb(hst_plots.lupton_rgb(_stamp(neutral, noise=False), self.display))
        self.assertLess(np.ptp(rgb), 0.02 * rgb.max() + 1.0, rgb)

    def test_colour_does_not_depend_on_brightness_or_on_the_other_stamps(self):
        # Lupton's stretch keeps each pixel's band ratios (below saturation).
        display = dataclasses.replace(self.display, stretch=20 * self.display.stretch, floor=0.0)
        faint = hst_plots.lupton_rgb(_stamp(BLUE, z_njy=1000.0, noise=False), display)
        bright = hst_plots.lupton_rgb(_stamp(BLUE, z_njy=3000.0, noise=False), display)
        f, b = _centre_rgb(faint), _centre_rgb(bright)
        self.assertGreater(b.sum(), f.sum() * 1.2, "brighter galaxy, brighter pixels")
        np.testing.assert_allclose(f / f.max(), b / b.max(), atol=0.03)
        # The stretch comes from the sky noise, not from the brightest galaxy shown.
        with_bright = hst_plots.rgb_display(
            np.stack([_stamp(BLUE, seed=1), _stamp(RED, seed=2), _stamp(RED, z_njy=1e5, seed=3)])
        )
        self.assertAlmostEqual(with_bright.stretch / self.display.stretch, 1.0, delta=0.1)
        np.testing.assert_array_equal(with_bright.scales, self.display.scales)

    def test_sky_is_black(self):
        sky = np.random.default_rng(5).normal(size=(64, 64, 3)) * SKY
        rgb = hst_plots.lupton_rgb(sky, self.display)
        self.assertGreater(float(np.mean(rgb.max(-1) == 0)), 0.6)

    def test_band_scales_are_the_documented_constants(self):
        b_z = hst_plots.RGB_NEUTRAL_AB["F435W-F850LP"]
        z_h = hst_plots.RGB_NEUTRAL_AB["F850LP-F160W"]
        np.testing.assert_allclose(
            hst_plots.RGB_BAND_SCALES, [10 ** (0.4 * b_z), 1.0, 10 ** (-0.4 * z_h)]
        )
        as_given = hst_plots.rgb_display(np.stack([_stamp(BLUE)]), calibrated=False)
        np.testing.assert_array_equal(as_given.scales, np.ones(3))

    def test_noiseless_stamps_get_a_positive_stretch(self):
        display = hst_plots.rgb_display(_stamp(RED, noise=False))
        self.assertGreater(display.stretch, 0.0)
        self.assertGreater(display.floor, 0.0)
        self.assertGreater(int(hst_plots.lupton_rgb(_stamp(RED, noise=False), display).max()), 100)


class RgbGridTest(absltest.TestCase):
    def test_grid_written(self):
        images = np.stack([_stamp(BLUE, seed=i) for i in range(3)] + [_stamp(RED, seed=9)])
        types = np.array([4, 4, 4, 0])
        path = os.path.join(self.create_tempdir().full_path, "rgb.png")
        out = hst_plots.plot_rgb_grid(images, types, hst.TRUE_TYPE_NAMES, path, per_type=3)
        self.assertEqual(out, path)
        with Image.open(path) as image:
            self.assertGreater(min(image.size), 200)


class ScatterByTypeTest(absltest.TestCase):
    def test_types_are_interleaved_not_painted_over_each_other(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import to_hex
        from matplotlib.figure import Figure

        types = np.repeat([0, 1], 200)  # elliptical, then lenticular (the UVJ red clump)
        x = np.random.default_rng(0).normal(size=400)
        y = np.random.default_rng(1).normal(size=400)
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        hst_plots._scatter_by_type(ax, x, y, types, hst.TRUE_TYPE_NAMES)
        faces = [to_hex(c) for c in ax.collections[0].get_facecolors()]
        self.assertLen(faces, 400)
        last_hundred = set(faces[-100:])
        self.assertLen(last_hundred, 2, "the last points drawn must be of both types")
        labels = [t.get_text() for t in ax.legend().get_texts()]
        self.assertEqual(labels, ["elliptical (200)", "lenticular (200)"])


if __name__ == "__main__":
    absltest.main()
