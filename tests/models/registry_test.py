"""build_model and MODEL_REGISTRY (tfelg/models/__init__.py): names, shapes, bad arguments."""

import tensorflow as tf
from absl.testing import parameterized

from tfelg.models import AAE, AE, CAE, CVAE, MODEL_REGISTRY, VAE, SimCLR, build_model, model_names


class BuildModelTest(tf.test.TestCase, parameterized.TestCase):
    def test_registry(self):
        autoencoders = {"ae": AE, "cae": CAE, "vae": VAE, "cvae": CVAE, "aae": AAE}
        self.assertEqual({k: MODEL_REGISTRY[k] for k in model_names("vector")}, autoencoders)
        self.assertEqual(MODEL_REGISTRY["simclr"], SimCLR)
        self.assertIn("simclr", model_names("image"))
        self.assertEqual(model_names(), tuple(sorted(MODEL_REGISTRY)))

    @parameterized.parameters((10,), ((10,),), ((None, 10),), ([None, 10],))
    def test_num_features_as_int_or_shape(self, num_features):
        model = build_model("AE", num_features, 2)
        self.assertIsInstance(model, AE)
        self.assertEqual(model.num_features, 10)
        self.assertEqual(build_model("ae", input_shape=(10,), latent_dim=2).num_features, 10)

    def test_kwargs_reach_the_model(self):
        model = build_model("vae", 10, 3, beta=0.1, noise_std=0.5, prior="mog", seed=4)
        self.assertEqual((model.beta, model.noise_std, model.prior_name), (0.1, 0.5, "mog"))
        self.assertEqual(model.seed, 4)

    def test_unknown_name(self):
        with self.assertRaisesRegex(
            ValueError, r"unknown model 'nope'; known models: aae, ae, cae, cvae, "
        ):
            build_model("nope", 10, 2)

    @parameterized.parameters(0, -1, 2.5, None)
    def test_bad_latent_dim(self, latent_dim):
        with self.assertRaisesRegex(
            ValueError, r"latent_dim must be an integer >= 1.*known models"
        ):
            build_model("cae", 10, latent_dim)

    @parameterized.parameters("ae", "cae", "vae", "cvae", "aae")
    def test_constructors_reject_latent_dim_zero(self, name):
        with self.assertRaisesRegex(ValueError, "latent_dim must be >= 1, got 0"):
            MODEL_REGISTRY[name](10, 0)

    def test_bad_shapes(self):
        with self.assertRaisesRegex(ValueError, "flat feature vectors"):
            build_model("ae", (10, 3), 2)
        with self.assertRaisesRegex(ValueError, "num_features must be >= 1"):
            build_model("ae", 0, 2)
        with self.assertRaisesRegex(ValueError, "needs num_features"):
            build_model("ae", latent_dim=2)
        with self.assertRaisesRegex(ValueError, "hidden_units"):
            build_model("ae", 10, 2, hidden_units=(8, 0))


if __name__ == "__main__":
    tf.test.main()
