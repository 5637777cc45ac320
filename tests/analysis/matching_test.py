"""Hungarian matching of clusters to classes, the metrics and their bootstrap errors."""

import itertools
import json

import numpy as np
import tensorflow as tf
from sklearn import metrics

from tfelg import schemes
from tfelg.analysis import matching
from tfelg.errors import InputError


def brute_force_many_to_one(table):
    """The many-to-one accuracy by its definition, by enumeration (small tables).

    Empty clusters are dropped; among the one-to-one matchings of the other
    clusters to classes with the most galaxies on matched pairs, the best
    many-to-one total, each unmatched cluster counting its majority class.
    """
    table = np.asarray(table)
    table = table[table.sum(axis=1) > 0]
    k, c = table.shape
    best_one, best_many = -1, -1
    m = min(k, c)
    for rows in itertools.permutations(range(k), m):
        for cols in itertools.permutations(range(c), m):
            one = sum(table[r, j] for r, j in zip(rows, cols, strict=True))
            rest = sum(table[r].max() for r in range(k) if r not in rows)
            if one > best_one:
                best_one, best_many = one, one + rest
            elif one == best_one:
                best_many = max(best_many, one + rest)
    return best_many / table.sum()


def labels_from_table(table):
    """(clusters, classes) whose contingency table (rows clusters) is ``table``."""
    clusters, classes = [], []
    for k, row in enumerate(np.asarray(table)):
        for c, count in enumerate(row):
            clusters += [k] * int(count)
            classes += [c] * int(count)
    return np.array(clusters), np.array(classes)


class MatchTest(tf.test.TestCase):
    def test_permuted_labels_match_perfectly(self):
        rng = np.random.default_rng(0)
        classes = rng.integers(0, 5, 400)
        clusters = np.array([3, 0, 4, 1, 2])[classes]
        result = matching.match_clusters(clusters, classes, [f"c{i}" for i in range(5)])
        self.assertEqual(result.accuracy, 1.0)
        self.assertEqual(result.accuracy_many_to_one, 1.0)
        self.assertAllClose(result.ari, 1.0)
        self.assertAllClose(result.nmi, 1.0)
        self.assertAllClose(result.v_measure, 1.0)
        self.assertAllEqual(result.one_to_one, [1, 3, 4, 0, 2])
        self.assertAllClose(result.class_purity, np.ones(5))
        self.assertAllClose(result.class_completeness, np.ones(5))

    def test_hand_computed_accuracy(self):
        table = [[50, 10, 0], [5, 40, 5], [0, 20, 30]]
        clusters, classes = labels_from_table(table)
        result = matching.match_clusters(clusters, classes, ["a", "b", "c"])
        self.assertAllEqual(result.contingency, table)
        # Best one-to-one: the diagonal, (50 + 40 + 30) / 160.
        self.assertAllClose(result.accuracy, 120 / 160)
        self.assertAllEqual(result.one_to_one, [0, 1, 2])
        # Per class: purity = matched / put there; completeness = matched / class size.
        self.assertAllClose(result.class_purity, [50 / 60, 40 / 50, 30 / 50])
        self.assertAllClose(result.class_completeness, [50 / 55, 40 / 70, 30 / 35])
        self.assertAllClose(result.cluster_purity, [50 / 60, 40 / 50, 30 / 50])

    def test_hungarian_beats_greedy(self):
        # Greedy (largest cell first) takes 0->a (60) and then 1->b (5): 65;
        # the optimum is 0->b and 1->a: 55 + 50 = 105.
        table = [[60, 55], [50, 5]]
        clusters, classes = labels_from_table(table)
        result = matching.match_clusters(clusters, classes, ["a", "b"])
        self.assertAllEqual(result.one_to_one, [1, 0])
        self.assertAllClose(result.accuracy, 105 / 170)

    def test_more_clusters_than_classes(self):
        table = [[40, 2], [3, 30], [10, 1], [0, 14]]
        clusters, classes = labels_from_table(table)
        result = matching.match_clusters(clusters, classes, ["a", "b"])
        n = 100
        self.assertAllEqual(result.one_to_one, [0, 1, -1, -1])
        self.assertAllClose(result.accuracy, (40 + 30) / n)
        # Many-to-one: cluster 2 -> a (10), cluster 3 -> b (14).
        self.assertAllEqual(result.many_to_one, [0, 1, 0, 1])
        self.assertAllClose(result.accuracy_many_to_one, (40 + 30 + 10 + 14) / n)
        # a gets clusters 0 and 2 (42 + 11 galaxies, 50 of them a; a has 53);
        # b gets clusters 1 and 3 (33 + 14, 44 of them b; b has 47).
        self.assertAllClose(result.class_purity, [50 / 53, 44 / 47])
        self.assertAllClose(result.class_completeness, [50 / 53, 44 / 47])
        self.assertIn("(a)", result.table_markdown())

    def test_many_to_one_with_as_many_clusters_as_classes(self):
        # K = C: every cluster is matched, even cluster 0 whose majority is
        # b (60 > 55): the many-to-one figure is the one-to-one 105 / 170,
        # not the sum of majorities (110 / 170).
        table = [[55, 60], [5, 50]]
        clusters, classes = labels_from_table(table)
        result = matching.match_clusters(clusters, classes, ["a", "b"])
        self.assertAllEqual(result.one_to_one, [0, 1])
        self.assertAllEqual(result.many_to_one, [0, 1])
        self.assertEqual(result.accuracy, 105 / 170)
        self.assertEqual(result.accuracy_many_to_one, 105 / 170)

    def test_many_to_one_examples_of_the_issue(self):
        # An empty cluster takes no class: [0,0,0,0,2,2] against
        # [A,A,A,B,A,A] scores as its relabelling [0,0,0,0,1,1] does.
        classes = np.array([0, 0, 0, 1, 0, 0])
        gap = matching.match_clusters(np.array([0, 0, 0, 0, 2, 2]), classes, ["A", "B"])
        dense = matching.match_clusters(np.array([0, 0, 0, 0, 1, 1]), classes, ["A", "B"])
        self.assertEqual(gap.accuracy_many_to_one, 0.5)
        self.assertEqual(dense.accuracy_many_to_one, 0.5)
        self.assertEqual(gap.one_to_one[1], -1)
        self.assertEqual(gap.many_to_one[1], -1)
        # Tied one-to-one optima (3 galaxies each) whose many-to-one totals
        # differ (4 or 5 of 7): the definition takes the best, 5 / 7, in
        # every numbering of the clusters.
        table = np.array([[3, 1], [2, 0], [1, 0]])
        for order in itertools.permutations(range(3)):
            clusters, classes = labels_from_table(table[list(order)])
            result = matching.match_clusters(clusters, classes, ["A", "B"])
            self.assertEqual(result.accuracy, 3 / 7)
            self.assertEqual(result.accuracy_many_to_one, 5 / 7)

    def test_many_to_one_is_invariant_to_relabelling(self):
        # Small counts make tied optima common; empty clusters included.
        rng = np.random.default_rng(7)
        for _ in range(150):
            k, c = rng.integers(1, 6), rng.integers(1, 4)
            table = rng.integers(0, 4, size=(k, c)) * (rng.random((k, c)) < 0.7)
            table[rng.random(k) < 0.2] = 0
            if table.sum() == 0:
                continue
            expected = brute_force_many_to_one(table)
            for _ in range(4):
                rows, cols = rng.permutation(k), rng.permutation(c)
                got = matching.table_metrics(table[rows][:, cols])
                self.assertAllClose(got["accuracy_many_to_one"], expected, rtol=1e-12, atol=0)

    def test_fewer_clusters_than_classes(self):
        table = [[30, 5, 20], [2, 25, 18]]
        clusters, classes = labels_from_table(table)
        result = matching.match_clusters(clusters, classes, ["a", "b", "c"])
        self.assertAllClose(result.accuracy, (30 + 25) / 100)
        self.assertAllClose(result.accuracy_many_to_one, result.accuracy)
        # Class c has no cluster: no purity, completeness 0 (its galaxies are errors).
        self.assertTrue(np.isnan(result.class_purity[2]))
        self.assertEqual(result.class_completeness[2], 0.0)

    def test_metrics_equal_sklearn(self):
        rng = np.random.default_rng(1)
        for _ in range(4):
            k, c = rng.integers(1, 7), rng.integers(2, 5)
            clusters = rng.integers(0, k, 500)
            classes = np.where(rng.random(500) < 0.6, clusters % c, rng.integers(0, c, 500))
            result = matching.match_clusters(clusters, classes)
            self.assertAllClose(result.ari, metrics.adjusted_rand_score(classes, clusters))
            self.assertAllClose(result.nmi, metrics.normalized_mutual_info_score(classes, clusters))
            h, comp, v = metrics.homogeneity_completeness_v_measure(classes, clusters)
            self.assertAllClose(result.metrics["homogeneity"], h)
            self.assertAllClose(result.metrics["completeness"], comp)
            self.assertAllClose(result.v_measure, v)
            self.assertAllClose(
                result.accuracy_many_to_one,
                np.sum(result.contingency.max(axis=1)) / 500 if k > c else result.accuracy,
            )

    def test_one_cluster_or_one_class_has_nmi_exactly_zero(self):
        rng = np.random.default_rng(3)
        classes = rng.integers(0, 4, 997)
        one = np.zeros(997, int)
        for clusters, labels in ((one, classes), (classes, one)):
            result = matching.match_clusters(clusters, labels)
            self.assertEqual(result.nmi, 0.0)
            self.assertEqual(result.metrics["homogeneity"] * result.metrics["completeness"], 0.0)
            self.assertEqual(result.v_measure, 0.0)
            self.assertEqual(result.nmi, metrics.normalized_mutual_info_score(labels, clusters))
        # One cluster and one class: a perfect (trivial) match.
        self.assertEqual(matching.match_clusters(one, one).nmi, 1.0)

    def test_ignored_classes_are_left_out_and_counted(self):
        names = schemes.WHAN_NAMES
        classes = np.array([0, 0, 1, 1, 5, 6, 6, 3], np.int8)
        clusters = np.array([1, 1, 0, 0, 0, 1, 0, 2])
        result = matching.match_clusters(clusters, classes, names)
        self.assertEqual(result.n_used, 5)
        self.assertEqual(result.n_ignored, 3)
        self.assertEqual(result.ignored_counts, {"low_sn": 1, "unclassified": 2})
        self.assertEqual(result.class_names, ("star_forming", "strong_agn", "retired"))
        self.assertEqual(result.absent_classes, ("weak_agn", "passive"))
        self.assertEqual(result.accuracy, 1.0)
        d = json.loads(json.dumps(result.to_dict()))
        self.assertEqual(d["one_to_one"]["cluster 1"], "star_forming")
        self.assertEqual(d["n_ignored"], 3)
        # Names in ``ignore`` that are not classes are fine.
        matching.match_clusters(clusters, classes, names, ignore=("low_sn", "unknown"))

    def test_bad_input(self):
        with self.assertRaisesRegex(InputError, "every one of the 3 galaxies"):
            matching.match_clusters([0, 1, 0], [5, 5, 6], schemes.WHAN_NAMES)
        with self.assertRaisesRegex(ValueError, "same length"):
            matching.match_clusters([0, 1], [0, 1, 1])
        with self.assertRaisesRegex(InputError, "row 1"):
            matching.match_clusters([0, -1], [0, 1])
        with self.assertRaisesRegex(InputError, "row 1: class code 9 is outside class_names"):
            matching.match_clusters([0, 1], [0, 9], ["a", "b"])
        with self.assertRaisesRegex(ValueError, "integer"):
            matching.match_clusters([0.5, 1.0], [0, 1])


class BootstrapTest(tf.test.TestCase):
    def test_perfect_labels_have_no_spread(self):
        classes = np.random.default_rng(0).integers(0, 3, 300)
        boot = matching.bootstrap_metrics(classes, classes, ["a", "b", "c"], n_boot=50)
        for m in ("accuracy", "ari", "nmi", "v_measure"):
            self.assertAllClose(boot[m]["mean"], 1.0)
            self.assertLess(boot[m]["std"], 1e-12)
        self.assertEqual(boot["n_boot"], 50)

    def test_noisy_labels_have_spread(self):
        rng = np.random.default_rng(1)
        classes = rng.integers(0, 3, 400)
        clusters = np.where(rng.random(400) < 0.7, classes, rng.integers(0, 3, 400))
        boot = matching.bootstrap_metrics(clusters, classes, n_boot=200, seed=3)
        estimate = matching.match_clusters(clusters, classes)
        for m in matching.SCALAR_METRICS:
            self.assertGreater(boot[m]["std"], 0.0)
            self.assertLessEqual(boot[m]["ci_low"], boot[m]["ci_high"])
            self.assertAllClose(boot[m]["estimate"], estimate.metrics[m])
        # The accuracy's bootstrap error is about the binomial one.
        p = estimate.accuracy
        self.assertAllClose(boot["accuracy"]["std"], np.sqrt(p * (1 - p) / 400), rtol=0.3)
        self.assertLess(boot["accuracy"]["ci_low"], p)
        self.assertGreater(boot["accuracy"]["ci_high"], p)
        again = matching.bootstrap_metrics(clusters, classes, n_boot=200, seed=3)
        self.assertEqual(boot, again)

    def test_seeded_draws_std_and_percentiles(self):
        # The bootstrap is a multinomial draw of the table from the seeded
        # generator: reproduce the draws here and check the summary exactly
        # (std with ddof = 1, the 2.5 and 97.5 percentiles).
        table = np.array([[40, 9, 3], [6, 30, 8], [2, 11, 25], [5, 1, 0]])
        clusters, classes = labels_from_table(table)
        boot = matching.bootstrap_metrics(clusters, classes, n_boot=60, seed=11)
        rng = np.random.default_rng(11)
        n = int(table.sum())
        draws = {m: [] for m in matching.SCALAR_METRICS}
        for _ in range(60):
            sample = rng.multinomial(n, (table / n).ravel()).reshape(table.shape)
            for m, v in matching.table_metrics(sample).items():
                draws[m].append(v)
        for m in matching.SCALAR_METRICS:
            d = np.array(draws[m])
            self.assertGreater(d.std(), 0.0)
            self.assertEqual(boot[m]["mean"], float(d.mean()))
            self.assertEqual(boot[m]["std"], float(np.sqrt(np.sum((d - d.mean()) ** 2) / 59)))
            low, high = np.sort(d)[[1, 57]], np.sort(d)[[2, 58]]
            # numpy's linear percentile: position 0.025 * 59 = 1.475 and 0.975 * 59 = 57.525.
            self.assertAllClose(boot[m]["ci_low"], low[0] + 0.475 * (high[0] - low[0]), rtol=1e-12)
            self.assertAllClose(boot[m]["ci_high"], low[1] + 0.525 * (high[1] - low[1]), rtol=1e-12)
        self.assertEqual(boot["n_used"], n)

    def test_bad_input(self):
        with self.assertRaisesRegex(ValueError, "n_boot"):
            matching.bootstrap_metrics([0, 1], [0, 1], n_boot=1)


if __name__ == "__main__":
    tf.test.main()
