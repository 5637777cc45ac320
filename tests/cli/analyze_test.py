"""tfelg-analyze: the whole analysis of a trained run, bad workdirs, no silent overwrite."""

import json
import os
import re
import subprocess
import sys
import tempfile
from unittest import mock

import numpy as np
from absl.testing import absltest

from tfelg import data
from tfelg.analysis import analyze
from tfelg.analysis import embeddings as emb_lib
from tfelg.outputs import projector, sprites
from tfelg.training import loop
from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)


def _command(*args):
    return [sys.executable, "-m", "tfelg.cli.analyze", *args]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


def _run(*args):
    return subprocess.run(_command(*args), capture_output=True, text=True, timeout=300, env=_env())


# Tiny but complete: every step runs (K sweep, gap, bootstrap, t-SNE, projector).
TINY = [
    "--k_max=3",
    "--gap_references=2",
    "--n_bootstrap=2",
    "--tsne_iterations=50",
    "--tsne_early_iterations=50",
]


class AnalyzeHappyPathTest(absltest.TestCase):
    """A trained AE (300 galaxies, 2 epochs) analysed with and without baselines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._tmp = tempfile.TemporaryDirectory()
        data_dir = os.path.join(cls._tmp.name, "tfds")
        data.prepare(
            data.make_builder("emission_lines/synthetic", data_dir, num_galaxies=300, seed=1)
        )
        cls.workdir = os.path.join(cls._tmp.name, "run")
        config = ExperimentConfig(
            data=DataConfig(data_dir=data_dir, num_galaxies=300, dataset_seed=1),
            model=ModelConfig(name="ae", latent_dim=2),
            trainer=TrainerConfig(epochs=2, batch_size=64),
            runtime=RuntimeConfig(progress_bar=False),
        )
        loop.train_and_evaluate(config, cls.workdir, log=lambda _: None)
        cls.out = {name: os.path.join(cls._tmp.name, name) for name in ("all", "model_only")}
        runs = {
            "all": [f"--workdir={cls.workdir}", f"--output_dir={cls.out['all']}", *TINY],
            "model_only": [
                f"--workdir={cls.workdir}",
                f"--output_dir={cls.out['model_only']}",
                "--nobaselines",
                *TINY,
            ],
        }
        processes = {
            name: subprocess.Popen(
                _command(*args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
            )
            for name, args in runs.items()
        }
        cls.results = {}
        for name, process in processes.items():
            out, err = process.communicate(timeout=600)
            cls.results[name] = (process.returncode, out, err)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()
        super().tearDownClass()

    def _summary(self, name):
        rc, out, err = self.results[name]
        self.assertEqual(rc, 0, err[-3000:])
        with open(os.path.join(self.out[name], "summary.json")) as f:
            return json.load(f), out, err

    def test_model_and_baselines(self):
        summary, out, _ = self._summary("all")
        self.assertEqual(set(summary["representations"]), {"ae", "pca", "line_ratios"})
        for representation, path in summary["representations"].items():
            with open(path) as f:
                one = json.load(f)
            self.assertEqual(one["representation"], representation)
            self.assertTrue(set(one["chosen_k"]) >= {"bic"}, one["chosen_k"])
            self.assertIn("whan", one["comparisons"])
            self.assertTrue(
                os.path.exists(os.path.join(self.out["all"], representation, "catalogue.fits"))
            )
        results = open(os.path.join(self.out["all"], "results.md")).read()
        for representation in ("ae", "pca", "line_ratios"):
            self.assertRegex(results, rf"\| {representation} \|")
        self.assertIn(f"results: {os.path.join(self.out['all'], 'results.md')}", out)

    def test_without_baselines(self):
        summary, _, _ = self._summary("model_only")
        self.assertEqual(list(summary["representations"]), ["ae"])
        results = open(os.path.join(self.out["model_only"], "results.md")).read()
        self.assertNotIn("| pca |", results)

    def test_line_ratio_glyphs_where_the_data_have_no_spectra(self):
        # A catalogue of line measurements (emission_lines/mpajhu and the like)
        # has no spectra: the projector's thumbnails are line-ratio glyphs, a
        # missing ratio drawn as the grey tick (NaN), not as its drawn value;
        # with --nobaselines the ratios are made for the glyphs alone.
        real_load = loop.load_splits

        def without_spectra(*args, **kwargs):
            splits = real_load(*args, **kwargs)
            return {s: {k: v for k, v in a.items() if k != "spectrum"} for s, a in splits.items()}

        config = analyze.AnalysisConfig(
            k_max=3, gap_references=2, n_bootstrap=2, tsne_n_iter=50,
            tsne_early_exaggeration_iter=50,
        )  # fmt: skip
        with open(os.path.join(self.workdir, loop.CONFIG_FILE)) as f:
            splits = real_load(ExperimentConfig.from_dict(json.load(f)).data)
        raw = np.concatenate([emb_lib.line_ratio_features(splits[s]) for s in emb_lib.SPLITS])
        self.assertTrue(np.isnan(raw).any())
        for baselines in (True, False):
            with self.subTest(baselines=baselines):
                out = os.path.join(self._tmp.name, f"glyphs_{baselines}")
                with (
                    mock.patch.object(loop, "load_splits", side_effect=without_spectra),
                    mock.patch.object(
                        sprites, "render_feature_glyphs", wraps=sprites.render_feature_glyphs
                    ) as glyphs,
                    mock.patch.object(sprites, "render_spectra", side_effect=AssertionError),
                ):
                    summary = analyze.analyze_workdir(
                        self.workdir, out, config, baselines=baselines, log=lambda _: None
                    )
                (values,), _ = glyphs.call_args
                self.assertEqual(values.shape, raw.shape)
                np.testing.assert_array_equal(np.isnan(values), np.isnan(raw))
                for name in summary["representations"]:
                    sprite = os.path.join(out, name, "projector", projector.SPRITE_FILENAME)
                    self.assertTrue(os.path.exists(sprite), sprite)

    def test_progress_shown_and_info_logs_quiet(self):
        _, out, err = self._summary("all")
        # t-SNE progress: 100 iterations, a line every 50, for each representation.
        self.assertEqual(len(re.findall(r"t-SNE iteration 100/100 ", out)), 3, out)
        # absl INFO lines from Python (``I1202 07:38:25.0 123 file.py:12] ...``); the C++
        # start-up lines TensorFlow prints before absl is initialised are not absl's.
        self.assertIsNone(re.search(r"^I\d{4} [\d:.]+ +\d+ \S+\.py:\d+\]", err, re.M), err[-3000:])


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
