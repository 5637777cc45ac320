"""Two real local workers under MultiWorkerMirroredStrategy end with identical weights.

This is the check DESIGN.md asks of the one training loop: Keras 3's
``Model.fit`` fails under MultiWorkerMirroredStrategy (keras-team/keras#20585),
tfelg's loop must not. Two processes on 127.0.0.1 (CPU only), one TF_CONFIG
each, train a VAE (so the replicas' sampling noise is exercised too) for two
epochs on a 300-galaxy TFDS dataset; both must finish with the same weights,
and only the chief may leave files in the workdir.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
from absl.testing import absltest

import tfelg
from tfelg import data

WORKER_SCRIPT = textwrap.dedent(
    """
    import sys

    import numpy as np

    from tfelg.training import loop
    from tfelg.training.config import (
        DataConfig, ExperimentConfig, ModelConfig, RuntimeConfig, TrainerConfig,
    )

    data_dir, workdir, weights_path = sys.argv[1:4]
    config = ExperimentConfig(
        data=DataConfig(data_dir=data_dir, num_galaxies=300, dataset_seed=1),
        model=ModelConfig(name="vae", latent_dim=2),
        trainer=TrainerConfig(epochs=2, batch_size=64, seed=3),
        runtime=RuntimeConfig(strategy="multi_worker", progress_bar=False),
    )
    trainer = loop.Trainer(config, workdir, log=print)
    trainer.run()
    np.savez(weights_path, *trainer.model.get_weights())
    print("replicas", trainer.strategy.num_replicas_in_sync, "chief", trainer.is_chief)
    """
)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class MultiWorkerTest(absltest.TestCase):
    def test_two_workers_train_identical_weights(self):
        tmp = self.create_tempdir()
        data_dir = tmp.mkdir("tfds").full_path
        workdir = os.path.join(tmp.full_path, "run")
        data.prepare(
            data.make_builder("emission_lines/synthetic", data_dir, num_galaxies=300, seed=1)
        )
        script = tmp.create_file("worker.py", content=WORKER_SCRIPT).full_path
        cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
        repo_root = os.path.dirname(os.path.dirname(os.path.abspath(tfelg.__file__)))
        processes = []
        for index in range(2):
            env = dict(
                os.environ,
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                ),
                CUDA_VISIBLE_DEVICES="",
                TF_CPP_MIN_LOG_LEVEL="2",
                PYTHONPATH=os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")])),
            )
            weights = os.path.join(tmp.full_path, f"weights_{index}.npz")
            processes.append(
                subprocess.Popen(
                    [sys.executable, script, data_dir, workdir, weights],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = []
        try:
            for process in processes:
                # A hang guard, generous: epochs take a minute on a loaded machine.
                outputs.append(process.communicate(timeout=600)[0])
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
        for process, output in zip(processes, outputs, strict=True):
            self.assertEqual(process.returncode, 0, output[-3000:])
            self.assertIn("replicas 2", output)
        self.assertIn("chief True", outputs[0])
        self.assertIn("chief False", outputs[1])

        first = np.load(os.path.join(tmp.full_path, "weights_0.npz"))
        second = np.load(os.path.join(tmp.full_path, "weights_1.npz"))
        self.assertEqual(first.files, second.files)
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name])

        expected = {
            "backup",
            "config.json",
            "history.json",
            "loss.png",
            "metrics.json",
            "model.keras",
            "preprocessing.json",
            "tensorboard",
        }
        self.assertEqual(set(os.listdir(workdir)), expected)  # no worker scratch left
        metrics = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(metrics["num_replicas"], 2)


if __name__ == "__main__":
    absltest.main()
