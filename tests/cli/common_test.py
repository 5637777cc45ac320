"""What every tfelg-* command shares: --help, ~ in paths, quiet logs (tfelg.cli).

The installed console scripts are run, not ``python -m``: absl lists under
``--help`` only the flags key to ``__main__``, and a console script's
``__main__`` is pip's wrapper, so ``python -m tfelg.cli.train --help`` works
where the installed ``tfelg-train --help`` showed no flag at all.
"""

import ast
import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from absl import flags
from absl.testing import absltest

import tfelg
import tfelg.cli

REPO_ROOT = Path(tfelg.__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Flags that name a file or folder, in any binary: each must expand ~.
PATH_FLAG_NAMES = {
    "data_dir",
    "info",
    "manual_dir",
    "output",
    "output_dir",
    "plot_dir",
    "root",
    "workdir",
}


def console_scripts() -> dict[str, str]:
    """{script: "module:function"} from setup.py (the source of truth), else installed metadata."""
    setup_py = REPO_ROOT / "setup.py"
    if setup_py.exists():
        for node in ast.walk(ast.parse(setup_py.read_text())):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "console_scripts":
                        specs = ast.literal_eval(value)
                        return dict(s.replace(" ", "").split("=", 1) for s in specs)
    import importlib.metadata

    return {
        e.name: e.value
        for e in importlib.metadata.distribution("tfelg").entry_points
        if e.group == "console_scripts"
    }


def _env(**extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", **extra)


def _flag_sections(helpfull: str) -> dict[str, list[str]]:
    """--helpfull's flags by defining module: {"tfelg.cli.train": ["batch_size", ...]}."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in helpfull.splitlines():
        header = re.fullmatch(r"(\S+):", line)
        if header:
            current = sections.setdefault(header.group(1), [])
            continue
        flag = re.match(r"  (?:-\w,)?--(?:\[no\])?(\w+)", line)
        if flag and current is not None:
            current.append(flag.group(1))
    return sections


class InstalledScriptsTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.declared = console_scripts()
        # The others are reported by test_every_script_installed.
        cls.scripts = {name: t for name, t in cls.declared.items() if (BIN / name).exists()}
        # Every script at once: each start imports TensorFlow (seconds).
        processes = {
            (name, option): subprocess.Popen(
                [str(BIN / name), option],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
            )
            for name in cls.scripts
            for option in ("--help", "--helpfull")
        }
        cls.outputs = {}
        for key, process in processes.items():
            out, err = process.communicate(timeout=240)
            cls.outputs[key] = (process.returncode, out, err)

    def test_every_script_installed(self):
        self.assertIn("tfelg-train", self.declared)
        self.assertIn("tfelg-classify", self.declared)
        missing = sorted(set(self.declared) - set(self.scripts))
        self.assertEqual(
            missing, [], f"not installed in {BIN} (setup.py changed: run `make install`)"
        )

    def test_help_shows_description_and_own_flags(self):
        for name, target in self.scripts.items():
            with self.subTest(name):
                rc, out, err = self.outputs[(name, "--help")]
                # absl's --help exits with status 1 (its convention), not a crash.
                self.assertEqual(rc, 1, err[-2000:])
                self.assertNotIn("Traceback", err)
                # The description: the first line of the binary module's docstring.
                module_name = target.split(":")[0]
                source = (REPO_ROOT / (module_name.replace(".", "/") + ".py")).read_text()
                first_line = ast.get_docstring(ast.parse(source)).splitlines()[0]
                self.assertTrue(first_line.startswith(f"{name}:"), first_line)
                self.assertIn(first_line, out)
                # Every flag the project defines for this binary (--helpfull
                # lists them by module) is under --help, with its help text.
                _, helpfull, _ = self.outputs[(name, "--helpfull")]
                own = [
                    flag
                    for module, names in _flag_sections(helpfull).items()
                    if module.split(".")[0] in ("tfelg", "tfelg_components", "tfelg_pipelines")
                    for flag in names
                ]
                self.assertNotEmpty(own, f"{name} defines no flag of its own?")
                for flag in own:
                    self.assertRegex(out, rf"--(\[no\])?{flag}\b", f"{name} --help lacks --{flag}")
                self.assertNotIn("--alsologtostderr", out)  # absl's own stay under --helpfull

    def test_path_flags_expand_home(self):
        """Every flag named like a path is a tfelg.cli path flag (help says so)."""
        for name in self.scripts:
            with self.subTest(name):
                _, out, _ = self.outputs[(name, "--help")]
                for flag, text in re.findall(r"\n  --(\w+):(.*?)(?=\n  -|\n\n)", out, re.S):
                    # tfelg-classify's --input is a file; tfelg-train's an enum.
                    if flag in PATH_FLAG_NAMES or (name, flag) == ("tfelg-classify", "input"):
                        self.assertIn(PathParser.syntactic_help, " ".join(text.split()), flag)


PathParser = tfelg.cli.PathParser


class PathFlagTest(absltest.TestCase):
    def test_tilde_expanded(self):
        values = flags.FlagValues()
        tfelg.cli.define_path("data_dir", None, "TFDS data directory.", flag_values=values)
        tfelg.cli.define_path("workdir", "~/runs", "Run folder.", flag_values=values)
        values(["prog", "--data_dir=~/tfds"])
        home = os.path.expanduser("~")
        self.assertEqual(values.data_dir, os.path.join(home, "tfds"))
        self.assertEqual(values.workdir, os.path.join(home, "runs"))  # defaults too
        self.assertNotIn("~", values.data_dir)

    def test_plain_and_remote_paths_unchanged(self):
        values = flags.FlagValues()
        tfelg.cli.define_path("root", None, "Run root.", flag_values=values)
        for path in ("runs/demo", "/abs/path", "gs://bucket/run", "a~b"):
            values(["prog", f"--root={path}"])
            self.assertEqual(values.root, path)
        values.unparse_flags()
        values(["prog"])
        self.assertIsNone(values.root)

    def test_flag_is_key_to_the_defining_module(self):
        values = flags.FlagValues()
        tfelg.cli.define_path("output", None, "FITS table.", flag_values=values)
        self.assertIn("output", [f.name for f in values.get_key_flags_for_module(__name__)])

    def test_component_binary_expands_home(self):
        """A component run alone (``python -m tfelg_pipelines.toy STEP``) too."""
        home = self.create_tempdir("home").full_path
        cwd = self.create_tempdir("cwd").full_path
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tfelg_pipelines.toy",
                "make_data",
                "--root=~/root",
                "--n=5",
                "--execution_json=~/record.json",
            ],
            cwd=cwd,
            env=_env(HOME=home),
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        self.assertEqual(os.listdir(cwd), [], "a folder named '~' in the cwd")
        self.assertTrue(os.path.isdir(os.path.join(home, "root", "make_data")))
        self.assertTrue(os.path.isfile(os.path.join(home, "record.json")))


class ProgressTest(absltest.TestCase):
    def test_progress_lines_are_timestamped_on_stderr_only(self):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            tfelg.cli.progress("epoch 3/10")
        self.assertEqual(out.getvalue(), "")
        self.assertRegex(err.getvalue(), r"^\d\d:\d\d:\d\d epoch 3/10\n$")


if __name__ == "__main__":
    absltest.main()
