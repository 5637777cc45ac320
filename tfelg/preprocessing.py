"""Turning catalogue rows into model inputs, fitted on the training split only.

The reference work min-max scaled its features over *all* galaxies before
splitting, so the test galaxies shaped the scaling of the data the model was
chosen on. Here a :class:`Preprocessor` is fitted on the training split,
saved as JSON next to the model, and the same object turns any later
catalogue (validation, test, a new survey) into ``(x, w)``:

* ``x`` (N, F) float32: standardised features, missing values set to 0;
* ``w`` (N, F) float32: loss weights, 1 where a value was measured and 0
  where it is missing, so a missing value never enters a loss.

Two inputs:

``lines``
  The ten equivalent widths, as the reference used, through ``asinh``:
  like a logarithm for strong lines (EWs span four decades) but defined for
  the zero and negative (absorption or noise) EWs that a logarithm would
  have to throw away. ``line_features="ew_and_ratios"`` appends
  ``log10(F_line / F_Halpha)`` for the nine other lines, the quantities the
  BPT diagrams are built on (missing where either flux is not positive).
  Each feature is then standardised with the mean and standard deviation of
  its measured training values.

``spectrum``
  A rest-frame spectrum on :data:`tfelg.spectra.REST_LOGLAM`. Each spectrum
  is divided by the median flux of its good pixels (``ivar > 0``) so that
  brightness and distance drop out and the shape (break, lines) remains;
  then every pixel is standardised over the training spectra. ``w`` is
  ``ivar > 0``. A spectrum with no good pixel or a non-positive median gets
  ``w = 0`` everywhere (the model learns nothing from it and it adds nothing
  to a loss) and is counted in :attr:`Preprocessor.num_unusable` at fit time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from tfelg import lines
from tfelg.errors import InputError

INPUTS = ("lines", "spectrum")
LINE_FEATURES = ("ew", "ew_and_ratios")

# asinh(EW / scale): linear below ~1 A, logarithmic above. 1 A is about the
# typical equivalent-width error of an SDSS line, so noise around zero stays
# in the linear part.
EW_ASINH_SCALE_ANGSTROM = 1.0
RATIO_REFERENCE_LINE = "H_ALPHA"

FORMAT_NAME = "tfelg.preprocessing"
FORMAT_VERSION = 1


def _line_feature_names(line_features: str) -> tuple[str, ...]:
    names = [f"asinh_ew_{name}" for name in lines.LINE_NAMES]
    if line_features == "ew_and_ratios":
        names += [
            f"log_{name}_over_{RATIO_REFERENCE_LINE}"
            for name in lines.LINE_NAMES
            if name != RATIO_REFERENCE_LINE
        ]
    return tuple(names)


def _require(arrays: Mapping[str, np.ndarray], key: str, what: str, n_columns=None) -> np.ndarray:
    if key not in arrays:
        raise InputError(
            f"{what} needs the feature {key!r}, which this data does not have "
            f"(features present: {', '.join(sorted(arrays))})",
            column=key,
        )
    value = np.asarray(arrays[key], dtype=np.float64)
    if value.ndim != 2 or (n_columns is not None and value.shape[1] != n_columns):
        expected = f"(N, {n_columns})" if n_columns is not None else "(N, pixels)"
        raise InputError(f"expected shape {expected}, got {value.shape}", column=key)
    return value


def _raw_line_features(arrays: Mapping[str, np.ndarray], line_features: str) -> np.ndarray:
    """(N, F) un-standardised line features with NaN where missing."""
    ew = _require(arrays, "ew", "input 'lines'", lines.NUM_LINES)
    columns = [np.arcsinh(ew / EW_ASINH_SCALE_ANGSTROM)]
    if line_features == "ew_and_ratios":
        flux = _require(arrays, "flux", "line_features='ew_and_ratios'", lines.NUM_LINES)
        positive = np.where(flux > 0, flux, np.nan)
        reference = positive[:, [lines.line_index(RATIO_REFERENCE_LINE)]]
        others = [i for i, name in enumerate(lines.LINE_NAMES) if name != RATIO_REFERENCE_LINE]
        columns.append(np.log10(positive[:, others] / reference))
    raw = np.concatenate(columns, axis=1)
    raw[~np.isfinite(raw)] = np.nan
    return raw


def _median_normalised_spectra(arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Spectra divided by their median good flux (NaN where bad) and the good mask."""
    what = "input 'spectrum'"
    flux = _require(arrays, "spectrum", what)
    ivar = _require(arrays, "spectrum_ivar", what)
    if flux.shape != ivar.shape:
        raise InputError(
            f"spectrum {flux.shape} and spectrum_ivar {ivar.shape} differ in shape",
            column="spectrum_ivar",
        )
    good = (ivar > 0) & np.isfinite(ivar) & np.isfinite(flux)
    masked = np.where(good, flux, np.nan)
    with np.errstate(all="ignore"), _quiet_nan_warnings():
        median = np.nanmedian(masked, axis=1, keepdims=True)
    usable = np.isfinite(median) & (median > 0)
    good &= usable
    normalised = np.where(good, masked / np.where(usable, median, 1.0), np.nan)
    return normalised, good


@contextlib.contextmanager
def _quiet_nan_warnings():
    """Silences NumPy's 'all-NaN slice' RuntimeWarnings (all-missing rows are expected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


#: Rows per block of the preprocessing's moment accumulation (see Preprocessor.fit_batches):
#: a block of spectra and its float64 temporaries are ~50 MB.
FIT_BLOCK_ROWS = 1024


class _BlockMoments:
    """Per-feature count, mean and sum of squared deviations of the finite values.

    Rows are gathered into blocks of FIT_BLOCK_ROWS; each block's moments
    (NumPy's NaN-aware reductions) are merged into the running ones with the
    pairwise update of Chan, Golub & LeVeque (1979), which stays accurate
    where a running sum of squares would cancel. Only a block's rows are held.
    """

    def __init__(self):
        self.count = self.mean = self.m2 = None
        self.num_rows = self.num_unusable = 0
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0

    def add(self, raw: np.ndarray) -> None:
        start = 0
        while start < len(raw):
            take = min(FIT_BLOCK_ROWS - self._pending_rows, len(raw) - start)
            self._pending.append(raw[start : start + take])
            self._pending_rows += take
            start += take
            if self._pending_rows == FIT_BLOCK_ROWS:
                self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        block = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending, self._pending_rows = [], 0
        measured = np.isfinite(block)
        count = measured.sum(axis=0).astype(np.float64)
        self.num_rows += len(block)
        self.num_unusable += int(np.sum(~measured.any(axis=1)))
        with _quiet_nan_warnings(), np.errstate(invalid="ignore"):
            mean = np.where(count > 0, np.nanmean(block, axis=0), 0.0)
            m2 = np.where(count > 0, np.nansum((block - mean) ** 2, axis=0), 0.0)
        if self.count is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        if block.shape[1] != len(self.count):
            raise InputError(
                f"a batch has {block.shape[1]} features, earlier batches {len(self.count)}"
            )
        total = self.count + count
        safe = np.maximum(total, 1.0)
        delta = mean - self.mean
        self.mean = self.mean + delta * count / safe
        self.m2 = self.m2 + m2 + delta**2 * self.count * count / safe
        self.count = total


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    """A fitted transformation from catalogue arrays to ``(x, w)``.

    Build it with :meth:`fit` (training split only), save it with
    :meth:`save`, and load it with :meth:`load` wherever the model is used.

    Attributes:
      input: ``lines`` or ``spectrum``.
      line_features: ``ew`` or ``ew_and_ratios`` (``lines`` only).
      feature_names: one name per model input column.
      mean, std: per-feature standardisation, fitted on measured training
        values (``std`` = 1 where a feature had < 2 distinct values).
      num_fitted: number of training rows used.
      num_unusable: training rows with no measured feature at all.
    """

    input: str
    line_features: str
    feature_names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    num_fitted: int = 0
    num_unusable: int = 0

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    # -- fitting and applying -------------------------------------------------------
    @classmethod
    def fit(
        cls, arrays: Mapping[str, np.ndarray], input: str = "lines", line_features: str = "ew"
    ) -> Preprocessor:
        """Fits on ``arrays`` (the training split: a dict as from ``load_split_arrays``).

        The same numbers as :meth:`fit_batches` over any batching of these rows.

        Raises:
          ValueError: unknown ``input`` or ``line_features``.
          InputError: the arrays lack what ``input`` needs (e.g. no spectra),
            are empty, or no value at all is measured.
        """
        return cls.fit_batches([arrays], input=input, line_features=line_features)

    @classmethod
    def fit_batches(
        cls, batches: Iterable[Mapping[str, np.ndarray]], input: str = "lines", line_features="ew"
    ) -> Preprocessor:
        """Fits on the training split given as batches, in memory that does not grow with it.

        Each feature's mean and standard deviation over its measured values
        are accumulated over blocks of FIT_BLOCK_ROWS rows (Chan et al.'s
        pairwise update), whatever the batches' sizes: the fit depends on the
        rows and their order only, so a split streamed from disk and the same
        split in memory give the same preprocessing, bit for bit.

        Raises: as :meth:`fit`.
        """
        _check_choice(input, INPUTS, "input")
        _check_choice(line_features, LINE_FEATURES, "line_features")
        moments = _BlockMoments()
        for batch in batches:
            moments.add(cls._raw(batch, input, line_features))
        moments.flush()
        if moments.num_rows == 0:
            raise InputError("cannot fit preprocessing on an empty set of galaxies")
        counts = moments.count
        if not counts.any():
            raise InputError("no feature is measured in any galaxy; nothing to fit on")
        mean = np.where(counts > 0, moments.mean, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.where(counts > 1, np.sqrt(moments.m2 / np.maximum(counts, 1)), 1.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        if input == "lines":
            names = _line_feature_names(line_features)
        else:
            names = tuple(f"pixel_{i:04d}" for i in range(len(mean)))
        return cls(
            input=input,
            line_features=line_features,
            feature_names=names,
            mean=mean.astype(np.float64),
            std=std.astype(np.float64),
            num_fitted=moments.num_rows,
            num_unusable=moments.num_unusable,
        )

    @staticmethod
    def required_features(input: str, line_features: str = "ew") -> tuple[str, ...]:
        """The catalogue features ``input`` is made from (what a reader need decode)."""
        _check_choice(input, INPUTS, "input")
        if input == "spectrum":
            return ("spectrum", "spectrum_ivar")
        return ("ew", "flux") if line_features == "ew_and_ratios" else ("ew",)

    @staticmethod
    def _raw(arrays, input: str, line_features: str) -> np.ndarray:
        if input == "lines":
            return _raw_line_features(arrays, line_features)
        return _median_normalised_spectra(arrays)[0]

    def transform(self, arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(x, w)`` as float32 (N, F) arrays for the galaxies in ``arrays``."""
        raw = self._raw(arrays, self.input, self.line_features)
        if raw.shape[1] != self.num_features:
            raise InputError(
                f"data have {raw.shape[1]} {self.input} features, the preprocessing was "
                f"fitted on {self.num_features} (a spectrum on another wavelength grid?)",
                column="spectrum" if self.input == "spectrum" else "ew",
            )
        measured = np.isfinite(raw)
        x = np.where(measured, (raw - self.mean) / self.std, 0.0)
        return x.astype(np.float32), measured.astype(np.float32)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Model-space values back to the raw feature scale.

        ``lines``: equivalent widths in Angstrom (and log ratios); ``spectrum``:
        median-normalised flux density.
        """
        raw = np.asarray(x, dtype=np.float64) * self.std + self.mean
        if self.input == "lines":
            raw = raw.copy()
            raw[..., : lines.NUM_LINES] = (
                np.sinh(raw[..., : lines.NUM_LINES]) * EW_ASINH_SCALE_ANGSTROM
            )
        return raw

    # -- persistence ----------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "input": self.input,
                "line_features": self.line_features,
                "ew_asinh_scale_angstrom": EW_ASINH_SCALE_ANGSTROM,
                "feature_names": list(self.feature_names),
                "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std],
                "num_fitted": self.num_fitted,
                "num_unusable": self.num_unusable,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str, path=None) -> Preprocessor:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON: {e}", path=path) from e
        if not isinstance(d, dict) or d.get("format") != FORMAT_NAME:
            raise InputError(
                f"not a tfelg preprocessing file (format != {FORMAT_NAME!r})", path=path
            )
        if d.get("version") != FORMAT_VERSION:
            raise InputError(
                f"preprocessing format version {d.get('version')!r}; this tfelg reads "
                f"version {FORMAT_VERSION}",
                path=path,
            )
        if d.get("ew_asinh_scale_angstrom", EW_ASINH_SCALE_ANGSTROM) != EW_ASINH_SCALE_ANGSTROM:
            raise InputError("fitted with a different asinh EW scale than this tfelg's", path=path)
        try:
            _check_choice(d["input"], INPUTS, "input")
            _check_choice(d["line_features"], LINE_FEATURES, "line_features")
            mean = np.asarray(d["mean"], dtype=np.float64)
            std = np.asarray(d["std"], dtype=np.float64)
            names = tuple(str(n) for n in d["feature_names"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"malformed preprocessing file: {e}", path=path) from e
        if not (len(names) == mean.shape[0] == std.shape[0]) or mean.ndim != 1:
            raise InputError("feature_names, mean and std differ in length", path=path)
        return cls(
            input=d["input"],
            line_features=d["line_features"],
            feature_names=names,
            mean=mean,
            std=std,
            num_fitted=int(d.get("num_fitted", 0)),
            num_unusable=int(d.get("num_unusable", 0)),
        )

    def save(self, path: str) -> None:
        """Writes JSON to ``path`` atomically (temporary file, then rename)."""
        write_text_atomically(path, self.to_json())

    @classmethod
    def load(cls, path: str) -> Preprocessor:
        import tensorflow as tf

        if not tf.io.gfile.exists(path):
            raise InputError("preprocessing file not found", path=path)
        with tf.io.gfile.GFile(path, "r") as f:
            return cls.from_json(f.read(), path=path)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Preprocessor):
            return NotImplemented
        return (
            self.input == other.input
            and self.line_features == other.line_features
            and self.feature_names == other.feature_names
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.std, other.std)
        )

    __hash__ = None


def _check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of: {', '.join(choices)}")


def write_bytes_atomically(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` via a temporary file and a rename (gfile: local or remote)."""
    import tensorflow as tf

    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    tmp = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(tmp, "wb") as f:
        f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=True)


def write_text_atomically(path: str, text: str) -> None:
    write_bytes_atomically(path, text.encode("utf-8"))
