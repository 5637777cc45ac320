"""Files for TensorBoard's embedding projector.

The projector is where a person explores the latent space interactively:
points coloured by WHAN or BPT class, by cluster or by redshift, searched by
object id, each with a thumbnail (a cutout, or a tiny rendered spectrum).
TensorBoard reads, from one log directory:

* an embedding checkpoint written by ``tf.train.Checkpoint(embedding=...)``,
  whose tensor is named ``embedding/.ATTRIBUTES/VARIABLE_VALUE``; the
  ``checkpoint`` state file in the log directory points TensorBoard to it, so
  the config needs no checkpoint path (a path would be read relative to the
  server's working directory);
* ``metadata.tsv``, one row per point, with a header line only when there
  are two or more columns (TensorBoard's rule), no tabs or newlines inside a
  label;
* a sprite PNG of at most 8192 x 8192 pixels;
* ``projector_config.pbtxt`` written by ``projector.visualize_embeddings``,
  whose asset paths are relative to the log directory and inside it
  (TensorBoard 2.21 refuses any other).

TensorBoard 2.21's projector draws nothing for a tensor of fewer than three
columns: its PCA view always asks for a third component, which a 2-D tensor
does not have, so every point gets a NaN coordinate ("Total variance
described: NaN%") and the canvas stays empty. A 1-D or 2-D embedding (the
demo's ``ae`` and ``pca`` runs are 2-D) is therefore padded with columns of
zeros up to three. Zeros, not e.g. the t-SNE coordinates, because they change
nothing the projector computes from the data: the PCA of the padded tensor is
the PCA of the embedding plus a component of zero variance, and distances
(t-SNE, nearest neighbours) are unchanged. ``projector_columns.txt`` names
every column of the tensor and says which are padding, and the padding is
logged.

The projector loads at most 100,000 points, so a larger sample is subsampled
without replacement with a seeded generator (the same seed, the same points),
the choice is logged, and the chosen row numbers are written to
``projector_rows.txt`` so that each point can be traced to its catalogue row.

Use a log directory of its own for the projector (e.g. ``<run>/projector``):
the embedding's checkpoint manager owns the ``checkpoint`` state file there.
Each file is written to a temporary name and renamed, and the config comes
last, so a reader never finds a config pointing at a half-written asset.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image
from tensorboard.plugins import projector

from tfelg import atomic
from tfelg.outputs import sprites

METADATA_FILENAME = "metadata.tsv"
SPRITE_FILENAME = "sprite.png"
ROWS_FILENAME = "projector_rows.txt"
COLUMNS_FILENAME = "projector_columns.txt"
CHECKPOINT_NAME = "embedding.ckpt"
PROJECTOR_MAX_POINTS = 100_000
#: TensorBoard 2.21's projector draws no points for a tensor of fewer columns.
MIN_PROJECTOR_COLUMNS = 3
PADDING_COLUMN_NAME = "zero_padding"
_TENSOR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def checkpoint_tensor_name(tensor_name: str) -> str:
    """The name TensorBoard sees for ``tf.train.Checkpoint(**{tensor_name: var})``."""
    return f"{tensor_name}/.ATTRIBUTES/VARIABLE_VALUE"


def clean_label(value) -> str:
    """A metadata cell: text without tabs, newlines or carriage returns."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    elif isinstance(value, float | np.floating):
        value = "nan" if not np.isfinite(value) else f"{float(value):.6g}"
    text = str(value)
    return text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def metadata_tsv(columns: Mapping[str, Sequence], rows: np.ndarray | None = None) -> str:
    """The text of ``metadata.tsv`` for ``columns`` (restricted to ``rows`` if given).

    One column: one label per line, no header. Two or more: a header line of
    column names, then the rows.
    """
    names = list(columns)
    values = []
    for name in names:
        column = np.asarray(columns[name], dtype=object)
        values.append(column if rows is None else column[rows])
    lines = []
    if len(names) >= 2:
        lines.append("\t".join(clean_label(name) for name in names))
    for cells in zip(*values, strict=True):
        lines.append("\t".join(clean_label(cell) for cell in cells))
    return "\n".join(lines) + "\n"


def subsample_rows(n: int, max_points: int, seed: int) -> np.ndarray | None:
    """Sorted row numbers of a seeded subsample of ``max_points`` of ``n``, or None if n fits."""
    if n <= max_points:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_points, replace=False))


def pad_columns(
    embeddings: np.ndarray, min_columns: int = MIN_PROJECTOR_COLUMNS
) -> tuple[np.ndarray, int]:
    """``embeddings`` with columns of zeros appended up to ``min_columns``.

    Returns the (possibly unchanged) array and the number of zero columns
    added. See the module docstring for why the projector needs them.
    """
    missing = max(0, min_columns - embeddings.shape[1])
    if not missing:
        return embeddings, 0
    zeros = np.zeros((embeddings.shape[0], missing), dtype=embeddings.dtype)
    return np.concatenate([embeddings, zeros], axis=1), missing


def columns_text(column_names: Sequence[str], n_padding: int, tensor_name: str) -> str:
    """The text of ``projector_columns.txt``: one line per column of the tensor."""
    lines = [
        f"# Columns of the projector tensor {tensor_name}: number, name, meaning.",
        *(f"{i}\t{clean_label(name)}\tdata" for i, name in enumerate(column_names, start=1)),
    ]
    for j in range(n_padding):
        lines.append(
            f"{len(column_names) + j + 1}\t{PADDING_COLUMN_NAME}\tpadding: always 0 "
            f"(TensorBoard's projector draws nothing for fewer than {MIN_PROJECTOR_COLUMNS} "
            "columns)"
        )
    return "\n".join(lines) + "\n"


def write_projector(
    logdir,
    embeddings,
    metadata: Mapping[str, Sequence] | None = None,
    *,
    sprite_images=None,
    column_names: Sequence[str] | None = None,
    tensor_name: str = "embedding",
    max_points: int = PROJECTOR_MAX_POINTS,
    seed: int = 0,
) -> dict:
    """Writes an embedding, its metadata and sprite for TensorBoard's projector.

    Args:
      logdir: the log directory (created if needed); point
        ``tensorboard --logdir`` at it (or at a parent).
      embeddings: (N, d) points, e.g. latent means; written as float32.
      metadata: column name -> N labels (e.g. ``id``, ``whan``, ``bpt``,
        ``cluster``, ``redshift``, ``true_class``); class names read better
        than codes. None or empty: no metadata file.
      sprite_images: optional (N, h, w, 3) thumbnails, uint8 or floats in
        [0, 1] (e.g. from :mod:`tfelg.outputs.sprites`), in the rows of
        ``embeddings``; shrunk to fit an 8192 x 8192 sprite. When there are
        more than ``max_points`` rows they may instead be the thumbnails of the
        subsample only (``subsample_rows(N, max_points, seed)``, in that
        order): a caller with a million galaxies renders 100,000 thumbnails,
        not a million.
      column_names: names of the d columns (default ``z1``, ``z2``, ...),
        written to ``projector_columns.txt``. Fewer than three columns are
        padded with zeros (see the module docstring); the padding is named
        there and logged.
      tensor_name: the checkpoint attribute (a Python identifier); TensorBoard
        shows the tensor as ``<tensor_name>/.ATTRIBUTES/VARIABLE_VALUE``.
      max_points: more points than this are subsampled (seeded); the
        projector itself loads at most 100,000.
      seed: seeds the subsample.

    Returns:
      A dict: ``logdir``, ``tensor_name`` (as TensorBoard names it),
      ``checkpoint`` (path prefix), ``config_path``, ``metadata_path`` and
      ``sprite_path`` (or None), ``thumb_size`` ((h, w) or None),
      ``columns`` (the names of the tensor's columns, padding included),
      ``n_padding_columns``, ``columns_path``,
      ``n_total``, ``n_points``, ``subsampled``, ``rows_path`` (the file of
      chosen row numbers, or None) and ``seed``.

    Raises:
      ValueError: embeddings not 2-D or not finite, a metadata column, the
        thumbnails or ``column_names`` of the wrong length, a bad
        ``tensor_name`` or ``max_points``.
    """
    logdir = os.fspath(logdir)
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or embeddings.shape[0] == 0 or embeddings.shape[1] == 0:
        raise ValueError(f"embeddings must be (N, d) with N, d >= 1, got shape {embeddings.shape}")
    if not np.issubdtype(embeddings.dtype, np.number) or not np.isfinite(embeddings).all():
        raise ValueError("embeddings must be finite numbers (NaN or inf found)")
    if not _TENSOR_NAME_RE.match(tensor_name):
        raise ValueError(f"tensor_name must be a Python identifier, got {tensor_name!r}")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    n_total, dim = embeddings.shape
    if column_names is None:
        column_names = [f"z{i}" for i in range(1, dim + 1)]
    column_names = [str(name) for name in column_names]
    if len(column_names) != dim:
        raise ValueError(f"column_names has {len(column_names)} names for {dim} columns")
    metadata = dict(metadata or {})
    for name, column in metadata.items():
        if len(column) != n_total:
            raise ValueError(
                f"metadata column {name!r} has {len(column)} values for {n_total} embeddings"
            )
    if sprite_images is not None:
        sprite_images = sprites.to_uint8_images(sprite_images)
        if len(sprite_images) != n_total and not (
            n_total > max_points and len(sprite_images) == max_points
        ):
            raise ValueError(
                f"sprite_images has {len(sprite_images)} thumbnails for {n_total} embeddings"
                + (f" (or the {max_points} of the subsample)" if n_total > max_points else "")
            )
        # Leave at least 4x4 pixels per thumbnail in the 8192-pixel sprite.
        min_side = 4
        fits = (sprites.MAX_SPRITE_SIZE // min_side) ** 2
        if max_points > fits:
            logging.warning(
                "projector: a sprite of %d-pixel thumbnails holds at most %d points; "
                "max_points lowered from %d",
                min_side,
                fits,
                max_points,
            )
            max_points = fits
    if max_points > PROJECTOR_MAX_POINTS:
        logging.warning(
            "projector: max_points=%d exceeds the %d points TensorBoard's projector loads",
            max_points,
            PROJECTOR_MAX_POINTS,
        )

    rows = subsample_rows(n_total, max_points, seed)
    if rows is not None:
        logging.warning(
            "projector: %d points exceed max_points=%d; writing a seeded subsample "
            "(seed %d) of %d; row numbers in %s",
            n_total,
            max_points,
            seed,
            max_points,
            ROWS_FILENAME,
        )
        embeddings = embeddings[rows]
        if sprite_images is not None and len(sprite_images) == n_total:
            sprite_images = sprite_images[rows]
        elif sprite_images is not None and len(sprite_images) != len(rows):
            raise ValueError(  # max_points was lowered to fit the sprite: all are needed
                f"sprite_images has the {len(sprite_images)} thumbnails of a subsample, but "
                f"{len(rows)} points are written; give all {n_total} thumbnails"
            )

    embeddings, n_padding = pad_columns(np.asarray(embeddings, dtype=np.float32))
    if n_padding:
        logging.info(
            "projector: %d-column embedding padded with %d column(s) of zeros (named %s in %s): "
            "TensorBoard's projector draws nothing for fewer than %d columns",
            dim,
            n_padding,
            PADDING_COLUMN_NAME,
            COLUMNS_FILENAME,
            MIN_PROJECTOR_COLUMNS,
        )

    os.makedirs(logdir, exist_ok=True)
    columns_path = os.path.join(logdir, COLUMNS_FILENAME)
    atomic.write_text(
        columns_path, columns_text(column_names, n_padding, checkpoint_tensor_name(tensor_name))
    )
    # Assets of an earlier call that this one does not write would be stale.
    for stale, keep in (
        (ROWS_FILENAME, rows is not None),
        (METADATA_FILENAME, bool(metadata)),
        (SPRITE_FILENAME, sprite_images is not None),
    ):
        if not keep and os.path.exists(os.path.join(logdir, stale)):
            os.remove(os.path.join(logdir, stale))
    rows_path = None
    if rows is not None:
        rows_path = os.path.join(logdir, ROWS_FILENAME)
        atomic.write_bytes(rows_path, ("\n".join(str(r) for r in rows) + "\n").encode())

    metadata_path = None
    if metadata:
        metadata_path = os.path.join(logdir, METADATA_FILENAME)
        atomic.write_bytes(metadata_path, metadata_tsv(metadata, rows).encode("utf-8"))

    sprite_path, thumb_size = None, None
    if sprite_images is not None:
        sprite, thumb_size = sprites.make_sprite(sprite_images)
        buffer = io.BytesIO()
        Image.fromarray(sprite).save(buffer, format="PNG")
        sprite_path = os.path.join(logdir, SPRITE_FILENAME)
        atomic.write_bytes(sprite_path, buffer.getvalue())

    variable = tf.Variable(embeddings, trainable=False)
    checkpoint = tf.train.Checkpoint(**{tensor_name: variable})
    # The manager writes the `checkpoint` state file TensorBoard looks for and
    # removes the previous embedding when the projector is rewritten.
    manager = tf.train.CheckpointManager(
        checkpoint, directory=logdir, max_to_keep=1, checkpoint_name=CHECKPOINT_NAME
    )
    checkpoint_path = manager.save()

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = checkpoint_tensor_name(tensor_name)
    if metadata_path:
        embedding.metadata_path = METADATA_FILENAME
    if sprite_path:
        embedding.sprite.image_path = SPRITE_FILENAME
        embedding.sprite.single_image_dim.extend([thumb_size[1], thumb_size[0]])  # width, height
    projector.visualize_embeddings(logdir, config)

    return {
        "logdir": logdir,
        "tensor_name": checkpoint_tensor_name(tensor_name),
        "checkpoint": checkpoint_path,
        "config_path": os.path.join(logdir, "projector_config.pbtxt"),
        "metadata_path": metadata_path,
        "sprite_path": sprite_path,
        "thumb_size": thumb_size,
        "columns": column_names + [PADDING_COLUMN_NAME] * n_padding,
        "n_padding_columns": n_padding,
        "columns_path": columns_path,
        "n_total": int(n_total),
        "n_points": int(embeddings.shape[0]),
        "subsampled": rows is not None,
        "rows_path": rows_path,
        "seed": int(seed),
    }
