r"""t-SNE cost: openTSNE (as tfelg configures it) against scikit-learn's Barnes-Hut TSNE.

Both run in one process on the same machine, on the same data: a seeded
mixture of 6 Gaussians in 16 dimensions (unequal sizes and widths, some
overlap), the shape of a latent space with a few classes. Both use
perplexity 30, early exaggeration 12 for 250 iterations, 750 iterations in
all, PCA initialisation, learning rate "auto" and every core.

Quality is compared two ways. Each library's own final KL divergence (what
``TSNEResult.kl_divergence`` and ``sklearn.manifold.TSNE.kl_divergence_``
report) uses its own approximations of P and Q, so the benchmark also
computes one "common" KL for both maps: the same sparse P (openTSNE's
perplexity affinities on the input) and the exact Q (all N^2 pairs, in
blocks). A kNN-preservation score (the fraction of each point's 10 nearest
input neighbours that are among its 10 nearest map neighbours, on 2,000
points) is printed too.

  python benchmarks/tsne.py                      # 20k points (~2-4 minutes on 2 cores)
  python benchmarks/tsne.py --sizes=20000,100000 # adds 100k (~25 minutes: sklearn ~18 min)
  python benchmarks/tsne.py --sizes=100000 --skip_sklearn

The target (DESIGN.md, "Scale"): openTSNE at least 4x faster than
scikit-learn at 100k points with a KL divergence within 5%.
"""

from __future__ import annotations

import os
import platform
import time

import numpy as np
from absl import app, flags

from tfelg import atomic

_SIZES = flags.DEFINE_list("sizes", ["20000"], "Numbers of points to map.")
_DIMS = flags.DEFINE_integer("dims", 16, "Input dimensions.")
_CLUSTERS = flags.DEFINE_integer("clusters", 6, "Gaussian components of the data.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the data and of both t-SNE runs.")
_SKIP_SKLEARN = flags.DEFINE_bool("skip_sklearn", False, "Run openTSNE only.")
_COMMON_KL = flags.DEFINE_bool(
    "common_kl", True, "Also compute the KL of both maps against one P with the exact Q."
)
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")

PERPLEXITY = 30.0
EARLY_EXAGGERATION = 12.0
EARLY_EXAGGERATION_ITER = 250
N_ITER = 500  # After the early exaggeration: 750 iterations in all.


def gaussian_mixture(n: int, dims: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded mixture of ``clusters`` Gaussians: unequal weights and widths, some overlap."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(clusters, 3.0))
    labels = rng.choice(clusters, size=n, p=weights)
    centres = rng.normal(0.0, 4.0, size=(clusters, dims))
    x = np.empty((n, dims), dtype=np.float32)
    for k in range(clusters):
        rows = labels == k
        # A random covariance: anisotropic, widths 0.5-2.
        basis, _ = np.linalg.qr(rng.normal(size=(dims, dims)))
        scales = rng.uniform(0.5, 2.0, size=dims)
        x[rows] = centres[k] + (rng.normal(size=(rows.sum(), dims)) * scales) @ basis.T
    return x, labels


def common_kl(p, embedding: np.ndarray, block: int = 1024) -> float:
    """KL(P || Q) with a sparse symmetric P (sums to 1) and the exact t-SNE Q of ``embedding``."""
    y = np.asarray(embedding, dtype=np.float64)
    n = len(y)
    sq = (y**2).sum(1)
    z = 0.0
    for start in range(0, n, block):
        stop = min(start + block, n)
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * y[start:stop] @ y.T
        np.maximum(d2, 0.0, out=d2)
        w = 1.0 / (1.0 + d2)
        w[np.arange(stop - start), np.arange(start, stop)] = 0.0
        z += w.sum()
    p = p.tocoo()
    keep = p.data > 0
    rows, cols, values = p.row[keep], p.col[keep], p.data[keep]
    d2 = ((y[rows] - y[cols]) ** 2).sum(1)
    q = 1.0 / (1.0 + d2) / z
    return float(np.sum(values * np.log(values / q)))


def knn_preservation(x: np.ndarray, y: np.ndarray, k: int = 10, sample: int = 2000) -> float:
    """Mean fraction of k nearest input neighbours kept among the k nearest map neighbours."""
    rng = np.random.default_rng(0)
    rows = rng.choice(len(x), size=min(sample, len(x)), replace=False)

    def neighbours(points, block=200):
        points = np.asarray(points, dtype=np.float64)
        sq = (points**2).sum(1)
        found = []
        for start in range(0, len(rows), block):
            chunk = rows[start : start + block]
            d2 = sq[chunk, None] + sq[None, :] - 2.0 * points[chunk] @ points.T
            d2[np.arange(len(chunk)), chunk] = np.inf
            found.append(np.argpartition(d2, k, axis=1)[:, :k])
        return np.concatenate(found)

    kept = [len(set(a) & set(b)) / k for a, b in zip(neighbours(x), neighbours(y), strict=True)]
    return float(np.mean(kept))


def run_open_tsne(x: np.ndarray, seed: int) -> dict:
    from tfelg.analysis.tsne import run_tsne

    start = time.perf_counter()
    result = run_tsne(
        x,
        perplexity=PERPLEXITY,
        early_exaggeration=EARLY_EXAGGERATION,
        early_exaggeration_iter=EARLY_EXAGGERATION_ITER,
        n_iter=N_ITER,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "kl": result.kl_divergence, "embedding": result.embedding}


def run_sklearn(x: np.ndarray, seed: int) -> dict:
    from sklearn.manifold import TSNE

    tsne = TSNE(
        n_components=2,
        perplexity=PERPLEXITY,
        early_exaggeration=EARLY_EXAGGERATION,
        learning_rate="auto",
        max_iter=EARLY_EXAGGERATION_ITER + N_ITER,
        init="pca",
        method="barnes_hut",
        random_state=seed,
        n_jobs=-1,
    )
    start = time.perf_counter()
    embedding = tsne.fit_transform(x)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "kl": float(tsne.kl_divergence_), "embedding": embedding}


def main(argv):
    del argv
    import openTSNE
    import sklearn

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"load average before: {os.getloadavg()[0]:.2f}; "
        f"openTSNE {openTSNE.__version__}, scikit-learn {sklearn.__version__}"
    )
    results = []
    for size in (int(s) for s in _SIZES.value):
        x, _ = gaussian_mixture(size, _DIMS.value, _CLUSTERS.value, _SEED.value)
        row = {"n": size, "dims": _DIMS.value}
        runs = {"openTSNE": run_open_tsne(x, _SEED.value)}
        if not _SKIP_SKLEARN.value:
            runs["sklearn"] = run_sklearn(x, _SEED.value)
        if _COMMON_KL.value:
            affinities = openTSNE.affinity.PerplexityBasedNN(
                x.astype(np.float64), perplexity=PERPLEXITY, random_state=_SEED.value, n_jobs=-1
            )
        for name, run in runs.items():
            row[f"{name}_seconds"] = run["seconds"]
            row[f"{name}_kl"] = run["kl"]
            if _COMMON_KL.value:
                row[f"{name}_common_kl"] = common_kl(affinities.P, run["embedding"])
            row[f"{name}_knn10"] = knn_preservation(x, run["embedding"])
            print(
                f"n={size:>7,} {name:>8}: {run['seconds']:8.1f} s  KL {run['kl']:.4f}"
                + (f"  common KL {row[f'{name}_common_kl']:.4f}" if _COMMON_KL.value else "")
                + f"  kNN-10 kept {row[f'{name}_knn10']:.3f}",
                flush=True,
            )
        if "sklearn" in runs:
            row["speedup"] = row["sklearn_seconds"] / row["openTSNE_seconds"]
            row["kl_ratio"] = row["openTSNE_kl"] / row["sklearn_kl"]
            line = (
                f"n={size:>7,}  openTSNE is {row['speedup']:.2f}x faster; "
                f"KL openTSNE/sklearn = {row['kl_ratio']:.3f}"
            )
            if _COMMON_KL.value:
                row["common_kl_ratio"] = row["openTSNE_common_kl"] / row["sklearn_common_kl"]
                line += f" (common KL ratio {row['common_kl_ratio']:.3f})"
            print(line, flush=True)
        row["load_average_after"] = os.getloadavg()[0]
        results.append(row)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if _JSON.value:
        atomic.write_json(_JSON.value, results)


if __name__ == "__main__":
    app.run(main)
