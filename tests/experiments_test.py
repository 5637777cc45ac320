"""The reference-experiment flagfiles (experiments/*.flags) parse with the binary they name.

Each flagfile's first line says ``# binary: tfelg-...``; absl then reads the
file with exactly that binary's flags, so an unknown or misspelt flag, or a
bad value (an enum, an integer), fails here instead of in a user's run.
The parse runs in a subprocess per binary (absl's flags are process-global).
"""

import glob
import os
import subprocess
import sys

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENTS = os.path.join(ROOT, "experiments")
MODULES = {"tfelg-latent-sweep": "tfelg.cli.latent_sweep", "tfelg-analyze": "tfelg.cli.analyze"}
# Flags a user gives after the flagfile (tfelg-analyze's run is not in its flagfile).
EXTRA = {"tfelg-latent-sweep": [], "tfelg-analyze": ["--workdir=runs/reference/sweep/runs/ae_d2"]}

_PARSE = """
import sys
from absl import flags
import {module}
values = flags.FLAGS
for path in sys.argv[1:]:
    values.unparse_flags()
    values(["binary", "--flagfile=" + path, *{extra!r}])
    print(path, values["workdir"].value, values["seed"].value, flush=True)
"""


def _binary(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        first = f.readline().strip()
    prefix = "# binary: "
    if not first.startswith(prefix):
        raise AssertionError(f"{path}: the first line must be '{prefix}<tfelg binary>'")
    return first[len(prefix) :]


class FlagfilesTest(absltest.TestCase):
    def test_every_flagfile_parses_with_its_binary(self):
        paths = sorted(glob.glob(os.path.join(EXPERIMENTS, "*.flags")))
        self.assertGreaterEqual(len(paths), 9)
        by_binary: dict[str, list[str]] = {}
        for path in paths:
            binary = _binary(path)
            self.assertIn(binary, MODULES, path)
            by_binary.setdefault(binary, []).append(path)
        for binary, files in by_binary.items():
            result = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _PARSE.format(module=MODULES[binary], extra=EXTRA[binary]),
                    *files,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=ROOT,
            )
            self.assertEqual(result.returncode, 0, f"{binary}: {result.stderr[-2000:]}")
            self.assertEqual(len(result.stdout.splitlines()), len(files), result.stdout)

    def test_reference_values(self):
        """The values REFERENCE.md gives for the first reference work."""

        def flags_of(name):
            with open(os.path.join(EXPERIMENTS, name), encoding="utf-8") as f:
                return {
                    line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")
                }

        sweep = flags_of("reference_sweep.flags")
        self.assertLessEqual(
            {"--epochs=50", "--batch_size=200", "--learning_rate=0.001", "--line_features=ew"},
            sweep,
        )
        self.assertIn("--latent_dims=2,3,4,5,6", sweep)
        self.assertLessEqual(
            {"--latent_dims=1", "--epochs=100"}, flags_of("reference_sweep_d1.flags")
        )
        for std in ("1", "0.5", "0.1", "1e-13"):
            self.assertLessEqual(
                {f"--noise_std={std}", "--beta=0.0005", "--models=vae,cvae"},
                flags_of(f"reference_vae_std_{std}.flags"),
            )
        self.assertLessEqual(
            {"--prior_std=5", "--learning_rate=0.0005", "--batch_size=10000"},
            flags_of("reference_aae_prior_std_5.flags"),
        )
        self.assertIn("--n_clusters=5", flags_of("reference_analyze_k5.flags"))
        self.assertIn("--n_clusters=3", flags_of("reference_analyze_k3.flags"))


if __name__ == "__main__":
    absltest.main()
