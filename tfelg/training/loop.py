"""The one training loop: every model, every ``tf.distribute`` strategy.

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

The loop is split into modules, all re-exported here: :mod:`.splits` (the
data), :mod:`.workdir` (files, config check, lock), :mod:`.images` (image
inputs), :mod:`.trainer` (the :class:`Trainer`). Image models (a GAN,
SimCLR) train under the same loop on batch dicts (see :mod:`.trainer`);
for a model without a validation loss to minimise, the epoch kept is the
last one.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from tfelg.errors import InputError
from tfelg.preprocessing import Preprocessor
from tfelg.training import images as images_lib
from tfelg.training.splits import (
    SPLITS,
    Arrays,
    DatasetSplits,
    check_splits,
    load_splits,
    open_dataset,
)
from tfelg.training.trainer import (
    PLOT_INTERVAL_SECONDS,
    SELECTION_LOSS,
    SELECTION_SPLIT,
    Trainer,
    check_model_options,
    train_and_evaluate,
    write_loss_plot,
)
from tfelg.training.workdir import (
    BACKUP_DIR,
    CONFIG_FILE,
    HISTORY_FILE,
    LOCK_FILE,
    METRICS_FILE,
    MODEL_FILE,
    PLOT_FILE,
    PREPROCESSING_FILE,
    TENSORBOARD_DIR,
    check_workdir_config,
    claim_workdir,
    read_json,
    run_started,
    write_json,
)

__all__ = [
    "BACKUP_DIR",
    "CONFIG_FILE",
    "HISTORY_FILE",
    "LOCK_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "PLOT_FILE",
    "PLOT_INTERVAL_SECONDS",
    "PREPROCESSING_FILE",
    "SELECTION_LOSS",
    "SELECTION_SPLIT",
    "SPLITS",
    "TENSORBOARD_DIR",
    "Arrays",
    "DatasetSplits",
    "TrainedModel",
    "Trainer",
    "check_model_options",
    "check_splits",
    "check_workdir_config",
    "claim_workdir",
    "load_splits",
    "load_trained",
    "open_dataset",
    "read_json",
    "run_started",
    "train_and_evaluate",
    "write_json",
    "write_loss_plot",
]


# -- using a trained run -----------------------------------------------------------------------
@dataclasses.dataclass
class TrainedModel:
    """A trained run's model with the preprocessing it was trained on."""

    model: keras.Model
    preprocessor: Preprocessor | images_lib.ImagePreprocessor

    def inputs(self, arrays: Arrays) -> tuple[np.ndarray, np.ndarray]:
        return self.preprocessor.transform(arrays)

    @property
    def is_image(self) -> bool:
        return isinstance(self.preprocessor, images_lib.ImagePreprocessor)

    def embed(self, arrays: Arrays, batch_size: int = 4096) -> np.ndarray:
        """Latent coordinates (posterior means) (N, d) of catalogue rows.

        For an image run: ``model.encode`` of every row's stretched image (a
        GAN's discriminator features), unlabelled rows included.
        """
        if self.is_image:
            images = images_lib.check_images(arrays, "data", self.preprocessor.image_shape)
            x = self.preprocessor.scale_images(images)
            batch_size = min(batch_size, 256)  # images are 12,288 numbers each
        else:
            x, _ = self.inputs(arrays)
        parts = [
            keras.ops.convert_to_numpy(self.model.encode(x[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
        if parts:
            return np.concatenate(parts)
        if self.is_image:  # the feature size is the network's, not latent_dim
            return keras.ops.convert_to_numpy(self.model.encode(x[:0]))
        return np.zeros((0, self.model.latent_dim))

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
    path = os.path.join(workdir, PREPROCESSING_FILE)
    if tf.io.gfile.exists(path) and images_lib.is_image_preprocessing(path):
        preprocessor = images_lib.ImagePreprocessor.load(path)
    else:
        preprocessor = Preprocessor.load(path)
    return TrainedModel(model=model, preprocessor=preprocessor)
