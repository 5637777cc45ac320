r"""How each component of a pipeline (emission_lines, hst_images) grows with the number of galaxies.

    python benchmarks/pipeline_scale.py                        # 10^3 and 10^4 galaxies
    python benchmarks/pipeline_scale.py --sizes=1000,10000,100000 --json=scale.json
    python benchmarks/pipeline_scale.py --param=epochs=50 --param=k_max=10
    python benchmarks/pipeline_scale.py --pipeline=hst_images --sizes=1000,10000
    python benchmarks/pipeline_scale.py --sizes=1000000 --json=n1e6.json   # one size alone
    python benchmarks/pipeline_scale.py --from_json=n1e5.json,n1e6.json     # one table of both
    python benchmarks/pipeline_scale.py --sizes=100000,1000000 --param=seeds=3 # three runs each

Runs the pipeline once per size into a fresh run root (a temporary folder
unless --root is given) and, for every component, measures

* wall-clock seconds and CPU seconds (all threads of the process: on a machine
  shared with other jobs, CPU seconds are the steadier figure);
* peak resident memory while the component ran: the process's high-water
  mark is reset before each component (Linux: ``/proc/self/clear_refs``) and
  read after it, so "peak MB" includes what earlier components left resident
  (TensorFlow, caches) and "+MB" is the rise above the RSS at the start.

The benchmark holds none of the data itself (only the measurements): every
component streams or subsamples what grows with N (issue 15), so 10^6
galaxies run in bounded memory. Sizes can be run one process each (a
million takes most of an hour) and their JSON files tabled together with
--from_json.

The components run in one process, in dependency order, through
tfelg_components.runner.execute, exactly as run_pipeline runs them; the
first component pays TensorFlow's start-up (reported separately as
"tensorflow import"). The last columns give the growth exponent between the
two largest sizes: seconds ~ N^a.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time

import peak_memory
from absl import app, flags

_SIZES = flags.DEFINE_list("sizes", ["1000", "10000"], "Numbers of galaxies.")
_PARAM = flags.DEFINE_multi_string(
    "param", [], "KEY=VALUE: a pipeline parameter for every size (see --describe)."
)
_ROOT = flags.DEFINE_string("root", None, "Keep the run roots here (default: a temporary folder).")
_JSON = flags.DEFINE_string("json", None, "Also write the measurements here.")
_PIPELINE = flags.DEFINE_enum(
    "pipeline", "emission_lines", ["emission_lines", "hst_images"], "The pipeline measured."
)
_FROM_JSON = flags.DEFINE_list(
    "from_json", [], "Run nothing: table the measurements of these --json files together."
)

# Defaults of the benchmark: the pipeline's own, but fewer epochs (training
# time is linear in epochs; 10 show the per-epoch cost without dominating).
DEFAULTS = {"epochs": 10}
# hst_images: one GAN and one SimCLR epoch (the pipeline's own are 3 and 3; an epoch's cost is
# linear in N and in epochs, and at 10^4 galaxies on two CPU cores each epoch is many minutes).
PIPELINE_DEFAULTS = {
    "emission_lines": DEFAULTS,
    "hst_images": {"gan_epochs": 1, "feature_epochs": 1},
}
#: The schemes each pipeline's clusters are scored against (the quality table's columns).
SCHEMES = {
    "emission_lines": ("whan", "bpt", "true_class"),
    "hst_images": ("true_type", "uvj", "gini_m20"),
}


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes.

    hst_images renders and measures galaxies in a process pool
    (tfelg.process_pool); its workers' CPU time counts once the pool has
    closed, which it does inside the component. (Their memory is not in "peak
    MB", which is this process's.)
    """
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_size(
    pipeline, n: int, root: str, overrides: dict, on_row=None, quality=None, ensembles=None
) -> list[dict]:
    from tfelg_components import runner
    from tfelg_components.base import OutputRef

    quality = {} if quality is None else quality
    ensembles = {} if ensembles is None else ensembles
    defaults = PIPELINE_DEFAULTS[pipeline.name]
    params = pipeline.resolve_params({**defaults, **overrides, "num_galaxies": n})
    done, rows = {}, []
    for node in pipeline.nodes(params):
        inputs = {
            name: done[ref.node.id].outputs[ref.name] if isinstance(ref, OutputRef) else ref
            for name, ref in node.inputs.items()
        }
        peak_memory.reset_peak()
        rss_start = peak_memory.memory_kib("VmRSS")
        wall, cpu = time.perf_counter(), _cpu_seconds()
        execution = runner.execute(node.component, root, inputs, node.params, node=node.id)
        wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
        peak = peak_memory.memory_kib("VmHWM")
        done[node.id] = execution
        if node.id == "reporter":  # the summary quality: chosen K, agreement with the schemes
            quality[n] = execution.outputs["report"].properties.get("results")
        if node.id == "seed_ensemble":  # seeds=N: the same figures over N runs
            ensembles[n] = execution.outputs["table"].properties.get("rows")
        rows.append(
            {
                "n": n,
                "node": node.id,
                "cached": execution.cached,
                "seconds": wall,
                "cpu_seconds": cpu,
                "peak_mb": peak / 1024,
                "rise_mb": (peak - rss_start) / 1024,
                "load_after": os.getloadavg()[0],
            }
        )
        if on_row is not None:  # e.g. save what finished so far (a long run may be stopped)
            on_row(rows)
        print(
            f"  N={n:>7d} {node.id:<20s} {wall:8.1f} s  cpu {cpu:8.1f} s  "
            f"peak {peak / 1024:7.0f} MB (+{(peak - rss_start) / 1024:.0f})  "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return rows


def table(rows: list[dict], sizes: list[int]) -> str:
    nodes = list(dict.fromkeys(r["node"] for r in rows))
    by = {(r["node"], r["n"]): r for r in rows}
    header = ["component"]
    for n in sizes:
        header += [f"N={n:,} s", "cpu s", "peak MB", "+MB"]
    if len(sizes) >= 2:
        header.append(f"a (s ~ N^a, {sizes[-2]:,}->{sizes[-1]:,})")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for node in [*nodes, "total"]:
        cells = [node]
        for n in sizes:
            if node == "total":
                rs = [r for r in rows if r["n"] == n]
                seconds = sum(r["seconds"] for r in rs)
                cells += [
                    f"{seconds:.1f}",
                    f"{sum(r['cpu_seconds'] for r in rs):.1f}",
                    f"{max(r['peak_mb'] for r in rs):.0f}",
                    "",
                ]
                continue
            r = by.get((node, n))
            cells += (
                ["–"] * 4
                if r is None
                else [
                    f"{r['seconds']:.1f}",
                    f"{r['cpu_seconds']:.1f}",
                    f"{r['peak_mb']:.0f}",
                    f"{r['rise_mb']:.0f}",
                ]
            )
        if len(sizes) >= 2:
            a = by.get((node, sizes[-2])), by.get((node, sizes[-1]))
            if node == "total":
                t = [sum(r["seconds"] for r in rows if r["n"] == n) for n in sizes[-2:]]
            else:
                t = [r["seconds"] if r else None for r in a]
            ok = all(v and v > 0 for v in t)
            exponent = math.log(t[1] / t[0]) / math.log(sizes[-1] / sizes[-2]) if ok else None
            cells.append("–" if exponent is None else f"{exponent:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quality_text(quality: dict, schemes=SCHEMES["emission_lines"]) -> str:
    """Chosen K (BIC) and ARI against each scheme (test split, ± bootstrap std) per size."""
    lines = [
        "",
        "| N | representation | K (BIC) | " + " | ".join(f"ARI vs {s}" for s in schemes) + " |",
    ]
    lines.append("|---" * (3 + len(schemes)) + "|")
    for n in sorted(quality):
        for row in quality[n] or []:
            cells = [f"{n:,}", row["representation"], str(row.get("k_bic"))]
            for scheme in schemes:
                value, error = row.get(f"{scheme}_ari"), row.get(f"{scheme}_ari_err")
                cells.append(
                    "–" if value is None else f"{value:.3f}" + (f" ± {error:.3f}" if error else "")
                )
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ensemble_text(ensembles: dict, schemes=SCHEMES["emission_lines"]) -> str:
    """With --param=seeds=N: chosen K per run and ARI mean ± std over runs [bootstrap] per size."""
    from tfelg.analysis.ensembles import format_cell

    if not ensembles:
        return ""
    lines = [
        "",
        "| N | representation | seeds | K (BIC) per seed | "
        + " | ".join(f"ARI vs {s}: mean ± seed std [bootstrap]" for s in schemes)
        + " |",
        "|---" * (4 + len(schemes)) + "|",
    ]
    for n in sorted(ensembles):
        for row in ensembles[n] or []:
            cells = [
                f"{n:,}",
                row["representation"],
                str(len(row["seeds"])),
                ", ".join(map(str, row["k_bic"])),
                *(format_cell(row[f"{s}_ari"]) if f"{s}_ari" in row else "–" for s in schemes),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def agreement_text(ensembles: dict, schemes=SCHEMES["emission_lines"]) -> str:
    """Issue 15's quality check over runs: the two largest sizes' mean ARIs, within their error?

    The error of each mean is that of tfelg.analysis.ensembles (the spread over
    runs / sqrt(runs), with the bootstrap error over test galaxies); a
    difference is called significant beyond 2 sigma of the two combined.
    """
    from tfelg.analysis.ensembles import compare

    sizes = sorted(ensembles)
    if len(sizes) < 2:
        return ""
    small, large = ({r["representation"]: r for r in ensembles[n] or []} for n in sizes[-2:])
    lines = [
        "",
        f"| representation | scheme | ARI N={sizes[-2]:,} | ARI N={sizes[-1]:,} | difference "
        "| sigma | within 2 sigma |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in small:
        for scheme in schemes:
            key = f"{scheme}_ari"
            if name not in large or key not in small[name] or key not in large[name]:
                continue
            a, b = small[name][key], large[name][key]
            c = compare(b, a)
            within = {None: "?", True: "no", False: "yes"}[c["significant"]]
            lines.append(
                f"| {name} | {scheme} | {a['mean']:.3f} ± {a['error']:.3f} | "
                f"{b['mean']:.3f} ± {b['error']:.3f} | {c['difference']:+.3f} | "
                f"{c['sigma']:.3f} | {within} |"
            )
    return "\n".join(lines)


def _loads_text(loads: dict) -> str:
    return ", ".join(f"N={n:,}: {v:.1f}" for n, v in sorted(loads.items()))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    if _FROM_JSON.value:
        rows, loads, saved_all = [], {}, []
        for path in _FROM_JSON.value:
            with open(path, encoding="utf-8") as f:
                saved = json.load(f)
            saved_all.append(saved)
            rows += saved["rows"]
            loads.update({int(n): v for n, v in saved.get("load_after", {}).items()})
        sizes = sorted({r["n"] for r in rows})
        print(table(rows, sizes))
        if loads:
            print("\nload average after each size: " + _loads_text(loads))
        print(
            quality_text(
                {int(n): q for f in saved_all for n, q in f.get("quality", {}).items()},
                SCHEMES[_PIPELINE.value],
            )
        )
        ensembles = {int(n): e for f in saved_all for n, e in f.get("ensembles", {}).items()}
        print(ensemble_text(ensembles, SCHEMES[_PIPELINE.value]))
        print(agreement_text(ensembles, SCHEMES[_PIPELINE.value]))
        return 0
    sizes = sorted(int(s) for s in _SIZES.value)
    start = time.perf_counter()
    import tensorflow as tf  # noqa: F401  (timed apart from the first component)

    import_seconds = time.perf_counter() - start
    from tfelg_pipelines import registry

    pipeline = registry.get_pipeline(_PIPELINE.value)
    overrides = pipeline.parse_params(_PARAM.value)
    if "num_galaxies" in overrides:
        raise app.UsageError("give sizes with --sizes, not --param=num_galaxies")
    print(
        f"tensorflow import {import_seconds:.1f} s; {os.cpu_count()} CPUs; "
        f"load average before: {os.getloadavg()[0]:.1f}; parameters: "
        + json.dumps({"pipeline": pipeline.name, **PIPELINE_DEFAULTS[pipeline.name], **overrides}),
        flush=True,
    )
    rows, loads, quality, ensembles = [], {}, {}, {}

    def save(size_rows=()):
        if _JSON.value:
            with open(_JSON.value, "w", encoding="utf-8") as f:
                json.dump(
                    {
                        "import_seconds": import_seconds,
                        "params": overrides,
                        "rows": rows + list(size_rows),
                        "load_after": loads,
                        "quality": quality,
                        "ensembles": ensembles,
                    },
                    f,
                    indent=2,
                )

    with tempfile.TemporaryDirectory() as scratch:
        for n in sizes:
            root = os.path.join(_ROOT.value or scratch, f"n{n}")
            rows += run_size(
                pipeline, n, root, overrides, on_row=save, quality=quality, ensembles=ensembles
            )
            loads[n] = os.getloadavg()[0]
            print(f"  N={n:,}: load average {loads[n]:.1f}", flush=True)
    print()
    print(table(rows, sizes))
    print("\nload average after each size: " + _loads_text(loads))
    print(quality_text(quality, SCHEMES[pipeline.name]))
    print(ensemble_text(ensembles, SCHEMES[pipeline.name]))
    print(agreement_text(ensembles, SCHEMES[pipeline.name]))
    save()
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
