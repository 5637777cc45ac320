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
        # No variance share in these records: not measured, no verdict.
        self.assertEqual(
            _row(z, "vae")[2:], ["0.400", "0.200", "0.400", "0.500", "0.400", "–", "–"]
        )

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


def in_part(r, label, dataset, input_name, share=None):
    out = {**r, "part": {"label": label, "dataset": dataset, "input": input_name}}
    out["redshift"] = {**r["redshift"], "variance_share": share}
    return out


class PartsTest(absltest.TestCase):
    """Several data/input parts in one document: marks and ceilings within a part."""

    def setUp(self):
        super().setUp()
        lines = ("narrow · lines/ew", "emission_lines/narrow", "lines/ew")
        wide = ("wide · spectrum", "emission_lines/wide", "spectrum")
        self.records = [
            in_part(record("pca", None, 0.5), *lines, share=0.01),
            in_part(record("ae", 0, 0.6), *lines, share=0.02),
            in_part(record("ae", 1000, 0.6), *lines, share=0.04),
            in_part(record("pca", None, 0.7), *wide, share=0.3),
            # The same numbers as the lines part's ae: level with this part's PCA (0.7) would
            # be a "-" mark; against the other part's PCA (0.5) it would be "+".
            in_part(record("ae", 0, 0.6), *wide, share=0.8),
            in_part(record("ae", 1000, 0.6), *wide, share=0.6),
        ]
        self.ceilings = [{**c, "dataset": "emission_lines/narrow"} for c in CEILINGS] + [
            {**CEILINGS[0], "input": "spectrum", "ari": 0.6, "dataset": "emission_lines/wide"}
        ]
        self.rows = results_tables.aggregate_records(self.records)

    def test_rows_grouped_per_part(self):
        self.assertLen(self.rows, 4)
        self.assertEqual([r["n"] for r in self.rows], [1, 2, 1, 2])

    def test_marks_and_ceilings_within_the_part(self):
        table = results_tables.scheme_table(self.rows, "whan", self.ceilings)
        ae_rows = [
            [c.strip() for c in line.strip("|").split("|")]
            for line in table.splitlines()
            if "| ae |" in line
        ]
        narrow, wide = ae_rows
        self.assertEqual(narrow[0], "narrow · lines/ew")
        self.assertTrue(narrow[6].endswith("+"), narrow)
        self.assertEqual(narrow[8], "0.75")  # 0.6 / 0.8 (lines/ew on narrow)
        self.assertEqual(wide[0], "wide · spectrum")
        self.assertTrue(wide[6].endswith("−"), wide)
        self.assertEqual(wide[8], "1.00")  # 0.6 / 0.6 (spectrum on wide)

    def test_redshift_share_and_verdict(self):
        wide = [r for r in self.rows if r["part"]["dataset"] == "emission_lines/wide"]
        z = results_tables.redshift_table(wide)
        cells = _row(z, "wide · spectrum")  # the first (PCA) row
        self.assertEqual(cells[-2:], ["0.30", "partly redshift"])
        ae = [line for line in z.splitlines() if "| ae |" in line][0]
        self.assertIn("| 0.70 | mostly redshift |", ae)
        # Without the trees' regression (r2_gbm None) its cell is empty, not an error.
        for r in wide:
            for m in r["members"]:
                m["redshift"]["dependence"]["r2_gbm"] = None
        self.assertEqual(_row(results_tables.redshift_table(wide), "wide · spectrum")[5], "–")

    def test_document_lists_parts_and_one_redshift_table_per_dataset(self):
        base = ExperimentConfig()
        parts = [
            {"label": "narrow · lines/ew", "dataset": "emission_lines/narrow",
             "input": "lines/ew", "models": ["ae"], "epochs": 40,
             "n_galaxies": {"train": 80, "validation": 10, "test": 10}, "best_epochs": [39, 40]},
            {"label": "wide · spectrum", "dataset": "emission_lines/wide", "input": "spectrum",
             "models": ["ae"], "epochs": 20,
             "n_galaxies": {"train": 80, "validation": 10, "test": 10}, "best_epochs": [20]},
        ]  # fmt: skip
        text = results_tables.document(
            "cmd", base, [0, 1000], parts[0]["n_galaxies"], self.rows, self.ceilings, [], 5, 5,
            parts=parts,
        )  # fmt: skip
        self.assertIn("input `spectrum`; models ae, 20 epochs (best epochs 20–20)", text)
        self.assertIn("### `emission_lines/narrow`", text)
        self.assertIn("### `emission_lines/wide`", text)
        self.assertIn("| data | input | classifier |", text)


if __name__ == "__main__":
    absltest.main()
