"""Embeddings: one representation of every galaxy, with its labels.

An :class:`Embeddings` holds, for every galaxy of every split, the latent
coordinates of one *representation* together with what later steps compare
them against (object id, split, redshift, WHAN, BPT, true class). It is the
artifact between training and analysis, saved as one ``.npz``, uncompressed,
so that :meth:`Embeddings.load` memory-maps its arrays instead of reading
them (issue 15): a component that subsamples a million galaxies, or reads
their coordinates but not their ids, touches only those pages, and the
arrays are not copied into memory once per component.

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
                f"object {self.object_id[rows[0]]!r}); was training diverging?"
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
        """Writes one ``.npz`` atomically (temporary file, then rename)."""
        meta = {
            "representation": self.representation,
            "class_names": self.class_names,
            "info": self.info,
        }
        arrays = {
            "object_id": self.object_id.astype(str),
            "split": self.split.astype(str),
            "latent": self.latent,
            "redshift": np.asarray(self.redshift, np.float32),
            "meta": np.array(json.dumps(meta)),
        }
        arrays.update({f"label_{k}": np.asarray(v, np.int16) for k, v in self.labels.items()})
        if self.imputed is not None:
            arrays["imputed"] = self.imputed
        with atomic.atomic_open(path, "wb") as f:
            np.savez(f, **arrays)
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


def default_class_names(true_class_names) -> dict[str, list[str]]:
    return {
        "whan": list(schemes.WHAN_NAMES),
        "bpt": list(schemes.BPT_NAMES),
        "true_class": list(true_class_names),
    }


def autoencoder_embeddings(workdir: str, splits, class_names) -> Embeddings:
    """Posterior means of the model trained in ``workdir``, every split."""
    from tfelg.training import loop

    trained = loop.load_trained(workdir)
    with open(os.path.join(workdir, loop.CONFIG_FILE), encoding="utf-8") as f:
        config = json.load(f)
    latent = {s: trained.embed(splits[s]) for s in SPLITS}
    return _from_parts(
        splits,
        latent,
        config["model"]["name"],
        class_names,
        {"workdir": os.path.abspath(workdir), "config": config},
    )


def pca_embeddings(splits, latent_dim: int, class_names, *, input="lines", line_features="ew"):
    """PCA of the same preprocessed inputs the autoencoders see (fitted on train)."""
    from tfelg.models.pca import PCA
    from tfelg.preprocessing import Preprocessor

    pre = Preprocessor.fit(splits["train"], input=input, line_features=line_features)
    x_train, w_train = pre.transform(splits["train"])
    pca = PCA(pre.num_features, latent_dim)
    pca.fit(x_train, w_train)
    latent = {}
    for s in SPLITS:
        x, w = pre.transform(splits[s])
        latent[s] = pca.encode(x, w)
    info = {"latent_dim": latent_dim, "input": input, "line_features": line_features}
    return _from_parts(splits, latent, "pca", class_names, info)


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
    """Standardised log line ratios and asinh EW(Hα): the no-learning baseline.

    Scaled with the training split's mean and standard deviation; a missing
    feature is drawn given the measured ones from the complete training
    galaxies' moments (seeded, :mod:`tfelg.analysis.imputation`) and marked
    in ``imputed``.
    """
    from tfelg.analysis.imputation import conditional_gaussian_impute

    raw = {s: line_ratio_features(splits[s]) for s in SPLITS}
    train = raw["train"]
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(train, axis=0)
        std = np.nanstd(train, axis=0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scaled = np.concatenate([(raw[s] - mean) / std for s in SPLITS])
    is_train = np.concatenate([np.full(len(raw[s]), s == "train") for s in SPLITS])
    filled, imputed = conditional_gaussian_impute(scaled, is_train, seed=seed)
    bounds = np.cumsum([0] + [len(raw[s]) for s in SPLITS])
    latent = {s: filled[bounds[i] : bounds[i + 1]] for i, s in enumerate(SPLITS)}
    missing = {s: float(np.mean(~np.isfinite(v))) for s, v in raw.items()}
    info = {
        "features": list(LINE_RATIO_FEATURES),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "fraction_missing_imputed": missing,
        "imputation": "conditional_gaussian",
        "imputation_seed": int(seed),
    }
    return _from_parts(splits, latent, "line_ratios", class_names, info, imputed=imputed)
