r"""How each component of the emission_lines pipeline grows with the number of galaxies.

    python benchmarks/pipeline_scale.py                        # 10^3 and 10^4 galaxies
    python benchmarks/pipeline_scale.py --sizes=1000,10000,100000 --json=scale.json
    python benchmarks/pipeline_scale.py --param=epochs=50 --param=k_max=10

Runs the pipeline once per size into a fresh run root (a temporary folder
unless --root is given) and, for every component, measures

* wall-clock seconds and CPU seconds (all threads of the process: on a machine
  shared with other jobs, CPU seconds are the steadier figure);
* peak resident memory while the component ran: the process's high-water
  mark is reset before each component (Linux: ``/proc/self/clear_refs``) and
  read after it, so "peak MB" includes what earlier components left resident
  (TensorFlow, caches) and "+MB" is the rise above the RSS at the start.

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
import re
import sys
import tempfile
import time

from absl import app, flags

_SIZES = flags.DEFINE_list("sizes", ["1000", "10000"], "Numbers of galaxies.")
_PARAM = flags.DEFINE_multi_string(
    "param", [], "KEY=VALUE: a pipeline parameter for every size (see --describe)."
)
_ROOT = flags.DEFINE_string("root", None, "Keep the run roots here (default: a temporary folder).")
_JSON = flags.DEFINE_string("json", None, "Also write the measurements here.")

# Defaults of the benchmark: the pipeline's own, but fewer epochs (training
# time is linear in epochs; 10 show the per-epoch cost without dominating).
DEFAULTS = {"epochs": 10}


def _memory_kib() -> tuple[int, int]:
    """(peak RSS since the last reset, current RSS) in KiB, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as f:
        status = f.read()
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return peak, rss


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def run_size(pipeline, n: int, root: str, overrides: dict) -> list[dict]:
    from tfelg_components import runner
    from tfelg_components.base import OutputRef

    params = pipeline.resolve_params({**DEFAULTS, **overrides, "num_galaxies": n})
    done, rows = {}, []
    for node in pipeline.nodes(params):
        inputs = {
            name: done[ref.node.id].outputs[ref.name] if isinstance(ref, OutputRef) else ref
            for name, ref in node.inputs.items()
        }
        _reset_peak()
        _, rss_start = _memory_kib()
        wall, cpu = time.perf_counter(), time.process_time()
        execution = runner.execute(node.component, root, inputs, node.params, node=node.id)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak, _ = _memory_kib()
        done[node.id] = execution
        rows.append(
            {
                "n": n,
                "node": node.id,
                "cached": execution.cached,
                "seconds": wall,
                "cpu_seconds": cpu,
                "peak_mb": peak / 1024,
                "rise_mb": (peak - rss_start) / 1024,
            }
        )
        print(
            f"  N={n:>7d} {node.id:<20s} {wall:8.1f} s  cpu {cpu:8.1f} s  "
            f"peak {peak / 1024:7.0f} MB (+{(peak - rss_start) / 1024:.0f})",
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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    sizes = sorted(int(s) for s in _SIZES.value)
    start = time.perf_counter()
    import tensorflow as tf  # noqa: F401  (timed apart from the first component)

    import_seconds = time.perf_counter() - start
    from tfelg_pipelines import registry

    pipeline = registry.get_pipeline("emission_lines")
    overrides = pipeline.parse_params(_PARAM.value)
    if "num_galaxies" in overrides:
        raise app.UsageError("give sizes with --sizes, not --param=num_galaxies")
    print(
        f"tensorflow import {import_seconds:.1f} s; {os.cpu_count()} CPUs; "
        f"load average before: {os.getloadavg()[0]:.1f}; parameters: "
        + json.dumps({**DEFAULTS, **overrides}),
        flush=True,
    )
    rows, loads = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for n in sizes:
            root = os.path.join(_ROOT.value or scratch, f"n{n}")
            rows += run_size(pipeline, n, root, overrides)
            loads[n] = os.getloadavg()[0]
    print()
    print(table(rows, sizes))
    print(
        "\nload average after each size: "
        + ", ".join(f"N={n:,}: {v:.1f}" for n, v in loads.items())
    )
    if _JSON.value:
        with open(_JSON.value, "w", encoding="utf-8") as f:
            json.dump(
                {"import_seconds": import_seconds, "params": overrides, "rows": rows}, f, indent=2
            )
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
