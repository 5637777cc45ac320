"""PCA, the baseline every autoencoder must beat.

In the reference work PCA reconstructed the line data better than every
autoencoder for d >= 3, so tfelg reports it next to them with the same
interface (``encode``, ``decode``, ``reconstruction_error``) and the same
weighted loss. It is NumPy, not Keras: the components are the eigenvectors of
the F x F scatter matrix of the (weighted, centred) training matrix, which
is summed batch by batch (:meth:`PCA.fit_batches`), so a million galaxies
are fitted without holding them (issue 15), with about the arithmetic of an
SVD of the stacked matrix (three F x F products per batch).

Missing values (weight 0) are handled by mean imputation when fitting: the
centred matrix is multiplied by sqrt(w) before its scatter is taken, so a
missing entry contributes nothing and a fractional weight scales the
residual's square. With all weights 1 this is ordinary PCA, identical to
scikit-learn's (up to each component's sign, which is fixed here: the
largest entry of each component is positive).

The scatter is summed about a shift (the first batch's weighted mean) and
corrected to the final mean at the end, so data far from the origin lose no
precision to cancellation (tests/models/pca_test.py checks an offset of
1e6 against the SVD of the whole matrix).

When ``encode`` is given weights, the code is the weighted least-squares fit of the
components to the observed features (per example,
z = (V W V^T)^-1 V W (x - mean)), so a missing feature does not pull the code;
without weights it is the orthogonal projection.

Saved as ``.npz`` (arrays plus the config as JSON) or ``.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import numpy as np

from tfelg import atomic
from tfelg.models.base import positive_int

# Added to V W V^T before solving, so an example missing nearly every
# feature still gets a finite code.
_RIDGE = 1e-6


class PCA:
    """Principal component analysis with a weighted reconstruction error.

    Args:
      num_features: F.
      latent_dim: d, the number of components kept (<= F).
    """

    def __init__(self, num_features: int, latent_dim: int = 2):
        self._num_features = positive_int(num_features, "num_features")
        self._latent_dim = positive_int(latent_dim, "latent_dim")
        if self._latent_dim > self._num_features:
            raise ValueError(
                f"latent_dim ({self._latent_dim}) cannot exceed num_features "
                f"({self._num_features}) for PCA"
            )
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None  # (d, F), orthonormal rows
        self.explained_variance_: np.ndarray | None = None  # (d,)

    @property
    def num_features(self) -> int:
        return self._num_features

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def fitted(self) -> bool:
        return self.components_ is not None

    def _check_x(self, x, name="x") -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self._num_features:
            raise ValueError(f"{name} must have shape (N, {self._num_features}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} contains NaN or infinite values (fill missing values with 0)")
        return x

    def _check_w(self, w, shape) -> np.ndarray:
        if w is None:
            return np.ones(shape)
        w = np.asarray(w, dtype=np.float64)
        if w.shape != shape:
            raise ValueError(f"w must have the shape of x {shape}, got {w.shape}")
        if not np.all((w >= 0) & (w <= 1)):
            raise ValueError("w must lie in [0, 1]")
        return w

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ValueError("PCA is not fitted: call fit(x, w) first")

    def fit(self, x, w=None) -> PCA:
        """Fits on the training split. ``w`` (N, F) in [0, 1]; None = all 1."""
        return self.fit_batches([(x, w)])

    def fit_batches(self, batches: Iterable[tuple]) -> PCA:
        """Fits on the training split given as ``(x, w)`` batches (``w`` None = all 1).

        The same fit as :meth:`fit` on the batches stacked, with memory that
        does not grow with their number: three F x F sums.
        """
        scatter = _WeightedScatter(self._num_features)
        for x, w in batches:
            x = self._check_x(x)
            scatter.add(x, self._check_w(w, x.shape))
        if scatter.num_rows < 2:
            raise ValueError(f"PCA needs at least 2 examples, got {scatter.num_rows}")
        mean, matrix = scatter.mean_and_scatter()
        eigenvalues, eigenvectors = np.linalg.eigh(matrix)
        d = self._latent_dim
        order = np.argsort(eigenvalues)[::-1][:d]
        components = eigenvectors[:, order].T
        largest = np.argmax(np.abs(components), axis=1)
        components *= np.sign(components[np.arange(d), largest])[:, None]
        self.mean_ = mean
        self.components_ = components
        self.explained_variance_ = np.maximum(eigenvalues[order], 0.0) / (scatter.num_rows - 1)
        return self

    def encode(self, x, w=None) -> np.ndarray:
        """Codes (N, d), float32: a projection, or a weighted fit if ``w`` is given."""
        self._check_fitted()
        x = self._check_x(x)
        centred = x - self.mean_
        v = self.components_
        if w is None:
            return (centred @ v.T).astype(np.float32)
        w = self._check_w(w, x.shape)
        gram = np.einsum("kf,nf,lf->nkl", v, w, v) + _RIDGE * np.eye(self._latent_dim)
        rhs = np.einsum("kf,nf->nk", v, w * centred)
        return np.linalg.solve(gram, rhs[..., None])[..., 0].astype(np.float32)

    def decode(self, z) -> np.ndarray:
        """Reconstructions (N, F), float32."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self._latent_dim:
            raise ValueError(f"z must have shape (N, {self._latent_dim}), got {z.shape}")
        return (z @ self.components_ + self.mean_).astype(np.float32)

    def reconstruction_error(self, x, w=None) -> np.ndarray:
        """Per-example weighted MSE, sum(w (x - x_hat)^2) / max(sum(w), 1), as the AEs."""
        x = self._check_x(x)
        w = self._check_w(w, x.shape)
        x_hat = self.decode(self.encode(x, w)).astype(np.float64)
        return (w * (x - x_hat) ** 2).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)

    def per_example_losses(self, x, w=None, training=False) -> dict:
        """The autoencoders' loss dict (``training`` is ignored)."""
        del training
        error = self.reconstruction_error(x, w)
        return {"loss": error, "reconstruction": error}

    # -- serialisation ----------------------------------------------------------------
    def get_config(self) -> dict:
        return {"num_features": self._num_features, "latent_dim": self._latent_dim}

    @classmethod
    def from_config(cls, config: dict) -> PCA:
        return cls(**config)

    def to_dict(self) -> dict:
        """JSON-able: the config and, if fitted, the arrays as lists."""
        state = {"class_name": "PCA", "config": self.get_config()}
        if self.fitted:
            state["mean"] = self.mean_.tolist()
            state["components"] = self.components_.tolist()
            state["explained_variance"] = self.explained_variance_.tolist()
        return state

    @classmethod
    def from_dict(cls, state: dict) -> PCA:
        if state.get("class_name") != "PCA":
            raise ValueError(f"not a saved PCA: class_name={state.get('class_name')!r}")
        model = cls.from_config(state["config"])
        if "components" in state:
            model._set_arrays(state["mean"], state["components"], state["explained_variance"])
        return model

    def _set_arrays(self, mean, components, explained_variance) -> None:
        mean = np.asarray(mean, dtype=np.float64)
        components = np.asarray(components, dtype=np.float64)
        if mean.shape != (self._num_features,) or components.shape != (
            self._latent_dim,
            self._num_features,
        ):
            raise ValueError(
                f"saved PCA arrays have shapes mean {mean.shape}, components "
                f"{components.shape}; expected ({self._num_features},) and "
                f"({self._latent_dim}, {self._num_features})"
            )
        self.mean_ = mean
        self.components_ = components
        self.explained_variance_ = np.asarray(explained_variance, dtype=np.float64)

    def save(self, path) -> None:
        """Writes ``.npz`` (default) or ``.json``, atomically (temp file, then rename)."""
        path = os.fspath(path)
        with atomic.atomic_open(path, "wb") as f:
            if path.endswith(".json"):
                f.write(json.dumps(self.to_dict()).encode())
            else:
                arrays = {"config": np.array(json.dumps(self.get_config()))}
                if self.fitted:
                    arrays.update(
                        mean=self.mean_,
                        components=self.components_,
                        explained_variance=self.explained_variance_,
                    )
                np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> PCA:
        """Reads what :meth:`save` wrote."""
        path = os.fspath(path)
        if path.endswith(".json"):
            with open(path) as f:
                return cls.from_dict(json.load(f))
        with np.load(path, allow_pickle=False) as data:
            model = cls.from_config(json.loads(str(data["config"])))
            if "components" in data:
                model._set_arrays(data["mean"], data["components"], data["explained_variance"])
        return model


class _WeightedScatter:
    """Running sums for the scatter matrix Z^T Z, Z = sqrt(w) * (x - mean).

    With a = sqrt(w) * (x - c) for a fixed shift c, s = sqrt(w) and
    m = mean - c (the weighted mean, per feature, of x - c):
    Z^T Z = sum a a^T - (sum a s^T) diag(m) - diag(m) (sum s a^T) + (sum s s^T) * m m^T.
    c is the first batch's weighted mean, so m is small and nothing cancels.
    """

    def __init__(self, num_features: int):
        f = num_features
        self.shift: np.ndarray | None = None
        self.aa = np.zeros((f, f))
        self.as_ = np.zeros((f, f))
        self.ss = np.zeros((f, f))
        self.weighted_sum = np.zeros(f)
        self.weight_total = np.zeros(f)
        self.num_rows = 0

    def add(self, x: np.ndarray, w: np.ndarray) -> None:
        if self.shift is None:
            total = w.sum(axis=0)
            self.shift = np.where(total > 0, (w * x).sum(axis=0) / np.maximum(total, 1e-300), 0.0)
        xc = x - self.shift
        s = np.sqrt(w)
        a = s * xc
        self.aa += a.T @ a
        self.as_ += a.T @ s
        self.ss += s.T @ s
        self.weighted_sum += (w * xc).sum(axis=0)
        self.weight_total += w.sum(axis=0)
        self.num_rows += len(x)

    def mean_and_scatter(self) -> tuple[np.ndarray, np.ndarray]:
        seen = self.weight_total > 0
        m = np.where(seen, self.weighted_sum / np.maximum(self.weight_total, 1e-300), 0.0)
        cross = self.as_ * m[None, :]
        matrix = self.aa - cross - cross.T + self.ss * np.outer(m, m)
        mean = np.where(seen, self.shift + m, 0.0)
        return mean, (matrix + matrix.T) / 2
