"""The gap statistic's k-means starts (AnalysisConfig.gap_n_init), and tfelg-analyze's restart flags."""

import contextlib
import io
from unittest import mock

import numpy as np
from absl import flags
from absl.testing import absltest, flagsaver

from tfelg.analysis import analyze, model_selection
from tfelg.analysis.embeddings import Embeddings, default_class_names
from tfelg.cli import analyze as analyze_cli


def small_embeddings(n=90, seed=0) -> Embeddings:
    """Two 2-D blobs, all in the training split but a few test galaxies."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, size=n)
    latent = np.array([[-4.0, 0.0], [4.0, 0.0]])[truth] + rng.normal(size=(n, 2))
    return Embeddings(
        object_id=np.array([f"G{i:03d}" for i in range(n)]),
        split=np.where(np.arange(n) < n - 10, "train", "test"),
        latent=latent,
        redshift=rng.uniform(0.02, 0.2, size=n),
        labels={"whan": truth, "bpt": truth},
        class_names=default_class_names(["a", "b"]),
        representation="blobs",
    )


class GapNInitConfigTest(absltest.TestCase):
    def test_default_is_the_libraries_and_bad_values_are_refused(self):
        self.assertEqual(analyze.AnalysisConfig().gap_n_init, model_selection.GAP_N_INIT)
        for bad in (0, -2):
            with self.assertRaisesRegex(ValueError, f"gap_n_init must be >= 1, got {bad}"):
                analyze.AnalysisConfig(gap_n_init=bad)

    def test_it_reaches_the_gap_computation(self):
        config = analyze.AnalysisConfig(
            k_max=3, gap_references=2, gap_n_init=3, silhouette_sample=50, seed=4
        )
        selection = analyze.choose_k(small_embeddings(), config)
        # Three k-means++ starts per K and data set were drawn and recorded.
        self.assertEqual(selection.gap.n_init, 3)
        self.assertEqual(np.shape(selection.gap.seed_centres)[0], 3)
        self.assertEqual(selection.to_dict()["gap_n_init"], 3)


class GapNInitFlagTest(absltest.TestCase):
    def _main(self, *argv):
        """tfelg-analyze's main with these flags; analyze_workdir replaced."""
        summary = {"representations": {"ae": "ae/summary.json"}, "tensorboard_command": "tb"}
        stderr = io.StringIO()
        with (
            flagsaver.flagsaver(),
            mock.patch.object(analyze, "analyze_workdir", return_value=summary) as run,
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(stderr),
        ):
            flags.FLAGS(["tfelg-analyze", f"--workdir={self.create_tempdir().full_path}", *argv])
            rc = analyze_cli.main(["tfelg-analyze"])
        return rc, run, stderr.getvalue()

    def test_flag_reaches_the_config(self):
        rc, run, _ = self._main("--gap_n_init=4", "--gap_references=3")
        self.assertEqual(rc, 0)
        config = run.call_args.args[2]
        self.assertEqual((config.gap_n_init, config.gap_references), (4, 3))
        rc, run, _ = self._main()
        self.assertEqual(run.call_args.args[2].gap_n_init, model_selection.GAP_N_INIT)

    def test_bad_value_is_a_clean_error(self):
        rc, run, stderr = self._main("--gap_n_init=0")
        self.assertEqual(rc, 2)
        self.assertIn("tfelg-analyze: error: gap_n_init must be >= 1, got 0", stderr)
        run.assert_not_called()

    def test_mixture_n_init_flag(self):
        rc, run, _ = self._main("--mixture_n_init=2")
        self.assertEqual(rc, 0)
        self.assertEqual(run.call_args.args[2].mixture_n_init, 2)
        rc, run, stderr = self._main("--mixture_n_init=0")
        self.assertEqual(rc, 2)
        self.assertIn("mixture_n_init must be >= 1, got 0", stderr)
        run.assert_not_called()


if __name__ == "__main__":
    absltest.main()
