"""What a plain `pip install .` ships, and `tfds build` on the installed builder.

Issue 11 items 3 and 4. The wheel and the sdist are built from a copy of the
source tree (building in place would leave build/ and egg-info beside other
work), offline, with the environment's own setuptools
(`pip wheel --no-deps --no-build-isolation`), as `pip install .` builds.
The `tfds` tests run the real command line installed in this environment
(`make install` puts apache-beam and mlcroissant there, which TFDS 4.9.10's
CLI imports) into a temporary data directory.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from absl.testing import absltest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Build outputs and caches that are not part of a source tree.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.pyc"
)
# Installed package name of each repository folder (setup.py's package_dir).
PACKAGE_OF_FOLDER = {
    "tfelg": "tfelg",
    "datasets": "tfelg_datasets",
    "components": "tfelg_components",
    "pipelines": "tfelg_pipelines",
}


def _run(command: list[str], cwd: str | None = None, timeout: int = 600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def _package_files() -> dict[str, str]:
    """Installed path -> repository path of every file the package folders hold.

    Every file, not only setup.py's globs: data files added later (a new
    dataset's dummy_data, a flag file) must reach the wheel too. Python
    packages are the folders with an __init__.py (a folder of modules
    without one would be missing from the wheel, and is reported).
    """
    files = {}
    for folder, package in PACKAGE_OF_FOLDER.items():
        root = REPO / folder
        for dirpath, dirnames, names in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for name in names:
                if name.endswith(".pyc"):
                    continue
                relative = (Path(dirpath) / name).relative_to(root).as_posix()
                files[f"{package}/{relative}"] = f"{folder}/{relative}"
    return files


class DistributionContentsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.mkdtemp(prefix="tfelg_packaging_")
        source = os.path.join(cls._tmp, "tfelg")
        shutil.copytree(REPO, source, ignore=NOT_SOURCE)
        dist = os.path.join(cls._tmp, "dist")
        # `pip install .`: a wheel built from the tree.
        wheel = _run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
            + ["--no-index", "-q", "-w", dist, source]
        )
        if wheel.returncode != 0:
            raise AssertionError(f"pip wheel failed:\n{wheel.stdout}\n{wheel.stderr}")
        # The sdist (`python -m build` makes its wheel from it).
        sdist = _run([sys.executable, "setup.py", "-q", "sdist", "-d", dist], cwd=source)
        if sdist.returncode != 0:
            raise AssertionError(f"setup.py sdist failed:\n{sdist.stdout}\n{sdist.stderr}")
        (wheel_path,) = glob.glob(os.path.join(dist, "tfelg-*.whl"))
        (sdist_path,) = glob.glob(os.path.join(dist, "tfelg-*.tar.gz"))
        with zipfile.ZipFile(wheel_path) as z:
            cls.wheel = set(z.namelist())
            cls.entry_points = z.read("tfelg-0.1.0.dist-info/entry_points.txt").decode()
        with tarfile.open(sdist_path) as t:
            cls.sdist = {name.partition("/")[2] for name in t.getnames()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls._tmp, ignore_errors=True)
        super().tearDownClass()

    def test_the_files_named_in_the_issue_are_in_the_wheel(self):
        named = (
            "tfelg_datasets/emission_lines/dummy_data/mpajhu/gal_line_dr7_v5_2.fit",
            "tfelg_datasets/emission_lines/dummy_data/mpajhu/gal_info_dr7_v5_2.fit",
            "tfelg_datasets/emission_lines/dummy_data/sdss_spec/spec-0266-51602-0026.fits",
            "tfelg_datasets/emission_lines/CITATIONS.bib",
            "tfelg_datasets/emission_lines/emission_lines_dataset_builder_test.py",
            "tfelg_pipelines/demo.flags",
            "tfelg_components/README.md",
        )
        self.assertEqual([name for name in named if name not in self.wheel], [])

    def test_wheel_holds_every_file_of_the_package_folders(self):
        files = _package_files()
        self.assertGreater(len(files), 50)
        missing = sorted(repo for installed, repo in files.items() if installed not in self.wheel)
        self.assertEqual(missing, [], "in the repository's package folders but not in the wheel")

    def test_sdist_holds_the_package_files_and_the_pins(self):
        missing = sorted(repo for repo in _package_files().values() if repo not in self.sdist)
        self.assertEqual(missing, [], "in the repository's package folders but not in the sdist")
        for name in ("setup.py", "README.md", "constraints.txt", "pyproject.toml"):
            self.assertIn(name, self.sdist)

    def test_console_scripts(self):
        for script in ("tfelg-classify", "tfelg-dataset", "tfelg-pipeline", "tfelg-train"):
            self.assertIn(f"{script} = tfelg.cli.", self.entry_points)


class TfdsBuildTest(absltest.TestCase):
    """`tfds build` with the builder registered by `--imports` (TFDS's documented use)."""

    def _tfds(self, *args: str):
        return _run([str(BIN / "tfds"), "build", *args, "--imports=tfelg_datasets.emission_lines"])

    def test_named_synthetic_config_builds(self):
        data_dir = self.create_tempdir().full_path
        # `emission_lines/synthetic` is 20,000 galaxies (~2 min); the same
        # config at 60 galaxies has the name tfelg gives custom samples.
        result = self._tfds("emission_lines/synthetic_n60_s0", f"--data_dir={data_dir}")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertNotIn("Traceback", result.stdout + result.stderr)
        folder = os.path.join(data_dir, "emission_lines", "synthetic_n60_s0", "2.0.0")
        with open(os.path.join(folder, "dataset_info.json"), encoding="utf-8") as f:
            info = json.load(f)
        counts = {s["name"]: int(s["shardLengths"][0]) for s in info["splits"]}
        self.assertEqual(sum(counts.values()), 60)
        self.assertEqual(set(counts), {"train", "validation", "test"})

    def test_bare_name_builds_synthetic_and_skips_manual_configs_without_files(self):
        data_dir = self.create_tempdir().full_path
        manual_dir = self.create_tempdir().full_path  # empty
        # Bare `emission_lines` (every config), then `emission_lines/mpajhu`
        # asked for by name, in one run to pay TensorFlow's start-up once.
        # Two examples per split: the default synthetic config is 20,000
        # galaxies.
        result = self._tfds(
            "emission_lines",
            "emission_lines/mpajhu",
            f"--data_dir={data_dir}",
            f"--manual_dir={manual_dir}",
            "--max_examples_per_split=2",
        )
        log = result.stdout + result.stderr  # the tfds CLI logs to stdout (TqdmStream)
        synthetic = os.path.join(data_dir, "emission_lines", "synthetic", "2.0.0")
        self.assertTrue(os.path.exists(os.path.join(synthetic, "dataset_info.json")), log[-3000:])
        for config, folder, what in (
            ("mpajhu", "mpajhu", "no MPA-JHU catalogues here: put DR7 gal_line_dr7_v5_2.fit"),
            ("sdss_spec", "sdss_spec", "no SDSS spectra here: put spec-*.fits files"),
        ):
            skipped = [
                line for line in log.splitlines() if f"Skipping emission_lines/{config}" in line
            ]
            self.assertLen(skipped, 1, log[-3000:])
            self.assertIn(f"{os.path.join(manual_dir, folder)}: {what}", skipped[0])
            self.assertFalse(
                os.path.exists(os.path.join(data_dir, "emission_lines", config, "2.0.0"))
            )
        # The skipping is for bare names only: a config asked for by name
        # and missing its files fails, with that line.
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(log.count("Traceback"), 1)
        self.assertIn(
            f"ManualDataMissing: {os.path.join(manual_dir, 'mpajhu')}: no MPA-JHU catalogues",
            result.stderr.strip().splitlines()[-1],
        )


class ContributorDocumentationTest(absltest.TestCase):
    """Issue 11 item 23: project documentation, not one machine's working notes."""

    def _documents(self) -> list[Path]:
        return [REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").rglob("*.md"))]

    def test_contributing_guide_replaces_the_helper_brief(self):
        self.assertTrue((REPO / "CONTRIBUTING.md").is_file())
        self.assertFalse((REPO / "docs" / "dev" / "HELPER_BRIEF.md").exists())
        text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
        for section in ("## Setup", "## Layout and tests", "## Style", "## Adding a dataset"):
            self.assertIn(section, text)
        for section in ("## Adding a model", "## Adding a component"):
            self.assertIn(section, text)

    def test_readme_says_how_to_install_build_and_reload(self):
        """The issue's acceptance: pip install ., tfds build, [gpu], load_trained."""
        text = (REPO / "README.md").read_text(encoding="utf-8")
        for phrase in (
            "pip install -c constraints.txt .",
            '".[gpu]"',
            "tfds build emission_lines/synthetic --imports tfelg_datasets.emission_lines",
            "loop.load_trained(",
        ):
            self.assertIn(phrase, text)

    def test_no_absolute_paths_of_a_checkout(self):
        pattern = re.compile(r"(?<![\w.])/(?:work|home|root|tmp|Users)/")
        found = [
            f"{doc.relative_to(REPO)}:{number}"
            for doc in self._documents()
            for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)
        ]
        self.assertEqual(found, [])

    def test_every_repository_path_named_in_contributing_exists(self):
        text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
        # Paths of two or more parts (`tfelg/io/mpajhu.py`, `pipelines/*.py`);
        # `NAME` stands for a new dataset or model.
        named = {
            span.rstrip("/")
            for span in re.findall(r"`([^`\s]+)`", text)
            if "/" in span.rstrip("/") and "NAME" not in span and not span.startswith(("http", "."))
        }
        self.assertGreater(len(named), 15)
        missing = sorted(path for path in named if not glob.glob(str(REPO / path)))
        self.assertEqual(missing, [])


if __name__ == "__main__":
    absltest.main()
