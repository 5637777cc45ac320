"""Tests for tfelg.training.strategy: names, clear errors, who is the chief."""

import os
from unittest import mock

import tensorflow as tf
from absl.testing import absltest

from tfelg.training import strategy as strategy_lib


class FakeClusterStrategy:
    """Just enough of a multi-worker strategy for is_chief / output_dir."""

    def __init__(self, cluster, task_type, task_id):
        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
        )


class StrategyTest(absltest.TestCase):
    def test_default_and_mirrored(self):
        self.assertIs(strategy_lib.make_strategy("default"), tf.distribute.get_strategy())
        mirrored = strategy_lib.make_strategy("mirrored")
        self.assertIsInstance(mirrored, tf.distribute.MirroredStrategy)
        self.assertTrue(strategy_lib.is_chief(mirrored))
        self.assertEqual(strategy_lib.output_dir("/runs/a", mirrored), "/runs/a")

    def test_unknown_name(self):
        with self.assertRaisesRegex(ValueError, "unknown strategy 'horovod'"):
            strategy_lib.make_strategy("horovod")

    def test_multi_worker_without_tf_config(self):
        with mock.patch.dict(os.environ, {"TF_CONFIG": ""}):
            with self.assertRaisesRegex(ValueError, "needs the cluster in the TF_CONFIG"):
                strategy_lib.make_strategy("multi_worker")
        with mock.patch.dict(os.environ, {"TF_CONFIG": '{"cluster": {}}'}):
            with self.assertRaisesRegex(ValueError, "TF_CONFIG is not a usable cluster"):
                strategy_lib.make_strategy("multi_worker")

    def test_tpu_without_tpu_is_a_clear_error(self):
        environ = {k: v for k, v in os.environ.items() if k != "TPU_NAME"}
        with mock.patch.dict(os.environ, environ, clear=True):
            with self.assertRaisesRegex(ValueError, "strategy 'tpu' needs a TPU, but none"):
                strategy_lib.make_strategy("tpu")

    def test_chief_and_scratch_folders(self):
        workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
        worker0 = FakeClusterStrategy(workers, "worker", 0)
        worker1 = FakeClusterStrategy(workers, "worker", 1)
        self.assertTrue(strategy_lib.is_chief(worker0))
        self.assertFalse(strategy_lib.is_chief(worker1))
        self.assertEqual(strategy_lib.output_dir("/runs/a", worker0), "/runs/a")
        self.assertEqual(
            strategy_lib.output_dir("/runs/a", worker1), "/runs/a/worker_scratch/worker_1"
        )
        with_chief = dict(workers, chief=["127.0.0.1:3"])
        self.assertTrue(strategy_lib.is_chief(FakeClusterStrategy(with_chief, "chief", 0)))
        self.assertFalse(strategy_lib.is_chief(FakeClusterStrategy(with_chief, "worker", 0)))


if __name__ == "__main__":
    absltest.main()
