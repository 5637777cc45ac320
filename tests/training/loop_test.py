"""Tests for tfelg.training.loop: outputs, selection, determinism, NaN, refusals.

One test trains on the real TFDS dataset (a 300-galaxy synthetic config in a
temporary data_dir); the others pass in-memory splits of the synthetic
generator's output to skip TFDS, so that each training run costs a few
seconds. Runs use the dense AE, whose graph traces fastest.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np
import tensorflow as tf
from absl.testing import absltest

from tfelg import data
from tfelg.errors import InputError
from tfelg.synthetic import emission_lines as synthetic
from tfelg.testing.split_counts import md5_split_counts
from tfelg.training import loop
from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)


def generator_splits(num_galaxies=400, seed=3):
    """Train/validation/test dicts like load_split_arrays', without TFDS."""
    sample = synthetic.generate(num_galaxies, seed, with_spectrum=False)
    table = sample.lines
    arrays = {"object_id": table.object_id, "ew": table.ew, "flux": table.flux}
    cut = [int(0.8 * num_galaxies), int(0.9 * num_galaxies)]
    parts = np.split(np.arange(num_galaxies), cut)
    return {
        split: {k: v[rows] for k, v in arrays.items()}
        for split, rows in zip(loop.SPLITS, parts, strict=True)
    }


def small_config(**trainer):
    return ExperimentConfig(
        model=ModelConfig(name="ae", latent_dim=2),
        trainer=TrainerConfig(**{"epochs": 2, "batch_size": 64, **trainer}),
        runtime=RuntimeConfig(progress_bar=False),
    )


def read_scalars(folder):
    values = {}
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            for value in event.summary.value:
                values.setdefault(value.tag, []).append(
                    (event.step, float(tf.make_ndarray(value.tensor)))
                )
    return values


class TrainOnTfdsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One dataset for the class (create_tempdir is per test).
        cls._data_tmp = tempfile.TemporaryDirectory()
        cls.data_dir = cls._data_tmp.name
        data.prepare(
            data.make_builder("emission_lines/synthetic", cls.data_dir, num_galaxies=300, seed=1)
        )
        # What the md5 split rule gives for these 300 galaxies' ids.
        ids = synthetic.generate(300, 1, with_spectrum=False).lines.object_id
        cls.split_sizes = md5_split_counts(ids)

    @classmethod
    def tearDownClass(cls):
        cls._data_tmp.cleanup()
        super().tearDownClass()

    def test_outputs_selection_and_reloading(self):
        data_dir = self.data_dir
        workdir = self.create_tempdir().full_path
        config = dataclasses.replace(
            small_config(epochs=3),
            data=DataConfig(data_dir=data_dir, num_galaxies=300, dataset_seed=1),
        )
        lines = []
        metrics = loop.train_and_evaluate(config, workdir, log=lines.append)

        for name in ("config.json", "preprocessing.json", "model.keras", "metrics.json"):
            self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
        self.assertEqual(ExperimentConfig.from_json(open(f"{workdir}/config.json").read()), config)
        with open(os.path.join(workdir, "loss.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual(
            [f for f in os.listdir(workdir) if ".tmp" in f], [], "temporary files left"
        )

        on_disk = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(on_disk["num_examples"], self.split_sizes)
        self.assertEqual(sum(self.split_sizes.values()), 300)
        for split in loop.SPLITS:
            self.assertGreater(on_disk["reconstruction_error"][split], 0)
        # The epoch kept is the best on validation, never judged on test.
        history = json.load(open(os.path.join(workdir, "history.json")))
        validation = [h["validation"]["loss"] for h in history]
        self.assertEqual(metrics["best_epoch"], int(np.argmin(validation)) + 1)
        self.assertAlmostEqual(metrics["losses"]["validation"]["loss"], min(validation), places=5)
        self.assertEqual(len([line for line in lines if line.startswith("epoch ")]), 3)

        scalars = {s: read_scalars(f"{workdir}/tensorboard/{s}") for s in ("train", "validation")}
        self.assertEqual([step for step, _ in scalars["train"]["loss"]], [1, 2, 3])
        self.assertEqual([step for step, _ in scalars["validation"]["reconstruction"]], [1, 2, 3])

        trained = loop.load_trained(workdir)
        builder = data.make_builder("emission_lines/synthetic", data_dir, num_galaxies=300, seed=1)
        test = data.load_split_arrays(builder, "test")
        z = trained.embed(test)
        self.assertEqual(z.shape, (self.split_sizes["test"], 2))
        np.testing.assert_allclose(
            trained.reconstruction_error(test).mean(),
            metrics["reconstruction_error"]["test"],
            rtol=1e-4,
        )

    def test_streamed_inputs_train_the_same_model_as_arrays_in_memory(self):
        # The loop reads a dataset in batches and gathers from files on disk; given the
        # same galaxies in memory it must train the same model, bit for bit. Small read
        # batches cut the training split into many, and every batch is read from disk row
        # by row (as for data larger than IN_MEMORY_BYTES).
        from unittest import mock

        from tfelg.training import inputs

        for model, input, line_features in (
            ("vae", "lines", "ew_and_ratios"),
            ("ae", "spectrum", "ew"),
        ):
            with self.subTest(model=model, input=input):
                config = dataclasses.replace(
                    small_config(epochs=2, batch_size=16),
                    model=ModelConfig(name=model, latent_dim=2),
                    data=DataConfig(
                        data_dir=self.data_dir,
                        num_galaxies=300,
                        dataset_seed=1,
                        input=input,
                        line_features=line_features,
                    ),
                )
                in_memory = self.create_tempdir().full_path
                whole = loop.train_and_evaluate(
                    config, in_memory, splits=loop.load_splits(config.data), log=lambda _: None
                )
                streamed = self.create_tempdir().full_path
                lines = []
                never_whole = mock.patch.object(
                    data, "load_split_arrays", side_effect=AssertionError("read whole")
                )
                small_reads = mock.patch.object(inputs, "READ_ROWS", {input: 37})
                from_disk = mock.patch.object(inputs, "IN_MEMORY_BYTES", 0)  # row by row
                with never_whole, small_reads, from_disk:
                    batched = loop.train_and_evaluate(config, streamed, log=lines.append)
                self.assertEqual(batched["losses"], whole["losses"])
                self.assertEqual(batched["num_examples"], self.split_sizes)
                for a, b in zip(
                    loop.load_trained(in_memory).model.get_weights(),
                    loop.load_trained(streamed).model.get_weights(),
                    strict=True,
                ):
                    np.testing.assert_array_equal(a, b)
                self.assertEqual(
                    open(f"{in_memory}/preprocessing.json").read(),
                    open(f"{streamed}/preprocessing.json").read(),
                )
                self.assertIn(
                    f"preprocessing train: {self.split_sizes['train']:,} galaxies", lines[1]
                )
                self.assertNotIn(inputs.INPUTS_DIR, os.listdir(streamed))  # spool removed

    def test_spectrum_input(self):
        workdir = self.create_tempdir().full_path
        config = dataclasses.replace(
            small_config(epochs=1),
            data=DataConfig(
                data_dir=self.data_dir, num_galaxies=300, dataset_seed=1, input="spectrum"
            ),
        )
        metrics = loop.train_and_evaluate(config, workdir, log=lambda _: None)
        self.assertGreater(metrics["num_features"], 1000)
        trained = loop.load_trained(workdir)
        self.assertEqual(trained.preprocessor.input, "spectrum")
        builder = data.make_builder(
            "emission_lines/synthetic", self.data_dir, num_galaxies=300, seed=1
        )
        self.assertEqual(
            trained.embed(data.load_split_arrays(builder, "test")).shape,
            (self.split_sizes["test"], 2),
        )


class TrainInMemoryTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.splits = generator_splits()

    def train(self, config, workdir=None, **kwargs):
        workdir = workdir or self.create_tempdir().full_path
        trainer = loop.Trainer(config, workdir, splits=self.splits, log=lambda _: None, **kwargs)
        trainer.run()
        return trainer

    def test_same_seed_same_weights_and_one_loop_for_every_strategy(self):
        first = self.train(small_config(seed=5))
        second = self.train(small_config(seed=5))
        mirrored = self.train(
            dataclasses.replace(small_config(seed=5), runtime=RuntimeConfig(strategy="mirrored"))
        )
        for a, b, c in zip(
            first.model.get_weights(),
            second.model.get_weights(),
            mirrored.model.get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)

    def test_collapsed_posterior_is_reported_in_the_log(self):
        # A KL weight of 100 with a large step pulls every posterior onto the
        # prior in a few epochs (mean KL 0.14, 0.0097, 0.0015, ... nats); the
        # default weight (5e-4) keeps the latents informative.
        def vae_log(beta):
            config = dataclasses.replace(
                small_config(epochs=4, seed=2, learning_rate=0.05, batch_size=16),
                model=ModelConfig(name="vae", latent_dim=2, options={"beta": beta}),
            )
            lines = []
            loop.Trainer(
                config, self.create_tempdir().full_path, splits=self.splits, log=lines.append
            ).run()
            return lines

        collapsed = [line for line in vae_log(100.0) if "warning: posterior collapse" in line]
        self.assertNotEmpty(collapsed)
        self.assertIn("log_var_init=-4", collapsed[-1])
        self.assertRegex(collapsed[0], r"^epoch [234]/4 ")
        self.assertFalse(any("posterior collapse" in line for line in vae_log(5e-4)))

    def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(self):
        class PoisonedTrainer(loop.Trainer):
            """Feeds NaN from the second epoch on."""

            def _train_epoch_batches(self, epoch):
                for x, w in super()._train_epoch_batches(epoch):
                    yield (x * np.nan if epoch >= 1 else x), w

        workdir = self.create_tempdir().full_path
        trainer = PoisonedTrainer(small_config(epochs=3), workdir, splits=self.splits)
        with self.assertRaisesRegex(FloatingPointError, r"epoch 2, step 1 .*last good epoch \(1\)"):
            trainer.run()
        backup = os.path.join(workdir, "backup")
        self.assertEqual(tf.train.latest_checkpoint(backup), os.path.join(backup, "ckpt-1"))
        reader = tf.train.load_checkpoint(os.path.join(backup, "ckpt-1"))
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if np.issubdtype(np.asarray(value).dtype, np.floating):
                self.assertTrue(np.all(np.isfinite(value)), name)

    def test_huge_learning_rate_refused_before_training(self):
        workdir = self.create_tempdir().full_path
        for rate in (1e30, float("inf"), float("nan")):
            with self.assertRaisesRegex(ValueError, "learning_rate must be a finite number"):
                loop.Trainer(small_config(learning_rate=rate), workdir, splits=self.splits)
        self.assertEqual(os.listdir(workdir), [])

    def test_failed_first_epoch_leaves_the_workdir_reusable(self):
        class PoisonedTrainer(loop.Trainer):
            """Feeds NaN from the first step: a rate that diverges at once."""

            def _train_epoch_batches(self, epoch):
                for x, w in super()._train_epoch_batches(epoch):
                    yield x * np.nan, w

        workdir = self.create_tempdir().full_path
        failing = PoisonedTrainer(
            small_config(epochs=2, learning_rate=0.5), workdir, splits=self.splits
        )
        with self.assertRaises(FloatingPointError) as cm:
            failing.run()
        message = str(cm.exception)
        self.assertIn("non-finite training loss at epoch 1, step 1", message)
        self.assertIn("No epoch had finished, so nothing was kept", message)
        self.assertNotIn("backup", message)  # there is none to point at
        self.assertIsNone(tf.train.latest_checkpoint(os.path.join(workdir, "backup")))
        self.assertFalse(os.path.exists(os.path.join(workdir, loop.LOCK_FILE)), "lock released")
        self.assertFalse(os.path.exists(os.path.join(workdir, ".inputs")), "spool removed")
        # A retry with a sane rate is not refused by the failed run's config.json.
        retry = small_config(epochs=1, learning_rate=1e-3)
        self.train(retry, workdir)
        written = ExperimentConfig.from_json(open(os.path.join(workdir, "config.json")).read())
        self.assertEqual(written.trainer.learning_rate, 1e-3)
        self.assertTrue(os.path.exists(os.path.join(workdir, "model.keras")))
        # Once an epoch is done, the workdir is bound to its settings again.
        with self.assertRaisesRegex(InputError, "learning_rate: 0.001 in the workdir, 0.5 now"):
            loop.Trainer(small_config(epochs=1, learning_rate=0.5), workdir, splits=self.splits)

    def test_failure_after_an_epoch_names_the_backup(self):
        class PoisonedTrainer(loop.Trainer):
            def _train_epoch_batches(self, epoch):
                for x, w in super()._train_epoch_batches(epoch):
                    yield (x * np.nan if epoch >= 1 else x), w

        workdir = self.create_tempdir().full_path
        trainer = PoisonedTrainer(small_config(epochs=2), workdir, splits=self.splits)
        with self.assertRaisesRegex(FloatingPointError, "last good epoch") as cm:
            trainer.run()
        backup = os.path.join(workdir, "backup")
        self.assertIn(f"The backup in {backup} keeps the last good epoch (1)", str(cm.exception))
        self.assertTrue(os.path.isdir(backup))
        with self.assertRaisesRegex(InputError, "different configuration"):
            loop.Trainer(small_config(epochs=2, learning_rate=0.5), workdir, splits=self.splits)

    def test_other_config_refused_same_config_resumed(self):
        workdir = self.create_tempdir().full_path
        config = small_config(epochs=1)
        first = self.train(config, workdir)
        with self.assertRaisesRegex(InputError, r"trainer.batch_size: 64 in the workdir, 32 now"):
            loop.Trainer(small_config(epochs=1, batch_size=32), workdir, splits=self.splits)
        with self.assertRaisesRegex(InputError, r"model.latent_dim: 2 in the workdir, 3 now"):
            loop.Trainer(
                dataclasses.replace(config, model=ModelConfig(latent_dim=3)),
                workdir,
                splits=self.splits,
            )
        self.assertEqual(os.listdir(os.path.join(workdir, "tensorboard", "train")).__len__(), 1)
        lines = []
        again = loop.Trainer(config, workdir, splits=self.splits, log=lines.append)
        metrics = again.run()
        self.assertTrue(any("resumed from" in line for line in lines))
        self.assertEqual(metrics["resumed_from_epoch"], 1)
        for a, b in zip(first.model.get_weights(), again.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


_HOLD_LOCK = """
import sys, time
from tfelg.locking import FileLock
lock = FileLock(sys.argv[1]).acquire()  # held while the process lives
print("locked", flush=True)
time.sleep(600)
"""


class WorkdirTest(absltest.TestCase):
    """The workdir is checked and locked before any data are loaded."""

    def config(self, data_dir):
        # Data from TFDS (not in memory): loading them would write into data_dir.
        return dataclasses.replace(
            small_config(epochs=1), data=DataConfig(data_dir=data_dir, num_galaxies=300)
        )

    def test_workdir_that_is_a_file(self):
        data_dir = self.create_tempdir().full_path
        path = self.create_tempfile("run").full_path
        with self.assertRaisesRegex(InputError, "run: the workdir is a file, not a folder"):
            loop.train_and_evaluate(self.config(data_dir), path)
        self.assertEqual(os.listdir(data_dir), [], "the dataset was prepared first")

    def test_workdir_that_cannot_be_written(self):
        data_dir = self.create_tempdir().full_path
        # /proc refuses new files even to root (permission bits would not).
        for path in ("/proc/self/tfelg_run", "/proc/tfelg_run/nested"):
            with self.subTest(path):
                with self.assertRaisesRegex(InputError, f"{path}: cannot (create|write in) the"):
                    loop.train_and_evaluate(self.config(data_dir), path)
        self.assertEqual(os.listdir(data_dir), [], "the dataset was prepared first")
        if os.geteuid() != 0:
            read_only = self.create_tempdir().full_path
            os.chmod(read_only, 0o555)
            with self.assertRaisesRegex(InputError, "cannot write in the workdir"):
                loop.train_and_evaluate(self.config(data_dir), read_only)

    def test_second_process_refused_until_the_first_dies(self):
        data_dir = self.create_tempdir().full_path
        workdir = self.create_tempdir().full_path
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, os.path.join(workdir, loop.LOCK_FILE)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.assertEqual(holder.stdout.readline().strip(), "locked")
            with self.assertRaisesRegex(
                InputError, rf"another process is training in this workdir \(pid {holder.pid} on"
            ):
                loop.train_and_evaluate(self.config(data_dir), workdir)
            self.assertEqual(os.listdir(data_dir), [], "the dataset was prepared first")
        finally:
            holder.send_signal(signal.SIGKILL)  # no clean-up code runs
            holder.wait(timeout=30)
        # The operating system released the dead holder's lock.
        trainer = loop.Trainer(small_config(epochs=1), workdir, splits=generator_splits(200))
        trainer.close()

    def test_lock_held_during_the_run_and_released_after(self):
        workdir = self.create_tempdir().full_path
        seen = []

        class Probe(loop.Trainer):
            def _train_epoch_batches(self, epoch):
                # A second trainer in the middle of the run is refused.
                with self_test.assertRaisesRegex(InputError, "another process is training"):
                    loop.Trainer(small_config(epochs=1), workdir, splits=splits)
                seen.append(epoch)
                return super()._train_epoch_batches(epoch)

        self_test, splits = self, generator_splits(200)
        Probe(small_config(epochs=1), workdir, splits=splits, log=lambda _: None).run()
        self.assertEqual(seen, [0])
        self.assertNotIn(loop.LOCK_FILE, os.listdir(workdir))
        loop.Trainer(small_config(epochs=1), workdir, splits=splits).close()


class BadInputTest(absltest.TestCase):
    """Every one of these fails before any training starts."""

    def test_unknown_names_and_sizes(self):
        workdir = self.create_tempdir().full_path
        cases = [
            (ModelConfig(name="transformer"), DataConfig(), "unknown model.name 'transformer'"),
            (ModelConfig(latent_dim=0), DataConfig(), "latent_dim must be >= 1"),
            (ModelConfig(), DataConfig(dataset="sdss_images"), "unknown dataset 'sdss_images'"),
            (ModelConfig(), DataConfig(dataset="emission_lines/dr19"), "unknown config 'dr19'"),
            (ModelConfig(options={"beta": 1.0}), DataConfig(), "'ae' does not take option"),
        ]
        for model, data_config, message in cases:
            config = dataclasses.replace(small_config(), model=model, data=data_config)
            with self.assertRaisesRegex(ValueError, message):
                loop.Trainer(config, workdir)
        self.assertEqual(os.listdir(workdir), [])

    def test_spectrum_input_on_a_lines_only_dataset(self):
        config = dataclasses.replace(
            small_config(), data=DataConfig(dataset="emission_lines/mpajhu", input="spectrum")
        )
        with self.assertRaisesRegex(InputError, "has only line measurements; use --input=lines"):
            loop.Trainer(config, self.create_tempdir().full_path)

    def test_empty_split_from_tfds(self):
        # Ten synthetic galaxies: the md5 split assignment puts none in validation.
        config = dataclasses.replace(
            small_config(),
            data=DataConfig(data_dir=self.create_tempdir().full_path, num_galaxies=10),
        )
        with self.assertRaisesRegex(InputError, "a split would be empty.*validation"):
            loop.train_and_evaluate(config, self.create_tempdir().full_path)

    def test_empty_split_in_memory_and_batch_larger_than_train(self):
        splits = generator_splits(100)
        empty = dict(splits, test={k: v[:0] for k, v in splits["test"].items()})
        with self.assertRaisesRegex(InputError, "split 'test' of .* is empty"):
            loop.train_and_evaluate(small_config(), self.create_tempdir().full_path, splits=empty)
        with self.assertRaisesRegex(InputError, "train split has 80 galaxies, fewer than one"):
            loop.train_and_evaluate(
                small_config(batch_size=128), self.create_tempdir().full_path, splits=splits
            )


if __name__ == "__main__":
    absltest.main()
