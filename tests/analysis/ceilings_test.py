"""Tests for tfelg.analysis.ceilings on planted classes whose ceiling is known."""

import numpy as np
from absl.testing import absltest, parameterized

from tfelg.analysis import ceilings

NAMES = ["a", "b", "c", "low_sn"]


def planted(n_per_split=(600, 150, 300), separation=8.0, noise_labels=False, seed=0):
    """Three Gaussian blobs in 4-D (one column half missing), plus ignored low_sn rows."""
    rng = np.random.default_rng(seed)
    x, codes = {}, {}
    for split, n in zip(("train", "validation", "test"), n_per_split, strict=True):
        y = rng.integers(0, 3, n)
        centres = separation * np.eye(4)[:3]
        feats = centres[y] + rng.normal(size=(n, 4))
        feats[rng.random(n) < 0.5, 3] = np.nan  # a missing line
        labels = rng.integers(0, 3, n) if noise_labels else y.copy()
        labels[rng.random(n) < 0.1] = 3  # low_sn: left out
        x[split] = feats.astype(np.float32)
        codes[split] = labels
    return x, codes


class SupervisedScoresTest(parameterized.TestCase):
    @parameterized.parameters("gbm", "mlp")
    def test_separable_classes_reach_one(self, method):
        x, codes = planted()
        scores = ceilings.supervised_scores(x, codes, NAMES, method, seed=1, n_bootstrap=20)
        self.assertGreater(scores["accuracy"], 0.98)
        self.assertGreater(scores["accuracy_plain"], 0.98)
        self.assertGreater(scores["ari"], 0.95)
        self.assertGreater(scores["nmi"], 0.9)
        # low_sn rows are neither learnt nor scored.
        self.assertEqual(scores["n_test"], int(np.sum(codes["test"] != 3)))
        self.assertGreaterEqual(scores["ari_err"], 0.0)

    @parameterized.parameters("gbm", "mlp")
    def test_noise_labels_give_chance(self, method):
        x, codes = planted(noise_labels=True)
        scores = ceilings.supervised_scores(x, codes, NAMES, method, seed=1, n_bootstrap=20)
        self.assertLess(abs(scores["ari"]), 0.05)
        self.assertLess(scores["accuracy_plain"], 0.45)  # chance is 1/3
        self.assertLess(scores["nmi"], 0.05)

    def test_overlap_lowers_the_ceiling_below_one(self):
        x, codes = planted(separation=1.5)
        scores = ceilings.supervised_scores(x, codes, NAMES, "gbm", seed=1, n_bootstrap=20)
        self.assertLess(scores["accuracy"], 0.9)
        self.assertGreater(scores["accuracy"], 0.5)

    def test_bad_method_and_single_class(self):
        x, codes = planted()
        with self.assertRaisesRegex(ValueError, "unknown ceiling method 'svm'"):
            ceilings.supervised_scores(x, codes, NAMES, "svm")
        one = {s: np.zeros_like(c) for s, c in codes.items()}
        with self.assertRaisesRegex(ValueError, "fewer than two classes"):
            ceilings.supervised_scores(x, one, NAMES, "gbm")


class CeilingTableTest(absltest.TestCase):
    def test_compute_ceilings_on_synthetic_lines(self):
        from tfelg import schemes
        from tfelg.synthetic import emission_lines as synthetic

        n = 600
        sample = synthetic.generate(n, 3, with_spectrum=False)
        classes = schemes.classify_table(sample.lines)
        arrays = {
            "ew": sample.lines.ew,
            "flux": sample.lines.flux,
            "whan": classes["whan"],
            "bpt": classes["bpt"],
            "true_class": sample.true_class,
        }
        parts = np.split(np.arange(n), [int(0.7 * n), int(0.8 * n)])
        splits = {
            s: {k: v[rows] for k, v in arrays.items()}
            for s, rows in zip(("train", "validation", "test"), parts, strict=True)
        }
        rows = ceilings.compute_ceilings(
            splits,
            inputs=[("lines", "ew"), ("spectrum", "ew")],
            methods=["gbm"],
            true_class_names=synthetic.TRUE_CLASS_NAMES,
            n_bootstrap=5,
            log=lambda _: None,
        )
        # No spectra in these arrays: that input is skipped, lines are scored for 3 schemes.
        self.assertEqual(
            {(r["input"], r["scheme"]) for r in rows},
            {
                ("lines/ew", "whan"),
                ("lines/ew", "bpt"),
                ("lines/ew", "true_class"),
            },
        )
        # WHAN is a function of EW(Halpha) and [NII]/Halpha, both in the EWs' reach.
        self.assertGreater(ceilings.best_ceiling(rows, "lines/ew", "whan"), 0.6)
        self.assertTrue(np.isnan(ceilings.best_ceiling(rows, "spectrum", "whan")))


if __name__ == "__main__":
    absltest.main()
