"""t-SNE maps of latent spaces, with openTSNE's FFT-accelerated gradients.

A t-SNE map is how a person sees whether the latent space has the classes
the clustering claims. openTSNE (Poličar, Stražar & Zupan 2024) computes the
repulsive forces by interpolation on a grid with FFTs (Linderman et al. 2019),
which is O(N) per iteration instead of Barnes-Hut's O(N log N); on the 2-core
development machine it maps 100k points x 16 dims 5.4-6.3x faster than
scikit-learn's Barnes-Hut ``TSNE`` at the same KL divergence, and 20k points
1.9-2.4x faster (``benchmarks/tsne.py``, two runs of 2026-12-01). Below 20,000 points openTSNE's own
Barnes-Hut is faster than its FFT on low-dimensional latents (the grid's
fixed cost per iteration dominates), so the default
``negative_gradient_method="auto"`` takes Barnes-Hut there and FFT from
20,000 points on (``BH_MAX_POINTS``; openTSNE's own "auto" switches at
10,000). Every parameter that changes the map is
an argument here and is recorded in the result, so a map can be remade.

A map of 100k points takes minutes: :func:`run_tsne` shows its progress
through openTSNE's callbacks (:class:`TSNEProgress`), as a bar on a
terminal, or as a line every ``PROGRESS_LINE_EVERY`` iterations with the
iteration and the KL divergence for a log. Evaluating the KL divergence at
those iterations does not change the map (tested).

Too high a perplexity for the number of points (N < 3 * perplexity + 1: the
neighbour lists would need more points than exist) is not an error: the
perplexity is lowered to (N - 1) / 3, a warning is logged, and the value used
is what ``TSNEResult.params["perplexity"]`` records (the request is kept in
``params["perplexity_requested"]``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import openTSNE
from absl import logging

NEGATIVE_GRADIENT_METHODS = ("auto", "fft", "bh")
# "auto": Barnes-Hut below this many points, FFT from it on. openTSNE's own
# "auto" switches at 10,000; on this project's 2-D latent spaces Barnes-Hut
# stays ahead longer. Measured on the 2-core development machine (750
# iterations, perplexity 30): synthetic 2-D blobs at 1,000 / 5,000 / 9,000
# points, Barnes-Hut 1.8 / 9.8 / 22.4 s against FFT 16.5 / 36.6 / 48.2 s;
# the pipeline's autoencoder latents (d = 2) at 10,000 points 27.8 s
# against 57.1 s, at 20,000 points 78.8 s against 80.6 s; Barnes-Hut's KL
# was lower every time. Above 20,000 FFT's O(N) iterations win (100,000
# points: benchmarks/tsne.py).
BH_MAX_POINTS = 20_000
INITIALIZATIONS = ("pca", "spectral", "random")
# Progress: a log line every this many iterations (openTSNE's own verbose
# interval), a bar update every PROGRESS_BAR_EVERY.
PROGRESS_LINE_EVERY = 50
PROGRESS_BAR_EVERY = 10


class TSNEProgress:
    """An openTSNE callback that reports the optimisation's progress.

    openTSNE runs two optimisations (early exaggeration, then the main
    phase), each counting its iterations from 1 and announcing itself with
    ``optimization_about_to_start``; this numbers them as one run of
    ``early_iterations + iterations``.

    Args:
      early_iterations, iterations: lengths of the two phases.
      log: receives a line every ``PROGRESS_LINE_EVERY`` iterations (None:
        no lines).
      bar: draw a tqdm bar on stderr instead of lines, when stderr is a
        terminal (a log file gets the lines).
    """

    def __init__(
        self,
        early_iterations: int,
        iterations: int,
        log: Callable[[str], None] | None = None,
        bar: bool = True,
    ):
        self.early_iterations = int(early_iterations)
        self.total = int(early_iterations) + int(iterations)
        self.log = log
        self.phase = 0
        self.lines: list[str] = []
        self._bar = None
        self._start = time.perf_counter()
        if bar and sys.stderr.isatty():
            from tqdm import tqdm

            # mininterval=0: callbacks come every PROGRESS_BAR_EVERY iterations,
            # rarely enough to draw each; tqdm's default (0.1 s) skipped the last
            # ones on a fast machine, so the bar never showed its end.
            self._bar = tqdm(
                total=self.total, desc="t-SNE", leave=False, file=sys.stderr, mininterval=0
            )
        self._done = 0

    @property
    def every(self) -> int:
        """How often openTSNE must call back (and evaluate the KL divergence)."""
        return PROGRESS_BAR_EVERY if self._bar is not None else PROGRESS_LINE_EVERY

    @property
    def active(self) -> bool:
        return self._bar is not None or self.log is not None

    def optimization_about_to_start(self) -> None:
        self.phase += 1

    def __call__(self, iteration: int, error: float, embedding) -> bool:
        done = iteration + (self.early_iterations if self.phase >= 2 else 0)
        if self._bar is not None:
            self._bar.update(done - self._done)
            self._bar.set_postfix({"KL": f"{error:.4f}"}, refresh=False)
        elif self.log is not None:
            phase = "early exaggeration" if self.phase < 2 else "main phase"
            line = (
                f"t-SNE iteration {done}/{self.total} ({phase}): KL {error:.4f}, "
                f"{time.perf_counter() - self._start:.0f} s"
            )
            self.lines.append(line)
            self.log(line)
        self._done = done
        return False  # never stop the optimisation

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@dataclasses.dataclass(frozen=True)
class TSNEResult:
    """A t-SNE map.

    Attributes:
      embedding: (N, 2) float32 map coordinates, rows in the order of the input.
      kl_divergence: the Kullback-Leibler divergence between the input's
        affinities and the map's at the end of the optimisation (lower is a
        more faithful map, comparable only between maps of the same data and
        perplexity).
      params: every parameter used (after defaults and any perplexity
        reduction), the number of points and dimensions, the openTSNE version
        and the wall-clock seconds.
    """

    embedding: np.ndarray
    kl_divergence: float
    params: dict
    #: openTSNE's TSNEEmbedding (what :func:`place_points` adds points to); not saved.
    model: object = dataclasses.field(default=None, repr=False, compare=False)


def effective_perplexity(n: int, perplexity: float) -> float:
    """The perplexity openTSNE can use for ``n`` points: at most (n - 1) / 3."""
    return float(min(perplexity, (n - 1) / 3.0))


def run_tsne(
    x,
    *,
    perplexity: float = 30.0,
    exaggeration: float | None = None,
    early_exaggeration: float = 12.0,
    early_exaggeration_iter: int = 250,
    initialization: str = "pca",
    n_iter: int = 500,
    seed: int = 0,
    n_jobs: int | None = None,
    negative_gradient_method: str = "auto",
    log: Callable[[str], None] | None = None,
    progress_bar: bool = True,
) -> TSNEResult:
    """Maps ``x`` to two dimensions with openTSNE.

    The optimisation runs ``early_exaggeration_iter`` iterations with
    exaggerated attraction (openTSNE's default 250), then ``n_iter`` more. The result is deterministic for a given ``seed``, input
    and ``n_jobs``.

    Args:
      x: (N, d) points (e.g. latent means), any float dtype.
      perplexity: the effective number of neighbours each point keeps; lowered
        to (N - 1) / 3 with a warning when there are too few points.
      exaggeration: attraction multiplier in the main phase (None: 1, plain
        t-SNE; values above 1 give tighter, UMAP-like clusters).
      early_exaggeration: attraction multiplier in the first phase.
      early_exaggeration_iter: iterations of the first phase.
      initialization: "pca" (default; keeps the global layout), "spectral" or
        "random".
      n_iter: iterations after the early-exaggeration phase.
      seed: seeds the initialisation and the approximate nearest neighbours.
      n_jobs: threads; None uses every core of the machine.
      negative_gradient_method: "auto" (Barnes-Hut below ``BH_MAX_POINTS``
        points, FFT above; the method used is recorded in ``params``), "fft"
        (interpolation, for large N) or "bh" (Barnes-Hut).
      log: receives progress lines: one before the neighbour search, then
        one every ``PROGRESS_LINE_EVERY`` iterations with the KL divergence
        (None: silent, unless a bar is shown).
      progress_bar: on a terminal, a bar on stderr instead of the lines.

    Returns:
      A :class:`TSNEResult`.

    Raises:
      ValueError: ``x`` is not 2-D, has NaN or infinite values, has fewer
        than 4 points, or a parameter is out of range.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"t-SNE input must be 2-D (points x dims), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"t-SNE input must be numeric, got dtype {x.dtype}")
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=1))
        raise ValueError(
            f"t-SNE input has {len(bad)} rows with NaN or infinite values "
            f"(first: row {bad[0]}); remove or impute them first"
        )
    n, dims = x.shape
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}")
    if not perplexity > 0:
        raise ValueError(f"perplexity must be positive, got {perplexity}")
    if n_iter < 0 or early_exaggeration_iter < 0:
        raise ValueError(
            f"n_iter and early_exaggeration_iter must be >= 0, got {n_iter} and "
            f"{early_exaggeration_iter}"
        )
    if initialization not in INITIALIZATIONS:
        raise ValueError(f"initialization must be one of {INITIALIZATIONS}, got {initialization!r}")
    if negative_gradient_method not in NEGATIVE_GRADIENT_METHODS:
        raise ValueError(
            f"negative_gradient_method must be one of {NEGATIVE_GRADIENT_METHODS}, "
            f"got {negative_gradient_method!r}"
        )
    used_perplexity = effective_perplexity(n, perplexity)
    if used_perplexity < perplexity:
        logging.warning(
            "t-SNE: perplexity %g is too high for %d points (needs N >= 3 * perplexity + 1); "
            "using %g",
            perplexity,
            n,
            used_perplexity,
        )
    threads = int(n_jobs) if n_jobs is not None else (os.cpu_count() or 1)
    method = negative_gradient_method
    if method == "auto":
        method = "bh" if n < BH_MAX_POINTS else "fft"

    progress = TSNEProgress(early_exaggeration_iter, n_iter, log=log, bar=progress_bar)
    if log is not None:
        log(
            f"t-SNE of {n} points x {dims} dims ({'Barnes-Hut' if method == 'bh' else 'FFT'}, "
            f"perplexity {used_perplexity:g}): neighbours and affinities, then "
            f"{progress.total} iterations"
        )
    tsne = openTSNE.TSNE(
        n_components=2,
        perplexity=used_perplexity,
        exaggeration=exaggeration,
        early_exaggeration=early_exaggeration,
        early_exaggeration_iter=int(early_exaggeration_iter),
        initialization=initialization,
        n_iter=int(n_iter),
        negative_gradient_method=method,
        n_jobs=threads,
        random_state=int(seed),
        verbose=False,
        callbacks=progress if progress.active else None,
        callbacks_every_iters=progress.every,
    )
    start = time.perf_counter()
    try:
        embedding = tsne.fit(np.ascontiguousarray(x, dtype=np.float64))
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    coords = np.asarray(embedding, dtype=np.float32)
    params = {
        "method": "openTSNE",
        "openTSNE_version": openTSNE.__version__,
        "n_points": int(n),
        "n_dims": int(dims),
        "perplexity": used_perplexity,
        "perplexity_requested": float(perplexity),
        "exaggeration": None if exaggeration is None else float(exaggeration),
        "early_exaggeration": float(early_exaggeration),
        "early_exaggeration_iter": int(early_exaggeration_iter),
        "learning_rate": tsne.learning_rate,
        "initialization": initialization,
        "n_iter": int(n_iter),
        "seed": int(seed),
        "n_jobs": threads,
        "negative_gradient_method": method,
        "negative_gradient_method_requested": negative_gradient_method,
        "neighbors": tsne.neighbors,
        "seconds": seconds,
    }
    return TSNEResult(
        embedding=coords,
        kl_divergence=float(embedding.kl_divergence),
        params=params,
        model=embedding,
    )


#: Points placed per step (bounds memory; each point is placed against the
#: fixed map alone, so the chunking does not change where).
PLACE_CHUNK = 20_000
#: How galaxies outside a fitted map are placed on it (see :func:`place_points`).
PLACE_METHODS = ("median", "transform")
#: Nearest fitted neighbours whose map positions place a point (openTSNE's k).
PLACE_NEIGHBOURS = 25


def place_points(
    result: TSNEResult,
    x,
    fitted_x=None,
    *,
    method: str = "median",
    chunk_size: int = PLACE_CHUNK,
    log: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Places points that were not fitted onto a finished map.

    A map of a million points would take hours and gigabytes; a map of a
    seeded subsample plus the others placed on it gives every galaxy a map
    position. Two ways, both openTSNE's (Poličar et al. 2024, "embedding new
    samples"), neither moving the map:

    * ``median`` (default): the median map position of the point's
      ``PLACE_NEIGHBOURS`` nearest fitted points in the input space (exact
      neighbours, scipy's cKDTree on ``fitted_x``, the rows the map was
      fitted on). This is where openTSNE's ``transform`` starts each point
      before optimising it; measured on 20,000 points placed on a
      20,000-point map of six 2-D blobs (2026-12-02, load ~10): 0.37 ms a
      point for transform's neighbours and affinities alone, 0.69 ms with its
      250 optimisation steps, which moved the points by a median 0.38 on a
      map 225 wide. The tree query costs microseconds a point, so a
      million galaxies in three representations are placed in about a
      minute instead of ~35 CPU minutes.
    * ``transform``: openTSNE's ``TSNEEmbedding.transform`` with its
      defaults (perplexity 5, 25 neighbours from the map's own approximate
      index, 250 iterations against the fixed map).

    A new point feels only the fitted points, so the result does not depend
    on how the points are chunked (tested), and memory grows with
    ``chunk_size``, not with the number placed.

    Returns:
      (len(x), 2) float32 map coordinates, in the frame of ``result.embedding``.
    """
    if method not in PLACE_METHODS:
        raise ValueError(f"method must be one of {PLACE_METHODS}, got {method!r}")
    if method == "transform" and result.model is None:
        raise ValueError("this t-SNE result has no openTSNE embedding (was it loaded from disk?)")
    x = np.asarray(x)
    dims = result.params["n_dims"]
    if x.ndim != 2 or x.shape[1] != dims:
        raise ValueError(f"points to place must be (n, {dims}), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("points to place have NaN or infinite values")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    out = np.empty((len(x), 2), dtype=np.float32)
    start = time.perf_counter()
    if method == "median":
        from scipy.spatial import cKDTree

        if fitted_x is None or np.shape(fitted_x) != (len(result.embedding), dims):
            raise ValueError(
                f"method 'median' needs fitted_x, the ({len(result.embedding)}, {dims}) points "
                f"the map was fitted on, got shape {np.shape(fitted_x)}"
            )
        tree = cKDTree(np.asarray(fitted_x, dtype=np.float64))
        k = min(PLACE_NEIGHBOURS, len(result.embedding))
    for lo in range(0, len(x), chunk_size):
        hi = min(lo + chunk_size, len(x))
        chunk = np.ascontiguousarray(x[lo:hi], dtype=np.float64)
        if method == "median":
            _, neighbours = tree.query(chunk, k=k)
            neighbours = neighbours.reshape(len(chunk), k)
            out[lo:hi] = np.median(result.embedding[neighbours], axis=1)
        else:
            placed = np.asarray(result.model.transform(chunk), dtype=np.float32)
            # transform re-centres the map in place (openTSNE's
            # prepare_interpolation_grid): back to the frame of result.embedding.
            shift = np.asarray(result.model[0], dtype=np.float32) - result.embedding[0]
            out[lo:hi] = placed - shift
        if log is not None:
            log(f"t-SNE: placed {hi} of {len(x)} points ({time.perf_counter() - start:.0f} s)")
    return out
