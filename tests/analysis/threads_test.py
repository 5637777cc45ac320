"""The analysis' thread setting: resolved from the config, the environment or the CPUs, applied."""

import dataclasses
import os
from unittest import mock

import numpy as np
from absl.testing import absltest
from threadpoolctl import threadpool_info

from tfelg.analysis import analyze, threads
from tfelg.analysis.embeddings import Embeddings
from tfelg.process_pool import available_cpus


def _blobs(n=120, seed=0) -> Embeddings:
    """Two seeded 2-D blobs, labelled by blob, split 60/20/20."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 2, size=n)
    return Embeddings(
        object_id=np.arange(n).astype(str),
        split=rng.choice(["train", "validation", "test"], size=n, p=[0.6, 0.2, 0.2]),
        latent=np.array([[-5.0, 0.0], [5.0, 0.0]])[kind] + rng.normal(size=(n, 2)),
        redshift=np.zeros(n),
        labels={"kind": kind},
        class_names={"kind": ["a", "b"]},
        representation="blobs",
    )


def _pool_threads() -> set[int]:
    """Thread counts of the BLAS/OpenMP pools loaded in this process."""
    return {pool["num_threads"] for pool in threadpool_info()}


class ResolveTest(absltest.TestCase):
    def test_number_then_environment_then_cpus(self):
        with mock.patch.dict(os.environ, {threads.ENV_VAR: "3"}):
            self.assertEqual(threads.resolve(5), 5)
            self.assertEqual(threads.resolve(None), 3)
        with mock.patch.dict(os.environ, {threads.ENV_VAR: " "}):
            self.assertEqual(threads.resolve(None), available_cpus())
        env = {k: v for k, v in os.environ.items() if k != threads.ENV_VAR}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertEqual(threads.resolve(None), available_cpus())

    def test_bad_values_are_refused_by_name(self):
        for bad in (0, -2, 1.5, True):
            with self.assertRaisesRegex(ValueError, "num_threads must be a whole number >= 1"):
                threads.resolve(bad)
        for bad in ("two", "0", "-1"):
            with mock.patch.dict(os.environ, {threads.ENV_VAR: bad}):
                with self.assertRaisesRegex(ValueError, f"TFELG_NUM_THREADS .* got '{bad}'"):
                    threads.resolve(None)
        with self.assertRaisesRegex(ValueError, "num_threads must be a whole number >= 1"):
            analyze.AnalysisConfig(num_threads=0)

    def test_limited_caps_the_pools_and_restores_them(self):
        np.dot(np.ones((64, 64)), np.ones((64, 64)))  # BLAS loaded
        before = [pool["num_threads"] for pool in threadpool_info()]
        self.assertNotEmpty(before)
        with threads.limited(1) as n:
            self.assertEqual(n, 1)
            self.assertEqual(_pool_threads(), {1})
        self.assertEqual([pool["num_threads"] for pool in threadpool_info()], before)


class AnalysisThreadsTest(absltest.TestCase):
    """choose_k, infer_classes and tsne_map run under the config's setting."""

    def setUp(self):
        super().setUp()
        self.emb = _blobs()
        self.config = analyze.AnalysisConfig(
            k_max=3,
            gap_references=2,
            gap_n_init=1,
            n_bootstrap=5,
            tsne_n_iter=10,
            tsne_early_exaggeration_iter=10,
            tsne_perplexity=10,
            num_threads=1,
        )

    def test_model_selection_and_mixture_run_under_the_limit(self):
        from tfelg.analysis import gmm, model_selection

        seen = {}
        select_k, fit_gmm = model_selection.select_k, gmm.fit_gmm

        def spy(name, fn):
            def wrapped(*args, **kwargs):
                seen[name] = _pool_threads()
                return fn(*args, **kwargs)

            return wrapped

        with (
            mock.patch.object(model_selection, "select_k", spy("select_k", select_k)),
            mock.patch.object(gmm, "fit_gmm", spy("fit_gmm", fit_gmm)),
        ):
            chosen = analyze.choose_k(self.emb, self.config).chosen_k
            analyze.infer_classes(self.emb, chosen, self.config, log=lambda _: None)
        self.assertEqual(seen, {"select_k": {1}, "fit_gmm": {1}})

    def test_tsne_jobs_follow_the_config_then_the_environment(self):
        # Numbers other than the CPU count, so that neither can be the default.
        config = dataclasses.replace(self.config, num_threads=available_cpus() + 1)
        _, _, result = analyze.tsne_map(self.emb, config)
        self.assertEqual(result.params["n_jobs"], available_cpus() + 1)
        with mock.patch.dict(os.environ, {threads.ENV_VAR: str(available_cpus() + 2)}):
            _, _, result = analyze.tsne_map(
                self.emb, dataclasses.replace(self.config, num_threads=None)
            )
        self.assertEqual(result.params["n_jobs"], available_cpus() + 2)


if __name__ == "__main__":
    absltest.main()
