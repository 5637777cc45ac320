"""Peak resident memory of a piece of work, and that work run in a fresh process (Linux).

Shared by the benchmarks that compare two ways of doing the same job
(``catalogue_write.py``, ``exporter_stream.py``, ``trainer_stream.py``) and by
``pipeline_scale.py``. The process's high-water mark is reset
(``/proc/self/clear_refs``) before the work, so the rise of ``VmHWM`` over
the ``VmRSS`` at the start is what the work itself needed on top of what was
already resident (the libraries, imported first).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time


def memory_kib(field: str) -> int:
    """``VmHWM`` (peak since the last reset), ``VmRSS`` (now), ... in KiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1))


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


class Measured:
    """``with Measured() as m: work()``; then ``m.seconds`` and ``m.rise_mb``."""

    def __enter__(self) -> Measured:
        reset_peak()
        self._start_kib = memory_kib("VmRSS")
        self._began = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._began
        self.rise_mb = (memory_kib("VmHWM") - self._start_kib) / 1024

    def print_json(self) -> None:
        """The line :func:`run_fresh` reads back: the last of standard output."""
        print(json.dumps({"seconds": self.seconds, "rise_mb": self.rise_mb}), flush=True)


def run_fresh(script: str, what: str, **flags) -> dict:
    """Runs ``python script --flag=value ...`` and returns its last stdout line's JSON.

    ``what`` names the work in the error that a failed run raises (with the
    end of its standard error).
    """
    command = [sys.executable, os.path.abspath(script)]
    command += [f"--{name}={value}" for name, value in flags.items()]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
