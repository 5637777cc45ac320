"""The dense AE follows the reference's architecture for line data."""

import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfelg.models import AE
from tfelg.models.dense import SPECTRUM_HIDDEN_UNITS, default_hidden_units


def structured_data(n=256, num_features=10, seed=0):
    """A 2-D latent mapped nonlinearly to F dimensions, standardised."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 2))
    x = np.tanh(t @ rng.normal(size=(2, num_features))) + 0.5 * np.sin(
        t @ rng.normal(size=(2, num_features))
    )
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32)


def reconstruction_before_and_after_training(model, steps=300, learning_rate=3e-3, batch=64):
    """``train_step_on_replica`` in a tf.function, as the training loop runs it."""
    x = structured_data()
    w = np.ones_like(x)
    optimizers = model.make_optimizers(learning_rate)
    step = tf.function(lambda xb, wb: model.train_step_on_replica(xb, wb, optimizers, batch))
    before = float(model.eval_losses_on_replica(x, w, len(x))["reconstruction"])
    data = (
        tf.data.Dataset.from_tensor_slices((x, w))
        .shuffle(len(x), seed=0)
        .batch(batch, drop_remainder=True)
        .repeat()
        .take(steps)
    )
    for xb, wb in data:
        last = step(xb, wb)
    for key, value in last.items():
        assert np.isfinite(value.numpy()), (key, value)
    after = float(model.eval_losses_on_replica(x, w, len(x))["reconstruction"])
    return before, after


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


if __name__ == "__main__":
    tf.test.main()
