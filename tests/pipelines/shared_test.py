"""The pipelines' summary helpers (tfelg_pipelines.shared)."""

from absl.testing import absltest

from tfelg_pipelines import shared


class SummaryTextTest(absltest.TestCase):
    def test_clusters_text_says_when_components_collapsed(self):
        clean = {"n_clusters": 8, "mixture": {"collapsed": {"components": []}}}
        self.assertEqual(shared.clusters_text(clean), "clusters K = 8")
        self.assertEqual(shared.clusters_text({"n_clusters": 3}), "clusters K = 3")  # older runs
        point = {"n_clusters": 8, "mixture": {"collapsed": {"components": [2, 5]}}}
        self.assertEqual(
            shared.clusters_text(point),
            "clusters K = 8 (2 collapsed onto a point, line or plane of the data)",
        )

    def test_bic_text_says_when_k_is_the_edge_of_the_scan(self):
        self.assertEqual(shared.bic_text({"k_bic": 7}, {"k_max": 10}), "7 (BIC)")
        self.assertEqual(
            shared.bic_text({"k_bic": 10}, {"k_max": 10}),
            "10 (BIC: the largest K scanned, no minimum)",
        )
        self.assertEqual(shared.bic_text({"k_bic": 10}, {}), "10 (BIC)")  # older runs

    def test_metric(self):
        self.assertEqual(shared.metric({"a": 0.5, "a_err": 0.01}, "a"), "0.500 ± 0.010")
        self.assertEqual(shared.metric({"a": 0.5}, "a"), "0.500")
        self.assertEqual(shared.metric({}, "a"), "–")


if __name__ == "__main__":
    absltest.main()
