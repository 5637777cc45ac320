"""A training run's folder: its files, its config check and its lock.

Split out of :mod:`tfelg.training.loop` (which re-exports every name here):
what the workdir holds (``config.json``, ``preprocessing.json``,
``model.keras``, ``metrics.json``, ``history.json``, ``loss.png``,
``tensorboard/``, ``backup/``), when an existing workdir is resumed and when
it is refused (:func:`check_workdir_config`), and the ``flock`` that keeps a
second process out (:func:`claim_workdir`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import tensorflow as tf

from tfelg.errors import InputError
from tfelg.locking import FileLock, LockHeld
from tfelg.preprocessing import write_text_atomically
from tfelg.training.config import ExperimentConfig

CONFIG_FILE = "config.json"
PREPROCESSING_FILE = "preprocessing.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
PLOT_FILE = "loss.png"
BACKUP_DIR = "backup"
TENSORBOARD_DIR = "tensorboard"
LOCK_FILE = ".lock"  # held (flock) while a process trains in the workdir


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
