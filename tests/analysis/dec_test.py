"""Tests for tfelg.analysis.dec: the DEC distributions by hand and clusters on planted blobs."""

import keras
import numpy as np
from absl.testing import absltest
from sklearn.metrics import adjusted_rand_score

from tfelg.analysis import dec


def blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 0.0, 0.0], [0.0, 6.0, 0.0, 0.0]])
    return (centres[labels] + rng.normal(size=(n, 4))).astype(np.float32), labels


def small_encoder(seed=0):
    """A 4 -> 8 -> 2 encoder set as if pretrained: its codes are the two informative inputs."""
    keras.utils.set_random_seed(seed)
    encoder = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(2)]
    )
    kernel = np.zeros((4, 8), np.float32)
    kernel[0, 0] = kernel[1, 1] = 1.0
    kernel[0, 2] = kernel[1, 3] = -1.0
    out = np.zeros((8, 2), np.float32)
    out[0, 0] = out[1, 1] = 1.0
    out[2, 0] = out[3, 1] = -1.0
    encoder.set_weights([kernel, np.zeros(8, np.float32), out, np.zeros(2, np.float32)])
    return encoder


class DistributionsTest(absltest.TestCase):
    def test_soft_assignments_by_hand(self):
        q = dec.soft_assignments([[0.0, 0.0]], [[1.0, 0.0], [0.0, 3.0]]).numpy()
        # (1 + 1)^-1 = 0.5 and (1 + 9)^-1 = 0.1, normalised.
        np.testing.assert_allclose(q, [[0.5 / 0.6, 0.1 / 0.6]], rtol=1e-6)

    def test_target_distribution_by_hand(self):
        q = np.array([[0.9, 0.1], [0.5, 0.5]])
        f = q.sum(axis=0)  # 1.4, 0.6
        w = q**2 / f
        expected = w / w.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(dec.target_distribution(q), expected)
        # Confident points get more confident; a small cluster gains weight.
        p = dec.target_distribution(q)
        self.assertGreater(p[0, 0], 0.9)
        self.assertGreater(p[1, 1], 0.5)


class FitTest(absltest.TestCase):
    def test_recovers_planted_clusters_and_leaves_the_encoder(self):
        x, labels = blobs()
        encoder = small_encoder()
        before = [w.copy() for w in encoder.get_weights()]
        result = dec.fit_dec(encoder, x, 3, update_interval=20, max_steps=200, seed=1)
        self.assertGreater(adjusted_rand_score(labels, result.predict(x)), 0.9)
        for a, b in zip(before, encoder.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)  # the original is not fine-tuned
        self.assertGreater(result.steps, 0)
        self.assertEqual(result.centres.shape, (3, 2))
        proba = result.predict_proba(x[:10])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    def test_seeded(self):
        x, _ = blobs(300)
        a = dec.fit_dec(small_encoder(), x, 3, update_interval=10, max_steps=30, seed=2)
        b = dec.fit_dec(small_encoder(), x, 3, update_interval=10, max_steps=30, seed=2)
        np.testing.assert_allclose(a.centres, b.centres, rtol=1e-5)

    def test_bad_k(self):
        x, _ = blobs(20)
        with self.assertRaisesRegex(ValueError, "n_clusters must be in"):
            dec.fit_dec(small_encoder(), x, 1)


if __name__ == "__main__":
    absltest.main()
