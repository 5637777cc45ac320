"""The test server of benchmarks/mutation.py: TensorFlow imported once, one fork per mutant.

Importing TensorFlow takes 10-40 s on the 2-core machine, the tests of one
mutant 1-5 s. The server imports the heavy third-party libraries once
(``PRELOAD``, never tfelg) and forks one child per request that runs pytest
in-process on the snapshot; cosmic-ray's test command is the stdlib-only
client here (``_client``), which asks the server and exits with the tests'
status. Standard library only at import (the client runs with ``python -S``).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import time

from mutation_targets import BROKEN_RUN_CODES, PRELOAD


class _Coverage:
    """Which tests execute which lines of one module (the pytest plugin).

    A mutant changes one line; a test that never executes that line runs
    exactly as before, so only the tests that do are run for it (as mutmut
    does). Lines run only at import (``def`` lines: default values) are
    executed by no test, and a mutant there runs every test.
    """

    def __init__(self, path: str):
        self.path = os.path.realpath(path)
        self.is_target: dict[str, bool] = {}  # co_filename -> is it the module
        self.current: str | None = None
        self.lines: dict[int, set[str]] = {}

    def _local(self, frame, event, arg):
        if event == "line" and self.current is not None:
            self.lines.setdefault(frame.f_lineno, set()).add(self.current)
        return self._local

    def _global(self, frame, event, arg):
        name = frame.f_code.co_filename
        hit = self.is_target.get(name)
        if hit is None:  # imported through a symlink (PACKAGE_ALIASES) or not
            hit = self.is_target[name] = os.path.realpath(name) == self.path
        return self._local if hit else None

    def start(self):
        import threading

        threading.settrace(self._global)
        sys.settrace(self._global)

    def pytest_runtest_protocol(self, item, nextitem):  # a pytest hook
        self.current = item.nodeid

    def pytest_runtest_logfinish(self, nodeid, location):  # a pytest hook
        self.current = None


def _serve(args) -> None:
    """Imports PRELOAD, then runs pytest for each request in a forked child."""
    sys.dont_write_bytecode = True  # a mutant must never meet a stale .pyc
    for name in PRELOAD:
        __import__(name)
    if any(m == "tfelg" or m.startswith(("tfelg.", "components.")) for m in sys.modules):
        raise SystemExit("the server imported tfelg: children would test the wrong code")
    # pytest runs gc.collect() five times when it ends; over TensorFlow's
    # heap that took 5.5 of a child's 8.5 s. Frozen objects are not scanned
    # (and the children's copy-on-write pages stay shared).
    gc.freeze()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(args.socket)
    server.listen(1)
    with open(args.socket + ".ready", "w"):
        pass
    baselines: dict[str, dict] = {}  # module file -> pristine lines, coverage
    while True:
        conn, _ = server.accept()
        with conn:
            request = json.loads(conn.makefile("r").readline())
            if request.get("stop"):
                return
            reply = _handle(args.root, request, baselines)
            conn.sendall((json.dumps(reply) + "\n").encode())


def _changed_original_lines(before: list[str], after: list[str]) -> set[int]:
    import difflib

    changed = set()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, before, after).get_opcodes():
        if tag != "equal":
            changed.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return changed


def _handle(root: str, request: dict, baselines: dict) -> dict:
    path = os.path.join(root, request["module_file"])
    with open(path, encoding="utf-8") as f:
        source = f.read().splitlines()
    args = list(request["pytest_args"])
    if request.get("baseline"):
        coverage_file = request["log"] + ".coverage.json"
        reply = _run_child(root, request, args, coverage=(path, coverage_file))
        if reply["rc"] == 0:
            with open(coverage_file, encoding="utf-8") as f:
                lines = {int(k): v for k, v in json.load(f).items()}
            baselines[request["module_file"]] = {"source": source, "lines": lines}
            reply["covered_lines"] = len(lines)
        return reply
    baseline = baselines[request["module_file"]]
    changed = _changed_original_lines(baseline["source"], source)
    tests: set[str] = set()
    for line in changed:
        if line not in baseline["lines"]:
            tests = set()  # run at import, or never: every test
            break
        tests.update(baseline["lines"][line])
    if tests:
        args = [a for a in args if a.startswith("-")] + sorted(tests)
    reply = _run_child(root, request, args)
    if tests and reply["rc"] in (4, 5):
        # A module that no longer imports (a SyntaxError) leaves the chosen
        # test ids without collectors (pytest's usage error, 4): run the
        # files, where the same failure is a collection error (2), a kill.
        args = list(request["pytest_args"])
        tests = set()
        reply = _run_child(root, request, args)
    reply["tests"] = len(tests) or "all"
    reply["changed_lines"] = sorted(changed)
    reply["changed"] = [source[i - 1].strip() for i in sorted(changed) if i <= len(source)]
    if reply["rc"] in BROKEN_RUN_CODES:
        with open(request["log"], encoding="utf-8", errors="replace") as f:
            reply["log_tail"] = f.read()[-1500:]
    return reply


def _run_child(root: str, request: dict, pytest_args, coverage=None) -> dict:
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        rc = 98
        try:
            fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(root)
            sys.path[:0] = [root, os.path.join(root, ".mutation", "aliases")]
            # The project's tests need no plugin found by entry points.
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            import pytest

            plugins = []
            if coverage:
                tracer = _Coverage(coverage[0])
                tracer.start()
                plugins.append(tracer)
            rc = int(pytest.main(pytest_args, plugins=plugins))
            sys.settrace(None)
            if coverage and rc == 0:
                with open(coverage[1], "w", encoding="utf-8") as f:
                    json.dump({k: sorted(v) for k, v in tracer.lines.items()}, f)
            module = sys.modules.get(request["module"])
            where = os.path.realpath(getattr(module, "__file__", "") or "")
            if rc == 0 and not where.startswith(os.path.realpath(root) + os.sep):
                print(f"tested {request['module']} from {where!r}, not from the snapshot")
                rc = 97
        except BaseException as exc:  # noqa: BLE001 - any failure is a failed run
            print(f"child failed: {exc!r}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    deadline = start + request["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            return {"rc": rc, "seconds": time.monotonic() - start, "timeout": False}
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"rc": -9, "seconds": time.monotonic() - start, "timeout": True}
        time.sleep(0.02)


def _ask(sock: str, request: dict) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(sock)
        conn.sendall((json.dumps(request) + "\n").encode())
        reply = conn.makefile("r").readline()
    return json.loads(reply) if reply else {}


def _client(args) -> int:
    """cosmic-ray's test command: 0 if the tests pass, 1 if they fail."""
    reply = _ask(
        args.socket,
        {
            "pytest_args": args.pytest_args,
            "module": args.module,
            "module_file": args.module_file,
            "timeout": args.timeout,
            "log": args.log,
        },
    )
    with open(args.log + ".runs", "a", encoding="utf-8") as f:
        f.write(json.dumps(reply) + "\n")
    return 0 if reply.get("rc") == 0 else 1
