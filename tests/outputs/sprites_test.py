"""Tests for tfelg.outputs.sprites."""

import numpy as np
from absl.testing import absltest

from tfelg.outputs import sprites
from tfelg.spectra import REST_LOGLAM


class RenderSpectraTest(absltest.TestCase):
    def test_step_spectrum_is_drawn_low_then_high(self):
        flux = np.where(np.arange(len(REST_LOGLAM)) < len(REST_LOGLAM) // 2, 1.0, 3.0)[None]
        (image,) = sprites.render_spectra(flux, size=16)
        self.assertEqual(image.shape, (16, 16, 3))
        dark = image.sum(-1) < 200
        # Left half at the bottom row, right half at the top row (row 0 = top).
        self.assertTrue(dark[15, :7].all())
        self.assertTrue(dark[0, 9:].all())
        self.assertFalse(dark[0, :7].any())
        # The step is joined by a vertical run.
        self.assertTrue(dark[:, 8].all())

    def test_nan_pixels_and_blank_spectra(self):
        rng = np.random.default_rng(0)
        flux = rng.normal(1.0, 0.1, size=(3, 400))
        flux[0] = np.nan
        flux[1, 50:150] = np.nan
        flux[2, 10] = np.inf
        images = sprites.render_spectra(flux, loglam=np.linspace(3.6, 3.8, 400), size=(12, 20))
        self.assertEqual(images.shape, (3, 12, 20, 3))
        self.assertTrue((images[0] == 255).all())  # Nothing to draw: blank.
        self.assertTrue((images[1] < 255).any())
        self.assertTrue((images[2] < 255).any())

    def test_colours_per_spectrum(self):
        flux = np.ones((2, 100))
        colours = np.array([[255, 0, 0], [0, 0, 255]], dtype=np.uint8)
        images = sprites.render_spectra(flux, loglam=np.arange(100.0), size=8, colours=colours)
        drawn = images[0].reshape(-1, 3)
        self.assertIn([255, 0, 0], drawn.tolist())
        self.assertIn([0, 0, 255], images[1].reshape(-1, 3).tolist())

    def test_many_spectra(self):
        flux = np.random.default_rng(1).normal(size=(3000, len(REST_LOGLAM))).astype(np.float32)
        images = sprites.render_spectra(flux)
        self.assertEqual(images.shape, (3000, 32, 32, 3))
        self.assertEqual(images.dtype, np.uint8)

    def test_bad_shapes(self):
        with self.assertRaisesRegex(ValueError, "loglam"):
            sprites.render_spectra(np.ones((2, 10)))
        with self.assertRaisesRegex(ValueError, "2-D"):
            sprites.render_spectra(np.ones(10))


class FeatureGlyphTest(absltest.TestCase):
    def test_sign_and_missing(self):
        features = np.array([[3.0, -3.0, np.nan, 0.0]])
        (glyph,) = sprites.render_feature_glyphs(features, size=16)
        blue = np.all(glyph == sprites.POSITIVE_COLOUR, axis=-1)
        red = np.all(glyph == sprites.NEGATIVE_COLOUR, axis=-1)
        grey = np.all(glyph == sprites.MISSING_COLOUR, axis=-1)
        self.assertTrue(blue[:, :4].any() and not blue[:, 4:].any())
        self.assertTrue(red[:, 4:8].any() and not red[:, :4].any())
        self.assertTrue(grey[:, 8:12].any())
        self.assertGreater(blue[:, :4].sum(), 4 * 3)  # A full-height bar.

    def test_too_many_features(self):
        with self.assertRaisesRegex(ValueError, "cannot draw"):
            sprites.render_feature_glyphs(np.zeros((1, 40)), size=32)


class MakeSpriteTest(absltest.TestCase):
    def test_row_major_square_grid(self):
        images = np.arange(5, dtype=np.uint8)[:, None, None, None] * np.ones((5, 2, 3, 3), np.uint8)
        sprite, size = sprites.make_sprite(images)
        self.assertEqual(size, (2, 3))
        self.assertEqual(sprite.shape, (3 * 2, 3 * 3, 3))  # ceil(sqrt(5)) = 3.
        self.assertEqual(sprite[0, 3, 0], 1)
        self.assertEqual(sprite[2, 0, 0], 3)
        self.assertEqual(sprite[4, 0, 0], 255)  # Unused cell: background.

    def test_float_and_grey_inputs(self):
        sprite, _ = sprites.make_sprite(np.full((4, 2, 2), 0.5))
        self.assertEqual(sprite.dtype, np.uint8)
        self.assertEqual(sprite[0, 0].tolist(), [128, 128, 128])
        with self.assertRaisesRegex(ValueError, "NaN"):
            sprites.make_sprite(np.full((1, 2, 2, 3), np.nan))

    def test_shrinks_to_fit(self):
        images = np.zeros((10, 30, 20, 3), dtype=np.uint8)
        sprite, size = sprites.make_sprite(images, max_size=64)
        self.assertEqual(size, (16, 10))  # grid 4, side 16, aspect kept.
        self.assertLessEqual(max(sprite.shape), 64)


if __name__ == "__main__":
    absltest.main()
