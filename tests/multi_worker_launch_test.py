"""scripts/slurm_train.sbatch: each Slurm task gets the TF_CONFIG SlurmClusterResolver computes.

No Slurm here: `srun` and `scontrol` are small fakes on PATH (srun starts the
task command once per rank with SLURM_PROCID set, scontrol expands the node
list), and TFELG_TRAIN is a fake trainer that prints its TF_CONFIG and
arguments. The cluster each task builds is compared with TensorFlow's own
tf.distribute.cluster_resolver.SlurmClusterResolver for the same job.
"""

import json
import os
import stat
import subprocess

import tensorflow as tf
from absl.testing import absltest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "slurm_train.sbatch")

FAKE_SRUN = """#!/bin/bash
while [[ "$1" == --* ]]; do shift; done      # srun's own options
for ((rank = 0; rank < SLURM_NTASKS; rank++)); do
  SLURM_PROCID=$rank "$@" || exit $?
done
"""
FAKE_SCONTROL = """#!/bin/bash
[[ "$1 $2" == "show hostnames" && "$3" == "gpu[01-02]" ]] || exit 3
printf 'gpu01\\ngpu02\\n'
"""
FAKE_TRAIN = """#!/bin/bash
python3 -c 'import json, os, sys; print(json.dumps({"tf_config": json.loads(os.environ["TF_CONFIG"]), "args": sys.argv[1:]}))' "$@"
"""


def _executable(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class SlurmScriptTest(absltest.TestCase):
    def run_script(self, tasks_per_node, *args, port=None):
        bin_dir = self.create_tempdir().full_path
        _executable(bin_dir, "srun", FAKE_SRUN)
        _executable(bin_dir, "scontrol", FAKE_SCONTROL)
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "SLURM_JOB_NODELIST": "gpu[01-02]",
            "SLURM_NTASKS": str(2 * tasks_per_node),
            "SLURM_NTASKS_PER_NODE": str(tasks_per_node),
            "TFELG_TRAIN": _executable(bin_dir, "fake-train", FAKE_TRAIN),
        }
        if port is not None:
            env["TFELG_PORT"] = str(port)
        done = subprocess.run(
            ["bash", SCRIPT, *args], env=env, capture_output=True, text=True, check=False
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        return [json.loads(line) for line in done.stdout.splitlines()]

    def resolver_config(self, tasks_per_node, rank):
        env = {
            "SLURM_PROCID": str(rank),
            "SLURM_STEP_NUM_TASKS": str(2 * tasks_per_node),
            "SLURM_STEP_NODELIST": "gpu[01-02]",
            "SLURM_STEP_TASKS_PER_NODE": f"{tasks_per_node}(x2)",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(
                jobs={"worker": 2 * tasks_per_node},
                auto_set_gpu=False,
                gpus_per_node=tasks_per_node,  # one GPU a task; it pairs tasks with GPUs
                gpus_per_task=1,
            )
            return resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_tf_config_of_every_task_is_slurm_cluster_resolvers(self):
        for tasks_per_node in (1, 2):
            with self.subTest(tasks_per_node=tasks_per_node):
                runs = self.run_script(tasks_per_node, "--model=vae", "--workdir=/shared/r")
                self.assertLen(runs, 2 * tasks_per_node)
                for rank, run in enumerate(runs):
                    cluster, task_type, task_id = self.resolver_config(tasks_per_node, rank)
                    self.assertEqual(run["tf_config"]["cluster"], cluster)
                    self.assertEqual(
                        run["tf_config"]["task"], {"type": task_type, "index": task_id}
                    )
                    self.assertEqual(
                        run["args"],
                        ["--strategy=multi_worker", "--model=vae", "--workdir=/shared/r"],
                    )

    def test_port_base_is_tfelg_port(self):
        runs = self.run_script(1, port=23456)
        self.assertEqual(runs[0]["tf_config"]["cluster"]["worker"], ["gpu01:23456", "gpu02:23456"])


if __name__ == "__main__":
    absltest.main()
