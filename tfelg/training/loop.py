"""The one training loop: every autoencoder, every ``tf.distribute`` strategy.

Keras 3's ``Model.fit`` fails under ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585), and a loop that works only on one machine would
have to be replaced exactly where it matters. So tfelg trains with a loop of
its own that is the same for one CPU, several GPUs, several workers and a
TPU: a ``tf.data`` pipeline over in-memory arrays, distributed with
``strategy.experimental_distribute_dataset``; ``strategy.run`` of the
model's ``train_step_on_replica`` inside a ``tf.function``;
``strategy.reduce`` of the per-replica losses. Models and optimizers are
built under ``strategy.scope()``.

What the loop guarantees:

* **Selection never sees the test split.** The epoch kept is the one with the
  lowest validation loss (the objective each model minimises); the test split
  is evaluated once, at the end, with those weights. Scaling is fitted on the
  training split (:mod:`tfelg.preprocessing`) and saved next to the model.
* **Determinism.** ``keras.utils.set_random_seed(seed)`` and models seeded by
  ``seed``; the training order of epoch ``e`` is a permutation drawn from
  ``(seed, e)`` alone, so it does not depend on whether the run was resumed.
  Every step has exactly one global batch (the last partial batch of an epoch
  is dropped, a different one each epoch), which keeps the loss an exact
  global mean and the step count equal on every worker, as
  ``MultiWorkerMirroredStrategy`` and TPUs require.
* **Resumption.** After every epoch a ``tf.train.CheckpointManager`` in
  ``<workdir>/backup/`` saves the model's variables (random-number states
  included), the optimizers, the epoch counter, the history and the best
  weights so far; a restarted run continues at the next epoch and ends with
  the weights an uninterrupted run would have. A workdir holding a run with a
  different configuration is refused before anything is trained.
* **Failure.** A non-finite loss stops training with ``FloatingPointError``
  naming epoch and step; the backup keeps the last good epoch. A run that
  fails before its first epoch ends leaves nothing to resume, says so, and
  does not bind the workdir to its settings (:func:`check_workdir_config`).
* **One process per workdir.** The workdir is created, checked writable and
  locked (``.lock``, an ``flock`` released even on ``SIGKILL``) before any
  data are loaded (:func:`claim_workdir`).

Outputs in the workdir: ``config.json``, ``preprocessing.json``,
``model.keras`` (the selected weights; ``encode`` gives the embedding),
``metrics.json`` (train/validation/test losses), ``history.json``,
``loss.png``, ``tensorboard/{train,validation}`` and ``backup/``. In a
multi-worker run only the chief writes there (see
:mod:`tfelg.training.strategy`).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfelg import data as tfelg_data
from tfelg.errors import InputError
from tfelg.locking import FileLock, LockHeld
from tfelg.preprocessing import Preprocessor, write_text_atomically
from tfelg.training import strategy as strategy_lib
from tfelg.training.config import ExperimentConfig

SPLITS = ("train", "validation", "test")
SELECTION_SPLIT = "validation"
SELECTION_LOSS = "loss"

CONFIG_FILE = "config.json"
PREPROCESSING_FILE = "preprocessing.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
PLOT_FILE = "loss.png"
BACKUP_DIR = "backup"
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = ".lock"  # held (flock) while a process trains in the workdir

# The loss plot is redrawn at most this often during training (and always at
# the end): matplotlib costs ~0.1 s a figure, more than an epoch on line data.
PLOT_INTERVAL_SECONDS = 60.0

Arrays = Mapping[str, np.ndarray]


# -- data ---------------------------------------------------------------------------------
def open_dataset(data_config):
    """The TFDS builder for ``data_config``, checked against what the input needs.

    Cheap: the dataset is not generated. Raises ValueError (unknown dataset
    or config) or InputError (``input='spectrum'`` on a dataset without
    spectra).
    """
    builder = tfelg_data.make_builder(
        data_config.dataset,
        data_config.data_dir,
        num_galaxies=data_config.num_galaxies,
        seed=data_config.dataset_seed,
    )
    if data_config.input == "spectrum" and "spectrum" not in builder.info.features:
        raise InputError(
            f"input 'spectrum' needs spectra, but dataset {data_config.dataset!r} "
            f"({builder.info.full_name}) has only line measurements; use --input=lines "
            "or a dataset with spectra (emission_lines/synthetic, emission_lines/sdss_spec)",
            column="spectrum",
        )
    return builder


def load_splits(data_config, builder=None) -> dict[str, dict[str, np.ndarray]]:
    """Train, validation and test arrays (``tfelg.data.load_split_arrays``), generated if needed.

    Raises InputError when a split is empty (a tiny synthetic sample, or a
    catalogue with too few rows).
    """
    builder = builder or open_dataset(data_config)
    try:
        tfelg_data.prepare(builder, manual_dir=data_config.manual_dir)
    except AssertionError as e:
        # TFDS refuses to write a split without examples, with this message.
        if "No examples were yielded" not in str(e):
            raise
        raise InputError(
            f"{builder.info.full_name}: a split would be empty ({e}); training needs "
            "galaxies in train, validation and test (use more galaxies)"
        ) from e
    splits = {}
    for split in SPLITS:
        if split not in builder.info.splits or builder.info.splits[split].num_examples == 0:
            raise InputError(
                f"split {split!r} of {builder.info.full_name} is empty; training needs "
                "galaxies in train, validation and test (use more galaxies)"
            )
        splits[split] = tfelg_data.load_split_arrays(builder, split)
    return splits


def check_splits(splits: Mapping[str, Arrays], dataset: str = "the data") -> None:
    """Every split present and non-empty (InputError otherwise)."""
    for split in SPLITS:
        if split not in splits:
            raise InputError(f"{dataset} has no {split!r} split")
        arrays = splits[split]
        n = len(next(iter(arrays.values()))) if arrays else 0
        if n == 0:
            raise InputError(
                f"split {split!r} of {dataset} is empty; training needs galaxies in "
                "train, validation and test (use more galaxies)"
            )


# -- files --------------------------------------------------------------------------------
def read_json(path: str):
    with tf.io.gfile.GFile(path, "r") as f:
        return json.loads(f.read())


def write_json(path: str, value) -> None:
    write_text_atomically(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def _flatten(d: Mapping, prefix: str = "") -> dict:
    flat = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def run_started(workdir: str) -> bool:
    """Whether a run in ``workdir`` got anywhere: a backup of a finished epoch, or a model."""
    return tf.train.latest_checkpoint(os.path.join(workdir, BACKUP_DIR)) is not None or (
        tf.io.gfile.exists(os.path.join(workdir, MODEL_FILE))
    )


def check_workdir_config(config: ExperimentConfig, workdir: str) -> bool:
    """Whether ``workdir`` already holds this run (True) or nothing to resume (False).

    A ``config.json`` binds the workdir only once the run finished an epoch
    (a backup exists) or a model: a run that failed or was killed before
    that (a learning rate that diverges at once, a typo noticed at the first
    epoch) left nothing to resume, and its settings must not block a retry
    with others. Its config is then replaced when the retry starts.

    Raises:
      InputError: ``workdir/config.json`` describes a different run (data,
        model or trainer settings differ) that has trained something;
        nothing is overwritten.
    """
    path = os.path.join(workdir, CONFIG_FILE)
    if not tf.io.gfile.exists(path) or not run_started(workdir):
        return False
    try:
        previous = ExperimentConfig.from_dict(read_json(path))
    except (ValueError, TypeError) as e:
        raise InputError(f"existing run config cannot be read ({e})", path=path) from e
    old = _flatten(json.loads(json.dumps(previous.result_dict())))
    new = _flatten(json.loads(json.dumps(config.result_dict())))
    differences = [
        f"{key}: {old.get(key)!r} in the workdir, {new.get(key)!r} now"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]
    if differences:
        raise InputError(
            "the workdir holds a run with a different configuration ("
            + "; ".join(differences)
            + "). Use a new --workdir, or the same settings to resume that run.",
            path=path,
        )
    return True


def check_model_options(name: str, options: Mapping) -> None:
    """Every option is a constructor argument of the model (ValueError otherwise)."""
    from tfelg.models import MODEL_REGISTRY

    cls = MODEL_REGISTRY[name]
    parameters = inspect.signature(cls.__init__).parameters
    accepted = [p for p in parameters if p not in ("self", "kwargs", "num_features", "latent_dim")]
    for reserved in ("seed", "num_features", "latent_dim"):
        if reserved in options:
            raise ValueError(
                f"model option {reserved!r} is set by the trainer (trainer.seed, the data, "
                "model.latent_dim), not by model.options"
            )
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"model {name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(a for a in accepted if a != 'seed')}"
        )


def write_loss_plot(history: list[dict], path: str, title: str = "") -> None:
    """Loss and reconstruction error per epoch, train and validation, as a PNG (atomic).

    Drawn by ``tfelg.outputs.analysis_plots.plot_loss_history`` with the other
    figures: one panel when the loss is the reconstruction error, the legend
    off the curves.
    """
    from tfelg.outputs.analysis_plots import plot_loss_history

    plot_loss_history(history, path, title=title)


def _format_losses(losses: Mapping[str, float]) -> str:
    return " ".join(f"{k} {v:.4g}" for k, v in losses.items())


# -- the trainer -----------------------------------------------------------------------
@dataclasses.dataclass
class _Progress:
    """A tqdm bar within an epoch, shown only on a terminal."""

    total: int
    description: str
    enabled: bool

    def __post_init__(self):
        self._bar = None
        if self.enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=self.description, leave=False, file=sys.stderr)

    def update(self, losses: Mapping[str, float]) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class Trainer:
    """One training run: data, preprocessing, model, loop, outputs.

    ``Trainer(config, workdir).run()`` is :func:`train_and_evaluate`; the
    object stays available afterwards (``trainer.model``,
    ``trainer.preprocessor``, ``trainer.strategy``) for scripts and tests.

    Args:
      config: the run.
      workdir: where its outputs go (created).
      splits: optional pre-loaded ``{"train", "validation", "test"}`` arrays
        (as from :func:`load_splits`), so that a sweep loads data once; by
        default the dataset named in ``config.data`` is loaded.
      log: receives one line per event (default: absl INFO).
      strategy: an existing strategy (default: made from ``config.runtime``).

    Raises (all before any training):
      ValueError: a bad setting (unknown model, dataset or strategy, latent_dim
        < 1, ...), or no TPU for ``tpu``.
      InputError: a workdir holding another run, a workdir that is a file,
        cannot be written or is being trained in by another process
        (:func:`claim_workdir`), ``input='spectrum'`` on a dataset without
        spectra, an empty split, fewer training galaxies than one batch.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        workdir: str,
        *,
        splits: Mapping[str, Arrays] | None = None,
        log: Callable[[str], None] | None = None,
        strategy: tf.distribute.Strategy | None = None,
    ):
        config.validate()
        check_model_options(config.model.name, config.model.options)
        self.config = config
        self.workdir = os.fspath(workdir)
        self.log = log or logging.info
        self._splits = splits
        # Before any other TensorFlow operation: MultiWorkerMirroredStrategy
        # must configure the runtime's collectives first.
        self.strategy = strategy or strategy_lib.make_strategy(
            config.runtime.strategy, config.runtime.tpu
        )
        self.is_chief = strategy_lib.is_chief(self.strategy)
        self.output_dir = strategy_lib.output_dir(self.workdir, self.strategy)
        self._builder = None if splits is not None else open_dataset(config.data)
        # Before the data are loaded (minutes for a real catalogue): a workdir
        # that cannot be written, or that another process trains in, fails now.
        self._lock = claim_workdir(self.output_dir)
        try:
            self.resuming = check_workdir_config(config, self.workdir)
        except BaseException:
            self.close()
            raise
        self.model = None
        self.preprocessor: Preprocessor | None = None
        self.optimizers: dict = {}

    # -- public ------------------------------------------------------------------------
    def run(self) -> dict:
        """Trains (or resumes) and evaluates; returns the metrics (also in ``metrics.json``).

        The workdir's lock is released at the end, whether training succeeded
        or failed (or by the operating system, if the process dies).
        """
        try:
            return self._run()
        finally:
            self.close()

    def close(self) -> None:
        """Releases the workdir (done by :meth:`run`; for a Trainer that is never run)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _run(self) -> dict:
        cfg = self.config
        splits = self._splits
        if splits is None:
            splits = load_splits(cfg.data, self._builder)
        check_splits(splits, cfg.data.dataset)
        self.preprocessor = Preprocessor.fit(
            splits["train"], input=cfg.data.input, line_features=cfg.data.line_features
        )
        self._arrays = {name: self.preprocessor.transform(splits[name]) for name in SPLITS}
        num_train = len(self._arrays["train"][0])
        batch_size = cfg.trainer.batch_size
        self.steps_per_epoch = num_train // batch_size
        if self.steps_per_epoch == 0:
            raise InputError(
                f"the train split has {num_train} galaxies, fewer than one global batch "
                f"({batch_size}); lower --batch_size or use more galaxies"
            )

        tf.io.gfile.makedirs(self.output_dir)
        if self.is_chief:
            write_text_atomically(os.path.join(self.workdir, CONFIG_FILE), cfg.to_json() + "\n")
        self.preprocessor.save(os.path.join(self.output_dir, PREPROCESSING_FILE))

        keras.utils.set_random_seed(cfg.trainer.seed)
        self._build()
        start_epoch = self._restore()
        self._train(start_epoch)
        return self._finish(start_epoch)

    # -- set-up ------------------------------------------------------------------------
    def _build(self) -> None:
        cfg = self.config
        from tfelg.models import build_model

        with self.strategy.scope():
            self.model = build_model(
                cfg.model.name,
                self.preprocessor.num_features,
                cfg.model.latent_dim,
                seed=cfg.trainer.seed,
                **cfg.model.options,
            )
            self.optimizers = self.model.make_optimizers(cfg.trainer.learning_rate)
        # Outside the scope: plain host variables, written by the chief's loop.
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._history = tf.Variable("[]", dtype=tf.string, trainable=False, name="history")
        self._best = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best")
        self._best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="best_epoch")
        self._best_weights = [
            tf.Variable(np.asarray(w), trainable=False, name=f"best_{i}")
            for i, w in enumerate(self.model.get_weights())
        ]
        # model.variables, not model=model: Keras 3 models do not expose the
        # weights of nested Sequential stacks or their SeedGenerator states to
        # tf.train.Checkpoint's object graph, and a resumed VAE needs both.
        self._checkpoint = tf.train.Checkpoint(
            model_variables=list(self.model.variables),
            epoch=self._epoch,
            history=self._history,
            best_validation_loss=self._best,
            best_epoch=self._best_epoch,
            best_weights=self._best_weights,
            **{f"optimizer_{name}": opt for name, opt in self.optimizers.items()},
        )
        self._manager = tf.train.CheckpointManager(
            self._checkpoint,
            directory=os.path.join(self.output_dir, BACKUP_DIR),
            max_to_keep=self.config.runtime.keep_checkpoints,
        )
        self._train_step = self._make_train_step()
        self._eval_step = self._make_eval_step()
        self._eval_datasets = {}

    def _restore(self) -> int:
        """Restores the latest backup of the chief, if any; returns the next epoch."""
        latest = tf.train.latest_checkpoint(os.path.join(self.workdir, BACKUP_DIR))
        if latest is None:
            return 0
        self._checkpoint.restore(latest).assert_existing_objects_matched()
        epoch = int(self._epoch.numpy())
        self.log(f"resumed from {latest}: {epoch} of {self.config.trainer.epochs} epochs done")
        return epoch

    # -- the distributed steps ------------------------------------------------------------
    def _make_train_step(self):
        model, optimizers = self.model, self.optimizers
        global_batch_size = self.config.trainer.batch_size

        def replica_step(x, w):
            return model.train_step_on_replica(x, w, optimizers, global_batch_size)

        if self.config.runtime.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True, autograph=False)

        # autograph=False, as in Keras 3's own trainer (do_not_convert): the step
        # has no Python control flow on tensors, and tracing then never reads
        # source files (which may change under a long-running sweep).
        @tf.function(autograph=False)
        def train_step(batch):
            x, w = batch
            per_replica = self.strategy.run(replica_step, args=(x, w))
            return {
                name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()
            }

        return train_step

    def _make_eval_step(self):
        model = self.model

        def replica_step(x, w, mask):
            losses = model.per_example_losses(x, w, training=False)
            sums = {
                name: tf.reduce_sum(tf.cast(v, tf.float32) * mask) for name, v in losses.items()
            }
            sums["_count"] = tf.reduce_sum(mask)
            return sums

        if self.config.runtime.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True, autograph=False)

        @tf.function(autograph=False)
        def eval_step(batch):
            per_replica = self.strategy.run(replica_step, args=batch)
            return {
                name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()
            }

        return eval_step

    @staticmethod
    def _dataset_options() -> tf.data.Options:
        options = tf.data.Options()
        options.deterministic = True
        # The pipeline starts from in-memory tensors, not files: shard by data.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return options

    def _train_dataset(self, epoch: int):
        """Epoch ``epoch``'s batches: a permutation drawn from (seed, epoch) only."""
        x, w = self._arrays["train"]
        batch_size = self.config.trainer.batch_size
        order = np.random.default_rng([self.config.trainer.seed, epoch]).permutation(len(x))
        order = order[: self.steps_per_epoch * batch_size]
        x_tensor, w_tensor = self._train_tensors()
        ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

        @tf.autograph.experimental.do_not_convert
        def gather(rows):
            return tf.gather(x_tensor, rows), tf.gather(w_tensor, rows)

        ds = ds.map(gather)
        ds = ds.prefetch(2).with_options(self._dataset_options())
        return self.strategy.experimental_distribute_dataset(ds)

    def _train_tensors(self):
        if not hasattr(self, "_train_tensor_cache"):
            x, w = self._arrays["train"]
            with tf.device("/cpu:0"):
                self._train_tensor_cache = (tf.constant(x), tf.constant(w))
        return self._train_tensor_cache

    def _eval_dataset(self, split: str):
        """``split`` in global batches, the last one padded with masked rows."""
        if split not in self._eval_datasets:
            x, w = self._arrays[split]
            batch_size = self.config.trainer.batch_size
            padded = -(-len(x) // batch_size) * batch_size
            pad = padded - len(x)
            mask = np.concatenate([np.ones(len(x), np.float32), np.zeros(pad, np.float32)])
            x = np.concatenate([x, np.zeros((pad, x.shape[1]), np.float32)])
            w = np.concatenate([w, np.zeros((pad, w.shape[1]), np.float32)])
            ds = tf.data.Dataset.from_tensor_slices((x, w, mask)).batch(
                batch_size, drop_remainder=True
            )
            ds = ds.prefetch(2).with_options(self._dataset_options())
            self._eval_datasets[split] = self.strategy.experimental_distribute_dataset(ds)
        return self._eval_datasets[split]

    def evaluate(self, split: str) -> dict[str, float]:
        """Mean per-example losses over ``split`` (inference mode), every galaxy counted once."""
        totals: dict[str, float] = {}
        for batch in self._eval_dataset(split):
            for name, value in self._eval_step(batch).items():
                totals[name] = totals.get(name, 0.0) + float(value)
        count = totals.pop("_count")
        return {name: total / count for name, total in totals.items()}

    # -- the loop ------------------------------------------------------------------------
    def _train(self, start_epoch: int) -> None:
        cfg = self.config
        epochs = cfg.trainer.epochs
        history = json.loads(self._history.numpy().decode("utf-8"))
        writers = {
            split: tf.summary.create_file_writer(
                os.path.join(self.output_dir, TENSORBOARD_DIR, split)
            )
            for split in ("train", "validation")
        }
        batch_size = cfg.trainer.batch_size
        last_plot = time.monotonic()
        for epoch in range(start_epoch, epochs):
            start = time.monotonic()
            progress = _Progress(
                self.steps_per_epoch, f"epoch {epoch + 1}/{epochs}", cfg.runtime.progress_bar
            )
            sums: dict[str, float] = {}
            try:
                for step, batch in enumerate(self._train_epoch_batches(epoch)):
                    losses = {k: float(v) for k, v in self._train_step(batch).items()}
                    if not all(math.isfinite(v) for v in losses.values()):
                        raise FloatingPointError(
                            f"non-finite training loss at epoch {epoch + 1}, step {step + 1} "
                            f"({_format_losses(losses)}); training stopped. {self._kept()} "
                            "Lower the learning rate "
                            f"(now {cfg.trainer.learning_rate:g}) or check the input data."
                        )
                    for k, v in losses.items():
                        sums[k] = sums.get(k, 0.0) + v
                    progress.update(losses)
            finally:
                progress.close()
            train_seconds = time.monotonic() - start
            train = {k: v / self.steps_per_epoch for k, v in sums.items()}
            validation = self.evaluate(SELECTION_SPLIT)
            if not math.isfinite(validation[SELECTION_LOSS]):
                raise FloatingPointError(
                    f"non-finite validation loss after epoch {epoch + 1} "
                    f"({_format_losses(validation)}); training stopped. {self._kept()}"
                )
            seconds = time.monotonic() - start
            record = {
                "epoch": epoch + 1,
                "train": train,
                "validation": validation,
                "seconds": seconds,
                "train_samples_per_second": self.steps_per_epoch * batch_size / train_seconds,
            }
            history.append(record)
            improved = validation[SELECTION_LOSS] < float(self._best.numpy())
            if improved:
                self._best.assign(validation[SELECTION_LOSS])
                self._best_epoch.assign(epoch + 1)
                for variable, value in zip(
                    self._best_weights, self.model.get_weights(), strict=True
                ):
                    variable.assign(value)
            self._epoch.assign(epoch + 1)
            self._history.assign(json.dumps(history))
            self._manager.save(checkpoint_number=epoch + 1)

            for split, values in (("train", train), ("validation", validation)):
                with writers[split].as_default(step=epoch + 1):
                    for name, value in values.items():
                        tf.summary.scalar(name, value)
                writers[split].flush()
            self.log(
                f"epoch {epoch + 1}/{epochs}  train: {_format_losses(train)}  "
                f"validation: {_format_losses(validation)}{'  *' if improved else ''}  "
                f"{seconds:.1f} s ({record['train_samples_per_second']:.0f} samples/s)"
            )
            write_json(os.path.join(self.output_dir, HISTORY_FILE), history)
            if time.monotonic() - last_plot > PLOT_INTERVAL_SECONDS:
                self._plot(history)
                last_plot = time.monotonic()
        for writer in writers.values():
            writer.close()
        self.history = history

    def _kept(self) -> str:
        """What a failed run leaves, for its message: a backup only if an epoch finished."""
        kept = int(self._epoch.numpy())
        if kept == 0:
            return (
                "No epoch had finished, so nothing was kept; the workdir can be reused with "
                "other settings."
            )
        backup = os.path.join(self.output_dir, BACKUP_DIR)
        return f"The backup in {backup} keeps the last good epoch ({kept})."

    def _train_epoch_batches(self, epoch: int):
        return iter(self._train_dataset(epoch))

    def _plot(self, history) -> None:
        cfg = self.config
        title = (
            f"{cfg.model.name} d={cfg.model.latent_dim} on {cfg.data.dataset} ({cfg.data.input})"
        )
        write_loss_plot(history, os.path.join(self.output_dir, PLOT_FILE), title=title)

    # -- the end ----------------------------------------------------------------------------
    def _finish(self, start_epoch: int) -> dict:
        cfg = self.config
        best_epoch = int(self._best_epoch.numpy())
        self.model.set_weights([v.numpy() for v in self._best_weights])
        losses = {split: self.evaluate(split) for split in SPLITS}
        model_path = os.path.join(self.output_dir, MODEL_FILE)
        tmp_path = os.path.join(self.output_dir, f"model.tmp-{os.getpid()}.keras")
        self.model.save(tmp_path)
        tf.io.gfile.rename(tmp_path, model_path, overwrite=True)
        history = self.history
        metrics = {
            "model": cfg.model.name,
            "latent_dim": cfg.model.latent_dim,
            "input": cfg.data.input,
            "dataset": cfg.data.dataset,
            "num_features": self.preprocessor.num_features,
            "num_examples": {split: len(self._arrays[split][0]) for split in SPLITS},
            "epochs": cfg.trainer.epochs,
            "best_epoch": best_epoch,
            "selected_on": f"{SELECTION_SPLIT} {SELECTION_LOSS}",
            "resumed_from_epoch": start_epoch if start_epoch > 0 else None,
            "reconstruction_error": {s: losses[s]["reconstruction"] for s in SPLITS},
            "losses": losses,
            "train_seconds": sum(h["seconds"] for h in history),
            "num_replicas": self.strategy.num_replicas_in_sync,
            "strategy": cfg.runtime.strategy,
        }
        write_json(os.path.join(self.output_dir, METRICS_FILE), metrics)
        self._plot(history)
        self.log(
            f"best epoch {best_epoch} (lowest {SELECTION_SPLIT} {SELECTION_LOSS}); "
            "reconstruction error "
            + ", ".join(f"{s} {losses[s]['reconstruction']:.4g}" for s in SPLITS)
            + f"; outputs in {self.output_dir}"
        )
        if not self.is_chief:
            _remove_scratch(self.output_dir)
        return metrics


def claim_workdir(path: str) -> FileLock | None:
    """Creates ``path`` and locks it for this process; InputError when it cannot.

    Checked up front, before any data are loaded: a workdir that is a file, a
    folder that cannot be created or written (the lock file is the write
    test: permission bits do not say, e.g. for root or on a read-only file
    system), or a workdir another process is training in (two runs would
    interleave their checkpoints). The lock (:mod:`tfelg.locking`) is
    released by :meth:`Trainer.run`, or by the operating system when the
    process dies. Remote workdirs (``gs://...``) are created but not locked:
    ``flock`` has no meaning there. Returns the lock (None when remote).
    """
    if "://" in path:
        tf.io.gfile.makedirs(path)
        return None
    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError("the workdir is a file, not a folder; give a folder", path=path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the workdir ({e.strerror or e})", path=path) from e
    lock_path = os.path.join(path, LOCK_FILE)
    try:
        return FileLock(lock_path).acquire(wait=False)
    except LockHeld as e:
        raise InputError(
            f"another process is training in this workdir ({e.holder or 'holder unknown'}); "
            "wait for it to finish (a second run would mix their checkpoints) or use "
            "another --workdir",
            path=path,
        ) from e
    except OSError as e:
        raise InputError(
            f"cannot write in the workdir ({e.strerror or e}); give a writable folder", path=path
        ) from e


def _remove_scratch(path: str) -> None:
    """Removes a non-chief worker's scratch folder, and its parent once empty."""
    tf.io.gfile.rmtree(path)
    parent = os.path.dirname(path)
    try:
        if not tf.io.gfile.listdir(parent):
            tf.io.gfile.rmtree(parent)
    except tf.errors.OpError:
        pass  # another worker got there first


def train_and_evaluate(
    config: ExperimentConfig,
    workdir: str,
    *,
    splits: Mapping[str, Arrays] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Trains ``config`` into ``workdir`` (resuming it if it holds this run); see :class:`Trainer`."""
    return Trainer(config, workdir, splits=splits, log=log).run()


# -- using a trained run -----------------------------------------------------------------------
@dataclasses.dataclass
class TrainedModel:
    """A trained run's model with the preprocessing it was trained on."""

    model: keras.Model
    preprocessor: Preprocessor

    def inputs(self, arrays: Arrays) -> tuple[np.ndarray, np.ndarray]:
        return self.preprocessor.transform(arrays)

    def embed(self, arrays: Arrays, batch_size: int = 4096) -> np.ndarray:
        """Latent coordinates (posterior means) (N, d) of catalogue rows."""
        x, _ = self.inputs(arrays)
        parts = [
            keras.ops.convert_to_numpy(self.model.encode(x[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.model.latent_dim))

    def reconstruction_error(self, arrays: Arrays, batch_size: int = 4096) -> np.ndarray:
        """Per-galaxy weighted squared error (N,), as in the training metrics."""
        x, w = self.inputs(arrays)
        parts = [
            keras.ops.convert_to_numpy(
                self.model.per_example_losses(
                    x[i : i + batch_size], w[i : i + batch_size], training=False
                )["reconstruction"]
            )
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0,))


def load_trained(workdir: str) -> TrainedModel:
    """The model and preprocessing a finished run saved in ``workdir``."""
    import tfelg.models  # noqa: F401  (registers the classes for deserialisation)

    model_path = os.path.join(workdir, MODEL_FILE)
    if not tf.io.gfile.exists(model_path):
        raise InputError("no trained model here (did training finish?)", path=model_path)
    model = keras.saving.load_model(model_path, compile=False)
    preprocessor = Preprocessor.load(os.path.join(workdir, PREPROCESSING_FILE))
    return TrainedModel(model=model, preprocessor=preprocessor)
