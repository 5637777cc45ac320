r"""Model-selection sweep: tfelg (TensorFlow EM + batched k-means) against scikit-learn.

The sweep is what :func:`tfelg.analysis.model_selection.select_k` does:
Gaussian mixtures for K = 1..15 (full covariance) with BIC/AIC, the gap
statistic with B = 10 reference sets (k-means on the data and on every
reference set, K = 1..15) and the silhouette on a 10,000-point subsample.
The scikit-learn sweep does the same work the way a scikit-learn user would:
``GaussianMixture(K).fit`` per K (its own k-means start), ``KMeans(K,
n_init=1).fit`` per K on the data and on each reference set (the same
reference sets, drawn by tfelg's ``reference_sets``) and
``silhouette_score`` per K on the same subsample.

Both run in one process on the same machine and the same data: a seeded
mixture of 6 Gaussians (unequal weights, random anisotropic covariances,
some overlap). For each size the order is tfelg (cold: includes XLA
compiles), then ``--repeats`` rounds of (scikit-learn, tfelg warm), so that
a change in the machine's load hits both; the best time of each is
compared (the machine may be shared), every time is kept in the JSON, and
the ratio is also given for the cold tfelg time.

Agreement: scikit-learn's ``GaussianMixture`` is started from exactly
tfelg's starting parameters (tfelg's k-means labels turned into a first
M-step, passed as ``weights_init``/``means_init``/``precisions_init``); the
relative differences of the final log-likelihood and BIC are reported per
K, with the K each library's BIC chooses. This "EM only from the same
start" sweep is also timed, against tfelg's EM-only time.

Effective GFLOP/s of the EM: 4 D^2 flops per point, component and iteration
(the E-step's Mahalanobis products plus the M-step's outer products, counted
the same for both libraries; tfelg's XLA pass actually does somewhat more),
over the EM wall time. The machine's practical ceiling is measured in the same
run by a large float32 ``tf.matmul``.

Sizes above ``--sklearn_full_max_n``: scikit-learn runs on a seeded subset of
``--sklearn_subset`` points, timed per K, and its time is **extrapolated**
linearly in N (labelled so in the output); the agreement is then checked
at full size for a few K only (``--agreement_ks_large``).

  python benchmarks/model_selection.py                 # 1e5 x 8 and 1e5 x 16 (~15 min)
  python benchmarks/model_selection.py --sizes=1000000x16 --repeats=1
      # tfelg at 1e6 (~8 min), scikit-learn on 1e5 points, extrapolated
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
import warnings

import numpy as np
from absl import app, flags

_SIZES = flags.DEFINE_list("sizes", ["100000x8", "100000x16"], "NxD sizes to run.")
_K_MAX = flags.DEFINE_integer("k_max", 15, "Largest K of the sweep.")
_REFERENCES = flags.DEFINE_integer("references", 10, "B, gap reference sets.")
_CLUSTERS = flags.DEFINE_integer("clusters", 6, "True components of the data.")
_SILHOUETTE = flags.DEFINE_integer("silhouette_sample", 10_000, "Silhouette subsample.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the data and of both sweeps.")
_SKLEARN_FULL_MAX_N = flags.DEFINE_integer(
    "sklearn_full_max_n", 100_000, "Above this N, scikit-learn runs on a subset (extrapolated)."
)
_SKLEARN_SUBSET = flags.DEFINE_integer(
    "sklearn_subset", 100_000, "Subset size for scikit-learn above --sklearn_full_max_n."
)
_AGREEMENT_KS_LARGE = flags.DEFINE_list(
    "agreement_ks_large", ["1", "3", "6"], "K checked against scikit-learn at large N."
)
_SKIP_SKLEARN = flags.DEFINE_bool("skip_sklearn", False, "Run tfelg only.")
_REPEATS = flags.DEFINE_integer(
    "repeats", 1, "Rounds of (scikit-learn sweep, tfelg warm sweep); the best of each is used."
)
_JSON = flags.DEFINE_string("json", None, "Also write the results to this JSON file.")


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


def run_tfelg(x, k_max, references, seed, silhouette_sample):
    from tfelg.analysis import model_selection

    t = time.perf_counter()
    res = model_selection.select_k(
        x,
        k_max,
        gap_references=references,
        seed=seed,
        silhouette_sample=silhouette_sample,
    )
    return res, time.perf_counter() - t


def run_tfelg_em(x, ks, inits):
    from tfelg.analysis import gmm

    t = time.perf_counter()
    fits = gmm.fit_gmm_sweep(x, ks, init=inits)
    return fits, time.perf_counter() - t


def run_sklearn(x, ks, refs, seed, sample_rows):
    """scikit-learn's sweep; returns per-part seconds, BIC, and gap/silhouette choices."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.mixture import GaussianMixture

    from tfelg.analysis import model_selection

    seconds = {"gmm": 0.0, "kmeans_gap": 0.0, "silhouette": 0.0}
    gmm_per_k = []
    bic, iters, models = [], [], []
    for k in ks:
        t = time.perf_counter()
        gm = GaussianMixture(k, covariance_type="full", random_state=seed).fit(x)
        dt = time.perf_counter() - t
        gmm_per_k.append(dt)
        seconds["gmm"] += dt
        bic.append(gm.bic(x))
        iters.append(gm.n_iter_)
        models.append(gm)
    log_w = np.zeros((1 + len(refs), len(ks)))
    kmeans_per_k = np.zeros(len(ks))
    for b, data in enumerate([x, *refs]):
        for i, k in enumerate(ks):
            t = time.perf_counter()
            km = KMeans(k, n_init=1, random_state=seed).fit(data)
            dt = time.perf_counter() - t
            kmeans_per_k[i] += dt
            seconds["kmeans_gap"] += dt
            log_w[b, i] = math.log(km.inertia_)
    mean_ref = log_w[1:].mean(axis=0)
    gap = mean_ref - log_w[0]
    s = np.sqrt(np.mean((log_w[1:] - mean_ref) ** 2, axis=0)) * math.sqrt(1 + 1 / len(refs))
    t = time.perf_counter()
    xs = x[sample_rows]
    sil = [np.nan] + [silhouette_score(xs, m.predict(xs)) for m in models[1:]]
    seconds["silhouette"] = time.perf_counter() - t
    return {
        "seconds": seconds,
        "total": sum(seconds.values()),
        "gmm_per_k": gmm_per_k,
        "kmeans_per_k": kmeans_per_k.tolist(),
        "bic": bic,
        "n_iter": iters,
        "chosen_bic": int(ks[int(np.argmin(bic))]),
        "chosen_gap": int(ks[model_selection.gap_choice(gap, s)]),
        "chosen_silhouette": int(ks[1 + int(np.nanargmax(sil[1:]))]),
    }


def sklearn_same_start(x, ks, inits):
    """scikit-learn's EM from tfelg's starting parameters."""
    from sklearn.mixture import GaussianMixture

    out = []
    t0 = time.perf_counter()
    for k, init in zip(ks, inits, strict=True):
        gm = GaussianMixture(
            k, covariance_type="full", init_params="random_from_data", **init.to_sklearn()
        ).fit(x)
        out.append(
            {
                "k": int(k),
                "log_likelihood": gm.score(x) * len(x),
                "bic": gm.bic(x),
                "n_iter": gm.n_iter_,
            }
        )
    return out, time.perf_counter() - t0


def one_size(n, d):
    from tfelg.analysis import gmm, model_selection

    k_max, refs_b, seed = _K_MAX.value, _REFERENCES.value, _SEED.value
    ks = np.arange(1, k_max + 1)
    x, _ = gaussian_mixture(n, d, _CLUSTERS.value, seed)
    ceiling = matmul_ceiling()
    row = {
        "n": n,
        "d": d,
        "k_max": k_max,
        "references": refs_b,
        "load_before": load_average(),
        "ceiling_gflops": ceiling,
    }
    print(
        f"\n=== N = {n:,} x D = {d} (load average {row['load_before']:.1f}; float32 matmul "
        f"now {ceiling:.0f} GFLOP/s) ===",
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

    full = n <= _SKLEARN_FULL_MAX_N.value
    sample_rng = np.random.default_rng(seed + 2)
    m = min(n, _SILHOUETTE.value)
    sample_rows = np.sort(sample_rng.choice(n, size=m, replace=False)) if m < n else np.arange(n)
    if full:
        sk_x, sk_rows, scale = x, sample_rows, 1.0
    else:
        sub = np.sort(
            np.random.default_rng(seed + 3).choice(n, size=_SKLEARN_SUBSET.value, replace=False)
        )
        sk_x, sk_rows, scale = x[sub], np.arange(min(_SKLEARN_SUBSET.value, m)), n / len(sub)

    # Rounds of (scikit-learn, tfelg warm); the best of each is compared,
    # which discounts other jobs' load on a shared machine.
    row["sklearn_runs_s"], row["tfelg_warm_runs_s"] = [], []
    for _ in range(_REPEATS.value):
        if not _SKIP_SKLEARN.value:
            refs = model_selection.reference_sets(sk_x, refs_b, seed=seed + 1, dtype=np.float64)
            t = time.perf_counter()
            sk = run_sklearn(sk_x, ks, list(refs), seed, sk_rows)
            measured = time.perf_counter() - t
            del refs
            # Linear in N for the EM and k-means parts; the silhouette
            # subsample has the same size at every N.
            total = (sk["seconds"]["gmm"] + sk["seconds"]["kmeans_gap"]) * scale + sk["seconds"][
                "silhouette"
            ]
            sk["extrapolated"] = not full
            sk["measured_s"] = measured
            if not full:
                sk["subset"] = len(sk_x)
            row["sklearn_runs_s"].append(total)
            if "sklearn" not in row or total < row["sklearn_s"]:
                row["sklearn"], row["sklearn_s"] = sk, total
            label = f" (EXTRAPOLATED from a {len(sk_x)}-point subset)" if not full else ""
            print(
                f"scikit-learn sweep{label}: {total:.1f} s "
                f"(GMM {sk['seconds']['gmm']:.1f}, k-means for gap "
                f"{sk['seconds']['kmeans_gap']:.1f}, silhouette "
                f"{sk['seconds']['silhouette']:.1f} s measured; load {load_average():.1f})  "
                f"chosen: bic {sk['chosen_bic']}, gap {sk['chosen_gap']}, "
                f"silhouette {sk['chosen_silhouette']}",
                flush=True,
            )
        res2, t_warm = run_tfelg(x, k_max, refs_b, seed, _SILHOUETTE.value)
        row["tfelg_warm_runs_s"].append(t_warm)
        if "tfelg_warm_s" not in row or t_warm < row["tfelg_warm_s"]:
            row["tfelg_warm_s"], row["tfelg_warm_parts"] = t_warm, res2.seconds
        parts = ", ".join(f"{k} {v:.1f}" for k, v in res2.seconds.items())
        print(
            f"tfelg select_k (warm): {t_warm:.1f} s ({parts}; load {load_average():.1f})",
            flush=True,
        )
    t_warm = row["tfelg_warm_s"]
    if not _SKIP_SKLEARN.value:
        row["ratio_warm"] = row["sklearn_s"] / t_warm
        row["ratio_cold"] = row["sklearn_s"] / t_cold
        print(
            f"speed-up (best of {_REPEATS.value}): {row['ratio_warm']:.1f}x (warm), "
            f"{row['ratio_cold']:.1f}x (cold)" + (" [sklearn extrapolated]" if not full else ""),
            flush=True,
        )

    # EM only, from the same start, and the agreement with scikit-learn.
    inits = gmm.inits_from_label_matrix(x, res.gap.labels, ks)
    fits, t_em = run_tfelg_em(x, ks, inits)
    iters = [f.n_iter for f in fits]
    flops = em_flops(n, d, ks, iters)
    row["tfelg_em_s"] = t_em
    row["tfelg_em_gflops"] = flops / t_em / 1e9
    print(
        f"tfelg EM only (K = 1..{k_max}, same start): {t_em:.1f} s, "
        f"{row['tfelg_em_gflops']:.1f} GFLOP/s effective "
        f"({100 * row['tfelg_em_gflops'] / ceiling:.0f}% of the {ceiling:.0f} GFLOP/s matmul "
        "measured before this size)",
        flush=True,
    )
    if not _SKIP_SKLEARN.value:
        if full:
            check_ks = [int(k) for k in ks]
        else:
            check_ks = sorted(
                {int(k) for k in _AGREEMENT_KS_LARGE.value if int(k) <= k_max}
                | {res.chosen_k["bic"]}
            )
        idx = [int(np.flatnonzero(ks == k)[0]) for k in check_ks]
        same, t_sk_em = sklearn_same_start(x, check_ks, [inits[i] for i in idx])
        agreement = []
        for i, s in zip(idx, same, strict=True):
            f = fits[i]
            agreement.append(
                {
                    "k": s["k"],
                    "ll_rel": abs(f.log_likelihood - s["log_likelihood"])
                    / abs(s["log_likelihood"]),
                    "bic_rel": abs(f.bic - s["bic"]) / abs(s["bic"]),
                    "n_iter": [f.n_iter, s["n_iter"]],
                }
            )
        row["agreement"] = agreement
        row["max_ll_rel"] = max(a["ll_rel"] for a in agreement)
        row["max_bic_rel"] = max(a["bic_rel"] for a in agreement)
        sk_iters = [s["n_iter"] for s in same]
        sk_flops = em_flops(n, d, check_ks, sk_iters)
        row["sklearn_em_s"] = t_sk_em
        row["sklearn_em_gflops"] = sk_flops / t_sk_em / 1e9
        if full:
            row["chosen_bic_same_start"] = {
                "tfelg": int(ks[np.argmin([f.bic for f in fits])]),
                "sklearn": int(ks[np.argmin([s["bic"] for s in same])]),
            }
        print(
            f"scikit-learn EM only (same start, K = {check_ks[0]}..{check_ks[-1]}"
            f"{'' if full else ' subset of K'}): {t_sk_em:.1f} s, "
            f"{row['sklearn_em_gflops']:.1f} GFLOP/s effective",
            flush=True,
        )
        if full:
            print(f"EM-only speed-up: {t_sk_em / t_em:.1f}x", flush=True)
        print(
            f"agreement: max |dLL|/|LL| = {row['max_ll_rel']:.2e}, max |dBIC|/|BIC| = "
            f"{row['max_bic_rel']:.2e} over K = {check_ks}; chosen K (BIC, same start): "
            f"{row.get('chosen_bic_same_start', '-')}",
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
    for size in _SIZES.value:
        n, d = (int(v) for v in size.lower().split("x"))
        rows.append(one_size(n, d))
    summary = {"rows": rows}
    print(
        "\n| N x D | tfelg warm s | tfelg cold s | sklearn s | speed-up (warm) | "
        "EM GFLOP/s tfelg / sklearn | max dLL rel | max dBIC rel | K bic/gap/sil tfelg | "
        "K bic/gap/sil sklearn |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        sk = r.get("sklearn")
        ch = r["tfelg_chosen"]
        print(
            f"| {r['n']:,} x {r['d']} | {r['tfelg_warm_s']:.1f} | {r['tfelg_cold_s']:.1f} | "
            + (
                f"{r['sklearn_s']:.1f}{' (extrap.)' if sk['extrapolated'] else ''} | "
                f"{r['ratio_warm']:.1f}x | {r['tfelg_em_gflops']:.1f} / "
                f"{r['sklearn_em_gflops']:.1f} | {r['max_ll_rel']:.1e} | {r['max_bic_rel']:.1e} | "
                f"{ch['bic']}/{ch['gap']}/{ch['silhouette']} | "
                f"{sk['chosen_bic']}/{sk['chosen_gap']}/{sk['chosen_silhouette']} |"
                if sk
                else f"- | - | {r['tfelg_em_gflops']:.1f} / - | - | - | "
                f"{ch['bic']}/{ch['gap']}/{ch['silhouette']} | - |"
            )
        )
    if _JSON.value:
        with open(_JSON.value, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1, default=float)


if __name__ == "__main__":
    app.run(main)
