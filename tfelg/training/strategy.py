"""Choosing a ``tf.distribute`` strategy by name, and who writes the outputs.

tfelg has one training loop for every strategy (see
:mod:`tfelg.training.loop`); what differs between one CPU, several GPUs,
several machines and a TPU is only the strategy object built here and which
worker may write the run's files.

In a multi-worker run every worker executes the same program. Saving a
checkpoint can need collective operations (reading a variable synchronised
on read is an all-reduce), so every worker saves; only the chief writes into
the real workdir and the others write into a scratch folder of their own
that is removed at the end, the pattern of TensorFlow's multi-worker
tutorial.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfelg.training.config import STRATEGIES


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """The strategy called ``name``.

    ``multi_worker`` reads the cluster from the ``TF_CONFIG`` environment
    variable and must be created before any other TensorFlow operation runs
    in the process.

    Raises:
      ValueError: unknown name, ``multi_worker`` without a usable
        ``TF_CONFIG``, or ``tpu`` where no TPU can be reached.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    raise ValueError(f"unknown strategy {name!r}; expected one of: {', '.join(STRATEGIES)}")


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "strategy 'multi_worker' needs the cluster in the TF_CONFIG environment variable, "
            'e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}'
        )
    try:
        tf_config = json.loads(raw)
        workers = tf_config["cluster"]["worker"]
        task = tf_config["task"]
        task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not a usable cluster description ({e!r}): {raw}") from e
    if not workers:
        raise ValueError(f"TF_CONFIG lists no workers: {raw}")


def _tpu_strategy(tpu: str | None) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, OSError, tf.errors.OpError) as e:
        where = f"at {tpu!r}" if tpu else "on this machine (or from the Cloud TPU environment)"
        raise ValueError(
            f"strategy 'tpu' needs a TPU, but none was found {where}: {e}. "
            "Use --strategy=default, mirrored or multi_worker here."
        ) from e
    return tf.distribute.TPUStrategy(resolver)


def task_type_and_id(strategy: tf.distribute.Strategy) -> tuple[str | None, int]:
    """``(task_type, task_id)`` of this worker; ``(None, 0)`` outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return None, 0
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this worker writes the run's outputs.

    The chief is the task of type ``chief`` or, where the cluster has none,
    worker 0; a single process (any non-cluster strategy) is its own chief.
    """
    task_type, task_id = task_type_and_id(strategy)
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def output_dir(workdir: str, strategy: tf.distribute.Strategy) -> str:
    """Where this worker writes: ``workdir`` for the chief, a scratch folder otherwise."""
    if is_chief(strategy):
        return workdir
    task_type, task_id = task_type_and_id(strategy)
    return os.path.join(workdir, "worker_scratch", f"{task_type}_{task_id}")
