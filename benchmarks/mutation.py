r"""Mutation testing: would the tests notice a small, realistic bug?

Run outside ``make test`` (minutes, not seconds):

  .venv/bin/python benchmarks/mutation.py                  # every target
  .venv/bin/python benchmarks/mutation.py --targets=schemes,catalogue
  .venv/bin/python benchmarks/mutation.py --source=worktree  # uncommitted code

Each target is one module, the functions in it that are mutated and the
tests that should catch a bug there (``TARGETS`` in
``benchmarks/mutation_targets.py``). A mutant is one small
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

Files: this driver; ``mutation_targets.py`` (targets, operators, equivalent
mutants: what a test author edits); ``mutation_server.py`` (the forking
test server and cosmic-ray's test command); ``mutation_cosmic.py`` (the
work-database filter and summary, run with cosmic-ray's interpreter). All
four are one program: the sub-commands below run them through this file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from mutation_cosmic import _filter, _summary
from mutation_server import _ask, _client, _serve
from mutation_targets import BROKEN_RUN_CODES, EQUIVALENT, PACKAGE_ALIASES, TARGETS, Target

COSMIC_RAY = "cosmic-ray==8.7.0"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
