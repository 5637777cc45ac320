"""Every third-party module the package imports is declared in setup.py.

A module that arrives only as another package's dependency (threadpoolctl
through scikit-learn, Pillow through matplotlib) works in every environment
until that package drops it; `pip install tfelg` then breaks at import time.
This test reads the import statements of every Python file that setup.py
installs (tfelg/, datasets/, components/, pipelines/), maps each top-level
module to the distribution that provides it in this environment, and checks
that distribution is in INSTALL_REQUIRES or one of the EXTRAS.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from importlib import metadata

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIRS = ("tfelg", "datasets", "components", "pipelines")
# The project's own top-level names, installed or as repository folders.
OWN_MODULES = {"tfelg", "tfelg_datasets", "tfelg_components", "tfelg_pipelines", *PACKAGE_DIRS}


def _normalize(distribution: str) -> str:
    """PEP 503 name: `PyYAML`, `pyyaml` and `py_yaml` are one distribution."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _declared() -> set[str]:
    """Distribution names in setup.py's INSTALL_REQUIRES and EXTRAS.

    setup.py is read, not run (running it calls setuptools.setup()).
    """
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    lists = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("INSTALL_REQUIRES", "EXTRAS"):
                lists[target.id] = ast.literal_eval(node.value)
    if set(lists) != {"INSTALL_REQUIRES", "EXTRAS"}:
        raise AssertionError(
            f"setup.py: expected INSTALL_REQUIRES and EXTRAS, found {sorted(lists)}"
        )
    requirements = list(lists["INSTALL_REQUIRES"])
    for extra in lists["EXTRAS"].values():
        requirements.extend(extra)
    # "etils[epath]>=1.9" -> "etils".
    return {_normalize(re.match(r"[A-Za-z0-9_.-]+", r).group(0)) for r in requirements}


def _imports(source: str) -> set[str]:
    """Top-level names of the absolute imports in `source`, wherever they are.

    Imports inside functions count: they are how optional or slow modules are
    loaded, and they fail the same way when the module is missing.
    """
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _third_party_imports() -> dict[str, list[str]]:
    """Third-party top-level module -> the files (repository paths) that import it."""
    found: dict[str, list[str]] = {}
    for folder in PACKAGE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for filename in sorted(filenames):
                if not filename.endswith(".py"):
                    continue
                path = os.path.join(dirpath, filename)
                with open(path, encoding="utf-8") as f:
                    modules = _imports(f.read())
                for module in modules - OWN_MODULES - set(sys.stdlib_module_names):
                    found.setdefault(module, []).append(os.path.relpath(path, ROOT))
    return found


class DependenciesTest(absltest.TestCase):
    def test_imports_are_read_from_the_source(self):
        # The scan itself: a module imported inside a function (threads.py's
        # threadpoolctl), a `from a.b import c`, and no relative or stdlib ones.
        source = (
            "import os\nimport numpy as np\nfrom scipy.stats import norm\n"
            "from . import sibling\n"
            "def f():\n    from threadpoolctl import threadpool_limits\n"
        )
        self.assertEqual(_imports(source), {"os", "numpy", "scipy", "threadpoolctl"})
        found = _third_party_imports()
        self.assertIn("tfelg/analysis/threads.py", found["threadpoolctl"])
        self.assertNotIn("os", found)
        self.assertFalse(OWN_MODULES & set(found))

    def test_declared_requirements_are_parsed(self):
        declared = _declared()
        self.assertIn("etils", declared)  # "etils[epath]>=1.9"
        self.assertIn("tensorflow", declared)
        self.assertIn("kfp", declared)  # an extra
        self.assertEqual(_normalize("PyYAML"), _normalize("pyyaml"))
        self.assertEqual(_normalize("tf_keras"), "tf-keras")

    def test_every_third_party_import_is_declared(self):
        declared = _declared()
        providers = metadata.packages_distributions()
        problems = []
        for module, files in sorted(_third_party_imports().items()):
            distributions = providers.get(module)
            where = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            if not distributions:
                problems.append(f"{module} (imported by {where}) is not installed here")
            elif not declared & {_normalize(d) for d in distributions}:
                problems.append(
                    f"{module} (imported by {where}) comes from {', '.join(distributions)},"
                    " which setup.py does not declare"
                )
        if problems:
            self.fail("\n".join(problems))


if __name__ == "__main__":
    absltest.main()
