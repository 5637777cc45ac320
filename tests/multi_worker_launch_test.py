"""Launching multi-worker tfelg-train: each worker gets the TF_CONFIG of the whole cluster.

scripts/slurm_train.sbatch (Slurm) and docs/kubernetes_train.yaml (an
Indexed Job) build TF_CONFIG in a shell before they start the trainer; these
tests run that shell with a fake trainer that prints what it was given.

Slurm: no Slurm here: `srun` and `scontrol` are small fakes on PATH (srun starts the
task command once per rank with SLURM_PROCID set, scontrol expands the node
list), and TFELG_TRAIN is a fake trainer that prints its TF_CONFIG and
arguments. The cluster each task builds is compared with TensorFlow's own
tf.distribute.cluster_resolver.SlurmClusterResolver for the same job.
"""

import json
import os
import re
import stat
import subprocess

import yaml
from absl.testing import absltest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "scripts", "slurm_train.sbatch")
KUBERNETES = os.path.join(REPO, "docs", "kubernetes_train.yaml")

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
        import tensorflow as tf  # here: the Kubernetes test needs no TensorFlow

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


class KubernetesJobTest(absltest.TestCase):
    def test_each_pod_gets_the_cluster_of_the_indexed_job(self):
        with open(KUBERNETES, encoding="utf-8") as f:
            service, job = yaml.safe_load_all(f)
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        workers = int(env["WORKERS"])
        self.assertEqual(job["spec"]["completionMode"], "Indexed")
        self.assertEqual(job["spec"]["completions"], workers)
        self.assertEqual(job["spec"]["parallelism"], workers)
        # Pod DNS names <job>-<index>.<subdomain> need a headless Service of that name.
        self.assertEqual(pod["subdomain"], service["metadata"]["name"])
        self.assertEqual(service["spec"]["clusterIP"], "None")
        self.assertEqual(service["spec"]["selector"], {"job-name": job["metadata"]["name"]})
        mount = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["runs"]
        paths = re.findall(r"--(?:workdir|data_dir)=(\S+)", container["args"][0])
        self.assertLen(paths, 2)
        for path in paths:  # on the shared volume, which every pod mounts
            self.assertTrue(path.startswith(mount + "/"), path)

        bin_dir = self.create_tempdir().full_path
        _executable(bin_dir, "tfelg-train", FAKE_TRAIN)
        name = job["metadata"]["name"]
        expected = [f"{name}-{i}.{name}:{env['PORT']}" for i in range(workers)]
        for index in range(workers):
            done = subprocess.run(
                [*container["command"], container["args"][0]],
                env={
                    "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                    "JOB_COMPLETION_INDEX": str(index),
                    **env,
                },
                capture_output=True,
                text=True,
                check=False,
            )
            self.assertEqual(done.returncode, 0, done.stderr)
            run = json.loads(done.stdout)
            self.assertEqual(
                run["tf_config"],
                {"cluster": {"worker": expected}, "task": {"type": "worker", "index": index}},
            )
            self.assertEqual(run["args"][0], "--strategy=multi_worker")


if __name__ == "__main__":
    absltest.main()
