"""tfelg-train as a user runs it: a process, a --flagfile, a kill, a restart.

A real ``SIGKILL`` (no clean-up code runs) as soon as the first backup
checkpoint exists; the restarted binary must resume from a later epoch than
0 and finish with exactly the weights, optimizer state and random-number
state of a run that was never interrupted. A VAE is used so that the
sampler's state has to survive the restart too. Alongside, a run with bad
input must fail at once with a clear message and exit code 2.

Subprocesses, not in-process ``main``: absl flags are process-global and
several tfelg binaries define flags of the same name.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest

import tfelg
from tfelg import data

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tfelg.__file__)))


def start(arguments):
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES="",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tfelg.cli.train", *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def checkpoint_tensors(workdir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(workdir, "backup")))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH", "history"))
    }  # history holds wall-clock seconds


class TrainBinaryTest(absltest.TestCase):
    def test_kill_and_resume_gives_the_uninterrupted_result(self):
        tmp = self.create_tempdir()
        data_dir = tmp.mkdir("tfds").full_path
        data.prepare(
            data.make_builder("emission_lines/synthetic", data_dir, num_galaxies=300, seed=1)
        )
        flagfile = tmp.create_file(
            "vae.flags",
            content="\n".join(
                [
                    f"--data_dir={data_dir}",
                    "--num_galaxies=300",
                    "--dataset_seed=1",
                    "--model=vae",
                    "--latent_dim=2",
                    "--beta=0.01",
                    "--epochs=12",
                    "--batch_size=32",
                    "--seed=4",
                    "--noprogress_bar",
                ]
            ),
        ).full_path
        killed_dir = os.path.join(tmp.full_path, "killed")
        reference_dir = os.path.join(tmp.full_path, "reference")
        bad_dir = os.path.join(tmp.full_path, "bad")

        reference = start([f"--flagfile={flagfile}", f"--workdir={reference_dir}"])
        victim = start([f"--flagfile={flagfile}", f"--workdir={killed_dir}"])
        lines_only = start(
            [
                "--dataset=emission_lines/mpajhu",
                "--input=spectrum",
                f"--data_dir={data_dir}",
                f"--workdir={bad_dir}",
            ]
        )
        processes = [reference, victim, lines_only]
        try:
            first_checkpoint = os.path.join(killed_dir, "backup", "checkpoint")
            deadline = time.monotonic() + 150
            while not os.path.exists(first_checkpoint) and victim.poll() is None:
                self.assertLess(time.monotonic(), deadline, "no checkpoint within 150 s")
                time.sleep(0.01)
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=30)
            self.assertEqual(victim.returncode, -signal.SIGKILL, "finished before the kill")
            self.assertFalse(os.path.exists(os.path.join(killed_dir, "metrics.json")))

            resumed = start([f"--flagfile={flagfile}", f"--workdir={killed_dir}"])
            processes.append(resumed)
            resumed_out, resumed_err = resumed.communicate(timeout=150)
            reference_out, reference_err = reference.communicate(timeout=150)
            _, bad_err = lines_only.communicate(timeout=150)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()

        self.assertEqual(lines_only.returncode, 2, bad_err[-3000:])
        self.assertIn("tfelg-train: error: ", bad_err)
        self.assertIn("has only line measurements; use --input=lines", bad_err)
        self.assertFalse(os.path.exists(bad_dir))

        self.assertEqual(resumed.returncode, 0, resumed_err[-3000:])
        self.assertEqual(reference.returncode, 0, reference_err[-3000:])
        self.assertIn("resumed from", resumed_err)
        self.assertNotIn("epoch 1/12", resumed_err)
        self.assertIn("epoch 1/12", reference_err)
        config = json.load(open(os.path.join(killed_dir, "config.json")))
        self.assertEqual(
            config["model"], {"name": "vae", "latent_dim": 2, "options": {"beta": 0.01}}
        )
        for name in ("model.keras", "preprocessing.json", "loss.png", "tensorboard"):
            self.assertTrue(os.path.exists(os.path.join(killed_dir, name)), name)

        resumed_metrics = json.load(open(os.path.join(killed_dir, "metrics.json")))
        reference_metrics = json.load(open(os.path.join(reference_dir, "metrics.json")))
        self.assertGreaterEqual(resumed_metrics["resumed_from_epoch"], 1)
        self.assertIsNone(reference_metrics["resumed_from_epoch"])
        self.assertEqual(resumed_metrics["best_epoch"], reference_metrics["best_epoch"])
        self.assertEqual(
            resumed_metrics["reconstruction_error"], reference_metrics["reconstruction_error"]
        )
        self.assertEqual(json.loads(resumed_out), json.loads(reference_out))

        # The selected model and the complete final state (optimizer moments and
        # the VAE sampler's random state included) are bit-identical.
        import tfelg.models  # noqa: F401  (registers the classes)

        resumed_model = keras.saving.load_model(os.path.join(killed_dir, "model.keras"))
        reference_model = keras.saving.load_model(os.path.join(reference_dir, "model.keras"))
        for a, b in zip(resumed_model.get_weights(), reference_model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        resumed_state = checkpoint_tensors(killed_dir)
        reference_state = checkpoint_tensors(reference_dir)
        self.assertEqual(sorted(resumed_state), sorted(reference_state))
        seed_states = [
            n
            for n, v in reference_state.items()
            if n.startswith("model_variables") and v.dtype == np.int64 and v.shape == (2,)
        ]
        self.assertNotEmpty(seed_states)  # the sampler's SeedGenerator state is compared too
        for name, value in reference_state.items():
            np.testing.assert_array_equal(resumed_state[name], value, err_msg=name)


class TrainBinaryRefusalsTest(absltest.TestCase):
    """Refused with 'tfelg-train: error:' and status 2, before the dataset is prepared."""

    def test_bad_rate_and_bad_workdirs(self):
        tmp = self.create_tempdir()
        data_dir = tmp.mkdir("tfds").full_path
        a_file = tmp.create_file("run_file", content="x").full_path
        common = [f"--data_dir={data_dir}", "--num_galaxies=300", "--epochs=1"]
        cases = {
            "inf": (["--learning_rate=inf", f"--workdir={tmp.full_path}/a"], "finite number"),
            "1e300": (["--learning_rate=1e300", f"--workdir={tmp.full_path}/b"], "finite number"),
            "file": ([f"--workdir={a_file}"], "the workdir is a file"),
            "unwritable": (["--workdir=/proc/self/tfelg_run"], "cannot create the workdir"),
        }
        processes = {name: start([*common, *args]) for name, (args, _) in cases.items()}
        try:
            for name, (_, words) in cases.items():
                with self.subTest(name):
                    _, err = processes[name].communicate(timeout=600)
                    self.assertEqual(processes[name].returncode, 2, err[-3000:])
                    self.assertIn("tfelg-train: error: ", err)
                    self.assertIn(words, err)
                    self.assertNotIn("Traceback", err)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
        self.assertEqual(os.listdir(data_dir), [], "the dataset was prepared before the check")
        self.assertFalse(os.path.exists(os.path.join(tmp.full_path, "a")))


if __name__ == "__main__":
    absltest.main()
