"""Tests for tfelg.analysis.results_tables on records with known numbers."""

from absl.testing import absltest

from tfelg.analysis import results_tables
from tfelg.training.config import ExperimentConfig, TrainerConfig


def scores(ari, err=0.01, accuracy=0.7):
    out = {}
    for metric in results_tables.METRICS:
        value = ari if metric == "ari" else accuracy
        out[metric] = value
        out[f"{metric}_err"] = err
    return {"whan": out}


def record(rep, seed, ari, k=None, mi=0.1, bins_ari=(0.5, 0.4)):
    return {
        "representation": rep,
        "latent_dim": 2,
        "seed": seed,
        "chosen_k": {"fixed": 5}
        if k is None
        else {"bic": k, "aic": k + 1, "gap": 2, "silhouette": 2},
        "scores": scores(ari),
        "redshift": {
            "dependence": {"mutual_information": [mi, mi / 2], "r2_linear": 0.2, "r2_gbm": 0.4},
            "bins": [
                {"z_low": 0.0, "z_high": 0.1, "n": 10, "ari": bins_ari[0]},
                {"z_low": 0.1, "z_high": 0.3, "n": 10, "ari": bins_ari[1]},
            ],
        },
    }


RECORDS = [
    record("pca", None, 0.5, k=8),
    record("ae", 0, 0.6, k=9),
    record("ae", 1000, 0.6, k=10),
    record("ae", 2000, 0.6, k=9),
    record("vae", 0, 0.4, k=7, mi=0.3),
    record("vae", 1000, 0.6, k=7, mi=0.5),
    record("vae", 2000, 0.5, k=7, mi=0.4),
    record("dec (ae)", 0, 0.3),
]
CEILINGS = [
    {"input": "lines/ew", "method": "gbm", "scheme": "whan", "accuracy": 0.9, "ari": 0.8,
     "nmi": 0.7, "accuracy_err": 0.01, "ari_err": 0.02, "nmi_err": 0.03},
    {"input": "lines/ew", "method": "mlp", "scheme": "whan", "accuracy": 0.85, "ari": 0.75,
     "nmi": 0.65, "accuracy_err": 0.01, "ari_err": 0.02, "nmi_err": 0.03},
]  # fmt: skip


def _row(table: str, rep: str) -> list[str]:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == rep:
            return cells
    raise AssertionError(f"no row {rep!r} in\n{table}")


class ResultsTablesTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.rows = results_tables.aggregate_records(RECORDS)

    def test_aggregation(self):
        self.assertEqual([r["representation"] for r in self.rows], ["pca", "ae", "vae", "dec (ae)"])
        vae = self.rows[2]["whan"]["ari"]
        self.assertAlmostEqual(vae["mean"], 0.5)
        self.assertAlmostEqual(vae["std"], 0.1)
        self.assertEqual(self.rows[0]["whan"]["ari"]["std"], 0.0)  # PCA: deterministic

    def test_scheme_table_marks_and_ceiling_fraction(self):
        table = results_tables.scheme_table(self.rows, "whan", CEILINGS, "lines/ew")
        # ae: 0.6 vs PCA 0.5, sigma = sqrt(0 + 0.01^2 + 0.01^2) = 0.014: significantly higher.
        ae = _row(table, "ae")
        self.assertEqual(ae[2], "3")
        self.assertEqual(ae[5], "0.600 ± 0.000 [0.010] +")
        self.assertEqual(ae[7], "0.75")  # 0.6 / the better ceiling, 0.8
        # vae: mean 0.5, std 0.1 -> no difference, no mark.
        self.assertEqual(_row(table, "vae")[5], "0.500 ± 0.100 [0.010]")
        # dec with one seed: the training spread is unknown, no claim.
        self.assertEqual(_row(table, "dec (ae)")[5], "0.300 ± – [0.010] ?")
        self.assertEqual(_row(table, "pca")[5], "0.500 [0.010]")
        # accuracies are equal to PCA's: not marked; NMI is never marked.
        self.assertEqual(ae[3], "0.700 ± 0.000 [0.010]")

    def test_ceiling_k_and_redshift_tables(self):
        ceiling = results_tables.ceiling_table(CEILINGS)
        self.assertEqual(
            _row(ceiling, "lines/ew")[:5],
            ["lines/ew", "gbm", "0.900 ± 0.010", "0.800 ± 0.020", "0.700 ± 0.030"],
        )
        k = results_tables.k_table([r for r in self.rows if r["representation"] != "dec (ae)"])
        self.assertEqual(_row(k, "ae")[2:], ["9, 10, 9", "10, 11, 10", "2, 2, 2", "2, 2, 2"])
        z = results_tables.redshift_table(self.rows)
        self.assertIn("ARI z 0.000–0.100", z)
        self.assertEqual(_row(z, "vae")[2:], ["0.400", "0.200", "0.400", "0.500", "0.400"])

    def test_document(self):
        base = ExperimentConfig(trainer=TrainerConfig(epochs=7))
        sweep = [{"model": "ae", "best_epoch": 5}, {"model": "ae", "best_epoch": 7}]
        text = results_tables.document(
            "python scripts/make_analysis_table.py --x",
            base,
            [0, 1000, 2000],
            {"train": 80, "validation": 10, "test": 10},
            self.rows,
            CEILINGS,
            sweep,
            5,
        )
        self.assertIn("```\npython scripts/make_analysis_table.py --x\n```", text)
        self.assertIn("3 training seeds (0, 1000, 2000)", text)
        self.assertIn("best epochs 5–7", text)
        self.assertIn("## WHAN", text)
        self.assertNotIn("## True classes", text)  # no record scored it


if __name__ == "__main__":
    absltest.main()
