"""Matching at its edges: degenerate tables, boundary inputs, the errors' rows, the defaults.

The main behaviour is in matching_test.py; these cases are the ones a small
slip in matching.py (an off-by-one bound, a lost guard, an error naming the
wrong row) would get past the main tests on (benchmarks/mutation.py found
them).
"""

import dataclasses
import warnings

import numpy as np
import tensorflow as tf
from sklearn import metrics

from tfelg import schemes
from tfelg.analysis import matching
from tfelg.errors import InputError


def labels_from_table(table):
    """(clusters, classes) whose contingency table (rows clusters) is ``table``."""
    clusters, classes = [], []
    for k, row in enumerate(np.asarray(table)):
        for c, count in enumerate(row):
            clusters += [k] * int(count)
            classes += [c] * int(count)
    return np.array(clusters, np.int64), np.array(classes, np.int64)


# Tables where a metric's special case is taken, each with why.
DEGENERATE_TABLES = {
    # Two clusters, two or three classes: the smallest case that is not "one
    # cluster" (MI is computed, not set to 0).
    "two clusters": [[10, 2, 1], [1, 8, 9]],
    "two clusters two classes": [[7, 1], [2, 9]],
    # One class: homogeneity is 1 by definition (nothing to mix), completeness 0.
    "one class": [[3], [4], [2]],
    # One cluster: completeness 1, homogeneity 0.
    "one cluster": [[3, 4, 1]],
    # Independent rows and columns: MI 0, whose sum leaves a negative residue
    # of -3e-16 in float64 here (clipped to 0), and a V-measure of 0 / 0 (0).
    "independent": [[2, 4], [3, 6]],
    "independent, exactly": [[1, 1], [1, 1]],
    # An empty cluster (K set above the labels): a zero row, no 0 * log 0.
    "empty cluster": [[5, 1], [0, 0], [2, 7]],
}


def _sklearn_metrics(table):
    clusters, classes = labels_from_table(table)
    h, c, v = metrics.homogeneity_completeness_v_measure(classes, clusters)
    return {
        "ari": metrics.adjusted_rand_score(classes, clusters),
        "nmi": metrics.normalized_mutual_info_score(classes, clusters),
        "homogeneity": h,
        "completeness": c,
        "v_measure": v,
    }


class DegenerateTableTest(tf.test.TestCase):
    def test_metrics_equal_sklearn_and_stay_in_range(self):
        for name, table in DEGENERATE_TABLES.items():
            with self.subTest(name):
                got = matching.table_metrics(np.array(table))
                for metric, expected in _sklearn_metrics(table).items():
                    self.assertAllClose(got[metric], expected, rtol=0, atol=1e-12, msg=metric)
                # Every metric but the ARI is documented in [0, 1]; none is NaN.
                for metric in ("accuracy", "accuracy_many_to_one", "nmi", "homogeneity"):
                    self.assertBetween(got[metric], 0.0, 1.0)
                for metric in ("completeness", "v_measure"):
                    self.assertBetween(got[metric], 0.0, 1.0)

    def test_special_cases_are_exact(self):
        one_class = matching.table_metrics(np.array(DEGENERATE_TABLES["one class"]))
        self.assertEqual(
            (one_class["homogeneity"], one_class["completeness"], one_class["v_measure"]),
            (1.0, 0.0, 0.0),
        )
        one_cluster = matching.table_metrics(np.array(DEGENERATE_TABLES["one cluster"]))
        self.assertEqual(
            (one_cluster["homogeneity"], one_cluster["completeness"], one_cluster["nmi"]),
            (0.0, 1.0, 0.0),
        )
        for name in ("independent", "independent, exactly"):
            got = matching.table_metrics(np.array(DEGENERATE_TABLES[name]))
            self.assertEqual((got["nmi"], got["v_measure"]), (0.0, 0.0), name)

    def test_empty_table_is_refused(self):
        for table in (np.zeros((2, 3), np.int64), np.zeros((0, 2), np.int64)):
            with self.assertRaisesRegex(ValueError, "the contingency table is empty"):
                matching.table_metrics(table)


class MatchEdgeTest(tf.test.TestCase):
    def test_float_labels_holding_integers_are_labels(self):
        # A mixture's labels read back from a float column are whole numbers.
        classes = np.array([0, 1, 1, 0, 1])
        as_int = matching.match_clusters(np.array([1, 0, 0, 1, 0]), classes)
        as_float = matching.match_clusters(np.array([1.0, 0.0, 0.0, 1.0, 0.0]), classes)
        self.assertAllEqual(as_float.contingency, as_int.contingency)
        self.assertEqual(as_float.metrics, as_int.metrics)
        with self.assertRaisesRegex(ValueError, "integer labels, got dtype float64"):
            matching.match_clusters(np.array([1.0, 0.5]), np.array([0, 1]))

    def test_no_galaxy_and_one_galaxy(self):
        with self.assertRaisesRegex(ValueError, "no galaxies given"):
            matching.match_clusters(np.array([], np.int64), np.array([], np.int64))
        one = matching.match_clusters(np.array([0]), np.array([0]), ["a"])
        self.assertEqual((one.accuracy, one.nmi, one.n_used), (1.0, 1.0, 1))

    def test_errors_name_the_first_bad_row(self):
        with self.assertRaisesRegex(InputError, r"^row 1: cluster labels must be >= 0, got -1$"):
            matching.match_clusters([0, -1, -2, 1], [0, 1, 1, 0])
        names = ["a", "b"]
        # The first code past the end (len(names)) and the first below 0 are out.
        for bad in (2, -1):
            with self.assertRaisesRegex(
                InputError, rf"^row 1: class code {bad} is outside class_names \(0\.\.1\)$"
            ):
                matching.match_clusters([0, 1, 0, 1], [0, bad, 5, -3], names)

    def test_a_label_at_n_clusters_is_refused(self):
        with self.assertRaisesRegex(ValueError, "cluster label 2 >= n_clusters = 2"):
            matching.match_clusters([0, 2, 1], [0, 1, 1], n_clusters=2)
        # Below it, the missing clusters are empty rows.
        result = matching.match_clusters([0, 2, 1], [0, 1, 1], n_clusters=4)
        self.assertAllEqual(result.contingency.sum(axis=1), [1, 1, 1, 0])

    def test_ignored_classes_without_galaxies_are_not_counted(self):
        names = schemes.WHAN_NAMES
        low_sn = names.index("low_sn")
        result = matching.match_clusters([0, 0, 1, 1], [0, 0, 1, low_sn], names)
        # ``unclassified`` is ignored too but no galaxy has it: no zero entry.
        self.assertEqual(result.ignored_counts, {"low_sn": 1})
        self.assertEqual(result.n_ignored, 1)

    def test_one_galaxy_purities_and_empty_cluster_nan_without_warnings(self):
        # Cluster 0 holds one galaxy and is the only cluster put in class a;
        # cluster 2 is empty; class c gets no cluster.
        table = [[1, 0, 0], [0, 5, 2], [0, 0, 0]]
        clusters, classes = labels_from_table(table)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # NaN is set, never computed as 0 / 0
            result = matching.match_clusters(clusters, classes, ["a", "b", "c"], n_clusters=3)
        self.assertAllEqual(result.many_to_one, [0, 1, -1])
        self.assertAllClose(result.class_purity, [1.0, 5 / 7, np.nan])
        self.assertAllClose(result.class_completeness, [1.0, 1.0, 0.0])
        self.assertAllClose(result.cluster_purity, [1.0, 5 / 7, np.nan])

    def test_result_is_immutable(self):
        # The result is shared by the summary, the figures and the tables.
        result = matching.match_clusters([0, 1], [0, 1])
        with self.assertRaises(dataclasses.FrozenInstanceError):
            result.n_used = 5


class BootstrapEdgeTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(5)
        self.classes = rng.integers(0, 3, 120)
        self.clusters = np.where(rng.random(120) < 0.6, self.classes, rng.integers(0, 3, 120))

    def test_two_resamples_are_enough(self):
        boot = matching.bootstrap_metrics(self.clusters, self.classes, n_boot=2, seed=1)
        self.assertEqual(boot["n_boot"], 2)
        self.assertTrue(np.isfinite(boot["accuracy"]["std"]))

    def test_defaults_are_200_resamples_from_seed_0(self):
        # The documented defaults: a call without them gives the same errors
        # on every run, those of n_boot = 200 and seed = 0.
        default = matching.bootstrap_metrics(self.clusters, self.classes)
        self.assertEqual(default["n_boot"], 200)
        explicit = matching.bootstrap_metrics(self.clusters, self.classes, n_boot=200, seed=0)
        self.assertEqual(default, explicit)


if __name__ == "__main__":
    tf.test.main()
