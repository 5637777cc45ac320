"""The Bazel BUILD file stays true to the tree.

Tests run with Python directly (pytest), so nothing else would notice a BUILD
file that drifts: this test evaluates BUILD (Starlark is a subset of Python)
with stand-ins for the Bazel rules and checks it against the files and
setup.py: every module belongs to a library, every test file has a py_test,
every console script has a py_binary, and every file named exists.
"""

import ast
import glob as globlib
import os

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIRS = ("tfelg", "datasets", "components", "pipelines")


def _load_build():
    targets = {}

    def rule(kind):
        def record(name, srcs=(), deps=(), main=None, data=(), **kwargs):
            if name in targets:
                raise AssertionError(f"target {name!r} defined twice")
            targets[name] = {"kind": kind, "srcs": list(srcs), "deps": list(deps), "main": main}

        return record

    def glob(include, exclude=()):
        found = set()
        for pattern in include:
            found.update(
                os.path.relpath(p, ROOT)
                for p in globlib.glob(os.path.join(ROOT, pattern), recursive=True)
            )
        for pattern in exclude:
            found.difference_update(
                os.path.relpath(p, ROOT)
                for p in globlib.glob(os.path.join(ROOT, pattern), recursive=True)
            )
        return sorted(p for p in found if "__pycache__" not in p)

    scope = {
        "py_library": rule("py_library"),
        "py_test": rule("py_test"),
        "py_binary": rule("py_binary"),
        "glob": glob,
        "package": lambda **kwargs: None,
        "load": lambda *args: None,
        "requirement": lambda name: f"@pypi//{name}",
        "filegroup": rule("filegroup"),
    }
    with open(os.path.join(ROOT, "BUILD"), encoding="utf-8") as f:
        exec(compile(f.read(), "BUILD", "exec"), scope)  # noqa: S102
    return targets


def _console_scripts():
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "console_scripts":
                    return [ast.literal_eval(e) for e in value.elts]
    raise AssertionError("setup.py declares no console_scripts")


class BuildFileTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.targets = _load_build()

    def _srcs(self, kind):
        return {s for t in self.targets.values() if t["kind"] == kind for s in t["srcs"]}

    def test_every_module_is_in_a_library(self):
        library_srcs = self._srcs("py_library")
        for directory in PACKAGE_DIRS:
            for path in globlib.glob(os.path.join(ROOT, directory, "**", "*.py"), recursive=True):
                rel = os.path.relpath(path, ROOT)
                if rel.endswith("_test.py") or "dummy_data" in rel:
                    continue
                self.assertIn(rel, library_srcs, f"{rel} is in no py_library of BUILD")

    def test_every_test_file_has_a_py_test(self):
        test_srcs = self._srcs("py_test")
        for pattern in ("tests/**/*_test.py", "datasets/**/*_test.py"):
            for path in globlib.glob(os.path.join(ROOT, pattern), recursive=True):
                rel = os.path.relpath(path, ROOT)
                self.assertIn(rel, test_srcs, f"{rel} has no py_test in BUILD")

    def test_named_files_exist_and_deps_resolve(self):
        for name, target in self.targets.items():
            for src in target["srcs"]:
                self.assertTrue(os.path.exists(os.path.join(ROOT, src)), f"{name}: no {src}")
            for dep in target["deps"]:
                if dep.startswith(":"):
                    self.assertIn(dep[1:], self.targets, f"{name}: unknown dep {dep}")

    def test_every_console_script_has_a_binary(self):
        binaries = {t["main"] for t in self.targets.values() if t["kind"] == "py_binary"}
        for entry in _console_scripts():
            script, _, target = entry.partition("=")
            module = target.strip().partition(":")[0]
            path = module.replace(".", "/") + ".py"
            self.assertIn(
                path, binaries, f"console script {script.strip()} ({path}) has no py_binary"
            )


if __name__ == "__main__":
    absltest.main()
