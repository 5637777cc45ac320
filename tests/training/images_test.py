"""The image stretch's sky noise (tfelg/training/images.py ImagePreprocessor.sky_sigma)."""

import json

import numpy as np
import tensorflow as tf

from tfelg.training.images import ImagePreprocessor


def stamps(n=40, size=32, sigma=(1.0, 2.0, 0.5), seed=0):
    """Noise of known sigma per band plus a large bright centred galaxy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    galaxy = 100.0 * np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))
    noise = rng.normal(size=(n, size, size, 3)) * np.asarray(sigma)
    return {"image": (galaxy[None, ..., None] + noise).astype(np.float32)}


class SkySigmaTest(tf.test.TestCase):
    def test_frame_sigma_is_the_noise_where_the_all_pixel_scale_is_not(self):
        prep = ImagePreprocessor.fit(stamps())
        self.assertAllClose(prep.sky_sigma, [1.0, 2.0, 0.5], rtol=0.05)
        # The galaxy covers much of the stamp: the all-pixel MAD overestimates the noise.
        self.assertTrue(all(s > 1.2 * n for s, n in zip(prep.scale, prep.sky_sigma, strict=True)))

    def test_round_trip_and_files_without_it(self):
        prep = ImagePreprocessor.fit(stamps(n=8))
        again = ImagePreprocessor.from_json(prep.to_json())
        self.assertEqual(again, prep)
        old = json.loads(prep.to_json())
        del old["sky_sigma"]
        self.assertIsNone(ImagePreprocessor.from_json(json.dumps(old)).sky_sigma)


if __name__ == "__main__":
    tf.test.main()
