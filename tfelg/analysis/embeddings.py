"""Embeddings: one representation of every galaxy, with its labels.

An :class:`Embeddings` holds, for every galaxy of every split, the latent
coordinates of one *representation* together with what later steps compare
them against (object id, split, redshift, WHAN, BPT, true class). It is the
artifact between training and analysis, saved as one ``.npz``, uncompressed,
so that :meth:`Embeddings.load` memory-maps its arrays instead of reading
them (issue 15): a component that subsamples a million galaxies, or reads
their coordinates but not their ids, touches only those pages, and the
arrays are not copied into memory once per component. The file is written
batch by batch (:class:`EmbeddingsWriter`: each array spooled to disk as its
rows come, then assembled), and each representation is one
:class:`BatchEncoder`, run either on splits in memory (:func:`embed_splits`)
or on a data set streamed from disk (:func:`write_streamed`, the pipeline's
exporter): memory holds a batch, not the data set.

Three kinds of representation are compared in every results table:

* ``autoencoder``: the posterior mean of a trained model (never a noisy
  sample: the reference work's first flaw);
* ``pca``: PCA with the same latent dimension on the same preprocessed
  inputs (fitted on the training split);
* ``line_ratios``: the classical approach, the standardised log line ratios
  ([NII]/Hα, [OIII]/Hβ, [SII]/Hα, [OI]/Hα) and asinh EW(Hα), no learning.
  A missing ratio is drawn from its distribution given the galaxy's measured
  features (:mod:`tfelg.analysis.imputation`; a constant would put those
  galaxies on planes the mixtures collapse onto), so every galaxy keeps a
  point, as the autoencoders' masked inputs do; ``imputed`` marks them.

Every scaling is fitted on the training split only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import zipfile
from collections.abc import Mapping

import numpy as np

from tfelg import atomic, schemes

SPLITS = ("train", "validation", "test")
LABEL_KEYS = ("whan", "bpt", "true_class")


@dataclasses.dataclass
class Embeddings:
    """Latent coordinates and labels of N galaxies.

    Attributes:
      object_id: (N,) str.
      split: (N,) str, ``train``/``validation``/``test``.
      latent: (N, d) float32.
      redshift: (N,) float32.
      labels: name -> (N,) int codes (``whan``, ``bpt``, ``true_class``).
      class_names: name -> class names of those codes.
      representation: e.g. ``vae``, ``pca``, ``line_ratios``.
      info: provenance (workdir, latent_dim, config, ...), JSON-serialisable.
      imputed: None, or (N, d) booleans: coordinates that were not measured
        but filled in (the line-ratio baseline's missing ratios); figures
        leave them out.
    """

    object_id: np.ndarray
    split: np.ndarray
    latent: np.ndarray
    redshift: np.ndarray
    labels: dict[str, np.ndarray]
    class_names: dict[str, list[str]]
    representation: str
    info: dict = dataclasses.field(default_factory=dict)
    imputed: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.object_id)
        self.latent = np.asarray(self.latent, dtype=np.float32)
        if self.latent.ndim != 2 or self.latent.shape[0] != n:
            raise ValueError(f"latent has shape {self.latent.shape}, expected ({n}, d)")
        if self.imputed is not None:
            self.imputed = np.asarray(self.imputed, dtype=bool)
            if self.imputed.shape != self.latent.shape:
                raise ValueError(
                    f"imputed has shape {self.imputed.shape}, expected {self.latent.shape}"
                )
        for name, codes in self.labels.items():
            if len(codes) != n:
                raise ValueError(f"labels[{name!r}] has {len(codes)} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.object_id)

    @property
    def latent_dim(self) -> int:
        return self.latent.shape[1]

    def check_finite(self) -> None:
        """Raises ValueError naming the rows whose coordinates are NaN or infinite."""
        bad = ~np.all(np.isfinite(self.latent), axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"{self.representation} embeddings have NaN or infinite coordinates in "
                f"{bad.sum()} of {len(self)} galaxies (first: row {rows[0]}, "
                f"object {str(self.object_id[rows[0]])!r}); was training diverging?"
            )

    def subset(self, rows) -> Embeddings:
        return Embeddings(
            object_id=self.object_id[rows],
            split=self.split[rows],
            latent=self.latent[rows],
            redshift=self.redshift[rows],
            labels={k: v[rows] for k, v in self.labels.items()},
            class_names=self.class_names,
            representation=self.representation,
            info=self.info,
            imputed=None if self.imputed is None else self.imputed[rows],
        )

    def for_split(self, split: str) -> Embeddings:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        return self.subset(self.split == split)

    # -- persistence ----------------------------------------------------------------
    def save(self, path: str) -> str:
        """Writes one ``.npz`` atomically (temporary file, then rename).

        The same file :class:`EmbeddingsWriter` writes batch by batch (it
        is the one writer: here with a single batch).
        """
        with EmbeddingsWriter(
            path, self.representation, self.class_names, self.info, tuple(self.labels)
        ) as writer:
            writer.append(
                object_id=self.object_id,
                split=self.split,
                latent=self.latent,
                redshift=self.redshift,
                labels=self.labels,
                imputed=self.imputed,
            )
        return path

    @classmethod
    def load(cls, path: str, *, mmap: bool = True) -> Embeddings:
        """Reads what :meth:`save` wrote; ``mmap``: map large arrays, copy-on-write.

        A mapped array reads from the file as it is used; writing into it
        changes this process's copy only (``numpy.memmap`` mode ``c``).
        """
        if not os.path.exists(path):
            from tfelg.errors import InputError

            raise InputError("embeddings file not found", path=path)
        z = _npz_arrays(path, mmap=mmap)
        meta = json.loads(str(z["meta"]))
        labels = {k[len("label_") :]: v for k, v in z.items() if k.startswith("label_")}
        return cls(
            object_id=z["object_id"],
            split=z["split"],
            latent=z["latent"],
            redshift=z["redshift"],
            labels=labels,
            class_names=meta["class_names"],
            representation=meta["representation"],
            info=meta["info"],
            imputed=z.get("imputed"),
        )


#: Members of an .npz smaller than this are read, not mapped.
MMAP_MIN_BYTES = 1 << 20


def _npz_arrays(path: str, *, mmap: bool) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``; stored (uncompressed) members of at least
    :data:`MMAP_MIN_BYTES` as memory maps into the file.

    ``numpy.load`` ignores ``mmap_mode`` for ``.npz`` files. A stored member
    of a zip is the ``.npy`` file's bytes, unchanged, after the member's
    local header (30 bytes, then its name and extra field: their lengths are
    the header's last two 16-bit fields), so its array starts after the
    ``.npy`` header at a fixed offset in the ``.npz``.
    """
    arrays = {}
    with np.load(path, allow_pickle=False) as z, open(path, "rb") as f:
        for info in z.zip.infolist():
            name = info.filename.removesuffix(".npy")
            if not mmap or info.compress_type != zipfile.ZIP_STORED:
                arrays[name] = z[name]
                continue
            f.seek(info.header_offset)
            local = f.read(30)
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_length + extra_length)
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):  # (3.0: non-Latin-1 field names)
                arrays[name] = z[name]
                continue
            read_header = getattr(np.lib.format, f"read_array_header_{version[0]}_0")
            shape, fortran, dtype = read_header(f)
            size = int(np.prod(shape)) * dtype.itemsize
            if size < MMAP_MIN_BYTES or not shape or dtype.hasobject:
                arrays[name] = z[name]
                continue
            arrays[name] = np.memmap(
                path,
                dtype=dtype,
                mode="c",
                shape=shape,
                order="F" if fortran else "C",
                offset=f.tell(),
            )
    return arrays


#: Rows converted and written at a time when the spooled members are assembled.
WRITE_ROWS = 1 << 16


class _Spool:
    """One member's rows, appended to a file as they come, with each append's dtype.

    Strings are spooled at each batch's own width; the member's width (the
    widest) is known only at the end, when the rows are read back in pieces
    and converted.
    """

    def __init__(self, path: str):
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 (closed by finish())
        self.chunks: list[tuple[np.dtype, int]] = []
        self.tail: tuple[int, ...] | None = None

    def append(self, values: np.ndarray, name: str) -> None:
        values = np.ascontiguousarray(values)
        if self.tail is None:
            self.tail = values.shape[1:]
        elif values.shape[1:] != self.tail:
            raise ValueError(
                f"{name} has shape {values.shape} in this batch, earlier batches (N,) + {self.tail}"
            )
        self.file.write(values.tobytes())
        self.chunks.append((values.dtype, len(values)))

    def finish(self) -> None:
        self.file.close()

    @property
    def num_rows(self) -> int:
        return sum(n for _, n in self.chunks)

    def final_dtype(self, dtype) -> np.dtype:
        """``dtype``, or for strings (``dtype`` None) the widest batch's."""
        if dtype is not None:
            return np.dtype(dtype)
        return max((dtype for dtype, _ in self.chunks), key=lambda d: d.itemsize)

    def pieces(self, dtype: np.dtype):
        """The rows in order, as arrays of ``dtype`` of at most WRITE_ROWS rows."""
        per_row = int(np.prod(self.tail, dtype=np.int64))
        with open(self.path, "rb") as f:
            for chunk_dtype, n in self.chunks:
                for start in range(0, n, WRITE_ROWS):
                    rows = min(WRITE_ROWS, n - start)
                    raw = f.read(rows * per_row * chunk_dtype.itemsize)
                    values = np.frombuffer(raw, chunk_dtype).reshape((rows,) + self.tail)
                    yield values.astype(dtype, copy=False)

    def read(self, dtype) -> np.ndarray:
        parts = list(self.pieces(np.dtype(dtype)))
        return np.concatenate(parts) if parts else np.zeros((0,) + (self.tail or ()), dtype)


class EmbeddingsWriter:
    """Writes an :class:`Embeddings` ``.npz`` batch by batch, in memory that does not grow.

    Each member (ids, splits, coordinates, ...) is spooled to its own file
    in a hidden folder beside ``path`` as batches are appended; closing
    assembles them into the ``.npz`` that :meth:`Embeddings.save` writes
    (members stored uncompressed, in the same order and dtypes, so
    :meth:`Embeddings.load` maps them), converting WRITE_ROWS rows at a time,
    atomically. A failure (or leaving the ``with`` block by an exception)
    leaves no file and removes the spool.

    ``finish``: None, or fn(latent (N, d), split (N,) str) -> (latent,
    imputed or None, info updates), applied to the whole coordinate column
    at the end (the line-ratio baseline's scaling and imputation, which need
    the training split's statistics): memory then holds that column, N x d
    numbers, and nothing else of the data.

    ``require_finite``: refuse (ValueError naming the first row and its
    object) coordinates that are NaN or infinite, as
    :meth:`Embeddings.check_finite` does for embeddings in memory: in
    :meth:`append`, or after ``finish`` in :meth:`close`.
    """

    def __init__(
        self,
        path: str,
        representation: str,
        class_names: Mapping[str, list[str]],
        info: Mapping | None = None,
        label_keys=(),
        *,
        finish=None,
        require_finite: bool = False,
    ):
        import tempfile

        self.path = path
        self.representation = representation
        self.class_names = dict(class_names)
        self.info = dict(info or {})
        self.label_keys = tuple(label_keys)
        self.finish = finish
        self.require_finite = require_finite
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self._dir = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.spool-", dir=folder)
        self._spools: dict[str, _Spool] = {}
        self._rows = 0
        self._closed = False

    def _spool(self, name: str) -> _Spool:
        if name not in self._spools:
            self._spools[name] = _Spool(os.path.join(self._dir, name))
        return self._spools[name]

    def append(self, *, object_id, split, latent, redshift, labels, imputed=None) -> None:
        """One batch of galaxies. ``split``: one name for the batch, or one per row."""
        n = len(object_id)
        latent = np.asarray(latent)
        if latent.ndim != 2 or len(latent) != n:
            raise ValueError(f"latent has shape {latent.shape}, expected ({n}, d)")
        if isinstance(split, str):
            split = np.full(n, split)
        if set(labels) != set(self.label_keys):
            raise ValueError(f"labels {sorted(labels)}, expected {sorted(self.label_keys)}")
        if (imputed is not None) != ("imputed" in self._spools) and self._spools:
            raise ValueError("imputed must be given with every batch or with none")
        columns = {
            "object_id": np.asarray(object_id).astype(str),
            "split": np.asarray(split).astype(str),
            "latent": latent,
            "redshift": np.asarray(redshift, np.float32),
        }
        columns.update({f"label_{k}": np.asarray(labels[k], np.int16) for k in self.label_keys})
        if imputed is not None:
            columns["imputed"] = np.asarray(imputed, bool)
        for name, values in columns.items():
            if len(values) != n:
                raise ValueError(f"{name} has {len(values)} rows in this batch, expected {n}")
        if self.require_finite and self.finish is None:  # fail now, not after the last batch
            bad = ~np.all(np.isfinite(latent), axis=1)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"{self.representation} embeddings have NaN or infinite coordinates "
                    f"(first: row {self._rows + first}, object {str(columns['object_id'][first])!r}; "
                    f"{int(bad.sum())} in its batch of {n}); was training diverging?"
                )
        for name, values in columns.items():
            self._spool(name).append(values, name)
        self._rows += n

    def close(self) -> str:
        """Writes ``path`` (atomically) from the spooled batches; removes the spool."""
        if self._closed:
            return self.path
        try:
            self._write()
        finally:
            self.discard()
        return self.path

    def discard(self) -> None:
        import shutil

        for spool in self._spools.values():
            spool.finish()
        shutil.rmtree(self._dir, ignore_errors=True)
        self._closed = True

    def __enter__(self) -> EmbeddingsWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()

    def _write(self) -> None:
        if "object_id" not in self._spools:
            raise ValueError(f"no galaxies were given for {self.path}")
        for spool in self._spools.values():
            spool.finish()
        latent, imputed = None, None
        if self.finish is not None:
            latent, imputed, updates = self.finish(
                self._spools["latent"].read(np.float64),
                self._spools["split"].read(self._spools["split"].final_dtype(None)),
            )
            latent = np.asarray(latent, np.float32)
            self.info.update(updates)
        meta = {
            "representation": self.representation,
            "class_names": self.class_names,
            "info": self.info,
        }
        n = self._spools["object_id"].num_rows
        members = [
            ("object_id", None),
            ("split", None),
            ("latent", np.float32),
            ("redshift", np.float32),
            ("meta", None),
        ]
        members += [(f"label_{k}", np.int16) for k in self.label_keys]
        if imputed is not None or "imputed" in self._spools:
            members.append(("imputed", bool))
        with (
            atomic.atomic_open(self.path, "wb") as f,
            zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
        ):
            for name, dtype in members:
                with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
                    if name == "meta":
                        np.lib.format.write_array(out, np.array(json.dumps(meta)))
                        continue
                    if name == "latent" and latent is not None:
                        pieces = [latent[i : i + WRITE_ROWS] for i in range(0, n, WRITE_ROWS)]
                        shape = latent.shape
                    elif name == "imputed" and imputed is not None:
                        pieces = [np.asarray(imputed, bool)]
                        shape = pieces[0].shape
                    else:
                        spool = self._spools[name]
                        dtype = spool.final_dtype(dtype)
                        pieces = spool.pieces(dtype)
                        shape = (n,) + spool.tail
                    if name == "latent" and self.require_finite and self.finish is not None:
                        pieces = self._checked_finite(pieces, n)  # (append checked the others)
                    _write_npy(out, pieces, np.dtype(dtype), shape)

    def _checked_finite(self, pieces, n: int):
        pieces, offset = iter(pieces), 0
        for piece in pieces:
            bad = ~np.all(np.isfinite(piece), axis=1)
            if bad.any():
                row = offset + int(np.flatnonzero(bad)[0])
                count = int(bad.sum())
                for later in pieces:
                    count += int((~np.all(np.isfinite(later), axis=1)).sum())
                object_id = self._row("object_id", row)
                raise ValueError(
                    f"{self.representation} embeddings have NaN or infinite coordinates in "
                    f"{count} of {n} galaxies (first: row {row}, object {object_id!r}); "
                    "was training diverging?"
                )
            offset += len(piece)
            yield piece

    def _row(self, name: str, row: int):
        spool = self._spools[name]
        offset = 0
        for piece in spool.pieces(spool.final_dtype(None)):
            if row < offset + len(piece):
                return str(piece[row - offset])
            offset += len(piece)
        raise IndexError(row)


def _write_npy(out, pieces, dtype: np.dtype, shape) -> None:
    """An ``.npy`` of ``shape`` and ``dtype`` whose rows come in ``pieces``."""
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": tuple(shape),
    }
    np.lib.format.write_array_header_1_0(out, header)
    for piece in pieces:
        out.write(np.ascontiguousarray(piece, dtype).tobytes())


def _stack_splits(splits: Mapping[str, Mapping[str, np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([splits[s][key] for s in SPLITS])


def _from_parts(
    splits, latent_by_split, representation, class_names, info, imputed=None
) -> Embeddings:
    return Embeddings(
        object_id=_stack_splits(splits, "object_id").astype(str),
        split=np.concatenate([np.full(len(splits[s]["object_id"]), s) for s in SPLITS]),
        latent=np.concatenate([latent_by_split[s] for s in SPLITS]),
        redshift=_stack_splits(splits, "redshift"),
        labels={k: _stack_splits(splits, k) for k in LABEL_KEYS if k in splits[SPLITS[0]]},
        class_names=class_names,
        representation=representation,
        info=info,
        imputed=imputed,
    )


# -- representations computed batch by batch ---------------------------------------------------
class BatchEncoder:
    """One representation, computed a batch of galaxies at a time.

    The one implementation of each representation, driven two ways: on
    splits held in memory (:func:`embed_splits`) and streamed from a data
    set too large to hold into ``.npz`` files (:func:`write_streamed`,
    the pipeline's exporter).

    Subclasses set ``representation`` and ``info`` and implement
    :meth:`encode`; one that must first learn from the training split
    sets ``needs_fit`` and implements :meth:`fit` (one pass over its
    batches); one whose coordinates need statistics of all rows defines
    a ``finish`` method (see :class:`EmbeddingsWriter`).
    """

    representation: str = ""
    needs_fit = False
    #: None, or a method (latent (N, d), split (N,) str) -> (latent, imputed, info updates).
    finish = None

    def __init__(self):
        self.info: dict = {}

    def fit(self, train_batches) -> None:
        del train_batches

    def encode(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class AutoencoderEncoder(BatchEncoder):
    """Posterior means of the model trained in ``workdir``."""

    def __init__(self, workdir: str):
        super().__init__()
        from tfelg.training import loop

        self.trained = loop.load_trained(workdir)
        with open(os.path.join(workdir, loop.CONFIG_FILE), encoding="utf-8") as f:
            config = json.load(f)
        self.representation = config["model"]["name"]
        self.info = {"workdir": os.path.abspath(workdir), "config": config}

    def encode(self, batch):
        return self.trained.embed(batch)


class PCAEncoder(BatchEncoder):
    """PCA with ``latent_dim`` components of the preprocessed inputs, fitted on train.

    ``preprocessor``: the trained model's own, or None: one is fitted on
    the training split (the same numbers: a run's preprocessing is fitted
    on its training split), which then is held in memory once.
    """

    representation = "pca"
    needs_fit = True

    def __init__(self, latent_dim: int, *, input="lines", line_features="ew", preprocessor=None):
        super().__init__()
        self.latent_dim, self.input, self.line_features = latent_dim, input, line_features
        self.preprocessor = preprocessor
        self.info = {"latent_dim": latent_dim, "input": input, "line_features": line_features}

    def fit(self, train_batches) -> None:
        from tfelg.models.pca import PCA
        from tfelg.preprocessing import Preprocessor

        if self.preprocessor is None:
            batches = list(train_batches)
            train = batches[0] if len(batches) == 1 else _stacked(batches)
            self.preprocessor = Preprocessor.fit(
                train, input=self.input, line_features=self.line_features
            )
            train_batches = [train]
        pre = self.preprocessor
        self.pca = PCA(pre.num_features, self.latent_dim).fit_batches(
            pre.transform(batch) for batch in train_batches
        )

    def encode(self, batch):
        return self.pca.encode(*self.preprocessor.transform(batch))


def _stacked(batches: list[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


class LineRatioEncoder(BatchEncoder):
    """Standardised log line ratios and asinh EW(Hα): the no-learning baseline.

    Per batch: the raw features (NaN where a line is missing). At the end
    (:meth:`finish`): scaled with the training split's mean and standard
    deviation, and each missing feature drawn given the measured ones from
    the complete training galaxies' moments (seeded,
    :mod:`tfelg.analysis.imputation`) and marked in ``imputed``.
    """

    representation = "line_ratios"

    def __init__(self, *, seed: int = 0):
        super().__init__()
        self.seed = seed

    def encode(self, batch):
        return line_ratio_features(batch)

    def finish(self, raw: np.ndarray, split: np.ndarray):
        from tfelg.analysis.imputation import conditional_gaussian_impute

        is_train = split == "train"
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(raw[is_train], axis=0)
            std = np.nanstd(raw[is_train], axis=0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        filled, imputed = conditional_gaussian_impute((raw - mean) / std, is_train, seed=self.seed)
        missing = {s: _fraction_missing(raw[split == s]) for s in SPLITS}
        info = {
            "features": list(LINE_RATIO_FEATURES),
            "mean": mean.tolist(),
            "std": std.tolist(),
            "fraction_missing_imputed": missing,
            "imputation": "conditional_gaussian",
            "imputation_seed": int(self.seed),
        }
        return filled, imputed, info


def _fraction_missing(raw: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        return float(np.mean(~np.isfinite(raw))) if raw.size else float("nan")


def embed_splits(encoder: BatchEncoder, splits, class_names) -> Embeddings:
    """``encoder``'s embeddings of splits held in memory ({split: arrays})."""
    if encoder.needs_fit:
        encoder.fit([splits["train"]])
    latent = {s: encoder.encode(splits[s]) for s in SPLITS}
    info, imputed = dict(encoder.info), None
    if encoder.finish is not None:
        stacked = np.concatenate([latent[s] for s in SPLITS])
        split = np.concatenate([np.full(len(latent[s]), s) for s in SPLITS])
        filled, imputed, updates = encoder.finish(stacked, split)
        info.update(updates)
        bounds = np.cumsum([0] + [len(latent[s]) for s in SPLITS])
        latent = {s: filled[bounds[i] : bounds[i + 1]] for i, s in enumerate(SPLITS)}
    return _from_parts(splits, latent, encoder.representation, class_names, info, imputed)


def write_streamed(batches, encoders, paths, class_names, *, log=None) -> int:
    """Every encoder's embeddings of a data set read batch by batch, one ``.npz`` each.

    ``batches``: fn(split) -> an iterator over that split's batches
    ({feature: array}, e.g. ``tfelg.data.split_batches``), called once for
    the training split per encoder that needs fitting, then once per split. ``paths``: one output per encoder.
    Memory holds a batch and the encoders' fitted state, not the data set,
    nor the embeddings (:class:`EmbeddingsWriter`), except the N x d
    coordinates of an encoder with a ``finish`` step. The files are the
    ones :func:`embed_splits` and :meth:`Embeddings.save` give for the
    same data (tests/analysis/embeddings_test.py).

    Returns the number of galaxies written.
    """
    say = log or (lambda line: None)
    fitting = [e for e in encoders if e.needs_fit]
    if fitting:
        say(f"fitting {', '.join(e.representation for e in fitting)} on the training split")
        for encoder in fitting:  # one pass over the training split each
            encoder.fit(batches("train"))
    writers: list[EmbeddingsWriter] = []
    try:
        n = 0
        for split in SPLITS:
            before = n
            for batch in batches(split):
                label_keys = tuple(k for k in LABEL_KEYS if k in batch)
                if not writers:
                    writers = [
                        EmbeddingsWriter(
                            path,
                            encoder.representation,
                            class_names,
                            encoder.info,
                            label_keys,
                            finish=encoder.finish,
                            require_finite=True,
                        )
                        for encoder, path in zip(encoders, paths, strict=True)
                    ]
                labels = {k: batch[k] for k in label_keys}
                for encoder, writer in zip(encoders, writers, strict=True):
                    writer.append(
                        object_id=batch["object_id"],
                        split=split,
                        latent=encoder.encode(batch),
                        redshift=batch["redshift"],
                        labels=labels,
                    )
                n += len(batch["object_id"])
            say(f"{split}: {n - before:,} galaxies embedded ({n:,} in all)")
        if not writers:
            raise ValueError("the data set has no galaxies")
        # Coordinates made at the end are checked at the end: their files first, so that a
        # failure there leaves none of the others written.
        pairs = sorted(zip(encoders, writers, strict=True), key=lambda p: p[0].finish is None)
        for _, writer in pairs:
            writer.close()
    finally:
        for writer in writers:
            writer.discard()
    return n


def default_class_names(true_class_names) -> dict[str, list[str]]:
    return {
        "whan": list(schemes.WHAN_NAMES),
        "bpt": list(schemes.BPT_NAMES),
        "true_class": list(true_class_names),
    }


def autoencoder_embeddings(workdir: str, splits, class_names) -> Embeddings:
    """Posterior means of the model trained in ``workdir``, every split."""
    return embed_splits(AutoencoderEncoder(workdir), splits, class_names)


def pca_embeddings(splits, latent_dim: int, class_names, *, input="lines", line_features="ew"):
    """PCA of the same preprocessed inputs the autoencoders see (fitted on train)."""
    encoder = PCAEncoder(latent_dim, input=input, line_features=line_features)
    return embed_splits(encoder, splits, class_names)


LINE_RATIO_FEATURES = ("log_nii_ha", "log_oiii_hb", "log_sii_ha", "log_oi_ha", "asinh_ew_ha")


def line_ratio_features(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, 5) raw classical features, NaN where a line is missing."""
    from tfelg.dataset_report import table_from_arrays

    r = schemes.classify_table(table_from_arrays(arrays))
    return np.stack(
        [
            r["log_nii_ha"],
            r["log_oiii_hb"],
            r["log_sii_ha"],
            r["log_oi_ha"],
            np.arcsinh(r["ew_ha"]),
        ],
        axis=1,
    )


def line_ratio_embeddings(splits, class_names, *, seed: int = 0) -> Embeddings:
    """The line-ratio baseline of splits in memory (:class:`LineRatioEncoder`)."""
    return embed_splits(LineRatioEncoder(seed=seed), splits, class_names)
