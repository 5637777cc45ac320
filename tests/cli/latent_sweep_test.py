"""tfelg-latent-sweep as a user runs it: the installed command, run twice.

One tiny sweep (an AE and PCA at d = 2, one epoch on 300 synthetic
galaxies): the table, its CSV/Markdown/PNG, and a second run that trains
nothing because every run finished.
"""

import csv
import os
import subprocess
import sys
from pathlib import Path

from absl.testing import absltest

from tfelg import data

BIN = Path(sys.executable).parent


def _sweep(data_dir, workdir):
    return subprocess.run(
        [
            str(BIN / "tfelg-latent-sweep"),
            f"--data_dir={data_dir}",
            "--num_galaxies=300",
            "--dataset_seed=1",
            f"--workdir={workdir}",
            "--models=ae",
            "--latent_dims=2",
            "--epochs=1",
            "--batch_size=64",
            "--noprogress_bar",
        ],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""),
        capture_output=True,
        text=True,
        timeout=300,
    )


class LatentSweepBinaryTest(absltest.TestCase):
    def test_sweep_then_rerun_skips_finished_runs(self):
        data_dir = self.create_tempdir("tfds").full_path
        data.prepare(
            data.make_builder("emission_lines/synthetic", data_dir, num_galaxies=300, seed=1)
        )
        workdir = os.path.join(self.create_tempdir().full_path, "sweep")

        first = _sweep(data_dir, workdir)
        self.assertEqual(first.returncode, 0, first.stderr[-3000:])
        self.assertIn("ae d=2: training in", first.stderr)
        self.assertIn("| model | d = 2 |", first.stdout)
        for name in ("latent_sweep.csv", "latent_sweep.md", "latent_sweep.png"):
            self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
        with open(os.path.join(workdir, "latent_sweep.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(
            sorted((r["model"], int(r["latent_dim"])) for r in rows),
            [("ae", 2), ("pca", 2)],
        )
        for row in rows:
            self.assertGreater(float(row["validation"]), 0, row)
        self.assertTrue(os.path.exists(os.path.join(workdir, "runs", "ae_d2", "model.keras")))

        second = _sweep(data_dir, workdir)
        self.assertEqual(second.returncode, 0, second.stderr[-3000:])
        self.assertIn("ae d=2: already trained in", second.stderr)
        self.assertNotIn("training in", second.stderr)
        self.assertEqual(second.stdout, first.stdout)  # the same table


if __name__ == "__main__":
    absltest.main()
