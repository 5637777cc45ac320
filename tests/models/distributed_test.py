"""The per-replica interface under a tf.distribute strategy, as the training loop uses it.

``strategy.run(model.train_step_on_replica, ...)`` inside a ``tf.function``
over ``strategy.experimental_distribute_dataset``, with the model and its
optimizers created under ``strategy.scope()``. In this process: one CPU
device (logical devices cannot be added once TensorFlow has started, and
other tests in the same process start it). Two replicas run in a child
process that splits the CPU into two logical devices.
"""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfelg.models import build_model

GLOBAL_BATCH = 16


def data(n=32, num_features=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, num_features)).astype(np.float32)
    w = (rng.random((n, num_features)) > 0.1).astype(np.float32)
    return x * w, w


class MirroredStrategyTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ("vae_mog", "vae", {"prior": "mog"}),
        ("aae", "aae", {}),
    )
    def test_two_steps_under_mirrored_strategy(self, name, kwargs):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        with strategy.scope():
            model = build_model(name, 10, 2, **kwargs)
            optimizers = model.make_optimizers(1e-3)
        x, w = data()
        dataset = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices((x, w)).batch(GLOBAL_BATCH)
        )

        @tf.function
        def train_step(xb, wb):
            per_replica = strategy.run(
                model.train_step_on_replica, args=(xb, wb, optimizers, GLOBAL_BATCH)
            )
            return {
                key: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for key, value in per_replica.items()
            }

        def eval_step(xb, wb):  # eager: one trace fewer, same strategy.run
            per_replica = strategy.run(model.eval_losses_on_replica, args=(xb, wb, GLOBAL_BATCH))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica["loss"], axis=None)

        before = [v.numpy() for v in model.trainable_variables]
        results = [train_step(xb, wb) for xb, wb in dataset]
        self.assertLen(results, 2)
        expected_keys = {"loss", "reconstruction"}
        if name == "vae":
            expected_keys.add("kl")
        if name == "aae":
            expected_keys |= {"discriminator", "generator"}
        for result in results:
            self.assertEqual(set(result), expected_keys)
            for key, value in result.items():
                self.assertTrue(np.isfinite(value.numpy()), key)
        for optimizer in optimizers.values():
            self.assertEqual(int(optimizer.iterations.numpy()), 2)
        changed = [
            not np.allclose(v.numpy(), b)
            for v, b in zip(model.trainable_variables, before, strict=True)
        ]
        self.assertTrue(all(changed))
        self.assertIn("Mirrored", type(model.trainable_variables[0].value).__name__)

        # Summed over replicas, the per-replica losses are the global batch mean.
        xb, wb = next(iter(dataset))
        reduced = float(eval_step(xb, wb))
        direct = float(tf.reduce_mean(model.per_example_losses(x[:16], w[:16])["loss"]))
        self.assertAllClose(reduced, direct, rtol=1e-5)


# Run in a fresh interpreter: two logical CPUs, a deterministic AE trained
# one step on 1 and on 2 replicas (identical weights expected: gradients are
# all-reduced and losses scaled by the global batch), and the VAE's noise on
# the two replicas (different draws expected).
TWO_REPLICAS = r"""
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfelg.models import build_model

rng = np.random.default_rng(0)
x = rng.normal(size=(32, 10)).astype(np.float32)
w = (rng.random((32, 10)) > 0.1).astype(np.float32)

def one_step(devices):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        model = build_model("ae", 10, 2, seed=0)
        optimizers = model.make_optimizers(1e-2)
    data = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x, w)).batch(32))
    @tf.function
    def step(xb, wb):
        out = strategy.run(model.train_step_on_replica, args=(xb, wb, optimizers, 32))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, out["loss"], axis=None)
    loss = [float(step(xb, wb)) for xb, wb in data][0]
    kernel = model.trainable_variables[0].value
    copies = [v.numpy() for v in kernel.values]
    same = all(np.array_equal(copies[0], c) for c in copies[1:])
    return loss, copies[0], same

loss1, kernel1, _ = one_step(["/cpu:0"])
loss2, kernel2, replicas_agree = one_step(["/cpu:0", "/cpu:1"])

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    vae = build_model("vae", 10, 2)
noise = strategy.run(tf.function(lambda: vae.sampling.draw_noise((4,), training=True)))
a, b = [v.numpy() for v in noise.values]
print(json.dumps({
    "loss_diff": abs(loss1 - loss2),
    "kernel_diff": float(np.abs(kernel1 - kernel2).max()),
    "replicas_agree": bool(replicas_agree),
    "noise_differs": bool(np.abs(a - b).max() > 1e-3),
}))
"""


class TwoReplicaTest(tf.test.TestCase):
    def test_two_replicas_match_one_and_draw_different_noise(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run(
            [sys.executable, "-c", TWO_REPLICAS],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.assertTrue(result["replicas_agree"])
        self.assertLess(result["loss_diff"], 1e-5)
        self.assertLess(result["kernel_diff"], 1e-5)
        self.assertTrue(result["noise_differs"])


if __name__ == "__main__":
    tf.test.main()
