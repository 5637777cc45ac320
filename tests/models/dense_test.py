"""The dense AE follows the reference's architecture for line data."""

import math

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfelg.models import AE
from tfelg.models.dense import SPECTRUM_HIDDEN_UNITS, default_hidden_units
from tfelg.testing.toy_lines import reconstruction_before_and_after_training


class DenseAeTest(tf.test.TestCase, parameterized.TestCase):
    def test_training_cuts_reconstruction_error(self):
        before, after = reconstruction_before_and_after_training(AE(10, 2))
        self.assertGreater(before, 0.8)
        self.assertLess(after, 0.4 * before, f"reconstruction {before:.3f} -> {after:.3f}")

    @parameterized.parameters(1, 2, 3, 4, 5, 6)
    def test_reference_width_for_lines(self, d):
        self.assertEqual(default_hidden_units(10, d), (math.ceil((10 + d) / 2),))
        model = AE(10, d)
        self.assertEqual(
            [layer.units for layer in model.encoder.layers], [math.ceil((10 + d) / 2), d]
        )
        self.assertEqual(
            [layer.units for layer in model.decoder.layers], [math.ceil((10 + d) / 2), 10]
        )

    def test_spectrum_funnel(self):
        self.assertEqual(default_hidden_units(1240, 8), SPECTRUM_HIDDEN_UNITS)
        model = AE(1240, 8)
        self.assertEqual([layer.units for layer in model.encoder.layers], [512, 128, 8])
        self.assertEqual([layer.units for layer in model.decoder.layers], [128, 512, 1240])

    def test_output_is_linear_not_sigmoid(self):
        # Standardised features are unbounded: the decoder must reach outside [0, 1].
        model = AE(10, 2)
        self.assertEqual(model.decoder.layers[-1].get_config()["activation"], "linear")
        out = model.decode(np.array([[30.0, -30.0], [-30.0, 30.0]], np.float32)).numpy()
        self.assertLess(out.min(), 0.0)
        self.assertGreater(np.abs(out).max(), 1.0)

    def test_custom_widths_and_seed(self):
        a = AE(10, 2, hidden_units=[8, 4], seed=1)
        b = AE(10, 2, hidden_units=(8, 4), seed=2)
        self.assertEqual(a.hidden_units, (8, 4))
        self.assertEqual(a.get_config()["hidden_units"], [8, 4])
        x = np.ones((2, 10), np.float32)
        self.assertNotAllClose(a.encode(x), b.encode(x))

    def test_hidden_activation_option_survives_saving(self):
        model = AE(10, 2, hidden_activation="elu", seed=3)
        hidden = [layer.get_config()["activation"] for layer in model.encoder.layers[:-1]]
        hidden += [layer.get_config()["activation"] for layer in model.decoder.layers[:-1]]
        self.assertEqual(hidden, ["elu", "elu"])
        self.assertEqual(model.decoder.layers[-1].get_config()["activation"], "linear")
        x = np.full((1, 10), -3.0, np.float32)
        path = self.create_tempfile(file_path="ae.keras").full_path
        model.save(path)
        back = keras.saving.load_model(path)
        self.assertEqual(back.get_config()["hidden_activation"], "elu")
        self.assertAllClose(back.encode(x), model.encode(x))
        self.assertEqual(AE(10, 2).get_config()["hidden_activation"], "relu")
        with self.assertRaisesRegex(ValueError, "hidden_activation must be one of"):
            AE(10, 2, hidden_activation="swish")


if __name__ == "__main__":
    tf.test.main()
