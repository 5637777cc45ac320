"""scripts/make_image_results.py: seed aggregation, tables and the block it rewrites.

The pipeline runs themselves are tests/pipelines/hst_images_test.py's; here
the comparison rows of two seeds are made by hand, so every number in the
tables can be checked.
"""

import importlib.util
import os
import tempfile

from absl.testing import absltest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SPEC = importlib.util.spec_from_file_location(
    "make_image_results", os.path.join(REPO, "scripts", "make_image_results.py")
)
script = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(script)


def _row(representation, chain, accuracy, err=0.01, k=3):
    row = {
        "representation": representation,
        "chain": chain,
        "latent_dim": 16,
        "k_bic": k,
        "k_gap": k - 1,
        "k_silhouette": 2,
    }
    for scheme in script.SCHEMES:
        for metric in script.METRICS:
            row[f"{scheme}_{metric}"] = accuracy
            row[f"{scheme}_{metric}_err"] = err
    return row


ROWS = {
    0: [
        _row("simclr", "real", 0.50),
        _row("simclr", "real_and_generated", 0.70),
        _row("pixel_pca", "real", 0.40, k=4),
    ],
    1: [
        _row("simclr", "real", 0.52),
        _row("simclr", "real_and_generated", 0.72),
        _row("pixel_pca", "real", 0.42, k=5),
    ],
}


class ImageResultsTest(absltest.TestCase):
    def test_seeds_are_aggregated_per_row(self):
        stats = script.collect(ROWS)
        self.assertEqual(
            list(stats), ["simclr, real only", "simclr, real + GAN library", "pixel_pca"]
        )
        cell = stats["simclr, real only"]["uvj", "accuracy"]
        self.assertAlmostEqual(cell["mean"], 0.51)
        self.assertAlmostEqual(cell["std"], 0.0141421356, places=6)  # ddof 1 over two seeds
        self.assertAlmostEqual(cell["boot"], 0.01)
        self.assertEqual(stats["pixel_pca"]["k"], [(4, 3, 2), (5, 4, 2)])

    def test_tables_name_every_row_and_mark_the_library_difference(self):
        text = script.markdown(script.collect(ROWS))
        for scheme in script.SCHEMES:
            self.assertIn(f"**{scheme}** (test split)", text)
        self.assertIn("| simclr, real only | 16 | 3/2/2; 3/2/2 | 0.510 ± 0.014 [0.010]", text)
        self.assertIn("| pixel_pca | 16 | 4/3/2; 5/4/2 | 0.410 ± 0.014 [0.010]", text)
        # 0.20 apart with sigma ~ 0.02: significant, and higher.
        self.assertRegex(text, r"\| uvj \| accuracy \| \+0\.200 \| 0\.0\d\d \| \+ \|")
        # The same difference inside its errors is not marked.
        noisy = {s: [dict(r) for r in rows] for s, rows in ROWS.items()}
        for rows in noisy.values():
            for row in rows:
                row["uvj_accuracy_err"] = 0.2
        text = script.markdown(script.collect(noisy))
        self.assertRegex(text, r"\| uvj \| accuracy \| \+0\.200 \| 0\.\d{3} \|  \|")

    def test_only_the_block_is_rewritten(self):
        path = os.path.join(tempfile.mkdtemp(), "image_results.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"# Title\n\nreading above\n\n{script.START}\nold\n{script.END}\n\nbelow\n")
        script.write_block(path, f"{script.START}\nnew\n{script.END}")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(
            text, f"# Title\n\nreading above\n\n{script.START}\nnew\n{script.END}\n\nbelow\n"
        )


if __name__ == "__main__":
    absltest.main()
