"""The CAE: the reference's padded conv trunk for lines, a strided one for spectra."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from keras import layers

from tfelg.models import CAE
from tfelg.models.conv import padded_length
from tfelg.testing.toy_lines import reconstruction_before_and_after_training


class ConvAeTest(tf.test.TestCase, parameterized.TestCase):
    def test_training_cuts_reconstruction_error(self):
        before, after = reconstruction_before_and_after_training(CAE(10, 2))
        self.assertGreater(before, 0.8)
        self.assertLess(after, 0.4 * before, f"reconstruction {before:.3f} -> {after:.3f}")

    @parameterized.parameters((10, 3, 16), (16, 3, 16), (17, 3, 24), (64, 4, 64), (1240, 4, 1248))
    def test_padded_length(self, num_features, blocks, expected):
        self.assertEqual(padded_length(num_features, blocks), expected)

    def test_reference_architecture_for_lines(self):
        model = CAE(10, 2)
        self.assertEqual(model.architecture.padded, 16)
        convs = [la for la in model.encoder.layers if isinstance(la, layers.Conv1D)]
        self.assertEqual([c.filters for c in convs], [8, 16, 32])
        self.assertEqual({c.kernel_size for c in convs}, {(3,)})
        pools = [la for la in model.encoder.layers if isinstance(la, layers.MaxPooling1D)]
        self.assertLen(pools, 3)
        dense = [la.units for la in model.encoder.layers if isinstance(la, layers.Dense)]
        self.assertEqual(dense, [16, 2])
        ups = [la for la in model.decoder.layers if isinstance(la, layers.UpSampling1D)]
        self.assertLen(ups, 3)
        self.assertEqual(
            model.get_config()["filters"], [8, 16, 32], msg="config holds resolved defaults"
        )

    def test_spectrum_defaults_are_strided(self):
        model = CAE(1240, 6)
        self.assertTrue(model.architecture.strided)
        self.assertEqual(model.architecture.padded, 1248)
        self.assertTrue(any(isinstance(la, layers.Conv1DTranspose) for la in model.decoder.layers))
        x = np.random.default_rng(0).normal(size=(2, 1240)).astype(np.float32)
        self.assertEqual(tuple(model.encode(x).shape), (2, 6))
        self.assertEqual(tuple(model(x).shape), (2, 1240))

    def test_padding_is_zeros_at_the_end(self):
        # With padding, an input is the same as the explicitly zero-padded one.
        model = CAE(10, 2)
        wide = CAE(16, 2)
        wide.set_weights(model.get_weights())
        x = np.random.default_rng(1).normal(size=(4, 10)).astype(np.float32)
        padded = np.concatenate([x, np.zeros((4, 6), np.float32)], axis=1)
        self.assertAllClose(model.encode(x), wide.encode(padded))
        self.assertAllClose(model(x), wide(padded)[:, :10])

    def test_bad_architecture(self):
        with self.assertRaisesRegex(ValueError, "filters"):
            CAE(10, 2, filters=())
        with self.assertRaisesRegex(ValueError, r"kernel_size must be >= 1"):
            CAE(10, 2, kernel_size=0)


if __name__ == "__main__":
    tf.test.main()
