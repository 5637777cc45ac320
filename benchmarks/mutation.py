r"""Mutation testing: would the tests notice a small, realistic bug?

Run outside ``make test`` (minutes, not seconds):

  .venv/bin/python benchmarks/mutation.py                  # every target
  .venv/bin/python benchmarks/mutation.py --targets=schemes,catalogue
  .venv/bin/python benchmarks/mutation.py --source=worktree  # uncommitted code

Each target is one module, the functions in it that are mutated and the
tests that should catch a bug there (``TARGETS``). A mutant is one small
change at one place (``<`` for ``<=``, ``&`` for ``|``, a constant off by
one, a ``~`` or a minus sign dropped, a condition negated, ...); it is
*killed* when the tests fail and *survives* when they pass. The score is
killed / (mutants - equivalent), where an equivalent mutant is one no test
can kill because the program means the same (listed in ``EQUIVALENT``, each
with its reason). The goal is every non-equivalent mutant killed.

How it works, and why:

* The mutants come from cosmic-ray (PyPI, ``COSMIC_RAY``), which rewrites one
  operator at a time and keeps the rest of the file as it is. It is not a
  dependency of tfelg: it lives in its own virtual environment
  (``--tool_venv``, made on the first run with ``pip install``), because it
  only parses and rewrites source; the tests run with this interpreter.
* Mutants are written into a snapshot of the repository in a temporary
  folder (``git archive`` of HEAD, or the tracked files of the working tree),
  never into the checkout, where other people's tests would import them.
* Operators are limited to ``OPERATORS`` (realistic slips; cosmic-ray's full
  set is ~30 variants per operator, mostly bit shifts and ``is`` tests), and
  mutations outside the named functions are skipped.
* Importing TensorFlow takes 10-40 s on the 2-core machine, the tests of one
  mutant 1-5 s. A small server started by this script imports the heavy
  third-party libraries once (never tfelg) and forks one child per mutant
  that runs pytest in-process on the snapshot, so each mutant pays only
  for its tests. cosmic-ray's test command is a stdlib-only client that asks
  the server and exits with the tests' status. A child past ``--timeout``
  is killed and the mutant counts as killed (cosmic-ray's convention).
* Each mutant runs only the tests that executed its line in the unmutated
  run (recorded once with a line tracer): a test that never reaches the line
  runs exactly as before. Lines run only at import (``def`` lines, with
  their default values) run every test. A cache (a ``tf.function`` traced
  by an earlier test) can hide a test's use of a line; such a mutant can
  only survive wrongly, never be killed wrongly, and survivors are read.
* Before any mutant, each target's tests run unmutated through the same
  server and must pass, and the child checks that the module it tested is
  the snapshot's copy; a run that is a pytest usage error or collects no
  test stops the script, so a mutant cannot count as killed by a broken
  setup.

The report (``--report``, default ``benchmarks/logs/<date>_mutation.txt``)
has the counts per target and the diff of every surviving mutant.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import gc
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

COSMIC_RAY = "cosmic-ray==8.7.0"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Target:
    """One module, the functions mutated in it (None: all) and its tests."""

    module: str
    functions: tuple[str, ...] | None
    tests: tuple[str, ...]
    exclude: tuple[str, ...] = ()  # with functions=None: left out (presentation)


TARGETS: dict[str, Target] = {
    # The WHAN/BPT/UVJ schemes (the image schemes in the same file have
    # their own tests, tests/schemes_images_test.py, and are not targets).
    "schemes": Target(
        "tfelg/schemes.py",
        (
            "kauffmann03",
            "kewley01_nii",
            "kewley01_sii",
            "kewley01_oi",
            "kewley06_sii",
            "kewley06_oi",
            "_as_float",
            "_measured",
            "_significant",
            "log_ratio",
            "whan_class",
            "_agn_subclass_votes",
            "bpt_class",
            "bpt_coarse",
            "uvj_intercept",
            "uvj_class",
            "classify_table",
            "class_counts",
        ),
        ("tests/schemes_test.py",),
    ),
    "matching": Target(
        "tfelg/analysis/matching.py",
        None,
        ("tests/analysis/matching_test.py", "tests/analysis/matching_edge_test.py"),
        exclude=("MatchResult.table_markdown", "MatchResult._name_map", "MatchResult.to_dict"),
    ),
    "catalogue": Target("tfelg/outputs/catalogue.py", None, ("tests/outputs/catalogue_test.py",)),
    "runner": Target(
        "components/runner.py",
        ("fingerprint", "cache_key", "read_artifact", "execute", "_complete_execution"),
        ("tests/components/runner_test.py",),
    ),
    "gmm_bic": Target(
        "tfelg/analysis/mixture.py",
        ("GMMResult.n_parameters", "GMMResult.bic", "GMMResult.aic", "n_parameters"),
        ("tests/analysis/gmm_test.py", "tests/analysis/mixture_count_test.py"),
    ),
}

# cosmic-ray operators kept (full names match these regular expressions).
OPERATORS = (
    r"core/NumberReplacer",
    r"core/ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Lt_Gt|Gt_Lt|LtE_GtE|GtE_LtE)",
    r"core/ReplaceComparisonOperator_(Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is|In_NotIn|NotIn_In)",
    r"core/ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|BitAnd_BitOr|BitOr_BitAnd)",
    r"core/ReplaceBinaryOperator_(Pow_Mul|FloorDiv_Div)",
    r"core/ReplaceUnaryOperator_Delete_(USub|Invert|Not)",
    r"core/(AddNot|ReplaceTrueWithFalse|ReplaceFalseWithTrue|ReplaceAndWithOr|ReplaceOrWithAnd)",
    r"core/(ReplaceBreakWithContinue|ReplaceContinueWithBreak|ZeroIterationForLoop)",
    r"core/ExceptionReplacer",
)

# Mutants no test can kill: (target, function, line before, line after,
# why). Lines are compared stripped, so the list survives edits elsewhere.
_LATER_WINS = "both masks hold on the boundary and the class assigned after it wins"
EQUIVALENT: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "schemes",
        "uvj_class",
        "c = uvj_intercept(redshift) * np.ones_like(uv)",
        "c = uvj_intercept(redshift) / np.ones_like(uv)",
        "dividing by ones is multiplying by ones",
    ),
    (
        "schemes",
        "whan_class",
        "sf = classified & (x < WHAN_X_SPLIT)",
        "sf = classified & (x <= WHAN_X_SPLIT)",
        f"x = -0.4: {_LATER_WINS} (AGN)",
    ),
    (
        "schemes",
        "whan_class",
        "strong = agn & (w > WHAN_EW_STRONG_AGN)",
        "strong = agn & (w >= WHAN_EW_STRONG_AGN)",
        f"W = 6: {_LATER_WINS} (weak AGN)",
    ),
    (
        "schemes",
        "_agn_subclass_votes",
        "seyfert = usable & above_k01 & (y > k06(x_other))",
        "seyfert = usable & above_k01 & (y >= k06(x_other))",
        f"on the Kewley06 line: {_LATER_WINS} (the LINER vote)",
    ),
    (
        "schemes",
        "bpt_class",
        "sf = usable & (x < 0.05) & (y < kauffmann03(x))",
        "sf = usable & (x <= 0.05) & (y < kauffmann03(x))",
        "kauffmann03 is NaN from x = 0.05 on, and y < NaN is False",
    ),
    (
        "schemes",
        "bpt_class",
        "sf = usable & (x < 0.05) & (y < kauffmann03(x))",
        "sf = usable & (x < 1.05) & (y < kauffmann03(x))",
        "kauffmann03 is NaN from x = 0.05 on, and y < NaN is False",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0) & (z < 0.5)] = 0.69",
        "out[(z >= 0) & (z <= 0.5)] = 0.69",
        "the 0.5 <= z < 1 bin is assigned after and overwrites z = 0.5",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0) & (z < 0.5)] = 0.69",
        "out[(z >= 0) & (z < 1.5)] = 0.69",
        "the later bins are assigned after and overwrite 0.5 <= z < 1.5",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0.5) & (z < 1.0)] = 0.59",
        "out[(z >= 0.5) & (z <= 1.0)] = 0.59",
        "the 1 <= z < 2 bin is assigned after and overwrites z = 1",
    ),
    (
        "schemes",
        "uvj_intercept",
        "out[(z >= 0.5) & (z < 1.0)] = 0.59",
        "out[(z >= 0.5) & (z < 2.0)] = 0.59",
        "the 1 <= z < 2 bin is assigned after and overwrites it",
    ),
    (
        "catalogue",
        "_finite",
        "row = int(np.flatnonzero(~finite.reshape(len(array), -1).all(axis=1))[0])",
        "row = int(np.flatnonzero(~finite.reshape(len(array), - 2).all(axis=1))[0])",
        "NumPy reads any negative size in reshape as 'the rest'",
    ),
    (
        "catalogue",
        "write_catalogue",
        "unnormalised = np.abs(sums - 1.0) > _PROBA_SUM_TOLERANCE",
        "unnormalised = np.abs(sums - 1.0) >= _PROBA_SUM_TOLERANCE",
        "no float32/float64 sum lies exactly 1e-3 from 1 (near 1 they are multiples "
        "of 2^-53..2^-23, and 1e-3 is not)",
    ),
    *(
        (
            "runner",
            "fingerprint",
            "while chunk := f.read(1 << 20):",
            f"while chunk := f.read({after}):",
            "the read size changes the chunks, not the bytes hashed",
        )
        for after in (" 2 << 20", "1 << 21", "1 << 19")
    ),
    *(
        (
            "matching",
            "_hungarian",
            "weight = sub * (n + 1.0) + (sub - sub.max(axis=1, keepdims=True))",
            f"weight = sub * ({after}) + (sub - sub.max(axis=1, keepdims=True))",
            "any factor >= N - 1 ranks matchings by their matched galaxies first: one more "
            "galaxy on the pairs outweighs the tie-break part's difference (at most N - 2)",
        )
        for after in ("n - 1.0", "n + 2.0", "n + 0.0")
    ),
    *(
        (
            "matching",
            "_entropy",
            "if counts.size <= 1:",
            after,
            "one count's entropy is then computed, as -1 * log(1) = -0.0, which every "
            "caller reads as 0",
        )
        for after in ("if counts.size < 1:", "if counts.size <= 0:")
    ),
    (
        "matching",
        "table_metrics",
        "hit = many >= 0",
        "hit = many >= -1",
        "many is -1 only for an empty cluster, whose all-zero row adds table[r, -1] = 0",
    ),
    (
        "schemes",
        "whan_class",
        "n = w.shape[0]",
        "n = w.shape[ -1]",
        "the inputs are made 1-D (atleast_1d): the first axis is the last",
    ),
    (
        "schemes",
        "bpt_class",
        "n = nii.shape[0]",
        "n = nii.shape[ -1]",
        "the inputs are made 1-D (atleast_1d): the first axis is the last",
    ),
)

# setup.py installs these folders under other names (package_dir); the tests
# import them by those names, which the editable install would resolve to
# the checkout: the children find them in the snapshot through symlinks.
PACKAGE_ALIASES = {
    "tfelg_components": "components",
    "tfelg_pipelines": "pipelines",
    "tfelg_datasets": "datasets",
}

# pytest's internal error, usage error and "no tests collected", and the
# server's "tested the wrong file" and "child failed": not a kill.
BROKEN_RUN_CODES = (3, 4, 5, 97, 98)

# Third-party modules the server imports once, before forking (never tfelg:
# the children must import the snapshot's, mutated, code).
PRELOAD = (
    "numpy",
    "scipy.optimize",
    "sklearn.metrics",
    "sklearn.mixture",
    "astropy.io.fits",
    "astropy.table",
    "absl.testing.absltest",
    "absl.testing.parameterized",
    "tensorflow",
    "pytest",
)


# --- Server: one fork per test run ---------------------------------------------


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


# --- Work-database helpers (run with the tool's interpreter) --------------------


def _function_lines(path: str, names, exclude=()) -> list[tuple[int, int]]:
    """Line ranges of the named functions (``Class.method`` for methods).

    With ``names`` None: every top-level function and class, less the
    functions and methods in ``exclude`` (as ranges cut out of their class).
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found: dict[str, tuple[int, int]] = {}

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found[name] = (first, child.end_lineno)
                visit(child, name + ".")

    visit(tree, "")
    if names is None:
        missing = sorted(set(exclude) - set(found))
        if missing:
            raise SystemExit(f"{path}: no function(s) {missing}; update TARGETS in {__file__}")
        lines = set()
        for name, (a, b) in found.items():
            if "." not in name:
                lines.update(range(a, b + 1))
        for name in exclude:
            a, b = found[name]
            lines.difference_update(range(a, b + 1))
        return [(line, line) for line in sorted(lines)]
    missing = sorted(set(names) - set(found))
    if missing:
        raise SystemExit(f"{path}: no function(s) {missing}; update TARGETS in {__file__}")
    return [found[name] for name in names]


def _docstring_lines(path: str) -> set[int]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    lines = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                lines.update(range(value.lineno, value.end_lineno + 1))
    return lines


def _signature_positions(path: str):
    """(line, column) spans of parameter lists, less their default values.

    There an operator is a ``*``/``/`` marker or a ``|`` in an annotation
    (not evaluated: ``from __future__ import annotations``), not arithmetic.
    """
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    signatures, defaults = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.body[0].lineno - 1
            signatures.append(((node.lineno, 0), (end, 10**6)))
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    defaults.append(
                        (
                            (default.lineno, default.col_offset),
                            (default.end_lineno, default.end_col_offset),
                        )
                    )

    def in_signature(position) -> bool:
        inside = any(a <= position <= b for a, b in signatures)
        return inside and not any(a <= position < b for a, b in defaults)

    return in_signature


def _filter(args) -> None:
    """Marks mutants outside the target functions or OPERATORS as skipped."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    target = TARGETS[args.target]
    spans = _function_lines(target.module, target.functions, target.exclude)
    docstrings = _docstring_lines(target.module)
    operators = re.compile("|".join(f"(?:{p})" for p in OPERATORS))
    in_signature = _signature_positions(target.module)
    skip = []
    kept = 0
    with use_db(args.session, WorkDB.Mode.open) as db:
        for item in db.pending_work_items:
            (mutation,) = item.mutations
            line = mutation.start_pos[0]
            inside = any(a <= line <= b for a, b in spans) and line not in docstrings
            marker = "BinaryOperator" in mutation.operator_name and in_signature(
                tuple(mutation.start_pos)
            )
            if inside and not marker and operators.fullmatch(mutation.operator_name):
                kept += 1
            else:
                skip.append(item.job_id)
        if skip:
            db.set_multiple_results(
                skip,
                WorkResult(output="outside the target", worker_outcome=WorkerOutcome.SKIPPED),
            )
    print(json.dumps({"kept": kept, "skipped": len(skip)}))


def _changed_lines(diff: str) -> tuple[str, str]:
    before = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    after = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    return " / ".join(before), " / ".join(after)


def _summary(args) -> None:
    """Counts and the surviving mutants of one session, as JSON."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    target = TARGETS[args.target]
    with open(target.module, encoding="utf-8") as f:
        tree = ast.parse(f.read())

    def owner(line):
        best = None
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.lineno <= line <= node.end_lineno:
                    if best is None or node.lineno > best.lineno:
                        best = node
        return best.name if best else "<module>"

    counts = {"mutants": 0, "killed": 0, "timeouts": 0, "survived": 0, "incompetent": 0}
    survivors = []
    with use_db(args.session, WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            (mutation,) = item.mutations
            counts["mutants"] += 1
            if result.test_outcome == TestOutcome.SURVIVED:
                before, after = _changed_lines(result.diff or "")
                survivors.append(
                    {
                        "function": owner(mutation.start_pos[0]),
                        "line": mutation.start_pos[0],
                        "operator": mutation.operator_name,
                        "before": before,
                        "after": after,
                        "diff": result.diff,
                    }
                )
                counts["survived"] += 1
            elif result.test_outcome == TestOutcome.KILLED:
                counts["killed"] += 1
                counts["timeouts"] += result.output == "timeout"
            else:
                counts["incompetent"] += 1
        pending = db.num_work_items - db.num_results
    counts["pending"] = pending
    print(json.dumps({"counts": counts, "survivors": survivors}))


# --- Driver -----------------------------------------------------------------------


def _tool_python(venv: str) -> str:
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "bin", "cosmic-ray")):
        print(f"installing {COSMIC_RAY} into {venv} (its own environment)", flush=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", COSMIC_RAY], check=True)
    return python


def _snapshot(source: str, directory: str) -> str:
    if source == "worktree":
        files = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
        ).stdout.split(b"\0")
        for name in filter(None, (f.decode() for f in files)):
            src = os.path.join(REPO, name)
            if os.path.isfile(src):
                os.makedirs(os.path.dirname(os.path.join(directory, name)), exist_ok=True)
                shutil.copy2(src, os.path.join(directory, name))
        return "working tree"
    archive = subprocess.run(
        ["git", "archive", source], cwd=REPO, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", source],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{source} ({commit})"


def _describe_functions(target: Target) -> str:
    if target.functions is not None:
        return ", ".join(target.functions)
    return "all functions" + (f" but {', '.join(target.exclude)}" if target.exclude else "")


def _is_equivalent(name: str, survivor: dict) -> str | None:
    for target, function, before, after, why in EQUIVALENT:
        if (target, function, before, after) == (
            name,
            survivor["function"],
            survivor["before"],
            survivor["after"],
        ):
            return why
    return None


def _run_target(name, target, work, tool_python, sock, timeout, out, count_only=False) -> dict:
    folder, _, rest = target.module[: -len(".py")].partition("/")
    aliases = {folder: alias for alias, folder in PACKAGE_ALIASES.items()}
    module = f"{aliases.get(folder, folder)}.{rest.replace('/', '.')}"
    # Options as single tokens: the server tells options from tests by "-".
    pytest_args = ["-x", "-q", "-pno:randomly", "-pno:cacheprovider", *target.tests]
    logs = os.path.join(work, ".mutation", name)
    os.makedirs(logs, exist_ok=True)
    baseline = (
        {"rc": 0, "seconds": 0.0}
        if count_only
        else _ask(
            sock,
            {
                "baseline": True,
                "pytest_args": pytest_args,
                "module": module,
                "module_file": target.module,
                "timeout": 10 * timeout,  # tracing every line is slow
                "log": os.path.join(logs, "baseline.log"),
            },
        )
    )
    if baseline.get("rc") != 0:
        with open(os.path.join(logs, "baseline.log"), encoding="utf-8", errors="replace") as f:
            tail = f.read()[-3000:]
        raise SystemExit(f"{name}: the unmutated tests do not pass ({baseline}):\n{tail}")
    # cosmic-ray's own timeout is a safety net behind the server's.
    client = [
        sys.executable,
        "-S",
        os.path.abspath(__file__),
        "_client",
        f"--socket={sock}",
        f"--module={module}",
        f"--module_file={target.module}",
        f"--timeout={timeout}",
        f"--log={os.path.join(logs, 'mutant.log')}",
        "--",
        *pytest_args,
    ]
    config = os.path.join(logs, "config.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(
            "[cosmic-ray]\n"
            f"module-path = {json.dumps(target.module)}\n"
            f"timeout = {timeout + 60.0}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(shlex.join(client))}\n"
            '[cosmic-ray.distributor]\nname = "local"\n'
        )
    session = os.path.join(logs, "session.sqlite")
    cosmic_ray = os.path.join(os.path.dirname(tool_python), "cosmic-ray")
    subprocess.run([cosmic_ray, "init", config, session], cwd=work, check=True)
    helper = [tool_python, os.path.abspath(__file__)]
    kept = json.loads(
        subprocess.run(
            [*helper, "_filter", session, f"--target={name}"],
            cwd=work,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    )
    print(
        f"{name}: {kept['kept']} mutants in {target.module} "
        f"(baseline tests {baseline['seconds']:.1f} s)",
        file=out,
        flush=True,
    )
    if count_only:
        return {"kept": kept["kept"]}
    start = time.monotonic()
    subprocess.run([cosmic_ray, "exec", config, session], cwd=work, check=True)
    result = json.loads(
        subprocess.run(
            [*helper, "_summary", session, f"--target={name}"],
            cwd=work,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        ).stdout
    )
    result["seconds"] = time.monotonic() - start
    # cosmic-ray counts any failure as a kill; a usage error, no tests
    # collected or a test run of the wrong code must not be one.
    runs = []
    with open(os.path.join(logs, "mutant.log.runs"), encoding="utf-8") as f:
        runs = [json.loads(line) for line in f]
    result["broken_runs"] = [r for r in runs if r.get("rc") in BROKEN_RUN_CODES]
    result["selected_tests"] = [r.get("tests") for r in runs]
    result["baseline_seconds"] = baseline["seconds"]
    return result


def _drive(args) -> int:
    names = args.targets.split(",") if args.targets else list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        raise SystemExit(f"unknown targets {unknown}; choose from {sorted(TARGETS)}")
    tool_python = _tool_python(os.path.expanduser(args.tool_venv))
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    report_path = args.report or os.path.join(REPO, "benchmarks", "logs", f"{date}_mutation.txt")
    work = tempfile.mkdtemp(prefix="tfelg-mutation-")
    source = _snapshot(args.source, work)
    sock = os.path.join(work, ".mutation.sock")
    os.makedirs(os.path.join(work, ".mutation", "aliases"))
    for alias, folder in PACKAGE_ALIASES.items():
        os.symlink(os.path.join(work, folder), os.path.join(work, ".mutation", "aliases", alias))
    if args.count_only:
        try:
            for name in names:
                _run_target(name, TARGETS[name], work, tool_python, sock, 0, sys.stdout, True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", TF_CPP_MIN_LOG_LEVEL="2")
    server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "_serve", f"--socket={sock}", f"--root={work}"],
        env=env,
    )
    lines = [
        f"Mutation testing, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"source {source}, {COSMIC_RAY}, per-mutant timeout {args.timeout:.0f} s",
        "",
    ]
    totals = {"mutants": 0, "killed": 0, "equivalent": 0}
    try:
        while not os.path.exists(sock + ".ready"):
            if server.poll() is not None:
                raise SystemExit("the test server stopped while importing")
            time.sleep(0.2)
        for name in names:
            target = TARGETS[name]
            result = _run_target(name, target, work, tool_python, sock, args.timeout, sys.stdout)
            counts = result["counts"]
            equivalent = [(s, _is_equivalent(name, s)) for s in result["survivors"]]
            n_equivalent = sum(why is not None for _, why in equivalent)
            live = counts["mutants"] - n_equivalent
            score = counts["killed"] / live if live else 1.0
            totals["mutants"] += counts["mutants"]
            totals["killed"] += counts["killed"]
            totals["equivalent"] += n_equivalent
            lines.append(
                f"## {name}: {target.module} "
                f"({_describe_functions(target)}); "
                f"tests {' '.join(target.tests)}"
            )
            # A run that could not run the tests is no kill (cosmic-ray counted it).
            broken = result["broken_runs"]
            counts["killed"] -= len(broken)
            totals["killed"] -= len(broken)
            score = counts["killed"] / live if live else 1.0
            selected = [t for t in result["selected_tests"] if t != "all"]
            lines.append(
                f"{counts['mutants']} mutants, {counts['killed']} killed "
                f"({counts['timeouts']} by timeout), {counts['survived']} survived "
                f"({n_equivalent} equivalent), {len(broken)} whose tests did not run, "
                f"{counts['incompetent']} incompetent, "
                f"{counts['pending']} not run; score {score:.1%}; "
                f"{result['seconds']:.0f} s (tests alone {result['baseline_seconds']:.1f} s); "
                f"{len(selected)} mutants ran only the tests covering the line "
                f"(median {sorted(selected)[len(selected) // 2] if selected else 0}), "
                f"{len(result['selected_tests']) - len(selected)} ran all"
            )
            for run in broken:
                lines.append(
                    f"  TESTS DID NOT RUN (pytest rc {run['rc']}): lines {run['changed_lines']}\n"
                    f"    + {' / '.join(run['changed'])}\n    {run.get('log_tail', '')!r}"
                )
            for survivor, why in equivalent:
                label = f"equivalent: {why}" if why else "SURVIVED"
                lines.append(
                    f"  {label}: {survivor['function']} line {survivor['line']} "
                    f"{survivor['operator']}\n    - {survivor['before']}\n    + {survivor['after']}"
                )
            lines.append("")
            print("\n".join(lines[-(len(equivalent) + len(broken) + 3) :]), flush=True)
    finally:
        if server.poll() is None:
            try:
                _ask(sock, {"stop": True})
                server.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                server.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"snapshot and cosmic-ray sessions kept in {work}")
    live = totals["mutants"] - totals["equivalent"]
    lines.append(
        f"Total: {totals['mutants']} mutants, {totals['killed']} killed, "
        f"{totals['equivalent']} equivalent; score {totals['killed'] / max(live, 1):.1%}"
    )
    sys.path.insert(0, REPO)
    from tfelg import atomic

    atomic.write_text(report_path, "\n".join(lines) + "\n")
    print(lines[-1])
    print(f"report: {report_path}")
    return 0 if totals["killed"] == live else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--targets", default="", help=f"comma-separated, from {list(TARGETS)}")
    parser.add_argument("--source", default="HEAD", help="a git revision, or 'worktree'")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    parser.add_argument(
        "--tool_venv",
        default=os.path.join(
            os.environ.get("XDG_CACHE_HOME", "~/.cache"), "tfelg", "mutation-venv"
        ),
        help="virtual environment holding cosmic-ray (made if missing)",
    )
    parser.add_argument("--report", default="", help="where the report goes")
    parser.add_argument("--keep", action="store_true", help="keep the snapshot and sessions")
    parser.add_argument(
        "--count_only", action="store_true", help="only count each target's mutants"
    )
    serve = sub.add_parser("_serve")
    serve.add_argument("--socket", required=True)
    serve.add_argument("--root", required=True)
    client = sub.add_parser("_client")
    client.add_argument("--socket", required=True)
    client.add_argument("--module", required=True)
    client.add_argument("--module_file", required=True)
    client.add_argument("--timeout", type=float, required=True)
    client.add_argument("--log", required=True)
    client.add_argument("pytest_args", nargs="*")
    for name in ("_filter", "_summary"):
        helper = sub.add_parser(name)
        helper.add_argument("session")
        helper.add_argument("--target", required=True)
    args = parser.parse_args(argv)
    if args.command == "_serve":
        _serve(args)
        return 0
    if args.command == "_client":
        return _client(args)
    if args.command == "_filter":
        _filter(args)
        return 0
    if args.command == "_summary":
        _summary(args)
        return 0
    return _drive(args)


if __name__ == "__main__":
    sys.exit(main())
