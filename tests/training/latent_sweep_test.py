"""Tests for tfelg.training.latent_sweep: table, plot, PCA line, resumption."""

import csv
import os

import numpy as np
from absl.testing import absltest

from tfelg.synthetic import emission_lines as synthetic
from tfelg.training import latent_sweep, loop
from tfelg.training.config import ExperimentConfig, ModelConfig, RuntimeConfig, TrainerConfig


def generator_splits(num_galaxies=300, seed=2):
    table = synthetic.generate(num_galaxies, seed, with_spectrum=False).lines
    arrays = {"ew": table.ew, "flux": table.flux}
    parts = np.split(np.arange(num_galaxies), [int(0.8 * num_galaxies), int(0.9 * num_galaxies)])
    return {
        split: {k: v[rows] for k, v in arrays.items()}
        for split, rows in zip(loop.SPLITS, parts, strict=True)
    }


class LatentSweepTest(absltest.TestCase):
    def test_table_plot_and_skipping_finished_runs(self):
        workdir = self.create_tempdir().full_path
        base = ExperimentConfig(
            model=ModelConfig(options={"beta": 0.01}),  # a VAE option the AE must not get
            trainer=TrainerConfig(epochs=1, batch_size=64),
            runtime=RuntimeConfig(progress_bar=False),
        )
        splits = generator_splits()
        kwargs = dict(models=["ae"], latent_dims=[2, 1], splits=splits, command="sweep --x=1")
        rows = latent_sweep.run_latent_sweep(base, workdir, log=lambda _: None, **kwargs)

        self.assertEqual(
            [(r["model"], r["latent_dim"]) for r in rows],
            [("pca", 1), ("pca", 2), ("ae", 1), ("ae", 2)],
        )
        pca = {r["latent_dim"]: r["validation"] for r in rows if r["model"] == "pca"}
        self.assertLess(pca[2], pca[1])  # one more component never reconstructs worse
        with open(os.path.join(workdir, "latent_sweep.csv")) as f:
            table = list(csv.DictReader(f))
        self.assertEqual(len(table), 4)
        self.assertEqual(set(table[0]), set(latent_sweep.COLUMNS))
        markdown = open(os.path.join(workdir, "latent_sweep.md")).read()
        self.assertIn("sweep --x=1", markdown)
        self.assertIn("| model | d = 1 | d = 2 |", markdown)
        self.assertIn("| pca |", markdown)
        with open(os.path.join(workdir, "latent_sweep.png"), "rb") as f:
            self.assertEqual(f.read(4), b"\x89PNG")
        self.assertTrue(os.path.exists(os.path.join(workdir, "runs", "ae_d1", "model.keras")))

        log = []
        again = latent_sweep.run_latent_sweep(base, workdir, log=log.append, **kwargs)
        drop_seconds = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
        self.assertEqual(drop_seconds(again), drop_seconds(rows))
        self.assertEqual(sum("already trained" in line for line in log), 2)

    def test_bad_names_fail_before_training(self):
        workdir = self.create_tempdir().full_path
        with self.assertRaisesRegex(ValueError, "unknown model.name 'wgan'"):
            latent_sweep.run_latent_sweep(
                ExperimentConfig(), workdir, models=["ae", "wgan"], splits=generator_splits()
            )
        with self.assertRaisesRegex(ValueError, "model 'gan' trains on images"):
            latent_sweep.run_latent_sweep(
                ExperimentConfig(), workdir, models=["ae", "gan"], splits=generator_splits()
            )
        with self.assertRaisesRegex(ValueError, "latent_dim must be >= 1"):
            latent_sweep.run_latent_sweep(
                ExperimentConfig(), workdir, latent_dims=[0, 1], splits=generator_splits()
            )
        self.assertEqual(os.listdir(workdir), [])

    def test_seed_ensemble_trains_each_model_per_seed(self):
        workdir = self.create_tempdir().full_path
        base = ExperimentConfig(
            trainer=TrainerConfig(epochs=1, batch_size=64, seed=7),
            runtime=RuntimeConfig(progress_bar=False),
        )
        log = []
        rows = latent_sweep.run_latent_sweep(
            base,
            workdir,
            models=["ae"],
            latent_dims=[2],
            seeds=2,
            splits=generator_splits(),
            log=log.append,
        )
        self.assertEqual(
            [(r["model"], r["seed"]) for r in rows], [("pca", ""), ("ae", 7), ("ae", 1007)]
        )
        self.assertEqual(
            sorted(os.listdir(os.path.join(workdir, "runs"))), ["ae_d2", "ae_d2_seed1007"]
        )
        config = loop.read_json(os.path.join(workdir, "runs", "ae_d2_seed1007", "config.json"))
        self.assertEqual(config["trainer"]["seed"], 1007)
        errors = [r["validation"] for r in rows if r["model"] == "ae"]
        self.assertNotEqual(errors[0], errors[1])  # different initial weights
        self.assertIn("ae d=2 seed=1007: training in", "\n".join(log))
        markdown = open(os.path.join(workdir, "latent_sweep.md")).read()
        mean, std = np.mean(errors), np.std(errors, ddof=1)
        self.assertIn(f"| ae | {mean:.4f} ± {std:.4f} |", markdown)
        self.assertIn("2 seeds per model (7 + i x 1000)", markdown)
        with self.assertRaisesRegex(ValueError, "seeds must be an integer >= 1"):
            latent_sweep.run_latent_sweep(base, workdir, seeds=0, splits=generator_splits())

    def test_mixture_prior_variant(self):
        self.assertEqual(latent_sweep.registry_name("vae_mog"), "vae")
        self.assertEqual(
            latent_sweep.options_for("vae_mog", {"beta": 0.1, "prior_std": 5.0}),
            {"beta": 0.1, "prior": "mog"},
        )
        self.assertEqual(latent_sweep.run_name("vae_mog", 4, 0, 0), "vae_mog_d4")
        self.assertEqual(latent_sweep.run_name("vae_mog", 4, 1000, 0), "vae_mog_d4_seed1000")

    def test_options_for_keeps_what_each_model_takes(self):
        options = {"beta": 0.1, "prior_std": 5.0, "noise_std": 0.5}
        self.assertEqual(latent_sweep.options_for("ae", options), {})
        self.assertEqual(latent_sweep.options_for("vae", options), {"beta": 0.1, "noise_std": 0.5})
        self.assertEqual(latent_sweep.options_for("aae", options), {"prior_std": 5.0})


if __name__ == "__main__":
    absltest.main()
