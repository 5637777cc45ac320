"""The mixtures' EM starts: AnalysisConfig.mixture_n_init (the flag: analyze_gap_n_init_test)."""

from unittest import mock

import numpy as np
from absl.testing import absltest

from tfelg.analysis import analyze, gmm, model_selection


def overlapping_embeddings(n=600, seed=0):
    """Five overlapping 2-D blobs: single EM starts end in different optima."""
    from tfelg.analysis.embeddings import Embeddings, default_class_names

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, size=n)
    centres = rng.normal(scale=1.5, size=(5, 2))
    return Embeddings(
        object_id=np.array([f"G{i:04d}" for i in range(n)]),
        split=np.where(np.arange(n) < n - 100, "train", "test"),
        latent=centres[truth] + rng.normal(size=(n, 2)),
        redshift=rng.uniform(0.02, 0.2, size=n),
        labels={"whan": truth % 2, "bpt": truth % 2},
        class_names=default_class_names(["a", "b"]),
        representation="blobs",
    )


class MixtureNInitTest(absltest.TestCase):
    def test_default_and_bad_values(self):
        self.assertEqual(analyze.AnalysisConfig().mixture_n_init, 4)
        for bad in (0, -1):
            with self.assertRaisesRegex(ValueError, f"mixture_n_init must be >= 1, got {bad}"):
                analyze.AnalysisConfig(mixture_n_init=bad)

    def test_the_final_mixture_is_the_most_likely_of_its_starts(self):
        emb = overlapping_embeddings()
        train = emb.for_split("train").latent
        config = analyze.AnalysisConfig(n_clusters=5, mixture_n_init=6, n_bootstrap=5, seed=3)
        inference = analyze.infer_classes(emb, {"bic": 5}, config, log=lambda _: None)
        singles = [gmm.fit_gmm(train, 5, seed=3 + i).log_likelihood for i in range(6)]
        self.assertGreater(max(singles) - min(singles), 1e-3)  # the starts do differ here
        self.assertAlmostEqual(inference.mixture["log_likelihood"], max(singles), places=3)

    def test_it_reaches_the_k_sweep(self):
        config = analyze.AnalysisConfig(
            k_max=3, gap_references=2, gap_n_init=1, mixture_n_init=2, silhouette_sample=50
        )
        with mock.patch.object(
            model_selection, "select_k", wraps=model_selection.select_k
        ) as select_k:
            analyze.choose_k(overlapping_embeddings(n=200), config)
        self.assertEqual(select_k.call_args.kwargs["n_init"], 2)


if __name__ == "__main__":
    absltest.main()


class CollapsedComponentsTest(absltest.TestCase):
    def test_a_point_mass_is_reported_and_a_clean_fit_is_not(self):
        emb = overlapping_embeddings(n=1000, seed=1)
        logged = []
        config = analyze.AnalysisConfig(n_clusters=5, n_bootstrap=5)
        clean = analyze.infer_classes(emb, {"bic": 5}, config, log=logged.append)
        self.assertEqual(clean.mixture["collapsed"]["components"], [])
        self.assertEqual(clean.mixture["collapsed"]["repeated_rows"], 0)
        self.assertEqual(logged, [])
        # 60 training galaxies at one point (as an encoder's dead-ReLU region gives).
        latent = emb.latent.copy()
        latent[:60] = [9.0, 9.0]
        emb.latent = latent
        point = analyze.infer_classes(emb, {"bic": 5}, config, log=logged.append)
        collapsed = point.mixture["collapsed"]
        self.assertLen(collapsed["components"], 1)
        self.assertAlmostEqual(collapsed["weights"][0], 60 / 900, delta=0.005)
        self.assertEqual(collapsed["repeated_rows"], 59)
        self.assertLen(logged, 1)
        self.assertIn("1 of 5 mixture components collapsed", logged[0])
        self.assertIn("of 900 training galaxies in 2 dimensions; 59 of them repeat", logged[0])
