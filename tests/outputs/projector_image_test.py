"""The projector of an image embedding: RGB galaxy thumbnails as its sprite, every label as metadata.

Stamps are round Gaussian galaxies in nJy per pixel with the synthetic
sample's sky noise: half with an irregular's colours (blue), half with an
elliptical's (red), placed in two groups of the embedding. A real
TensorBoard serves the projector written by
:func:`tfelg.outputs.projector.write_projector` with
:func:`tfelg.outputs.sprites.galaxy_thumbnails` as its sprite: over HTTP
the sprite holds the thumbnails in row order and the metadata every label;
in headless Chromium (skipped, saying so, without it) the projector draws
the thumbnails themselves, blue and red, where the points would be.
"""

import io
import json
import os
import time

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from PIL import Image

from tfelg.outputs import projector, sprites
from tfelg.synthetic import hst_galaxies as hst
from tfelg.testing import browser
from tfelg.testing.tensorboard_server import SERVER_TIMEOUT_S, TensorBoardServer

N = 120
SKY = np.array([hst.sky_sigma_njy(b) for b in hst.BANDS])
BLUE, RED = (1.6, 0.7), (4.9, 1.1)  # F435W-F850LP, F850LP-F160W (AB)
WINDOW = (1400, 900)
# Thumbnail pixels seen in the screenshot: measured about 3,900 blue and
# 1,600 orange ones for 120 thumbnails at this window size (the projector's
# WebGL draws the red composites darker than they are); without a sprite
# (points 0x7575D9) only the blue and red axis lines match: 178 and 73.
MIN_THUMBNAIL_PIXELS = 800


def _galaxies(n, seed=0, size=32):
    """(n, size, size, 3) nJy stamps, blue for even rows and red for odd ones, and is_blue."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2.0
    profile = np.exp(-0.5 * (x**2 + y**2) / 16.0) / (2 * np.pi * 16.0)
    is_blue = np.arange(n) % 2 == 0
    images = []
    for blue in is_blue:
        b_z, z_h = BLUE if blue else RED
        flux = 20000.0 * np.array([10 ** (-0.4 * b_z), 1.0, 10 ** (0.4 * z_h)])
        images.append(profile[..., None] * flux + rng.normal(size=(size, size, 3)) * SKY)
    return np.asarray(images, np.float32), is_blue


def _metadata(is_blue):
    n = len(is_blue)
    return {
        "object_id": [f"HSTSYN-0-{i:07d}" for i in range(n)],
        "true_type": ["irregular" if b else "elliptical" for b in is_blue],
        "uvj": ["star_forming" if b else "quiescent" for b in is_blue],
        "gini_m20": ["sb_ir" if b else "e_s0_sa" for b in is_blue],
        "cluster": [str(int(not b)) for b in is_blue],
        "redshift": [f"{0.1 + 0.005 * i:.3f}" for i in range(n)],
        "split": ["train"] * n,
    }


def _write(logdir, *, with_sprite=True, seed=0):
    images, is_blue = _galaxies(N, seed)
    rng = np.random.default_rng(seed)
    # Two groups, far apart along the first axis: blue galaxies left, red right.
    centres = np.where(is_blue[:, None], [-4.0, 0.0, 0.0], [4.0, 0.0, 0.0])
    embeddings = (centres + rng.normal(size=(N, 3))).astype(np.float32)
    thumbs = sprites.galaxy_thumbnails(images)
    info = projector.write_projector(
        logdir,
        embeddings,
        _metadata(is_blue),
        sprite_images=thumbs if with_sprite else None,
    )
    return info, thumbs, is_blue


def _blue_red_pixels(image):
    """(blue, red) counts of thumbnail-coloured pixels in the projector's drawing area."""
    h, w = image.shape[:2]
    area = image[int(0.15 * h) :, int(0.23 * w) : int(0.78 * w)].astype(np.int16)
    r, g, b = area[..., 0], area[..., 1], area[..., 2]
    blue = (b > 150) & (b > 2 * r) & (b > 2 * g)
    red = (r > 100) & (r > 2 * b) & (r > g) & (g > r // 2)  # orange, not the red axis
    return int(blue.sum()), int(red.sum())


class ImageProjectorFilesTest(tf.test.TestCase):
    def test_sprite_and_every_label_served(self):
        logdir = os.path.join(self.get_temp_dir(), "tb")
        info, thumbs, is_blue = _write(logdir)
        self.assertEqual(info["thumb_size"], (32, 32))
        # Thumbnails keep the galaxies' colours: blue ones blue, red ones red.
        centre = thumbs[:, 12:20, 12:20].reshape(N, -1, 3).mean(1)
        self.assertTrue(np.all(centre[is_blue, 2] > 2 * centre[is_blue, 0]))
        self.assertTrue(np.all(centre[~is_blue, 0] > 2 * centre[~is_blue, 2]))

        server = TensorBoardServer(logdir)
        self.addCleanup(server.stop)
        server.wait_until_serving(time.monotonic() + SERVER_TIMEOUT_S)
        base = "data/plugin/projector/"
        config = json.loads(server.get(base + "info", run="."))
        (embedding,) = [e for e in config["embeddings"] if e["tensorName"] == info["tensor_name"]]
        self.assertEqual(embedding["sprite"]["singleImageDim"], [32, 32])
        name = info["tensor_name"]
        lines = server.get(base + "metadata", run=".", name=name).decode().splitlines()
        self.assertEqual(lines[0].split("\t"), list(_metadata(is_blue)))
        self.assertEqual(
            lines[2].split("\t")[:5],
            ["HSTSYN-0-0000001", "elliptical", "quiescent", "e_s0_sa", "1"],
        )
        self.assertLen(lines, N + 1)
        png = server.get(base + "sprite_image", run=".", name=name)
        sprite = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        grid = sprites.sprite_grid(N)  # 11 per row
        self.assertEqual(sprite.shape, (grid * 32, grid * 32, 3))
        i = 13  # row 1, column 2 of the sprite
        np.testing.assert_array_equal(sprite[32:64, 64:96], thumbs[i])

    def test_large_sample_sprite_fits_the_limit(self):
        # 400 thumbnails of 64 px would make a 1,280-pixel sprite: with a
        # 1,024-pixel limit they are shrunk to 51 px (20 per row) and keep
        # their colour. At the projector's 8,192 pixels the same rule gives
        # 57 px for 20,000 galaxies.
        images, is_blue = _galaxies(400, size=64)
        thumbs = sprites.galaxy_thumbnails(images)
        sprite, (h, w) = sprites.make_sprite(thumbs, max_size=1024)
        self.assertEqual((h, w), (51, 51))
        self.assertEqual(sprite.shape, (20 * 51, 20 * 51, 3))
        first_red = int(np.flatnonzero(~is_blue)[0])  # row 0, column 1
        blue_centre = sprite[20:31, 20:31].reshape(-1, 3).mean(0)
        red_centre = sprite[20:31, 51 + 20 : 51 + 31].reshape(-1, 3).mean(0)
        self.assertEqual(first_red, 1)
        self.assertGreater(blue_centre[2], 2 * blue_centre[0])
        self.assertGreater(red_centre[0], 2 * red_centre[2])
        self.assertEqual(sprites.max_thumbnail_side(20_000), 57)


@absltest.skipIf(browser.chromium_missing_reason(), browser.chromium_missing_reason() or "")
class ImageProjectorInBrowserTest(tf.test.TestCase):
    def _screenshot(self, with_sprite):
        logdir = os.path.join(self.get_temp_dir(), f"tb_{with_sprite}")
        _write(logdir, with_sprite=with_sprite)
        server = TensorBoardServer(logdir)
        self.addCleanup(server.stop)
        server.wait_until_serving(time.monotonic() + SERVER_TIMEOUT_S)
        png = os.path.join(self.get_temp_dir(), f"projector_images_{with_sprite}.png")
        return browser.screenshot(server.url + "#projector", png, size=WINDOW), png

    def test_thumbnails_are_drawn(self):
        image, png = self._screenshot(with_sprite=True)
        blue, red = _blue_red_pixels(image)
        self.assertGreater(blue, MIN_THUMBNAIL_PIXELS, f"blue thumbnails in {png}: {blue} pixels")
        self.assertGreater(red, MIN_THUMBNAIL_PIXELS, f"red thumbnails in {png}: {red} pixels")
        image, png = self._screenshot(with_sprite=False)
        blue, red = _blue_red_pixels(image)
        self.assertLess(max(blue, red), MIN_THUMBNAIL_PIXELS / 2, f"no sprite, yet {png} has them")


if __name__ == "__main__":
    absltest.main()
