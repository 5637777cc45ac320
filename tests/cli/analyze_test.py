"""tfelg-analyze refuses bad workdirs and never overwrites an analysis silently."""

import os
import subprocess
import sys

from absl.testing import absltest


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "tfelg.cli.analyze", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )


class AnalyzeBinaryTest(absltest.TestCase):
    def test_workdir_without_a_model(self):
        workdir = self.create_tempdir().full_path
        proc = _run(f"--workdir={workdir}")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("no trained model here", proc.stderr)
        self.assertIn(workdir, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)

    def test_existing_analysis_is_kept(self):
        workdir = self.create_tempdir().full_path
        out = os.path.join(workdir, "analysis")
        os.makedirs(out)
        with open(os.path.join(out, "summary.json"), "w") as f:
            f.write("{}")
        proc = _run(f"--workdir={workdir}")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--overwrite", proc.stderr)
        with open(os.path.join(out, "summary.json")) as f:
            self.assertEqual(f.read(), "{}")


if __name__ == "__main__":
    absltest.main()
