r"""The analysis benchmarks in one run: t-SNE and the model-selection sweep.

Runs, one after the other on the same machine, the two comparisons the
latent-space analysis is held to (each is also a script of its own):

* ``benchmarks/tsne.py``: openTSNE as tfelg configures it against
  scikit-learn's Barnes-Hut ``TSNE`` (seconds, KL divergence; the goal is
  at least 4x faster at 100,000 points with the KL within 5%);
* ``benchmarks/model_selection.py``: tfelg's sweep (K = 1..15 full-covariance
  mixtures, the gap statistic with B = 10, the silhouette) against the same
  sweep with scikit-learn (seconds, ratio, BIC agreement, chosen K; the goal
  is at least 5x faster).

Each part runs in its own process (their flags would collide in one), with
its output shown as it comes; the summary at the end repeats each part's
result table and the machine's load before and after. Results as JSON go
to ``--out_dir``.

  python benchmarks/analysis.py                  # everything (~1 hour on 2 cores)
  python benchmarks/analysis.py --tsne_sizes=20000 --selection_sizes=100000x8   # ~5 min
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from absl import app, flags

from tfelg import atomic

_TSNE_SIZES = flags.DEFINE_list("tsne_sizes", ["20000", "100000"], "t-SNE point counts.")
_SELECTION_SIZES = flags.DEFINE_list(
    "selection_sizes",
    ["100000x8", "100000x16", "1000000x8", "1000000x16"],
    "Model-selection N x D sizes.",
)
_OUT_DIR = flags.DEFINE_string("out_dir", "runs/benchmarks", "Where the JSON results go.")

HERE = os.path.dirname(os.path.abspath(__file__))


def run_part(name: str, script: str, args: list[str]) -> tuple[int, list[str], float]:
    """Runs one benchmark script, echoing its output; returns (rc, table lines, seconds)."""
    command = [sys.executable, os.path.join(HERE, script), *args]
    print(f"\n##### {name}: {' '.join(command)}", flush=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    start = time.perf_counter()
    lines = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
    seconds = time.perf_counter() - start
    keep = [
        line
        for line in lines
        if line.startswith("|") or "faster" in line or line.startswith("speed-up")
    ]
    return proc.returncode, keep, seconds


def main(argv):
    del argv
    os.makedirs(_OUT_DIR.value, exist_ok=True)
    tsne_json = os.path.join(_OUT_DIR.value, "tsne.json")
    selection_json = os.path.join(_OUT_DIR.value, "model_selection.json")
    load_before = os.getloadavg()[0]
    parts = [
        (
            "t-SNE",
            "tsne.py",
            [f"--sizes={','.join(_TSNE_SIZES.value)}", f"--json={tsne_json}"],
        ),
        (
            "model selection",
            "model_selection.py",
            [f"--sizes={','.join(_SELECTION_SIZES.value)}", f"--json={selection_json}"],
        ),
    ]
    results, failed = {}, []
    for name, script, args in parts:
        rc, table, seconds = run_part(name, script, args)
        results[name] = {"rc": rc, "seconds": seconds, "summary": table}
        if rc != 0:
            failed.append(name)
    print(
        f"\n##### summary (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )
    for name, result in results.items():
        print(f"\n{name} ({result['seconds'] / 60:.1f} min, exit status {result['rc']}):")
        for line in result["summary"]:
            print(line)
    atomic.write_json(os.path.join(_OUT_DIR.value, "analysis.json"), results)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
