"""The TensorFlow EM against scikit-learn's GaussianMixture, from the same start."""

import json
import warnings
from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

from tfelg.analysis import em_statistics, gmm, mixture
from tfelg.errors import InputError


def mixture_data(n=1500, d=3, k=4, spread=5.0, seed=0):
    """Anisotropic Gaussian clusters with some overlap."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(k, d))
    mixing = rng.normal(scale=0.4, size=(k, d, d)) + np.eye(d)
    labels = rng.integers(0, k, n)
    x = centres[labels] + np.einsum("nd,nde->ne", rng.normal(size=(n, d)), mixing[labels])
    return x, labels


def sklearn_from(x, init, covariance_type):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(
            init.k,
            covariance_type=covariance_type,
            init_params="random_from_data",
            **init.to_sklearn(),
        ).fit(x)


class EmAgreesWithSklearnTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.product(covariance_type=["full", "diag"], precision=["float32", "float64"])
    def test_same_start_same_likelihood_and_bic(self, covariance_type, precision):
        x, _ = mixture_data()
        ks = [1, 3, 5]
        inits = []
        for k in ks:
            labels = KMeans(k, n_init=1, random_state=0).fit(x).labels_
            inits.append(gmm.init_from_labels(x, labels, k, covariance_type=covariance_type))
        fits = gmm.fit_gmm_sweep(
            x, ks, covariance_type=covariance_type, init=inits, precision=precision
        )
        for k, init, ours in zip(ks, inits, fits, strict=True):
            theirs = sklearn_from(x, init, covariance_type)
            ll = theirs.score(x) * len(x)
            self.assertEqual(ours.k, k)
            self.assertLess(abs(ours.log_likelihood - ll) / abs(ll), 1e-3)
            self.assertLess(abs(ours.bic - theirs.bic(x)) / abs(theirs.bic(x)), 1e-3)
            self.assertLess(abs(ours.aic - theirs.aic(x)) / abs(theirs.aic(x)), 1e-3)
            self.assertEqual(ours.n_parameters, theirs._n_parameters())
            if precision == "float64":
                # Same arithmetic in float64: the same iterations and parameters.
                self.assertEqual(ours.n_iter, theirs.n_iter_)
                self.assertAllClose(ours.log_likelihood, ll, rtol=1e-9)
                # BIC and AIC to 1e-9 relative (about 1e-5 BIC units here),
                # not the float32 tolerance above (about 20 units): a wrong
                # parameter count or ln N would show.
                self.assertAllClose(ours.bic, theirs.bic(x), rtol=1e-9, atol=0)
                self.assertAllClose(ours.aic, theirs.aic(x), rtol=1e-9, atol=0)
                self.assertAllClose(ours.means, theirs.means_, rtol=1e-6, atol=1e-8)
                self.assertAllClose(ours.covariances, theirs.covariances_, rtol=1e-6, atol=1e-8)
                self.assertAllClose(ours.weights, theirs.weights_, rtol=1e-6)

    def test_tight_cluster_far_away_uses_float64(self):
        # A cluster of width 1e-3 at distance 50: the quadratic form cancels
        # in float32 (kappa ~ 2.5e9), so "auto" must run in float64.
        rng = np.random.default_rng(1)
        x = np.concatenate([rng.normal(size=(400, 2)), 50.0 + 1e-3 * rng.normal(size=(200, 2))])
        labels = np.r_[np.zeros(400, int), np.ones(200, int)]
        init = gmm.init_from_labels(x, labels, 2)
        centred = init.means - x.mean(axis=0)
        prec_chol = em_statistics.precision_cholesky(init.covariances, "full")
        kappa = em_statistics.kappa(centred, prec_chol, "full")
        self.assertGreater(kappa.max(), gmm.FLOAT32_KAPPA_MAX)
        ours = gmm.fit_gmm(x, 2, init=init)
        theirs = sklearn_from(x, init, "full")
        self.assertAllClose(ours.log_likelihood, theirs.score(x) * len(x), rtol=1e-6)
        # Forced to float32 the same fit breaks down.
        with self.assertRaisesRegex(ValueError, "not positive definite"):
            gmm.fit_gmm(x, 2, init=init, precision="float32")

    def test_moderately_tight_cluster(self):
        # Width 0.01 at distance 30: float32 is off by 10% or more in log L
        # (or fails), "auto" switches to float64 and agrees.
        rng = np.random.default_rng(2)
        x = np.concatenate([rng.normal(size=(400, 2)), 30 + 1e-2 * rng.normal(size=(200, 2))])
        init = gmm.init_from_labels(x, np.r_[np.zeros(400, int), np.ones(200, int)], 2)
        expected = sklearn_from(x, init, "full").score(x) * len(x)
        auto = gmm.fit_gmm(x, 2, init=init).log_likelihood
        forced = gmm.fit_gmm(x, 2, init=init, precision="float32").log_likelihood
        self.assertLess(abs(auto - expected) / abs(expected), 1e-8)
        self.assertGreater(abs(forced - expected) / abs(expected), 0.01)

    def test_init_from_labels_is_sklearn_first_m_step(self):
        x, labels = mixture_data(n=600)
        for covariance_type in ("full", "diag"):
            init = gmm.init_from_labels(x, labels, 4, covariance_type=covariance_type)
            resp = np.eye(4)[labels]
            nk, means, cov = _estimate_gaussian_parameters(x, resp, 1e-6, covariance_type)
            self.assertAllClose(init.weights, nk / len(x))
            self.assertAllClose(init.means, means)
            self.assertAllClose(init.covariances, cov)

    def test_label_matrix_pass_equals_numpy(self):
        x, labels = mixture_data(n=700)
        other = (labels + 1) % 3
        inits = gmm.inits_from_label_matrix(x, np.stack([labels, other], 1), [4, 3])
        for init, lab, k in zip(inits, [labels, other], [4, 3], strict=True):
            expected = gmm.init_from_labels(x, lab, k)
            self.assertAllClose(init.weights, expected.weights)
            self.assertAllClose(init.means, expected.means)
            self.assertAllClose(init.covariances, expected.covariances, atol=1e-10)

    def test_sweep_equals_separate_fits(self):
        x, _ = mixture_data(n=800)
        labels = [KMeans(k, n_init=1, random_state=0).fit(x).labels_ for k in (2, 4)]
        inits = [gmm.init_from_labels(x, lab, k) for lab, k in zip(labels, (2, 4), strict=True)]
        sweep = gmm.fit_gmm_sweep(x, [2, 4], init=inits, precision="float64")
        for init, together in zip(inits, sweep, strict=True):
            alone = gmm.fit_gmm(x, init.k, init=init, precision="float64")
            self.assertAllClose(together.log_likelihood, alone.log_likelihood, rtol=1e-12)
            self.assertEqual(together.n_iter, alone.n_iter)

    def test_compiled_pass_agrees(self):
        x, _ = mixture_data(n=600, d=2)
        inits = [
            gmm.init_from_labels(x, KMeans(k, n_init=1, random_state=0).fit(x).labels_, k)
            for k in (2, 3)
        ]
        plain = gmm.fit_gmm_sweep(x, [2, 3], init=inits, precision="float64", jit_compile=False)
        xla = gmm.fit_gmm_sweep(
            x, [2, 3], init=inits, precision="float64", jit_compile=True, chunk_size=128
        )
        for a, b in zip(plain, xla, strict=True):
            self.assertAllClose(a.log_likelihood, b.log_likelihood, rtol=1e-10)


class GmmApiTest(parameterized.TestCase, tf.test.TestCase):
    def test_default_start_finds_the_clusters(self):
        rng = np.random.default_rng(0)
        centres = np.array([[0, 0, 0], [9, 0, 0], [0, 9, 0], [0, 0, 9]])
        labels = rng.integers(0, 4, 1200)
        x = centres[labels] + rng.normal(size=(1200, 3))
        fit = gmm.fit_gmm(x, 4, seed=0)
        self.assertTrue(fit.converged)
        proba = gmm.predict_proba(fit, x)
        self.assertEqual(proba.shape, (len(x), 4))
        self.assertAllClose(proba.sum(axis=1), np.ones(len(x)))
        predicted = gmm.predict(fit, x)
        self.assertAllEqual(predicted, np.argmax(proba, axis=1))
        # Each cluster is (almost) one true class.
        table = np.zeros((4, 4))
        np.add.at(table, (predicted, labels), 1)
        self.assertGreater(table.max(axis=1).sum() / len(x), 0.95)
        self.assertAllClose(gmm.score_samples(fit, x).sum(), fit.log_likelihood, rtol=1e-5)
        self.assertAllClose(fit.bic, -2 * fit.log_likelihood + fit.n_parameters * np.log(len(x)))
        json.dumps(fit.to_dict())

    @parameterized.parameters("full", "diag")
    def test_prediction_in_row_blocks_is_sklearns(self, covariance_type):
        # Blocks of 7 rows (the default is 65,536): the same numbers as
        # scikit-learn's whole-array prediction from the same mixture.
        x, _ = mixture_data(n=500)
        fit = gmm.fit_gmm(x, 4, covariance_type=covariance_type, seed=0)
        ref = GaussianMixture(4, covariance_type=covariance_type)
        ref.weights_, ref.means_ = fit.weights, fit.means
        ref.precisions_cholesky_ = fit.precisions_cholesky
        self.enter_context(mock.patch.object(mixture, "PREDICT_ROWS", 7))
        self.assertAllClose(gmm.predict_proba(fit, x), ref.predict_proba(x), rtol=1e-12, atol=1e-15)
        self.assertAllClose(gmm.score_samples(fit, x), ref.score_samples(x), rtol=1e-12)
        self.assertAllEqual(gmm.predict(fit, x), ref.predict(x))

    def test_translation_invariant(self):
        x, labels = mixture_data(n=500)
        init = gmm.init_from_labels(x, labels, 4)
        moved = gmm.GMMInit(init.weights, init.means + 1e5, init.covariances)
        near = gmm.fit_gmm(x, 4, init=init)
        far = gmm.fit_gmm(x + 1e5, 4, init=moved)
        self.assertAllClose(near.log_likelihood, far.log_likelihood, rtol=1e-6)
        self.assertAllClose(near.means + 1e5, far.means)

    def test_n_init_keeps_the_best_start(self):
        x, _ = mixture_data(n=600, k=6, spread=3.0)
        one = gmm.fit_gmm(x, 6, seed=3, n_init=1)
        three = gmm.fit_gmm(x, 6, seed=3, n_init=3)
        self.assertGreaterEqual(three.log_likelihood, one.log_likelihood - 1e-6)

    def test_kmeans_within_ss_and_labels(self):
        x, _ = mixture_data(n=900, spread=10.0)
        sweep = gmm.kmeans_sweep(x, [1, 2, 4], seed=0, return_labels=True)
        self.assertEqual(sweep.labels.shape, (900, 3))
        for g, k in enumerate(sweep.ks):
            lab = sweep.labels[:, g]
            w = sum(np.sum((x[lab == j] - x[lab == j].mean(0)) ** 2) for j in np.unique(lab))
            self.assertAllClose(sweep.within_ss[0, g], w, rtol=1e-7)
            self.assertEqual(sweep.centres[0][g].shape, (k, 3))
        # Well separated: the same optimum as scikit-learn's best of 10.
        best = KMeans(4, n_init=10, random_state=0).fit(x).inertia_
        self.assertAllClose(sweep.within_ss[0, 2], best, rtol=1e-6)
        self.assertTrue(sweep.converged.all())

    def test_new_static_settings_log_no_retracing_warnings(self):
        # Each plan, K list and chunk size is its own compiled pass, traced
        # once; TensorFlow must not report that as excessive retracing.
        x, _ = mixture_data(n=600)
        with self.assertNoLogs("tensorflow", level="WARNING"):
            for ks in ([1, 2], [1, 2, 3], [2, 4], [1, 5], [3], [1, 2, 3, 4, 5, 6]):
                fits = gmm.fit_gmm_sweep(x, ks, init="kmeans", chunk_size=128)
                self.assertLen(fits, len(ks))

    @parameterized.parameters(False, True)
    def test_kmeans_from_its_seeds_is_sklearns_lloyd(self, jit_compile):
        # Overlapping clusters, where Lloyd's path depends on the start:
        # scikit-learn's KMeans started from the recorded k-means++ centres
        # ends at the same labels and the same within-cluster sum (about
        # the clusters' means, W_K; scikit-learn's inertia_ is about its
        # last centres, a shift of the order of its tolerance away). With
        # XLA the sweep takes its large-data path, one pass per data set.
        x, _ = mixture_data(n=1200, d=4, k=5, spread=2.0, seed=3)
        ks = [2, 5, 7]
        sweep = gmm.kmeans_sweep(
            x, ks, seed=4, return_labels=True, jit_compile=jit_compile, chunk_size=256
        )
        self.assertEqual(sweep.seed_centres.shape, (1, 1, 7, 4))
        for g, k in enumerate(ks):
            start = sweep.seed_centres[0, 0, :k]
            theirs = KMeans(k, init=start, n_init=1, algorithm="lloyd").fit(x)
            lab = theirs.labels_
            w = sum(np.sum((x[lab == j] - x[lab == j].mean(0)) ** 2) for j in np.unique(lab))
            self.assertAllClose(sweep.within_ss[0, g], w, rtol=1e-6)
            self.assertGreater(np.mean(sweep.labels[:, g] == lab), 0.995)

    def test_kmeans_per_data_set_passes_follow_the_batched_pass(self):
        # The large-data path (one pass per data set over its unfinished
        # runs, several at once in threads) and the small-data path (one
        # rectangular pass over all data sets) are the same Lloyd iterations:
        # the same iteration counts, W_K, centres and labels, on data sets
        # whose runs finish at different iterations. (Both with XLA: XLA and
        # TensorFlow's kernels round differently, and on overlapping
        # clusters one flipped near-tie changes Lloyd's path.)
        sets = np.stack([mixture_data(n=3000, d=3, k=5, spread=s, seed=s)[0] for s in (2, 3, 4)])
        ks = [1, 3, 6]
        kwargs = dict(seed=1, return_labels=True, jit_compile=True, chunk_size=512)
        batched = gmm.kmeans_sweep(sets, ks, per_data_set=False, **kwargs)
        per_set = gmm.kmeans_sweep(sets, ks, **kwargs)
        self.assertGreater(len(np.unique(batched.n_iter[:, 1:])), 1)
        self.assertAllEqual(per_set.n_iter, batched.n_iter)
        self.assertAllClose(per_set.within_ss, batched.within_ss, rtol=1e-6)
        for b in range(3):
            for g in range(3):
                self.assertAllClose(per_set.centres[b][g], batched.centres[b][g], atol=1e-5)
        self.assertGreater(np.mean(per_set.labels == batched.labels), 0.999)
        # The per-data-set pass also runs without XLA (TensorFlow's kernels).
        plain = gmm.kmeans_sweep(sets, ks, per_data_set=True, **dict(kwargs, jit_compile=False))
        plain_batched = gmm.kmeans_sweep(sets, ks, **dict(kwargs, jit_compile=False))
        self.assertAllEqual(plain.n_iter, plain_batched.n_iter)
        self.assertAllClose(plain.within_ss, plain_batched.within_ss, rtol=1e-6)

    @parameterized.parameters(False, True)
    def test_kmeans_restarts_keep_the_lowest_within_ss(self, jit_compile):
        # Overlapping clusters with local optima. Start 0 of n_init = 6 is
        # the single start of the same seed, so the kept W_K is never above
        # it, and lower somewhere; the kept run is reproduced by
        # scikit-learn's Lloyd from its recorded k-means++ centres.
        sets = np.stack([mixture_data(n=900, d=3, k=6, spread=2.5, seed=s)[0] for s in (5, 6)])
        ks = [2, 4, 7]
        kwargs = dict(seed=2, return_labels=True, jit_compile=jit_compile, chunk_size=256)
        one = gmm.kmeans_sweep(sets, ks, **kwargs)
        six = gmm.kmeans_sweep(sets, ks, n_init=6, **kwargs)
        self.assertEqual(six.seed_centres.shape, (6, 2, 7, 3))
        self.assertAllEqual(six.seed_centres[0], one.seed_centres[0])
        self.assertEqual(six.start.shape, (2, 3))
        self.assertAllLessEqual(six.within_ss - one.within_ss * (1 + 1e-9), 0.0)
        self.assertTrue(np.any(six.within_ss < one.within_ss * (1 - 1e-4)))
        self.assertTrue(np.any(six.start > 0))
        for b in range(2):
            for g, k in enumerate(ks):
                init = six.seed_centres[six.start[b, g], b, :k]
                lab = KMeans(k, init=init, n_init=1, algorithm="lloyd").fit(sets[b]).labels_
                x = sets[b]
                w = sum(np.sum((x[lab == j] - x[lab == j].mean(0)) ** 2) for j in np.unique(lab))
                self.assertAllClose(six.within_ss[b, g], w, rtol=1e-6)
                self.assertAllClose(
                    six.centres[b][g],
                    KMeans(k, init=init, n_init=1).fit(x).cluster_centers_,
                    atol=1e-3,
                )
        # The labels are the kept runs' on data set 0, and W_K is theirs
        # (to the float32 rounding of the centred copy the sweep sums).
        x = sets[0]
        for g in range(3):
            lab = six.labels[:, g]
            w = sum(np.sum((x[lab == j] - x[lab == j].mean(0)) ** 2) for j in np.unique(lab))
            self.assertAllClose(six.within_ss[0, g], w, rtol=1e-7)
        with self.assertRaisesRegex(ValueError, "n_init"):
            gmm.kmeans_sweep(x, [2], n_init=0)

    def test_kmeans_several_data_sets_are_independent(self):
        x, _ = mixture_data(n=500)
        y, _ = mixture_data(n=500, seed=5)
        both = gmm.kmeans_sweep(np.stack([x, y]), [3], seed=0)
        self.assertEqual(both.within_ss.shape, (2, 1))
        alone = gmm.kmeans_sweep(y, [3], seed=0)
        # The same local optimum need not be found from different seeds,
        # but both are k-means optima of y: within a few percent.
        self.assertAllClose(both.within_ss[1, 0], alone.within_ss[0, 0], rtol=0.05)

    def test_bad_input(self):
        x, _ = mixture_data(n=50)
        bad = x.copy()
        bad[[3, 7], 1] = np.nan
        with self.assertRaisesRegex(InputError, "row 3: x has 2 row"):
            gmm.fit_gmm(bad, 2)
        bad[3, 1] = np.inf
        with self.assertRaisesRegex(InputError, "row 3"):
            gmm.kmeans_sweep(bad, [2])
        with self.assertRaisesRegex(ValueError, "only 50 points"):
            gmm.fit_gmm(x, 51)
        with self.assertRaisesRegex(ValueError, "covariance_type"):
            gmm.fit_gmm(x, 2, covariance_type="tied")
        with self.assertRaisesRegex(ValueError, "2-D"):
            gmm.fit_gmm(x[:, 0], 2)
        init = gmm.init_from_labels(x, np.arange(50) % 2, 2)
        with self.assertRaisesRegex(ValueError, "shapes"):
            gmm.fit_gmm(x, 3, init=init)
        with self.assertRaisesRegex(ValueError, "n_init"):
            gmm.fit_gmm(x, 2, init=init, n_init=2)
        with self.assertRaisesRegex(ValueError, "precision"):
            gmm.fit_gmm(x, 2, precision="float16")


if __name__ == "__main__":
    tf.test.main()
