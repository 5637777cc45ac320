"""The adversarial autoencoder: three optimizers, three phases, codes pushed to the prior."""

import numpy as np
import tensorflow as tf

from tfelg.models import AAE
from tfelg.testing.toy_lines import structured_data


def train(model, x, steps, learning_rate, batch_size=64):
    optimizers = model.make_optimizers(learning_rate)

    @tf.function
    def step(xb, wb):
        return model.train_step_on_replica(xb, wb, optimizers, batch_size)

    data = (
        tf.data.Dataset.from_tensor_slices((x, np.ones_like(x)))
        .shuffle(len(x), seed=0)
        .batch(batch_size, drop_remainder=True)
        .repeat()
        .take(steps)
    )
    history = [step(xb, wb) for xb, wb in data]
    return {k: np.array([float(h[k]) for h in history]) for k in history[0]}, optimizers


def log_distance_to(std, target):
    """|log(geometric-mean std / target)|: how far the codes' scale is from the prior's."""
    return abs(np.mean(np.log(std)) - np.log(target))


class AaeTest(tf.test.TestCase):
    def test_codes_move_toward_the_prior_std(self):
        x = structured_data()
        model = AAE(10, 2, prior_std=5.0)
        before = log_distance_to(model.encode(x).numpy().std(0), 5.0)
        history, _ = train(model, x, steps=300, learning_rate=3e-3)
        after = log_distance_to(model.encode(x).numpy().std(0), 5.0)
        for key in ("discriminator", "generator", "reconstruction"):
            self.assertTrue(np.all(np.isfinite(history[key])), key)
        # Codes start near std 0.3 (log distance ~2.5); they must end within
        # a factor ~1.6 of 5.
        self.assertGreater(before, 1.5)
        self.assertLess(after, 0.5, f"log distance {before:.2f} -> {after:.2f}")
        # The reconstruction is learnt at the same time.
        self.assertLess(history["reconstruction"][-20:].mean(), 0.5 * history["reconstruction"][0])

    def test_mog_prior_trains_and_stays_fixed(self):
        x = structured_data(128)
        model = AAE(10, 2, prior="mog", prior_std=3.0, prior_components=4)
        means = model.prior.means.numpy()
        self.assertEmpty(model.prior.trainable_variables)
        history, _ = train(model, x, steps=20, learning_rate=3e-3)
        for key in ("discriminator", "generator", "reconstruction"):
            self.assertTrue(np.all(np.isfinite(history[key])), key)
        self.assertAllEqual(model.prior.means.numpy(), means)
        draws = model.sample_prior(64)
        self.assertEqual(tuple(draws.shape), (64, 2))

    def test_each_optimizer_owns_its_variables(self):
        model = AAE(10, 2)
        optimizers = model.make_optimizers(5e-4)
        self.assertEqual(set(optimizers), {"autoencoder", "discriminator", "generator"})
        names = {key: {v.path for v in opt.variables} for key, opt in optimizers.items()}
        self.assertTrue(any("discriminator" in n for n in names["discriminator"]))
        self.assertFalse(any("decoder" in n for n in names["generator"]))
        self.assertFalse(any("discriminator" in n for n in names["autoencoder"]))
        x = structured_data(64)
        before = [v.numpy() for v in model.trainable_variables]
        model.train_step_on_replica(x, np.ones_like(x), optimizers, 64)
        for variable, old in zip(model.trainable_variables, before, strict=True):
            self.assertNotAllClose(variable.numpy(), old, msg=variable.path)
        for optimizer in optimizers.values():
            self.assertEqual(int(optimizer.iterations), 1)

    def test_normal_prior_draws_have_its_std(self):
        draws = AAE(10, 3, prior_std=5.0).sample_prior(4000).numpy()
        self.assertAllClose(draws.std(0), [5.0, 5.0, 5.0], rtol=0.06)

    def test_reference_defaults_and_bad_arguments(self):
        config = AAE(10, 2).get_config()
        self.assertEqual(config["hidden_units"], [6, 6])
        self.assertEqual(config["discriminator_units"], [6, 6])
        with self.assertRaisesRegex(ValueError, "prior_std"):
            AAE(10, 2, prior_std=0.0)
        with self.assertRaisesRegex(ValueError, "unknown prior"):
            AAE(10, 2, prior="uniform")


if __name__ == "__main__":
    tf.test.main()
