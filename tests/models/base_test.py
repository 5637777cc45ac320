"""The common interface, checked on every model of the family.

Shapes for line data (F = 10) and a spectrum-like input (F = 64);
``model.save`` / ``load_model`` must give identical embeddings;
``get_config`` must round-trip; a missing value (weight 0) must not enter
the loss. That a few hundred steps of ``train_step_on_replica`` cut the
reconstruction error is tested per model, in each model's own test file
(dense_test, conv_test, vae_test, aae_test), to keep every file fast.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfelg.models import build_model, model_names, weighted_squared_error
from tfelg.testing.toy_lines import structured_data

# (test name, registry name, extra constructor arguments)
MODELS = (
    ("ae", "ae", {}),
    ("cae", "cae", {}),
    ("vae", "vae", {}),
    ("cvae", "cvae", {}),
    ("aae", "aae", {}),
)
MODELS_AND_PRIORS = MODELS + (
    ("vae_mog", "vae", {"prior": "mog"}),
    ("cvae_mog", "cvae", {"prior": "mog", "noise_std": 0.1}),
    ("aae_mog", "aae", {"prior": "mog", "prior_std": 5.0}),
)


def perturb_weights(model, scale=0.1, seed=1):
    """Moves every trainable weight off its seeded initial value (a stand-in for training)."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        noise = rng.normal(scale=scale, size=variable.shape).astype(np.float32)
        variable.assign(variable.numpy() + noise)


class InterfaceTest(tf.test.TestCase, parameterized.TestCase):
    def test_registry_names_the_five_models(self):
        self.assertEqual(set(model_names("vector")), {"ae", "cae", "vae", "cvae", "aae"})

    @parameterized.named_parameters(*MODELS)
    def test_shapes_lines(self, name, kwargs):
        model = build_model(name, 10, 3, **kwargs)
        x = structured_data(16, 10)
        self.assertEqual(model.latent_dim, 3)
        self.assertEqual(model.num_features, 10)
        z = model.encode(x)
        self.assertEqual(tuple(z.shape), (16, 3))
        self.assertEqual(tuple(model.decode(z).shape), (16, 10))
        self.assertEqual(tuple(model(x).shape), (16, 10))
        self.assertEqual(tuple(model(x, training=True).shape), (16, 10))
        losses = model.per_example_losses(x, np.ones_like(x), training=False)
        self.assertEqual(tuple(losses["loss"].shape), (16,))
        self.assertEqual(tuple(losses["reconstruction"].shape), (16,))
        self.assertEqual(z.dtype, tf.float32)

    @parameterized.named_parameters(*MODELS)
    def test_shapes_spectrum_like(self, name, kwargs):
        model = build_model(name, 64, 4, seed=1, **kwargs)
        x = structured_data(8, 64)
        z = model.encode(x)
        self.assertEqual(tuple(z.shape), (8, 4))
        self.assertEqual(tuple(model.decode(z).shape), (8, 64))
        self.assertEqual(tuple(model(x).shape), (8, 64))

    @parameterized.named_parameters(*MODELS_AND_PRIORS)
    def test_save_load_gives_identical_embeddings(self, name, kwargs):
        x = structured_data(64)
        model = build_model(name, 10, 2, seed=3, **kwargs)
        perturb_weights(model)
        path = os.path.join(self.get_temp_dir(), f"{name}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        self.assertIs(type(loaded), type(model))
        self.assertEqual(loaded.get_config(), model.get_config())
        self.assertAllEqual(loaded.encode(x), model.encode(x))
        self.assertAllEqual(loaded(x), model(x))
        # The weights came from the file, not from the seed: a fresh model
        # with the same config (same initial weights) encodes differently.
        fresh = type(model).from_config(model.get_config())
        self.assertNotAllClose(fresh.encode(x), model.encode(x))

    @parameterized.named_parameters(*MODELS_AND_PRIORS)
    def test_get_config_round_trip(self, name, kwargs):
        model = build_model(name, 10, 2, seed=7, **kwargs)
        config = model.get_config()
        json.dumps(config)  # plain JSON
        self.assertEqual(config["num_features"], 10)
        self.assertEqual(config["latent_dim"], 2)
        self.assertEqual(config["seed"], 7)
        clone = type(model).from_config(config)
        self.assertEqual(clone.get_config(), config)
        # Same seed, same config: the same initial weights.
        x = structured_data(8)
        self.assertAllEqual(clone.encode(x), model.encode(x))

    @parameterized.named_parameters(*MODELS)
    def test_missing_values_do_not_enter_the_loss(self, name, kwargs):
        model = build_model(name, 10, 2, **kwargs)
        x = structured_data(32)
        w = np.ones_like(x)
        w[:, 3] = 0.0
        changed = x.copy()
        changed[:, 3] += 100.0  # only the *input* changes at a masked entry...
        reference = model(x)
        loss = model.per_example_losses(x, w)["reconstruction"]
        # ...so compare against the weighted error of the unchanged output.
        expected = weighted_squared_error(changed, reference, w)
        self.assertAllClose(loss, expected, rtol=1e-5)

    def test_weighted_squared_error(self):
        x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], np.float32)
        x_hat = np.array([[0.0, 2.0, 5.0], [1.0, 1.0, 1.0]], np.float32)
        w = np.array([[1.0, 0.5, 1.0], [0.0, 0.0, 0.0]], np.float32)
        error = weighted_squared_error(x, x_hat, w)
        # (1 + 0 + 4) / 2.5 and an all-missing row -> 0 (no division by zero).
        self.assertAllClose(error, [5.0 / 2.5, 0.0])


if __name__ == "__main__":
    tf.test.main()
