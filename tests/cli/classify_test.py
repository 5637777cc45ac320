"""tfelg-classify run as a real process, as an astronomer would."""

import os
import subprocess
import sys

from absl.testing import absltest
from astropy.io import fits

from tfelg.testing import fits_fixtures


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "tfelg.cli.classify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


class ClassifyBinaryTest(absltest.TestCase):
    def test_mpajhu_then_refuses_to_overwrite(self):
        directory = self.create_tempdir().full_path
        files = fits_fixtures.write_mpajhu_pair(directory, n=12, seed=0)
        out = os.path.join(directory, "out.fits")
        proc = _run(f"--input={files.line_path}", f"--info={files.info_path}", f"--output={out}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("WHAN classes (12 objects)", proc.stdout)
        self.assertIn("BPT classes (12 objects)", proc.stdout)
        with fits.open(out) as hdul:
            self.assertLen(hdul["CLASSES"].data, 12)
        before = os.path.getmtime(out)

        proc = _run(f"--input={files.line_path}", f"--info={files.info_path}", f"--output={out}")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--overwrite", proc.stderr)
        self.assertEqual(os.path.getmtime(out), before)

    def test_spec_folder(self):
        directory = self.create_tempdir().full_path
        fits_fixtures.write_sdss_spec_folder(os.path.join(directory, "spec"), n=3, seed=2)
        out = os.path.join(directory, "spec.fits")
        proc = _run(f"--input={os.path.join(directory, 'spec')}", f"--output={out}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("wrote 3 rows", proc.stdout)
        with fits.open(out) as hdul:
            self.assertLen(hdul["CLASSES"].data, 3)

    def test_bad_file_is_named_and_nothing_written(self):
        directory = self.create_tempdir().full_path
        bad = fits_fixtures.write_not_fits(os.path.join(directory, "broken.fits"))
        out = os.path.join(directory, "out.fits")
        proc = _run(f"--input={bad}", f"--output={out}")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("broken.fits", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    absltest.main()
