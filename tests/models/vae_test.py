"""VAE and CVAE: the KL terms, the priors, determinism of the embedding."""

import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfelg.models import CVAE, VAE, GaussianSampling, MixturePrior, NormalPrior
from tfelg.testing.toy_lines import reconstruction_before_and_after_training, structured_data

VARIANTS = (("vae", VAE), ("cvae", CVAE))


def hand_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) = 0.5 sum(mu^2 + sigma^2 - 1 - log sigma^2)."""
    return 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=-1)


class NormalPriorKlTest(tf.test.TestCase, parameterized.TestCase):
    def test_kl_matches_hand_computed_value(self):
        model = VAE(10, 3)
        mean = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], np.float32)
        log_var = np.array([[0.0, 0.0, 0.0], [0.3, -1.0, 2.0]], np.float32)
        kl = model.kl_divergence(mean, log_var)
        self.assertAllClose(kl, hand_kl(mean, log_var), rtol=1e-5)
        # Written out for the second row, so the formula itself is checked too:
        # 0.5 * [(1 + e^0.3 - 1 - 0.3) + (4 + e^-1 - 1 + 1) + (0.25 + e^2 - 1 - 2)]
        second = 0.5 * ((np.exp(0.3) - 0.3) + (4 + np.exp(-1.0)) + (np.exp(2.0) - 2.75))
        self.assertAllClose(kl[1], second, rtol=1e-5)
        self.assertAllClose(kl[0], 0.0)

    @parameterized.named_parameters(*VARIANTS)
    def test_losses_are_reconstruction_plus_beta_kl(self, cls):
        model = cls(10, 2, beta=0.25)
        x = structured_data(16)
        losses = model.per_example_losses(x, np.ones_like(x), training=False)
        mean, log_var = model.encode_distribution(x)
        self.assertAllClose(losses["kl"], hand_kl(mean.numpy(), log_var.numpy()), rtol=1e-4)
        self.assertAllClose(losses["loss"], losses["reconstruction"] + 0.25 * losses["kl"])


class TrainingTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*VARIANTS)
    def test_training_cuts_reconstruction_error(self, cls):
        before, after = reconstruction_before_and_after_training(cls(10, 2))
        self.assertGreater(before, 0.8)
        self.assertLess(after, 0.4 * before, f"reconstruction {before:.3f} -> {after:.3f}")


class MixturePriorTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*VARIANTS)
    def test_mog_kl_is_finite_and_trains_the_prior(self, cls):
        model = cls(10, 2, prior="mog", prior_components=4)
        prior_variables = [model.prior.means, model.prior.log_scales, model.prior.logits]
        trainable = {id(v) for v in model.trainable_variables}
        for variable in prior_variables:
            self.assertIn(id(variable), trainable, variable.path)
        x = structured_data(32)
        with tf.GradientTape() as tape:
            losses = model.per_example_losses(x, np.ones_like(x), training=True)
            loss = tf.reduce_mean(losses["loss"])
        self.assertTrue(np.all(np.isfinite(losses["kl"])))
        gradients = tape.gradient(loss, prior_variables)
        for variable, gradient in zip(prior_variables, gradients, strict=True):
            self.assertIsNotNone(gradient, variable.path)
            self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, variable.path)

    def test_single_standard_component_mc_kl_matches_analytic(self):
        # A one-component mixture at 0 with unit scale is N(0, I): the
        # Monte-Carlo KL must average to the analytic value.
        prior = MixturePrior(2, num_components=1, mean_spread=0.0, component_std=1.0)
        mean = np.array([[0.5, -1.0]], np.float32)
        log_var = np.array([[-0.5, 0.4]], np.float32)
        eps = np.random.default_rng(0).normal(size=(20000, 2)).astype(np.float32)
        mc = prior.kl_from_gaussian(np.repeat(mean, 20000, 0), np.repeat(log_var, 20000, 0), eps)
        analytic = NormalPrior(2).kl_from_gaussian(mean, log_var)
        self.assertAllClose(np.mean(mc), analytic[0], atol=0.03)

    def test_component_probabilities(self):
        model = VAE(10, 2, prior="mog", prior_components=3)
        z = model.encode(structured_data(16))
        probabilities = model.prior_component_probabilities(z)
        self.assertEqual(tuple(probabilities.shape), (16, 3))
        self.assertAllClose(tf.reduce_sum(probabilities, -1), np.ones(16))
        # At a component's mean, that component is the most probable (equal
        # initial weights and widths).
        means = model.prior.means.numpy()
        self.assertAllEqual(np.argmax(model.prior_component_probabilities(means), -1), [0, 1, 2])

    def test_component_probabilities_need_mog(self):
        with self.assertRaisesRegex(ValueError, "prior='mog'"):
            VAE(10, 2).prior_component_probabilities(np.zeros((1, 2), np.float32))

    def test_mixture_sample_shape(self):
        prior = MixturePrior(3, num_components=4, seed=1)
        draws = prior.sample(100, seed=GaussianSampling(seed=0).seed_generator)
        self.assertEqual(tuple(draws.shape), (100, 3))
        self.assertTrue(np.all(np.isfinite(draws)))


class DeterminismTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*VARIANTS)
    def test_encode_is_deterministic_call_in_training_is_not(self, cls):
        model = cls(10, 2, noise_std=1.0)
        x = structured_data(16)
        self.assertAllEqual(model.encode(x), model.encode(x))
        self.assertAllEqual(model.encode(x), model.encode(x, training=True))
        self.assertAllEqual(model(x), model(x))  # inference uses the mean
        first, second = model(x, training=True), model(x, training=True)
        self.assertGreater(float(tf.reduce_max(tf.abs(first - second))), 1e-3)

    @parameterized.named_parameters(*VARIANTS)
    def test_tiny_noise_std_is_an_autoencoder(self, cls):
        model = cls(10, 2, noise_std=1e-13)
        x = structured_data(16)
        self.assertAllClose(model(x, training=True), model(x), atol=1e-6)
        self.assertAllClose(model(x, training=True), model(x, training=True), atol=1e-6)

    def test_same_seed_same_noise(self):
        x = structured_data(8)
        a, b = VAE(10, 2, seed=5), VAE(10, 2, seed=5)
        self.assertAllEqual(a(x, training=True), b(x, training=True))

    def test_checkpoint_continues_the_noise_sequence(self):
        x = structured_data(8)
        model = VAE(10, 2, seed=3)
        model(x, training=True)  # advance the sampler's state
        path = tf.train.Checkpoint(model=model).save(os.path.join(self.get_temp_dir(), "ckpt"))
        expected = model(x, training=True)
        restored = VAE(10, 2, seed=3)
        tf.train.Checkpoint(model=restored).restore(path).assert_existing_objects_matched()
        self.assertAllEqual(restored(x, training=True), expected)

    def test_evaluation_is_deterministic(self):
        model = VAE(10, 2, prior="mog")
        x = structured_data(16)
        w = np.ones_like(x)
        first = model.eval_losses_on_replica(x, w, 16)
        second = model.eval_losses_on_replica(x, w, 16)
        for key in first:
            self.assertAllEqual(first[key], second[key])


class ArgumentsTest(tf.test.TestCase, parameterized.TestCase):
    def test_bad_arguments(self):
        with self.assertRaisesRegex(
            ValueError, "unknown prior 'cauchy'; known priors: normal, mog"
        ):
            VAE(10, 2, prior="cauchy")
        with self.assertRaisesRegex(ValueError, "noise_std"):
            VAE(10, 2, noise_std=-1.0)
        with self.assertRaisesRegex(ValueError, "beta"):
            CVAE(10, 2, beta=-0.1)
        with self.assertRaisesRegex(ValueError, "latent_dim"):
            CVAE(10, 0)
        with self.assertRaisesRegex(ValueError, r"log_var_init must be in \[-20, 5\], got 50"):
            VAE(10, 2, log_var_init=50)
        with self.assertRaisesRegex(ValueError, "log_var_init must be a number"):
            CVAE(10, 2, log_var_init="-4")

    def test_epoch_warning_only_for_a_collapsed_posterior(self):
        model = VAE(10, 2, log_var_init=-2)
        message = model.epoch_warning({"kl": 0.004, "reconstruction": 1.0, "loss": 1.0})
        self.assertIn("posterior collapse: mean KL 0.004 nats", message)
        self.assertIn("now -2", message)
        self.assertIsNone(model.epoch_warning({"kl": 0.5, "reconstruction": 1.0}))
        self.assertIsNone(model.epoch_warning({"kl": float("nan")}))
        self.assertIsNone(model.epoch_warning({"reconstruction": 1.0}))

    @parameterized.named_parameters(*VARIANTS)
    def test_log_var_init_narrows_the_first_posteriors(self, cls):
        x = structured_data(32)
        wide, narrow = cls(10, 2, seed=1), cls(10, 2, seed=1, log_var_init=-4.0)
        _, log_var_wide = wide.encode_distribution(x)
        _, log_var_narrow = narrow.encode_distribution(x)
        # The same weights, a bias of -4: every log-variance is 4 lower.
        self.assertAllClose(log_var_narrow, log_var_wide - 4.0, atol=1e-5)
        self.assertEqual(narrow.get_config()["log_var_init"], -4.0)
        self.assertEqual(wide.get_config()["log_var_init"], 0.0)
        # The decoder's training input is that much closer to the mean.
        noise = float(tf.math.reduce_std(narrow(x, training=True) - narrow(x)))
        self.assertLess(noise, float(tf.math.reduce_std(wide(x, training=True) - wide(x))))

    def test_config_holds_the_reference_parameters(self):
        config = VAE(10, 4, beta=5e-4, noise_std=0.1, prior="mog", prior_components=6).get_config()
        self.assertEqual(config["beta"], 5e-4)
        self.assertEqual(config["noise_std"], 0.1)
        self.assertEqual(config["prior"], "mog")
        self.assertEqual(config["prior_components"], 6)
        self.assertEqual(config["hidden_units"], [7])  # ceil((10 + 4) / 2)


if __name__ == "__main__":
    tf.test.main()
