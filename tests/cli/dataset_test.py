"""tfelg-dataset as a user runs it: the installed command, ~ in its paths.

``--data_dir=~/tfds`` as the README writes it, after ``=`` where no shell
expands it: the dataset must land in the home folder, not in a folder named
``~`` under the current one.
"""

import glob
import os
import subprocess
import sys
from pathlib import Path

from absl.testing import absltest

from tfelg.synthetic import emission_lines as synthetic
from tfelg.testing.split_counts import md5_split_counts

BIN = Path(sys.executable).parent


class DatasetBinaryTest(absltest.TestCase):
    def test_build_describe_and_plot_with_home_paths(self):
        home = self.create_tempdir("home").full_path
        cwd = self.create_tempdir("cwd").full_path
        proc = subprocess.run(
            [
                str(BIN / "tfelg-dataset"),
                "--dataset=emission_lines/synthetic",
                "--num_galaxies=120",
                "--seed=0",
                "--data_dir=~/tfds",
                "--plot_dir=~/plots",
            ],
            cwd=cwd,
            env=dict(os.environ, HOME=home, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""),
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        self.assertEqual(os.listdir(cwd), [], "a folder named '~' (or anything) in the cwd")
        self.assertNotEmpty(glob.glob(os.path.join(home, "tfds", "emission_lines", "synthetic_*")))
        plots = glob.glob(os.path.join(home, "plots", "*.png"))
        self.assertNotEmpty(plots)
        for path in plots:
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", path)
        # Split sizes as the md5 rule gives them for these galaxies' ids.
        sizes = md5_split_counts(synthetic.generate(120, 0, with_spectrum=False).lines.object_id)
        self.assertIn(
            ", ".join(f"{split} {n}" for split, n in sizes.items()), proc.stdout, proc.stdout
        )
        self.assertIn("WHAN classes (all splits):", proc.stdout)
        self.assertIn("BPT classes (all splits):", proc.stdout)

    def test_unknown_dataset_is_a_clean_error(self):
        proc = subprocess.run(
            [str(BIN / "tfelg-dataset"), "--dataset=emission_lines/dr99"],
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""),
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(proc.returncode, 2, proc.stderr[-3000:])
        self.assertIn("tfelg-dataset: error: ", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


if __name__ == "__main__":
    absltest.main()
