"""cosmic-ray work-database helpers of benchmarks/mutation.py (run with the tool's interpreter).

``_filter`` marks the mutants outside the target functions or the kept
operators as skipped before the run; ``_summary`` reads the counts and the
surviving mutants after it. Both run in cosmic-ray's own virtual environment
(they import ``cosmic_ray``), hence standard library only here besides it.
"""

from __future__ import annotations

import ast
import json
import re

import mutation_targets
from mutation_targets import OPERATORS, TARGETS


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
            raise SystemExit(
                f"{path}: no function(s) {missing}; update TARGETS in {mutation_targets.__file__}"
            )
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
        raise SystemExit(
            f"{path}: no function(s) {missing}; update TARGETS in {mutation_targets.__file__}"
        )
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
