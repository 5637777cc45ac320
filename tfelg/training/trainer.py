"""The Trainer: one run of the one training loop (see :mod:`tfelg.training.loop`).

Split out of :mod:`tfelg.training.loop`, which re-exports :class:`Trainer`
and :func:`train_and_evaluate`. Two kinds of model share this loop:

* **vector models** (the autoencoders): inputs are ``(x, w)`` arrays from
  :class:`tfelg.preprocessing.Preprocessor`; a batch is the tuple ``(x, w)``
  and the model's ``train_step_on_replica(x, w, optimizers,
  global_batch_size)`` / ``per_example_losses(x, w, training=False)`` take
  it unpacked. This path is what it always was.
* **image models** (class attribute ``INPUT_KIND = "image"``): inputs come
  from :class:`tfelg.training.images.ImagePreprocessor`; a batch is a dict
  (``image``, and ``label`` for a model conditioned on a class) passed whole
  as ``train_step_on_replica(batch, optimizers, global_batch_size)`` and
  ``per_example_losses(batch, training=False)``.

Either way the loop shards the same structure with
``strategy.experimental_distribute_dataset``, reduces the per-replica losses
with ``strategy.reduce(SUM)`` and checkpoints ``model.variables`` with every
optimizer. A model may further define ``SELECTION_LOSS`` (the validation
loss whose lowest epoch is kept; None keeps the last epoch),
``check_losses(losses)`` (a reason to stop beyond NaN, e.g. a diverging
discriminator) and ``write_epoch_summaries(epoch, final)`` (images for
TensorBoard). An image model's class says ``INPUT_KIND = "image"`` and may
name a label column (classmethod ``label_column(options)``); the trainer
then passes ``image_shape``, ``latent_dim``, ``seed`` and ``class_names`` to
its constructor. :mod:`tfelg.models.gan` is the worked example.

A model that generates images (``generate(labels, seed=...)``, the GAN) is
also judged while it trains: every ``runtime.quality_every`` epochs and at
the last, :mod:`tfelg.metrics.monitor` measures FID, KID, precision/recall
and colour distances of its samples against a fixed validation subset,
written as ``quality/...`` scalars next to the validation losses, into the
epoch's ``history.json`` record, and (the kept epoch's) into ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from tfelg.errors import InputError
from tfelg.preprocessing import Preprocessor, write_text_atomically
from tfelg.training import images as images_lib
from tfelg.training import inputs as inputs_lib
from tfelg.training import strategy as strategy_lib
from tfelg.training.config import IMAGE_INPUT, ExperimentConfig
from tfelg.training.splits import SPLITS, Arrays, ArraySplits, DatasetSplits, open_dataset
from tfelg.training.workdir import (
    BACKUP_DIR,
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PLOT_FILE,
    PREPROCESSING_FILE,
    TENSORBOARD_DIR,
    _remove_scratch,
    check_workdir_config,
    claim_workdir,
    write_json,
)

SELECTION_SPLIT = "validation"
SELECTION_LOSS = "loss"

# The loss plot is redrawn at most this often during training (and always at
# the end): matplotlib costs ~0.1 s a figure, more than an epoch on line data.
PLOT_INTERVAL_SECONDS = 60.0

# Arguments the trainer sets itself, never model.options.
RESERVED_OPTIONS = (
    "seed",
    "num_features",
    "latent_dim",
    "image_shape",
    "class_names",
    "image_stretch",
    "image_noise",
)


def all_models() -> dict:
    """Every model the loop trains by name: the autoencoders and the image models."""
    from tfelg.models import MODEL_REGISTRY

    return dict(MODEL_REGISTRY)


def model_class(name: str):
    return all_models()[name.lower()]


def is_image_model(name: str) -> bool:
    """Whether the model ``name`` trains on images (its class says ``INPUT_KIND = "image"``)."""
    return getattr(model_class(name), "INPUT_KIND", "vector") == IMAGE_INPUT


def check_model_options(name: str, options: Mapping) -> None:
    """Every option is a constructor argument of the model (ValueError otherwise)."""
    cls = model_class(name)
    parameters = inspect.signature(cls.__init__).parameters
    accepted = [p for p in parameters if p not in ("self", "kwargs", *RESERVED_OPTIONS[1:])]
    for reserved in RESERVED_OPTIONS:
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
        (as from :func:`load_splits`), so that a sweep loads data once; or a
        :class:`tfelg.training.splits.DatasetSplits` (a dataset on disk, read
        in batches); by default the dataset named in ``config.data``
        (generated if needed). An autoencoder's inputs are preprocessed batch
        by batch and spooled to disk (:mod:`tfelg.training.inputs`): memory
        does not grow with the number of galaxies read from a dataset.
      log: receives one line per event (default: absl INFO).
      strategy: an existing strategy (default: made from ``config.runtime``).
      class_names: image models with a label column and in-memory
        ``splits``: ``{column: names}`` of the column's classes (from TFDS,
        its ``ClassLabel`` names; default ``"0"``, ``"1"``, ...).

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
        class_names: Mapping[str, Sequence[str]] | None = None,
    ):
        config.validate()
        check_model_options(config.model.name, config.model.options)
        self.image = is_image_model(config.model.name)
        if self.image != (config.data.input == IMAGE_INPUT):
            raise ValueError(
                f"model {config.model.name!r} trains on "
                + (
                    "images: use an image dataset (hst_galaxies/...) with input 'image'"
                    if self.image
                    else f"feature vectors, not on input {config.data.input!r}"
                )
            )
        self._class_names = dict(class_names or {})
        self.config = config
        self.workdir = os.fspath(workdir)
        self.log = log or logging.info
        if splits is None:
            self._source = None  # opened below, after the strategy
        elif isinstance(splits, Mapping):
            self._source = ArraySplits(splits, config.data.dataset)
        else:
            self._source = splits
        # Before any other TensorFlow operation: MultiWorkerMirroredStrategy
        # must configure the runtime's collectives first.
        self.strategy = strategy or strategy_lib.make_strategy(
            config.runtime.strategy, config.runtime.tpu
        )
        self.is_chief = strategy_lib.is_chief(self.strategy)
        self.output_dir = strategy_lib.output_dir(self.workdir, self.strategy)
        if self._source is None:
            self._source = DatasetSplits(open_dataset(config.data), config.data)
        self._builder = self._source.builder
        # Before the data are loaded (minutes for a real catalogue): a workdir
        # that cannot be written, or that another process trains in, fails now.
        self._lock = claim_workdir(self.output_dir)
        try:
            self.resuming = check_workdir_config(config, self.workdir)
        except BaseException:
            self.close()
            raise
        self.model = None
        self._monitor = None  # the sample-quality monitor, built at its first evaluation
        self.preprocessor: Preprocessor | None = None
        self.optimizers: dict = {}
        self._rows: dict[str, inputs_lib.RowStore] = {}
        self._spool_dir: str | None = None
        self._train_take_fn = None  # the training split's gather, made at the first epoch

    # -- public ------------------------------------------------------------------------
    def run(self) -> dict:
        """Trains (or resumes) and evaluates; returns the metrics (also in ``metrics.json``).

        The workdir's lock is released at the end, whether training succeeded
        or failed (or by the operating system, if the process dies).
        """
        try:
            return self._run()
        finally:
            inputs_lib.remove_spool(self._spool_dir, self._rows)
            self._rows, self._spool_dir = {}, None
            self.close()

    def close(self) -> None:
        """Releases the workdir (done by :meth:`run`; for a Trainer that is never run)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _run(self) -> dict:
        cfg = self.config
        self._source.prepare()
        if self.image:
            splits = {name: self._source.arrays(name) for name in SPLITS}
            self.preprocessor = self._fit_images(splits)
            self._arrays = {
                name: self.preprocessor.transform(splits[name], split=name) for name in SPLITS
            }
            del splits
            self._rows = {name: inputs_lib.ArrayRows(self._arrays[name]) for name in SPLITS}
        else:
            self._spool_inputs()
        num_train = self._rows["train"].num_rows
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
    def _spool_inputs(self) -> None:
        """Fits the preprocessing on train, then writes every split's ``(x, w)`` to disk.

        Two passes over the training split, one over the others, a batch in
        memory at a time (:mod:`tfelg.training.inputs`).
        """
        cfg = self.config
        features = Preprocessor.required_features(cfg.data.input, cfg.data.line_features)
        totals = {name: self._source.num_rows(name) for name in SPLITS}
        rows = inputs_lib.READ_ROWS[cfg.data.input]
        self.preprocessor = Preprocessor.fit_batches(
            inputs_lib.progress(
                self._source.batches("train", features, rows),
                "fitting the preprocessing",
                totals,
                "train",
                self.log,
            ),
            input=cfg.data.input,
            line_features=cfg.data.line_features,
        )
        self._spool_dir = inputs_lib.make_spool_dir(self.output_dir)
        self._rows = inputs_lib.spool_inputs(
            self.preprocessor,
            lambda split: self._source.batches(split, features, rows),
            SPLITS,
            self._spool_dir,
            totals=totals,
            log=self.log,
        )

    def _fit_images(self, splits) -> images_lib.ImagePreprocessor:
        """The image stretch on train, and the classes when the model has a label column."""
        cfg = self.config
        cls = model_class(cfg.model.name)
        label = cls.label_column(cfg.model.options) if hasattr(cls, "label_column") else None
        names = self._class_names.get(label) if label else None
        if label and names is None and self._builder is not None:
            feature = (
                self._builder.info.features[label]
                if label in (self._builder.info.features)
                else None
            )
            names = getattr(feature, "names", None)
        prep = images_lib.ImagePreprocessor.fit(
            splits["train"],
            label=label,
            label_names=names,
            classes=cfg.model.options.get("classes"),
            dataset=cfg.data.dataset,
        )
        if prep.num_unlabelled:
            self.log(
                f"{prep.num_unlabelled} training image(s) without a class of {label!r} "
                f"({'/'.join(images_lib.UNLABELLED_NAMES)} or not chosen) left out"
            )
        return prep

    def _make_model(self):
        cfg = self.config
        if not self.image:
            from tfelg.models import build_model

            return build_model(
                cfg.model.name,
                self.preprocessor.num_features,
                cfg.model.latent_dim,
                seed=cfg.trainer.seed,
                **cfg.model.options,
            )
        kwargs = dict(cfg.model.options)
        if self.preprocessor.classes is not None:
            kwargs["class_names"] = list(self.preprocessor.classes)
        if getattr(model_class(cfg.model.name), "USES_IMAGE_STRETCH", False):
            prep = self.preprocessor
            kwargs["image_stretch"] = list(prep.stretch)
            if prep.sky_sigma is not None:
                kwargs["image_noise"] = [
                    n / s for n, s in zip(prep.sky_sigma, prep.scale, strict=True)
                ]
        return model_class(cfg.model.name)(
            image_shape=self.preprocessor.image_shape,
            latent_dim=cfg.model.latent_dim,
            seed=cfg.trainer.seed,
            **kwargs,
        )

    def _build(self) -> None:
        cfg = self.config
        with self.strategy.scope():
            self.model = self._make_model()
            self._selection_loss = getattr(self.model, "SELECTION_LOSS", SELECTION_LOSS)
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
        try:
            self._checkpoint.restore(latest).assert_existing_objects_matched()
        except (ValueError, AssertionError, tf.errors.OpError) as e:
            # Same config.json, other weights: the model's code changed since.
            raise InputError(
                f"the backup {latest} does not fit this {self.config.model.name!r} model (its "
                f"variables differ: written by another version of the model?): "
                f"{str(e).splitlines()[0]} Use a new --workdir.",
                path=self.workdir,
            ) from e
        epoch = int(self._epoch.numpy())
        self.log(f"resumed from {latest}: {epoch} of {self.config.trainer.epochs} epochs done")
        return epoch

    # -- the distributed steps ------------------------------------------------------------
    def _make_train_step(self):
        model, optimizers = self.model, self.optimizers
        global_batch_size = self.config.trainer.batch_size

        def replica_step(*batch):
            # (x, w) for the autoencoders, (dict,) for image models.
            return model.train_step_on_replica(*batch, optimizers, global_batch_size)

        if self.config.runtime.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True, autograph=False)

        # autograph=False, as in Keras 3's own trainer (do_not_convert): the step
        # has no Python control flow on tensors, and tracing then never reads
        # source files (which may change under a long-running sweep).
        @tf.function(autograph=False)
        def train_step(batch):
            args = (batch,) if isinstance(batch, Mapping) else tuple(batch)
            per_replica = self.strategy.run(replica_step, args=args)
            return {
                name: self.strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in per_replica.items()
            }

        return train_step

    def _make_eval_step(self):
        model = self.model

        def replica_step(*batch):
            # (x, w, mask) for the autoencoders, (dict, mask) for image models.
            *data, mask = batch
            losses = model.per_example_losses(*data, training=False)
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
        store = self._rows["train"]
        batch_size = self.config.trainer.batch_size
        order = np.random.default_rng([self.config.trainer.seed, epoch]).permutation(store.num_rows)
        order = order[: self.steps_per_epoch * batch_size]
        ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)
        ds = ds.map(tf.autograph.experimental.do_not_convert(self._train_take(store)))
        ds = ds.prefetch(2).with_options(self._dataset_options())
        return self.strategy.experimental_distribute_dataset(ds)

    def _train_take(self, store):
        """The training split's gather (for arrays in memory, their constants made once)."""
        if self._train_take_fn is None:
            self._train_take_fn = store.tf_take_fn()
        return self._train_take_fn

    def _eval_dataset(self, split: str):
        """``split`` in global batches, the last one padded with masked rows."""
        if split not in self._eval_datasets:
            store = self._rows[split]
            batch_size = self.config.trainer.batch_size
            starts = np.arange(0, store.num_rows, batch_size)

            @tf.autograph.experimental.do_not_convert
            def read(start):
                values, mask = store.tf_read_padded(start, batch_size)
                # (x, w, mask) for the autoencoders, (dict, mask) for image models.
                return (values, mask) if isinstance(values, Mapping) else (*values, mask)

            ds = tf.data.Dataset.from_tensor_slices(starts).map(read)
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
                    diverged = self._diverged(losses)
                    if diverged:
                        raise FloatingPointError(
                            f"training diverged at epoch {epoch + 1}, step {step + 1}: "
                            f"{diverged} ({_format_losses(losses)}); training stopped. "
                            f"{self._kept()} Lower the learning rate "
                            f"(now {cfg.trainer.learning_rate:g})."
                        )
                    for k, v in losses.items():
                        sums[k] = sums.get(k, 0.0) + v
                    progress.update(losses)
            finally:
                progress.close()
            train_seconds = time.monotonic() - start
            train = {k: v / self.steps_per_epoch for k, v in sums.items()}
            validation = self.evaluate(SELECTION_SPLIT)
            if not all(math.isfinite(v) for v in validation.values()):
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
            selection = self._selection_loss
            # A model without a selection loss (a GAN) keeps its last epoch.
            improved = selection is None or validation[selection] < float(self._best.numpy())
            if improved:
                if selection is not None:
                    self._best.assign(validation[selection])
                self._best_epoch.assign(epoch + 1)
                for variable, value in zip(
                    self._best_weights, self.model.get_weights(), strict=True
                ):
                    variable.assign(value)
            quality = self._measure_quality(epoch + 1, final=epoch + 1 == epochs)
            if quality is not None:
                record["quality"], record["quality_seconds"] = quality
            self._epoch.assign(epoch + 1)
            self._history.assign(json.dumps(history))
            self._manager.save(checkpoint_number=epoch + 1)

            for split, values in (("train", train), ("validation", validation)):
                with writers[split].as_default(step=epoch + 1):
                    for name, value in values.items():
                        tf.summary.scalar(name, value)
                writers[split].flush()
            if quality is not None:
                # Measured against validation images: next to the validation losses.
                with writers["validation"].as_default(step=epoch + 1):
                    for tag, value in quality[0].items():
                        if value is not None:
                            tf.summary.scalar(tag, value)
                writers["validation"].flush()
            if hasattr(self.model, "write_epoch_summaries"):
                with writers["train"].as_default(step=epoch + 1):
                    self.model.write_epoch_summaries(epoch + 1, final=epoch + 1 == epochs)
                writers["train"].flush()
            self.log(
                f"epoch {epoch + 1}/{epochs}  train: {_format_losses(train)}  "
                f"validation: {_format_losses(validation)}{'  *' if improved else ''}  "
                f"{seconds:.1f} s ({record['train_samples_per_second']:.0f} samples/s)"
            )
            if quality is not None:
                self.log(f"epoch {epoch + 1}/{epochs}  {_format_quality(*quality)}")
            warning = getattr(self.model, "epoch_warning", lambda _: None)(train)
            if warning:
                self.log(f"epoch {epoch + 1}/{epochs}  warning: {warning}")
            write_json(os.path.join(self.output_dir, HISTORY_FILE), history)
            if time.monotonic() - last_plot > PLOT_INTERVAL_SECONDS:
                self._plot(history)
                last_plot = time.monotonic()
        for writer in writers.values():
            writer.close()
        self.history = history

    # -- sample quality (a model that generates images) ------------------------------------
    def _quality_every(self) -> int:
        """Epochs between quality evaluations; 0 when off or the model does not generate."""
        if not (self.image and callable(getattr(self.model, "generate", None))):
            return 0
        return self.config.runtime.quality_every

    def _measure_quality(self, epoch: int, final: bool):
        """``(scalars, seconds)`` of :mod:`tfelg.metrics.monitor` at this epoch, or None.

        Every ``runtime.quality_every`` epochs and at the last; NaN values
        (not computable at this sample size) as None. The monitor (extractors
        fitted on training images, the fixed validation sample measured) is
        built at the first evaluation.
        """
        every = self._quality_every()
        if every == 0 or not (final or epoch % every == 0):
            return None
        from tfelg.metrics import monitor as monitor_lib

        start = time.process_time()
        if self._monitor is None:
            runtime = self.config.runtime
            self._monitor = monitor_lib.QualityMonitor.from_splits(
                self._arrays["validation"],
                self._arrays["train"],
                self.preprocessor.classes,
                self.preprocessor.inverse,
                per_class=runtime.quality_per_class,
                features=list(runtime.quality_features),
                morphology_per_class=runtime.quality_morphology,
                seed=self.config.trainer.seed,
            )
        values = monitor_lib.json_values(self._monitor.evaluate(self.model))
        return values, time.process_time() - start

    def _diverged(self, losses: Mapping[str, float]) -> str | None:
        """The model's own reason to stop (e.g. an exploding discriminator loss), if any."""
        check = getattr(self.model, "check_losses", None)
        return check(losses) if check is not None else None

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
        if not all("reconstruction" in h["validation"] for h in history):
            return  # no reconstruction error to plot (a GAN): see TensorBoard
        title = (
            f"{cfg.model.name} d={cfg.model.latent_dim} on {cfg.data.dataset} ({cfg.data.input})"
        )
        write_loss_plot(history, os.path.join(self.output_dir, PLOT_FILE), title=title)

    def _final_quality(self, best_epoch: int) -> dict | None:
        """The kept epoch's quality for ``metrics.json`` (measured now if it never was)."""
        if self._quality_every() == 0:
            return None
        record = next((h for h in self.history if h["epoch"] == best_epoch), None)
        if record is not None and "quality" in record and self._monitor is not None:
            values = record["quality"]
        else:  # not measured at that epoch (a model selecting on a loss), or a re-opened run
            values, _ = self._measure_quality(best_epoch, final=True)
        return {"epoch": best_epoch, **self._monitor.describe(), "values": values}

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
        selection = self._selection_loss
        selected_on = "last epoch" if selection is None else f"{SELECTION_SPLIT} {selection}"
        metrics = {
            "model": cfg.model.name,
            "latent_dim": cfg.model.latent_dim,
            "input": cfg.data.input,
            "dataset": cfg.data.dataset,
            "num_features": (
                list(self.preprocessor.image_shape)
                if self.image
                else self.preprocessor.num_features
            ),
            "num_examples": {split: self._rows[split].num_rows for split in SPLITS},
            "epochs": cfg.trainer.epochs,
            "best_epoch": best_epoch,
            "selected_on": selected_on,
            "resumed_from_epoch": start_epoch if start_epoch > 0 else None,
        }
        if all("reconstruction" in losses[s] for s in SPLITS):
            metrics["reconstruction_error"] = {s: losses[s]["reconstruction"] for s in SPLITS}
        if self.image and self.preprocessor.classes is not None:
            metrics["classes"] = list(self.preprocessor.classes)
            metrics["label"] = self.preprocessor.label
        metrics.update(
            {
                "losses": losses,
                "train_seconds": sum(h["seconds"] for h in history),
                "num_replicas": self.strategy.num_replicas_in_sync,
                "strategy": cfg.runtime.strategy,
            }
        )
        quality = self._final_quality(best_epoch)
        if quality is not None:
            metrics["quality"] = quality
        write_json(os.path.join(self.output_dir, METRICS_FILE), metrics)
        self._plot(history)
        if "reconstruction_error" in metrics:
            summary = "reconstruction error " + ", ".join(
                f"{s} {losses[s]['reconstruction']:.4g}" for s in SPLITS
            )
        else:
            summary = "test " + _format_losses(losses["test"])
        how = "the last" if selection is None else f"lowest {SELECTION_SPLIT} {selection}"
        self.log(f"best epoch {best_epoch} ({how}); {summary}; outputs in {self.output_dir}")
        if not self.is_chief:
            _remove_scratch(self.output_dir)
        return metrics


def _format_quality(values: Mapping[str, float | None], seconds: float) -> str:
    """The all-classes quality scalars of one evaluation (tags with two slashes), for the log."""
    cells = [
        f"{tag.split('/', 1)[1]} {'n/a' if value is None else format(value, '.4g')}"
        for tag, value in values.items()
        if tag.count("/") == 2
    ]
    return f"quality ({seconds:.1f} s CPU): " + " ".join(cells)


def train_and_evaluate(
    config: ExperimentConfig,
    workdir: str,
    *,
    splits: Mapping[str, Arrays] | None = None,
    log: Callable[[str], None] | None = None,
    class_names: Mapping[str, Sequence[str]] | None = None,
) -> dict:
    """Trains ``config`` into ``workdir`` (resuming it if it holds this run); see :class:`Trainer`."""
    return Trainer(config, workdir, splits=splits, log=log, class_names=class_names).run()
