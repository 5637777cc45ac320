"""tfelg-classify run as a real process, as an astronomer would.

The written columns are checked against values computed here from the input
FITS columns with astropy and NumPy alone, and the FLAGS of a hand-made
catalogue against bits derived by hand from the rules in tfelg.classify's
FLAG_BITS (each row's comment says why).
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg.testing import fits_fixtures


def _command(*args):
    return [sys.executable, "-m", "tfelg.cli.classify", *args]


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _run(*args):
    return subprocess.run(_command(*args), capture_output=True, text=True, timeout=120, env=_env())


def _run_all(argument_lists):
    """Several tfelg-classify processes at once (each start costs seconds)."""
    processes = [
        subprocess.Popen(
            _command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
        )
        for args in argument_lists
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


# A hand-made MPA-JHU catalogue (12 rows), classified with --snr_min=5.
# Base row: Halpha 100+-1, [NII] 30+-1, [OIII] 20+-1, Hbeta 30+-1, [SII]
# 20+-1 and 15+-1, [OI] 10+-1, EW(Halpha) 20 A, EW([NII]) 6 A (stored
# emission-negative), z = 0.1. x = log(30/100) = -0.52 < -0.4 and W = 20:
# WHAN star-forming; y = log(20/30) = -0.18 below Kauffmann 03 (0.235 at
# x = -0.52): BPT star-forming.
MISSING = -999.0
CRAFTED_ROWS = {
    # row: (changes to the base row, FLAGS bits expected, WHAN, BPT)
    0: ({}, [], "star_forming", "star_forming"),
    # No Halpha: W and both ratios unknown -> both unclassified (not low S/N).
    1: (
        {"H_ALPHA_FLUX": MISSING, "H_ALPHA_FLUX_ERR": MISSING, "H_ALPHA_EQW": MISSING},
        ["HALPHA_MISSING"],
        "unclassified",
        "unclassified",
    ),
    2: (
        {"NII_6584_FLUX": MISSING, "NII_6584_FLUX_ERR": MISSING},
        ["NII_MISSING"],
        "unclassified",
        "unclassified",
    ),
    3: ({"OIII_5007_FLUX": np.nan}, ["OIII_MISSING"], "star_forming", "unclassified"),
    4: ({"H_BETA_FLUX": 0.0}, ["HBETA_MISSING"], "star_forming", "unclassified"),
    # [NII] S/N = 4 < 5: WHAN needs x (W >= 3) -> low S/N; the BPT too.
    5: ({"NII_6584_FLUX_ERR": 7.5}, ["WHAN_LOW_SN", "BPT_LOW_SN"], "low_sn", "low_sn"),
    # Hbeta S/N = 4: the BPT is low S/N, WHAN (no Hbeta) is not.
    6: ({"H_BETA_FLUX_ERR": 7.5}, ["BPT_LOW_SN"], "star_forming", "low_sn"),
    # [NII] S/N = 4 without [OIII]: WHAN low S/N, BPT unclassified (not low S/N).
    7: (
        {"NII_6584_FLUX_ERR": 7.5, "OIII_5007_FLUX": MISSING},
        ["WHAN_LOW_SN", "OIII_MISSING"],
        "low_sn",
        "unclassified",
    ),
    8: ({"Z": -9999.0}, ["BAD_REDSHIFT"], "star_forming", "star_forming"),
    # W = 1 A: retired, which needs no ratio (no S/N cut); the BPT is low S/N.
    9: (
        {"H_ALPHA_EQW": -1.0, "NII_6584_FLUX_ERR": 7.5},
        ["BPT_LOW_SN"],
        "retired",
        "low_sn",
    ),
    10: ({"Z": -0.01}, ["BAD_REDSHIFT"], "star_forming", "star_forming"),
    # x = 0, y = log(90/30) = 0.48: above Kewley 01 in all diagrams; above
    # Kewley 06 in [SII] (x_SII = -0.46: 1.89 x + 0.76 = -0.10) and [OI]
    # (x_OI = -1: 1.18 x + 1.30 = 0.12): Seyfert. W = 20 > 6: strong AGN.
    11: ({"NII_6584_FLUX": 100.0, "OIII_5007_FLUX": 90.0}, [], "strong_agn", "seyfert"),
}
BASE_ROW = {
    "H_ALPHA_FLUX": 100.0,
    "H_ALPHA_FLUX_ERR": 1.0,
    "H_ALPHA_EQW": -20.0,
    "NII_6584_FLUX": 30.0,
    "NII_6584_FLUX_ERR": 1.0,
    "NII_6584_EQW": -6.0,
    "OIII_5007_FLUX": 20.0,
    "OIII_5007_FLUX_ERR": 1.0,
    "H_BETA_FLUX": 30.0,
    "H_BETA_FLUX_ERR": 1.0,
    "SII_6717_FLUX": 20.0,
    "SII_6717_FLUX_ERR": 1.0,
    "SII_6731_FLUX": 15.0,
    "SII_6731_FLUX_ERR": 1.0,
    "OI_6300_FLUX": 10.0,
    "OI_6300_FLUX_ERR": 1.0,
    "Z": 0.1,
}
FLAG_VALUES = {  # the documented bit values, as written in the FITS header
    "HALPHA_MISSING": 1,
    "NII_MISSING": 2,
    "OIII_MISSING": 4,
    "HBETA_MISSING": 8,
    "WHAN_LOW_SN": 16,
    "BPT_LOW_SN": 32,
    "BAD_REDSHIFT": 64,
}


def write_crafted_catalogue(directory, *, emission_positive=False):
    """The rows of CRAFTED_ROWS as an MPA-JHU DR7 pair; returns (line, info) paths."""
    files = fits_fixtures.write_mpajhu_pair(directory, n=len(CRAFTED_ROWS), seed=0)
    with (
        fits.open(files.line_path, mode="update") as lines,
        fits.open(files.info_path, mode="update") as info,
    ):
        for row, (changes, _, _, _) in CRAFTED_ROWS.items():
            for column, value in {**BASE_ROW, **changes}.items():
                table = info[1].data if column == "Z" else lines[1].data
                if column.endswith("_EQW") and emission_positive and value != MISSING:
                    value = -value
                table[column][row] = value
    return files.line_path, files.info_path


def _log_ratio(numerator, denominator):
    """log10 of a ratio of catalogue fluxes; NaN for sentinels, NaN or non-positive values."""
    a, b = (np.asarray(v, np.float64) for v in (numerator, denominator))
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0) & (a > -999) & (b > -999)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, np.log10(np.where(ok, a / b, 1.0)), np.nan)


def expected_columns(line_path, emission_negative=True):
    """LOG_* and EW_* columns computed here from the line catalogue."""
    with fits.open(line_path) as hdul:
        d = {name: np.asarray(hdul[1].data[name], np.float64) for name in hdul[1].columns.names}
    sign = -1.0 if emission_negative else 1.0

    def ew(name):
        values = d[f"{name}_EQW"]
        return np.where(np.isfinite(values) & (values > -999), sign * values, np.nan)

    return {
        "LOG_NII_HA": _log_ratio(d["NII_6584_FLUX"], d["H_ALPHA_FLUX"]),
        "LOG_OIII_HB": _log_ratio(d["OIII_5007_FLUX"], d["H_BETA_FLUX"]),
        "LOG_SII_HA": _log_ratio(d["SII_6717_FLUX"] + d["SII_6731_FLUX"], d["H_ALPHA_FLUX"]),
        "LOG_OI_HA": _log_ratio(d["OI_6300_FLUX"], d["H_ALPHA_FLUX"]),
        "EW_HA": ew("H_ALPHA"),
        "EW_NII": ew("NII_6584"),
    }


class ClassifyBinaryTest(absltest.TestCase):
    def test_mpajhu_then_refuses_to_overwrite(self):
        directory = self.create_tempdir().full_path
        files = fits_fixtures.write_mpajhu_pair(directory, n=12, seed=0)
        out = os.path.join(directory, "out.fits")
        proc = _run(f"--input={files.line_path}", f"--info={files.info_path}", f"--output={out}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("WHAN classes (12 objects)", proc.stdout)
        self.assertIn("BPT classes (12 objects)", proc.stdout)
        with fits.open(out) as hdul:
            self.assertLen(hdul["CLASSES"].data, 12)
        before = os.path.getmtime(out)

        proc = _run(f"--input={files.line_path}", f"--info={files.info_path}", f"--output={out}")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--overwrite", proc.stderr)
        self.assertEqual(os.path.getmtime(out), before)

    def test_spec_folder(self):
        directory = self.create_tempdir().full_path
        fits_fixtures.write_sdss_spec_folder(os.path.join(directory, "spec"), n=3, seed=2)
        out = os.path.join(directory, "spec.fits")
        proc = _run(f"--input={os.path.join(directory, 'spec')}", f"--output={out}")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("wrote 3 rows", proc.stdout)
        with fits.open(out) as hdul:
            self.assertLen(hdul["CLASSES"].data, 3)

    def test_bad_file_is_named_and_nothing_written(self):
        directory = self.create_tempdir().full_path
        bad = fits_fixtures.write_not_fits(os.path.join(directory, "broken.fits"))
        out = os.path.join(directory, "out.fits")
        proc = _run(f"--input={bad}", f"--output={out}")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("broken.fits", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertFalse(os.path.exists(out))


class ClassifyColumnsTest(absltest.TestCase):
    """Every FLAGS bit, --snr_min, --format and --ew_convention, and the written values."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dir = absltest.get_default_test_tmpdir() + "/classify_columns"
        shutil.rmtree(cls.dir, ignore_errors=True)
        cls.line, cls.info = write_crafted_catalogue(os.path.join(cls.dir, "negative"))
        positive_line, positive_info = write_crafted_catalogue(
            os.path.join(cls.dir, "positive"), emission_positive=True
        )
        # An MPA-JHU catalogue under a spec-*.fits name: --format=mpajhu overrides
        # the detection by name (which would take it for an SDSS spec file).
        cls.renamed = os.path.join(cls.dir, "spec-catalogue.fits")
        shutil.copy(cls.line, cls.renamed)
        cls.outputs = {
            name: os.path.join(cls.dir, f"{name}.fits")
            for name in ("snr5", "snr3", "positive", "renamed", "auto_renamed")
        }
        runs = {
            "snr5": [cls.line, cls.info, "--snr_min=5"],
            "snr3": [cls.line, cls.info, "--snr_min=3"],
            "positive": [
                positive_line,
                positive_info,
                "--snr_min=5",
                "--ew_convention=emission_positive",
            ],
            "renamed": [cls.renamed, cls.info, "--snr_min=5", "--format=mpajhu"],
            "auto_renamed": [cls.renamed, cls.info, "--snr_min=5"],
        }
        results = _run_all(
            [
                [f"--input={line}", f"--info={info}", f"--output={cls.outputs[name]}", *rest]
                for name, (line, info, *rest) in runs.items()
            ]
        )
        cls.results = dict(zip(runs, results, strict=True))

    def _table(self, name):
        proc = self.results[name]
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        with fits.open(self.outputs[name]) as hdul:
            return hdul["CLASSES"].data, hdul["CLASSES"].header

    def test_every_flag_bit_and_class(self):
        data, header = self._table("snr5")
        for name, value in FLAG_VALUES.items():
            self.assertEqual(header[f"FLAG_{name}"], value, name)
        self.assertEqual(header["SNRMIN"], 5.0)
        expected_flags = [
            sum(FLAG_VALUES[bit] for bit in bits) for _, bits, _, _ in CRAFTED_ROWS.values()
        ]
        self.assertEqual(list(data["FLAGS"]), expected_flags)
        seen = set().union(*(bits for _, bits, _, _ in CRAFTED_ROWS.values()))
        self.assertEqual(seen, set(FLAG_VALUES), "every bit is set in some row")
        self.assertEqual(list(data["WHAN"]), [w for _, _, w, _ in CRAFTED_ROWS.values()])
        self.assertEqual(list(data["BPT"]), [b for _, _, _, b in CRAFTED_ROWS.values()])

    def test_snr_min_is_passed(self):
        strict, _ = self._table("snr5")
        loose, header = self._table("snr3")
        self.assertEqual(header["SNRMIN"], 3.0)
        # S/N 4 passes at 3: rows 5, 6 and 9 lose their low-S/N bits and classes.
        low_sn_bits = FLAG_VALUES["WHAN_LOW_SN"] | FLAG_VALUES["BPT_LOW_SN"]
        np.testing.assert_array_equal(loose["FLAGS"], strict["FLAGS"] & ~low_sn_bits)
        self.assertEqual((loose["WHAN"][5], loose["BPT"][5]), ("star_forming", "star_forming"))
        self.assertEqual(loose["BPT"][6], "star_forming")
        self.assertEqual((loose["WHAN"][9], loose["BPT"][9]), ("retired", "star_forming"))
        self.assertEqual(loose["WHAN"][7], "star_forming")

    def test_written_values_match_an_independent_computation(self):
        data, _ = self._table("snr5")
        for column, values in expected_columns(self.line).items():
            np.testing.assert_allclose(data[column], values, rtol=1e-6, err_msg=column)
        with fits.open(self.info) as hdul:
            z = np.asarray(hdul[1].data["Z"], np.float64)
        np.testing.assert_allclose(data["Z"], np.where(z > -999, z, np.nan), rtol=1e-6)
        self.assertEqual(int(np.nanmin(data["EW_HA"])), 1)  # emission-positive

    def test_ew_convention_is_passed(self):
        negative, _ = self._table("snr5")
        positive, _ = self._table("positive")
        for column in ("EW_HA", "EW_NII", "FLAGS", "WHAN", "BPT", "LOG_NII_HA"):
            np.testing.assert_array_equal(positive[column], negative[column], err_msg=column)

    def test_format_is_passed(self):
        renamed, _ = self._table("renamed")
        reference, _ = self._table("snr5")
        for column in ("FLAGS", "WHAN", "BPT", "EW_HA", "OBJID"):
            np.testing.assert_array_equal(renamed[column], reference[column], err_msg=column)
        auto = self.results["auto_renamed"]  # detected as an SDSS spec file by its name
        self.assertEqual(auto.returncode, 2)
        self.assertIn("--info applies to MPA-JHU catalogues", auto.stderr)


class ClassifyBadSettingsTest(absltest.TestCase):
    """Settings and the output path are refused before any input is read."""

    def test_refused_before_reading(self):
        directory = self.create_tempdir().full_path
        # The input does not exist: an error about it means the input was read first.
        missing_input = os.path.join(directory, "not_read.fit")
        a_file = os.path.join(directory, "plain_file")
        with open(a_file, "w") as f:
            f.write("x")
        existing = os.path.join(directory, "old.fits")
        with open(existing, "w") as f:
            f.write("x")
        cases = {
            "folder": ([f"--output={directory}"], "is a folder"),
            "slash": ([f"--output={directory}/new/"], "ends with '/'"),
            "empty": (["--output="], "--output is empty"),
            "under a file": ([f"--output={a_file}/x.fits"], "plain_file is a file"),
            "unwritable": (["--output=/proc/tfelg_classes.fits"], "cannot write in /proc"),
            "exists": ([f"--output={existing}"], "pass --overwrite"),
            "nan": ([f"--output={directory}/a.fits", "--snr_min=nan"], "--snr_min must be"),
            "inf": ([f"--output={directory}/b.fits", "--snr_min=inf"], "--snr_min must be"),
            "negative": ([f"--output={directory}/c.fits", "--snr_min=-1"], "--snr_min must be"),
        }
        results = _run_all([[f"--input={missing_input}", *args] for args, _ in cases.values()])
        for (name, (_, words)), proc in zip(cases.items(), results, strict=True):
            with self.subTest(name):
                self.assertEqual(proc.returncode, 2, proc.stderr[-2000:])
                self.assertTrue(proc.stderr.startswith("tfelg-classify: error: "), proc.stderr)
                self.assertIn(words, proc.stderr)
                self.assertNotIn("not_read.fit", proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(sorted(os.listdir(directory)), ["old.fits", "plain_file"])

    def test_info_logs_quiet_unless_verbosity(self):
        directory = self.create_tempdir().full_path
        files = fits_fixtures.write_mpajhu_pair(directory, n=12, seed=0)
        common = [f"--input={files.line_path}", f"--info={files.info_path}"]
        quiet, verbose = _run_all(
            [
                [*common, f"--output={directory}/quiet.fits"],
                [*common, f"--output={directory}/verbose.fits", "--verbosity=0"],
            ]
        )
        info_line = re.compile(r"^I\d{4} [\d:.]+ +\d+ \S+\.py:\d+\]", re.M)  # absl's Python INFO
        self.assertEqual(quiet.returncode, 0, quiet.stderr)
        self.assertIsNone(info_line.search(quiet.stderr), quiet.stderr)
        self.assertEqual(verbose.returncode, 0, verbose.stderr)
        self.assertRegex(verbose.stderr, info_line)


if __name__ == "__main__":
    absltest.main()
