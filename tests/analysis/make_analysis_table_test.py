"""Tests for scripts/make_analysis_table.py: its default parts and its result cache.

The script defines absl flags in the global FLAGS (workdir, num_galaxies,
epochs, ...) that collide with other binaries' flags imported into the same
test worker, so it is loaded and exercised in a subprocess, which prints
what the assertions below read.
"""

import json
import os
import subprocess
import sys
import textwrap

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = textwrap.dedent(
    """
    import dataclasses, importlib.util, json, os, sys, tempfile
    from absl import flags

    spec = importlib.util.spec_from_file_location("mat", "scripts/make_analysis_table.py")
    mat = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mat)
    flags.FLAGS(["make_analysis_table"])
    parts = [mat.parse_part(t, mat._EPOCHS.value) for t in mat._PARTS.value]
    ceilings = {}
    for dataset in dict.fromkeys(p.dataset for p in parts):
        found = mat._ceiling_inputs([p for p in parts if p.dataset == dataset])
        ceilings[dataset] = [i if i == "spectrum" else f"{i}/{f}" for i, f in found]

    calls = []
    def compute(value):
        def run():
            calls.append(value)
            return {"value": value}
        return run
    path = os.path.join(tempfile.mkdtemp(), "result.json")
    results = [
        mat._cached(path, {"run": {"epochs": 20}, "d": 2}, compute(1)),
        mat._cached(path, {"d": 2, "run": {"epochs": 20}}, compute(2)),  # same key, other order
        mat._cached(path, {"run": {"epochs": 40}, "d": 2}, compute(3)),  # epochs changed
        mat._cached(path, {"run": {"epochs": 40}, "d": 2}, compute(4)),
    ]
    from tfelg.analysis import analyze
    config = analyze.AnalysisConfig(n_bootstrap=10, num_threads=1)
    settings = {
        "threads_ignored": mat._result_settings(config)
        == mat._result_settings(dataclasses.replace(config, num_threads=2)),
        "bootstrap_kept": mat._result_settings(config)
        != mat._result_settings(dataclasses.replace(config, n_bootstrap=20)),
    }
    errors = []
    for bad in ("synthetic:spectrum:ae+xyz", "synthetic:images:ae", "synthetic:spectrum:ae:foo",
                "synthetic:spectrum:cae:dec"):
        try:
            mat.parse_part(bad, 40)
        except ValueError as e:
            errors.append(str(e))
    print(json.dumps({
        "parts": [
            {"config": p.config, "input": p.input, "models": p.models, "epochs": p.epochs,
             "options": sorted(p.options)} for p in parts
        ],
        "ceilings": ceilings,
        "results": results,
        "calls": calls,
        "settings": settings,
        "errors": errors,
    }))
    """
)


class MakeAnalysisTableTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        if proc.returncode:
            raise AssertionError(f"probe failed:\n{proc.stderr[-3000:]}")
        cls.out = json.loads(proc.stdout.strip().splitlines()[-1])

    def test_default_parts_give_every_autoencoder_a_chance_on_each_synthetic_input(self):
        parts = {(p["config"], p["input"]): p for p in self.out["parts"]}
        five = {"ae", "cae", "vae", "cvae", "aae"}
        for input in ("lines/ew", "lines/ew_and_ratios", "spectrum"):
            self.assertLessEqual(five, set(parts["synthetic", input]["models"]), input)
        # The mixture-prior classifier and DEC on both line inputs.
        for input in ("lines/ew", "lines/ew_and_ratios"):
            self.assertIn("vae_mog", parts["synthetic", input]["models"])
            self.assertIn("dec", parts["synthetic", input]["options"])
        self.assertEqual(parts["synthetic", "spectrum"]["epochs"], 20)

    def test_default_parts_have_a_ceiling_for_every_input(self):
        every = ["lines/ew", "lines/ew_and_ratios", "spectrum"]
        self.assertEqual(self.out["ceilings"]["emission_lines/synthetic"], every)
        self.assertEqual(self.out["ceilings"]["emission_lines/synthetic_wide_z"], every)

    def test_cache_reuses_same_key_and_recomputes_when_a_setting_changes(self):
        self.assertEqual(self.out["calls"], [1, 3])
        values = [r["value"] for r in self.out["results"]]
        self.assertEqual(values, [1, 1, 3, 3])
        self.assertTrue(self.out["settings"]["threads_ignored"])
        self.assertTrue(self.out["settings"]["bootstrap_kept"])

    def test_bad_parts_are_named(self):
        errors = self.out["errors"]
        self.assertLen(errors, 4)
        self.assertIn("unknown models ['xyz']", errors[0])
        self.assertIn("input 'images'", errors[1])
        self.assertIn("unknown option 'foo'", errors[2])
        self.assertIn("dec needs the ae model", errors[3])
        for error, entry in zip(
            errors,
            ["synthetic:spectrum:ae+xyz", "synthetic:images:ae", "synthetic:spectrum:ae:foo"],
            strict=False,
        ):
            self.assertIn(repr(entry), error)


if __name__ == "__main__":
    absltest.main()
