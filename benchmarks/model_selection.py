r"""Model-selection sweep: tfelg (TensorFlow EM + k-means) against scikit-learn.

The sweep is what :func:`tfelg.analysis.model_selection.select_k` does:
Gaussian mixtures for K = 1..15 (full covariance) with BIC/AIC, the gap
statistic with B = 10 reference sets (k-means on the data and on every
reference set, K = 1..15, ``--gap_n_init`` k-means++ starts per K and data
set, the best kept; default ``model_selection.GAP_N_INIT``) and the
silhouette on a 10,000-point subsample.

The scikit-learn sweep does the same work with scikit-learn's estimators,
twice:

* as a user runs it ("own starts", the sweep the speed goal is about):
  ``GaussianMixture(K, random_state=seed)`` per K (its own k-means start),
  ``KMeans(K, n_init=<gap_n_init>, random_state=seed)`` per K on the data
  and on each reference set (its own k-means++ starts, as many as tfelg's),
  ``silhouette_score`` per K;
* from tfelg's starts ("same start", for agreement): ``GaussianMixture``
  from tfelg's starting parameters (its k-means labels turned into a first
  M-step, passed as ``weights_init``/``means_init``/``precisions_init``) and
  ``KMeans(K, init=<the k-means++ centres of the run tfelg kept>, n_init=1)``
  (one run per (data set, K), where tfelg ran ``gap_n_init``). The starts are
  free for scikit-learn here (it skips its own k-means++ and the k-means
  inside every ``GaussianMixture.fit``, which tfelg's time includes), so
  this time is a lower bound, and the two sweeps can be compared exactly:
  log-likelihood and BIC per K, log W_K per (data set, K), and every
  criterion's chosen K.

Both use the same centred data, the same reference sets (tfelg's
``reference_sets``, same seed) and the same silhouette subsample.

Both run in one process on the same machine and the same data: a seeded
mixture of 6 Gaussians (unequal weights, random anisotropic covariances,
some overlap). For each size the order is tfelg (cold: includes XLA
compiles), then ``--repeats`` rounds of (scikit-learn's own-start sweep,
tfelg warm), so that a change in the machine's load hits both, then the
same-start sweep; the best time of each is
compared (the machine may be shared), every time is kept in the JSON, and
the ratio is also given for the cold tfelg time.

Effective GFLOP/s of the EM: 4 D^2 flops per point, component and iteration
(the E-step's Mahalanobis products plus the M-step's outer products, counted
the same for both libraries; tfelg's XLA pass actually does somewhat more),
over the EM wall time (tfelg: the EM alone from the same start, timed
separately). The machine's practical ceiling is measured in the same run by
a large float32 ``tf.matmul``.

  python benchmarks/model_selection.py      # 1e5 x 8 and 1e5 x 16 (~5 min)
  python benchmarks/model_selection.py --sizes=1000000x8,1000000x16   # ~30 min
"""

from __future__ import annotations

import math
import os
import platform
import time
import warnings

import numpy as np
from absl import app, flags

from tfelg import atomic

_SIZES = flags.DEFINE_list("sizes", ["100000x8", "100000x16"], "NxD sizes to run.")
_K_MAX = flags.DEFINE_integer("k_max", 15, "Largest K of the sweep.")
_REFERENCES = flags.DEFINE_integer("references", 10, "B, gap reference sets.")
_GAP_N_INIT = flags.DEFINE_integer(
    "gap_n_init",
    None,
    "k-means++ starts per K and data set in the gap statistic, for tfelg and for a user's "
    "scikit-learn KMeans alike (default: tfelg's model_selection.GAP_N_INIT).",
)
_CLUSTERS = flags.DEFINE_integer("clusters", 6, "True components of the data.")
_SILHOUETTE = flags.DEFINE_integer("silhouette_sample", 10_000, "Silhouette subsample.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the data and of both sweeps.")
_SKIP_SKLEARN = flags.DEFINE_bool("skip_sklearn", False, "Run tfelg only.")
_REPEATS = flags.DEFINE_integer(
    "repeats", 1, "Rounds of (scikit-learn sweep, tfelg warm sweep); the best of each is used."
)
_JSON = flags.DEFINE_string(
    "json",
    None,
    "Also write the results to this JSON file (rewritten, atomically, after each size, so a "
    "run stopped part-way keeps the sizes it finished).",
)


def gaussian_mixture(n, dims, clusters, seed):
    """A seeded mixture: unequal weights, random anisotropic covariances, some overlap."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(clusters, 3.0))
    labels = rng.choice(clusters, size=n, p=weights)
    centres = rng.normal(0.0, 4.0, size=(clusters, dims))
    x = np.empty((n, dims))
    for k in range(clusters):
        rows = labels == k
        basis, _ = np.linalg.qr(rng.normal(size=(dims, dims)))
        scales = rng.uniform(0.5, 2.0, size=dims)
        x[rows] = centres[k] + (rng.normal(size=(rows.sum(), dims)) * scales) @ basis.T
    return x, labels


def matmul_ceiling():
    """GFLOP/s of a large float32 tf.matmul (the practical ceiling)."""
    import tensorflow as tf

    a = tf.random.normal([3072, 3072])
    tf.matmul(a, a).numpy()
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        tf.matmul(a, a).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * 3072**3 / best / 1e9


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def em_flops(n, d, ks, iters):
    """4 D^2 per point, component and EM iteration (+1 pass for the final LL)."""
    return sum(4.0 * d * d * k * n * (it + 1) for k, it in zip(ks, iters, strict=True))


def gap_n_init():
    from tfelg.analysis import model_selection

    return model_selection.GAP_N_INIT if _GAP_N_INIT.value is None else _GAP_N_INIT.value


def run_tfelg(x, k_max, references, seed, silhouette_sample):
    from tfelg.analysis import model_selection

    t = time.perf_counter()
    res = model_selection.select_k(
        x,
        k_max,
        gap_references=references,
        gap_n_init=gap_n_init(),
        seed=seed,
        silhouette_sample=silhouette_sample,
    )
    return res, time.perf_counter() - t


def run_tfelg_em(x, ks, inits):
    from tfelg.analysis import gmm

    t = time.perf_counter()
    fits = gmm.fit_gmm_sweep(x, ks, init=inits)
    return fits, time.perf_counter() - t


def run_sklearn(x, ks, res, seed, sample_rows, *, same_start):
    """scikit-learn's sweep: a user's (``same_start=False``) or from tfelg's starts.

    A user's sweep: ``GaussianMixture(K, random_state=seed)`` per K (its own
    k-means start), ``KMeans(K, n_init=<gap_n_init>, random_state=seed)``
    per K on the data and each reference set (its own k-means++ starts),
    ``silhouette_score`` per K on the same subsample. From tfelg's starts:
    ``GaussianMixture`` from tfelg's starting parameters (the k-means
    labels' first M-step) and ``KMeans(K, init=<the k-means++ centres of
    the run tfelg kept>, n_init=1)``. Both run on
    the same centred data and reference sets as tfelg's gap statistic.
    Handing scikit-learn the starts costs it nothing, so that time is a
    lower bound of a user's sweep, and every criterion's choice can be
    compared exactly.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.mixture import GaussianMixture

    from tfelg.analysis import gmm, model_selection

    seconds = {"gmm": 0.0, "kmeans_gap": 0.0, "silhouette": 0.0}
    inits = gmm.inits_from_label_matrix(x, res.gap.labels, ks) if same_start else [None] * len(ks)
    fits, gmm_per_k = [], []
    for k, init in zip(ks, inits, strict=True):
        t = time.perf_counter()
        if same_start:
            gm = GaussianMixture(
                int(k), covariance_type="full", init_params="random_from_data", **init.to_sklearn()
            )
        else:
            gm = GaussianMixture(int(k), covariance_type="full", random_state=seed)
        gm.fit(x)
        dt = time.perf_counter() - t
        gmm_per_k.append(dt)
        seconds["gmm"] += dt
        fits.append(gm)
    # The gap statistic's data: what gap_statistic clusters (centred data,
    # reference sets drawn from it with the same seed, float32).
    xc = x - x.mean(axis=0)
    refs = model_selection.reference_sets(xc, res.gap.log_w_ref.shape[0], seed=seed + 1)
    log_w = np.zeros((1 + len(refs), len(ks)))
    kmeans_iters = np.zeros((1 + len(refs), len(ks)), int)
    for b, data in enumerate([xc.astype(np.float32), *refs]):
        data = data.astype(np.float64)
        for i, k in enumerate(ks):
            t = time.perf_counter()
            if same_start:
                start = res.gap.start[b, i]
                km = KMeans(
                    int(k), init=res.gap.seed_centres[start, b, :k], n_init=1, algorithm="lloyd"
                )
            else:
                km = KMeans(int(k), n_init=gap_n_init(), random_state=seed, algorithm="lloyd")
            km.fit(data)
            seconds["kmeans_gap"] += time.perf_counter() - t
            kmeans_iters[b, i] = km.n_iter_
            # W_K about the clusters' means (Tibshirani's definition, as
            # tfelg computes it), not inertia_ (about the last centres).
            counts = np.bincount(km.labels_, minlength=k)
            sums = np.zeros((k, data.shape[1]))
            np.add.at(sums, km.labels_, data)
            log_w[b, i] = math.log(
                np.sum(data * data) - np.sum(sums**2 / np.maximum(counts, 1)[:, None])
            )
    mean_ref = log_w[1:].mean(axis=0)
    gap = mean_ref - log_w[0]
    s = np.sqrt(np.mean((log_w[1:] - mean_ref) ** 2, axis=0)) * math.sqrt(1 + 1 / len(refs))
    t = time.perf_counter()
    xs = x[sample_rows]
    sil = [np.nan] + [silhouette_score(xs, m.predict(xs)) for m in fits[1:]]
    seconds["silhouette"] = time.perf_counter() - t
    bic = [m.bic(x) for m in fits]
    aic = [m.aic(x) for m in fits]
    return {
        "seconds": seconds,
        "total": sum(seconds.values()),
        "gmm_per_k": gmm_per_k,
        "log_likelihood": [m.score(x) * len(x) for m in fits],
        "bic": bic,
        "n_iter": [int(m.n_iter_) for m in fits],
        "kmeans_n_iter": kmeans_iters.tolist(),
        "log_w": log_w.tolist(),
        "chosen": {
            "bic": int(ks[int(np.argmin(bic))]),
            "aic": int(ks[int(np.argmin(aic))]),
            "gap": int(ks[model_selection.gap_choice(gap, s)]),
            "silhouette": int(ks[1 + int(np.nanargmax(sil[1:]))]),
        },
    }


def _print_sklearn(label, sk):
    print(
        f"scikit-learn sweep ({label}): {sk['total']:.1f} s (GMM {sk['seconds']['gmm']:.1f}, "
        f"k-means for gap {sk['seconds']['kmeans_gap']:.1f}, silhouette "
        f"{sk['seconds']['silhouette']:.1f}; load {load_average():.1f})  chosen {sk['chosen']}",
        flush=True,
    )


def one_size(n, d):
    from tfelg.analysis import gmm

    k_max, refs_b, seed = _K_MAX.value, _REFERENCES.value, _SEED.value
    ks = np.arange(1, k_max + 1)
    x, _ = gaussian_mixture(n, d, _CLUSTERS.value, seed)
    ceiling = matmul_ceiling()
    row = {
        "n": n,
        "d": d,
        "k_max": k_max,
        "references": refs_b,
        "gap_n_init": gap_n_init(),
        "load_before": load_average(),
        "ceiling_gflops": ceiling,
    }
    print(
        f"\n=== N = {n:,} x D = {d}, gap n_init = {gap_n_init()} (load average "
        f"{row['load_before']:.1f}; float32 matmul now {ceiling:.0f} GFLOP/s) ===",
        flush=True,
    )

    res, t_cold = run_tfelg(x, k_max, refs_b, seed, _SILHOUETTE.value)
    parts = ", ".join(f"{k} {v:.1f}" for k, v in res.seconds.items())
    print(
        f"tfelg select_k (cold, with compiles): {t_cold:.1f} s ({parts})  chosen {res.chosen_k}",
        flush=True,
    )
    row["tfelg_cold_s"] = t_cold
    row["tfelg_cold_parts"] = res.seconds
    row["tfelg_chosen"] = res.chosen_k

    sample_rng = np.random.default_rng(seed + 2)
    m = min(n, _SILHOUETTE.value)
    sample_rows = np.sort(sample_rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)

    # Rounds of (scikit-learn as a user runs it, tfelg warm); the best of
    # each is compared, which discounts other jobs' load on a shared machine.
    row["sklearn_runs_s"], row["tfelg_warm_runs_s"] = [], []
    for _ in range(_REPEATS.value):
        if not _SKIP_SKLEARN.value:
            sk = run_sklearn(x, ks, res, seed, sample_rows, same_start=False)
            row["sklearn_runs_s"].append(sk["total"])
            if "sklearn" not in row or sk["total"] < row["sklearn_s"]:
                row["sklearn"], row["sklearn_s"] = sk, sk["total"]
            _print_sklearn("its own starts", sk)
        res2, t_warm = run_tfelg(x, k_max, refs_b, seed, _SILHOUETTE.value)
        row["tfelg_warm_runs_s"].append(t_warm)
        if "tfelg_warm_s" not in row or t_warm < row["tfelg_warm_s"]:
            row["tfelg_warm_s"], row["tfelg_warm_parts"] = t_warm, res2.seconds
        parts = ", ".join(f"{k} {v:.1f}" for k, v in res2.seconds.items())
        print(
            f"tfelg select_k (warm): {t_warm:.1f} s ({parts}; load {load_average():.1f})",
            flush=True,
        )
    if not _SKIP_SKLEARN.value:
        same = run_sklearn(x, ks, res, seed, sample_rows, same_start=True)
        row["sklearn_same_start"], row["sklearn_same_start_s"] = same, same["total"]
        _print_sklearn("tfelg's starts", same)

    # EM only, from the same start (the EM's own rate, without k-means).
    inits = gmm.inits_from_label_matrix(x, res.gap.labels, ks)
    fits, t_em = run_tfelg_em(x, ks, inits)
    flops = em_flops(n, d, ks, [f.n_iter for f in fits])
    row["tfelg_em_s"] = t_em
    row["tfelg_em_gflops"] = flops / t_em / 1e9
    print(
        f"tfelg EM only (K = 1..{k_max}, same start): {t_em:.2f} s, "
        f"{row['tfelg_em_gflops']:.1f} GFLOP/s effective "
        f"({100 * row['tfelg_em_gflops'] / ceiling:.0f}% of the {ceiling:.0f} GFLOP/s matmul "
        "measured before this size)",
        flush=True,
    )
    if _SKIP_SKLEARN.value:
        row["load_after"] = load_average()
        return row
    sk = row["sklearn_same_start"]
    t_warm = row["tfelg_warm_s"]
    row["ratio_warm"] = row["sklearn_s"] / t_warm
    row["ratio_cold"] = row["sklearn_s"] / t_cold
    row["ratio_same_start_warm"] = row["sklearn_same_start_s"] / t_warm
    row["sklearn_em_gflops"] = em_flops(n, d, ks, sk["n_iter"]) / sk["seconds"]["gmm"] / 1e9
    row["ratio_em"] = sk["seconds"]["gmm"] / t_em
    row["ratio_gap"] = sk["seconds"]["kmeans_gap"] / row["tfelg_warm_parts"]["gap"]
    ll = np.array([f.log_likelihood for f in res.mixtures])
    bic = np.array([f.bic for f in res.mixtures])
    row["ll_rel"] = (np.abs(ll - sk["log_likelihood"]) / np.abs(sk["log_likelihood"])).tolist()
    row["bic_rel"] = (np.abs(bic - sk["bic"]) / np.abs(sk["bic"])).tolist()
    row["max_ll_rel"] = max(row["ll_rel"])
    row["max_bic_rel"] = max(row["bic_rel"])
    log_w = np.concatenate([res.gap.log_w[None], res.gap.log_w_ref])
    row["max_log_w_diff"] = float(np.max(np.abs(log_w - np.array(sk["log_w"]))))
    row["same_chosen_k"] = all(res.chosen_k[c] == sk["chosen"][c] for c in sk["chosen"])
    print(
        f"speed-up (best of {_REPEATS.value}) over a user's sweep: {row['ratio_warm']:.1f}x warm, "
        f"{row['ratio_cold']:.1f}x cold; over the sweep from tfelg's starts (a lower bound): "
        f"{row['ratio_same_start_warm']:.1f}x warm; EM from the same start {row['ratio_em']:.0f}x "
        f"({row['tfelg_em_gflops']:.1f} vs {row['sklearn_em_gflops']:.1f} GFLOP/s), "
        f"gap k-means {row['ratio_gap']:.1f}x",
        flush=True,
    )
    print(
        f"agreement: max |dLL|/|LL| = {row['max_ll_rel']:.2e}, max |dBIC|/|BIC| = "
        f"{row['max_bic_rel']:.2e}, max |d log W_K| = {row['max_log_w_diff']:.2e}; "
        f"chosen K tfelg {res.chosen_k}, scikit-learn {sk['chosen']}: "
        f"{'the same' if row['same_chosen_k'] else 'DIFFERENT'} (a user's scikit-learn sweep, "
        f"from its own starts, chose {row['sklearn']['chosen']})",
        flush=True,
    )
    row["load_after"] = load_average()
    return row


def main(argv):
    del argv
    warnings.filterwarnings("ignore", category=UserWarning)
    import sklearn
    import tensorflow as tf

    print(
        f"tfelg model-selection benchmark: TF {tf.__version__}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average {load_average():.1f}",
        flush=True,
    )
    rows = []
    summary = {"rows": rows}
    for size in _SIZES.value:
        n, d = (int(v) for v in size.lower().split("x"))
        rows.append(one_size(n, d))
        if _JSON.value:
            atomic.write_json(_JSON.value, summary, default=float)
    print(
        "\n| N x D | tfelg warm s | tfelg cold s | scikit-learn s (own starts) | speed-up warm "
        "(cold) | scikit-learn s (tfelg's starts) | speed-up warm | EM s tfelg / sklearn | "
        "gap k-means s tfelg / sklearn | max dLL rel | max dBIC rel | max d log W | "
        "K bic/aic/gap/sil tfelg | same start sklearn | own start sklearn |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def ks_of(chosen):
        return "/".join(str(chosen[c]) for c in ("bic", "aic", "gap", "silhouette"))

    for r in rows:
        sk = r.get("sklearn_same_start")
        head = f"| {r['n']:,} x {r['d']} | {r['tfelg_warm_s']:.1f} | {r['tfelg_cold_s']:.1f} | "
        if not sk:
            print(
                head + f"- | - | - | - | {r['tfelg_em_s']:.2f} / - | - | - | - | - | "
                f"{ks_of(r['tfelg_chosen'])} | - | - |"
            )
            continue
        print(
            head + f"{r['sklearn_s']:.1f} | {r['ratio_warm']:.1f}x ({r['ratio_cold']:.1f}x) | "
            f"{r['sklearn_same_start_s']:.1f} | {r['ratio_same_start_warm']:.1f}x | "
            f"{r['tfelg_em_s']:.2f} / {sk['seconds']['gmm']:.1f} | "
            f"{r['tfelg_warm_parts']['gap']:.1f} / {sk['seconds']['kmeans_gap']:.1f} | "
            f"{r['max_ll_rel']:.1e} | {r['max_bic_rel']:.1e} | {r['max_log_w_diff']:.1e} | "
            f"{ks_of(r['tfelg_chosen'])} | {ks_of(sk['chosen'])} | "
            f"{ks_of(r['sklearn']['chosen'])} |"
        )


if __name__ == "__main__":
    app.run(main)
