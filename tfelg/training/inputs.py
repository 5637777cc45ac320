"""The model inputs the loop reads, by row number: in memory, or spooled to disk.

Why: the loop used to hold every split twice, the catalogue arrays and
their preprocessed ``(x, w)``: 80 bytes a galaxy for the line features but
11 kB for a spectrum, so a million spectra did not fit a 24 GB machine.
Now an autoencoder's inputs are preprocessed batch by batch as the split is
read and appended to two files per split (``x`` as float32, the mask ``w``
as one byte a value); training and evaluation gather their batches from
those files. The rows of each batch, and so every trained model, are the
same as when the arrays were in memory: the loop draws the same
permutation and gathers the same rows (tested).

A file of at most IN_MEMORY_BYTES is read back into memory whole (a million
galaxies' line features are 50 MB); a larger one is read row by row into
each batch (:class:`_RowFile`), so memory holds a batch, not the split.

Image models keep their (already checked and stretched) arrays in memory
(:class:`ArrayRows`); the loop reads both kinds the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf

#: A spooled file up to this size is read into memory whole; a larger one row by row.
IN_MEMORY_BYTES = 128 << 20

#: Galaxies per batch read from the dataset, by model input. TFDS's reader holds several
#: batches ahead, and the preprocessing a few float64 copies of one: reading the spectra
#: of 80,000 galaxies rose +367 MB with 4,096 a batch, +128 MB with 1,024 (+96 with 512,
#: slower), in 8-10 s either way. The line features are 40-80 bytes a galaxy.
READ_ROWS = {"lines": 4096, "spectrum": 1024}

#: Seconds between the progress lines of a long preprocessing pass.
PROGRESS_SECONDS = 10.0


class RowStore:
    """One split's model inputs, read by row: the structure the model's steps take.

    ``spec``: the structure (a tuple ``(x, w)``, or an image dict) of
    ``tf.TensorSpec`` of one row each; ``take(rows)`` and ``read(start,
    stop)`` give NumPy arrays of that structure.
    """

    num_rows: int
    spec = None

    def take(self, rows: np.ndarray):
        raise NotImplementedError

    def read(self, start: int, stop: int):
        raise NotImplementedError

    def close(self) -> None:
        """Closes its files (the store is not read afterwards)."""

    def in_memory(self):
        """The structure of arrays ``take`` indexes, when they are all in memory; else None."""
        return None

    # -- the same as tf.data operations -------------------------------------------------
    def tf_take_fn(self) -> Callable:
        """A function for ``tf.data``'s ``map``: a batch of row numbers -> those rows.

        Call it eagerly (it makes the constants once). Arrays in memory are
        gathered by TensorFlow (``tf.gather``: no Python and no GIL per
        batch); a file read row by row goes through ``tf.numpy_function``.
        Both give the same rows.
        """
        arrays = self.in_memory()
        if arrays is None:
            return lambda rows: self._numpy_op(
                lambda r: self.take(np.asarray(r)), rows, self.spec, rows.shape[0]
            )
        with tf.device("/cpu:0"):
            tensors = tf.nest.map_structure(tf.constant, arrays)
        return lambda rows: self._from_tensors(
            tf.nest.map_structure(lambda t: tf.gather(t, rows), tensors)
        )

    def _from_tensors(self, gathered):
        """Gathered rows of :meth:`in_memory`'s arrays as the batch the model takes."""
        return gathered

    def tf_read_padded(self, start: tf.Tensor, batch_size: int):
        """``(rows start..start+batch_size, mask)``: the split's end padded with zero rows."""

        def read(s):
            s = int(s)
            stop = min(s + batch_size, self.num_rows)
            values = self.read(s, stop)
            pad = batch_size - (stop - s)
            mask = np.zeros(batch_size, np.float32)
            mask[: stop - s] = 1.0
            if pad:
                values = tf.nest.map_structure(
                    lambda a: np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)]), values
                )
            return values, mask

        mask = tf.TensorSpec([], tf.float32)
        return self._numpy_op(read, start, (self.spec, mask), batch_size)

    @staticmethod
    def _numpy_op(fn: Callable, argument: tf.Tensor, spec, rows: int):
        """``fn(argument)`` in NumPy, as tensors of the structure ``spec`` with ``rows`` rows."""
        specs = tf.nest.flatten(spec)
        outputs = tf.numpy_function(
            lambda a: [np.ascontiguousarray(v) for v in tf.nest.flatten(fn(a))],
            [argument],
            [s.dtype for s in specs],
        )
        if not isinstance(outputs, list | tuple):  # one output comes back bare
            outputs = [outputs]
        for output, one in zip(outputs, specs, strict=True):
            output.set_shape([rows, *one.shape])
        return tf.nest.pack_sequence_as(spec, outputs)


class ArrayRows(RowStore):
    """Inputs held in memory (an image model's, or any structure of equal-length arrays)."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.num_rows = len(tf.nest.flatten(arrays)[0])
        self.spec = tf.nest.map_structure(
            lambda a: tf.TensorSpec(a.shape[1:], tf.as_dtype(a.dtype)), arrays
        )

    def take(self, rows):
        return tf.nest.map_structure(lambda a: a[rows], self.arrays)

    def read(self, start, stop):
        return tf.nest.map_structure(lambda a: a[start:stop], self.arrays)

    def in_memory(self):
        return self.arrays


class _RowFile:
    """A (rows, columns) matrix in a file: read whole when small, else row by row.

    A file of at most IN_MEMORY_BYTES is read into memory once. A larger one
    is read with one ``pread`` a row (a training batch's rows are scattered)
    or one for a range, into the batch's own array: memory holds that batch
    only. Not a memory map: the kernel maps a file's page cache in folios of
    up to megabytes, so gathering 200 random spectra from a mapped file put
    ~270 MB into the process's resident memory (measured).
    """

    def __init__(self, path: str, dtype, num_rows: int, num_columns: int):
        self.dtype, self.shape = np.dtype(dtype), (num_rows, num_columns)
        self.row_bytes = self.dtype.itemsize * num_columns
        self.array = None
        self._fd = None
        if num_rows * self.row_bytes <= IN_MEMORY_BYTES:
            self.array = np.fromfile(path, self.dtype).reshape(self.shape)
        else:
            self._fd = os.open(path, os.O_RDONLY)

    def take(self, rows) -> np.ndarray:
        if self.array is not None:
            return self.array[rows]
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        view, size = memoryview(out).cast("B"), self.row_bytes
        for i, row in enumerate(np.asarray(rows, np.int64).tolist()):
            self._read_into(view[i * size : (i + 1) * size], row * size)
        return out

    def read(self, start: int, stop: int) -> np.ndarray:
        if self.array is not None:
            return self.array[start:stop]
        out = np.empty((stop - start, self.shape[1]), self.dtype)
        self._read_into(memoryview(out).cast("B"), start * self.row_bytes)
        return out

    def _read_into(self, view, offset: int) -> None:
        while len(view):
            done = os.preadv(self._fd, [view], offset)
            if done == 0:
                raise OSError(f"the spooled inputs end early (at byte {offset})")
            view, offset = view[done:], offset + done

    def close(self) -> None:
        self.array = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SpooledRows(RowStore):
    """An autoencoder's ``(x, w)`` of one split, from the two files :func:`spool_inputs` wrote."""

    def __init__(self, directory: str, split: str, num_rows: int, num_features: int):
        self.num_rows = num_rows
        self._x = _RowFile(_path(directory, split, "x"), np.float32, num_rows, num_features)
        self._w = _RowFile(_path(directory, split, "w"), np.uint8, num_rows, num_features)
        spec = tf.TensorSpec([num_features], tf.float32)
        self.spec = (spec, spec)

    def take(self, rows):
        return self._x.take(rows), self._w.take(rows).astype(np.float32)

    def read(self, start, stop):
        return self._x.read(start, stop), self._w.read(start, stop).astype(np.float32)

    def in_memory(self):
        if self._x.array is None or self._w.array is None:
            return None
        return self._x.array, self._w.array

    def _from_tensors(self, gathered):
        x, w = gathered
        return x, tf.cast(w, tf.float32)

    def close(self) -> None:
        self._x.close()
        self._w.close()


def _path(directory: str, split: str, member: str) -> str:
    return os.path.join(directory, f"{split}.{member}")


def spool_inputs(
    preprocessor,
    batches: Callable[[str], Iterable[Mapping[str, np.ndarray]]],
    splits: Iterable[str],
    directory: str,
    *,
    totals: Mapping[str, int] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, SpooledRows]:
    """Preprocesses each split batch by batch into ``directory``; the stores that read it.

    ``batches(split)``: the split's catalogue batches. Memory holds one batch
    and its ``(x, w)``; the files take 5 bytes a feature value.
    """
    stores = {}
    for split in splits:
        num_rows = 0
        with (
            open(_path(directory, split, "x"), "wb") as x_file,
            open(_path(directory, split, "w"), "wb") as w_file,
        ):
            for batch in progress(batches(split), f"preprocessing {split}", totals, split, log):
                x, w = preprocessor.transform(batch)
                x_file.write(np.ascontiguousarray(x, np.float32).tobytes())
                w_file.write((w > 0).astype(np.uint8).tobytes())
                num_rows += len(x)
        stores[split] = SpooledRows(directory, split, num_rows, preprocessor.num_features)
    return stores


def progress(batches, what: str, totals, split: str, log: Callable[[str], None]):
    """The batches, with a line every PROGRESS_SECONDS and one at the end (galaxies so far)."""
    total = (totals or {}).get(split)
    of = f" of {total:,}" if total else ""
    done, start = 0, time.monotonic()
    last = start
    for batch in batches:
        yield batch
        done += len(next(iter(batch.values())))
        if time.monotonic() - last > PROGRESS_SECONDS:
            last = time.monotonic()
            log(f"{what}: {done:,}{of} galaxies")
    log(f"{what}: {done:,} galaxies in {time.monotonic() - start:.1f} s")


def make_spool_dir(output_dir: str) -> str:
    """A fresh folder for the spooled inputs: hidden in a local ``output_dir``, else temporary.

    The spool is read with positional reads of local files: a workdir on an
    object store (``gs://``) spools to the system's temporary folder instead.
    """
    if "://" in output_dir:
        return tempfile.mkdtemp(prefix="tfelg-inputs-")
    path = os.path.join(output_dir, INPUTS_DIR)
    shutil.rmtree(path, ignore_errors=True)  # left by a killed run
    os.makedirs(path)
    return path


def remove_spool(directory: str | None, stores: Mapping[str, RowStore] | None) -> None:
    for store in (stores or {}).values():
        store.close()
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


#: The hidden folder of a run's spooled inputs, inside its (local) output folder.
INPUTS_DIR = ".inputs"
