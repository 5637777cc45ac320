"""FITS tables are written whole or not at all, with exact integers and whole comments."""

import datetime
import json
import os
import subprocess
import sys
from unittest import mock

import numpy as np
from absl.testing import absltest
from astropy.io import fits

from tfelg.outputs import fits_table


class WriteFitsTableTest(absltest.TestCase):
    def test_round_trip(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        fits_table.write_fits_table(
            path,
            {
                "OBJID": np.array(["a", "bcd"]),
                "Z": np.array([0.1, 0.2]),
                "CODE": np.array([1, 2], dtype=np.int8),
                "LATENT": np.arange(6, dtype=np.float32).reshape(2, 3),
            },
            header={"SNRMIN": 3.0, "A_LONG_KEY": "x"},
            units={"Z": ""},
            descriptions={"Z": "redshift"},
        )
        with fits.open(path) as hdul:
            data = hdul["CATALOG"].data
            self.assertEqual(list(data["OBJID"]), ["a", "bcd"])
            np.testing.assert_allclose(data["Z"], [0.1, 0.2])
            self.assertEqual(list(data["CODE"]), [1, 2])
            np.testing.assert_allclose(data["LATENT"][1], [3, 4, 5])
            self.assertEqual(hdul[0].header["SNRMIN"], 3.0)
            self.assertEqual(hdul[0].header["A_LONG_KEY"], "x")
            self.assertEqual(hdul["CATALOG"].header["TCOMM2"], "redshift")

    def test_refuses_to_overwrite(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        fits_table.write_fits_table(path, {"A": np.arange(3)})
        with self.assertRaisesRegex(FileExistsError, "overwrite"):
            fits_table.write_fits_table(path, {"A": np.arange(4)})
        fits_table.write_fits_table(path, {"A": np.arange(4)}, overwrite=True)
        with fits.open(path) as hdul:
            self.assertLen(hdul[1].data, 4)

    def test_failure_leaves_old_file_and_no_temporary(self):
        directory = self.create_tempdir().full_path
        path = os.path.join(directory, "t.fits")
        fits_table.write_fits_table(path, {"A": np.arange(3)})
        with mock.patch.object(fits.HDUList, "writeto", side_effect=OSError("disk full")):
            with self.assertRaisesRegex(OSError, "disk full"):
                fits_table.write_fits_table(path, {"A": np.arange(9)}, overwrite=True)
        self.assertEqual(os.listdir(directory), ["t.fits"])
        with fits.open(path) as hdul:
            self.assertLen(hdul[1].data, 3)

    def test_mismatched_lengths(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        with self.assertRaisesRegex(ValueError, "different lengths"):
            fits_table.write_fits_table(path, {"A": np.arange(3), "B": np.arange(2)})
        self.assertFalse(os.path.exists(path))

    def test_unsigned_integers_round_trip_at_the_extremes(self):
        # Before the TZERO convention, 40000 read back as -25536 and 2^63+5
        # as a negative number.
        columns = {
            "U8": np.array([0, 200, 2**8 - 1], dtype=np.uint8),
            "U16": np.array([0, 40000, 2**16 - 1], dtype=np.uint16),
            "U32": np.array([0, 2**31 + 7, 2**32 - 1], dtype=np.uint32),
            "U64": np.array([0, 2**63 + 5, 2**64 - 1], dtype=np.uint64),
            "U32VEC": np.array([[0, 2**32 - 1]] * 3, dtype=np.uint32),
            "I64": np.array([-(2**63), 0, 2**63 - 1], dtype=np.int64),
        }
        path = os.path.join(self.create_tempdir().full_path, "u.fits")
        fits_table.write_fits_table(path, columns)
        zeros = {"U8": None, "U16": 2**15, "U32": 2**31, "U64": 2**63, "U32VEC": 2**31}
        with fits.open(path) as hdul:
            header, data = hdul[1].header, hdul[1].data
            for i, name in enumerate(columns, start=1):
                with self.subTest(column=name):
                    self.assertEqual(data[name].tolist(), columns[name].tolist())
                    self.assertEqual(data[name].dtype.kind, columns[name].dtype.kind)
                    self.assertEqual(header.get(f"TZERO{i}"), zeros.get(name))
            # What fitsverify or STILTS read: the stored signed integers are
            # the values minus TZERO.
            offset, raw_dtype = hdul[1].fileinfo()["datLoc"], hdul[1].data.dtype
        with open(path, "rb") as f:
            f.seek(offset)
            raw = np.frombuffer(f.read(3 * raw_dtype.itemsize), dtype=raw_dtype)
        self.assertEqual(raw["U16"].tolist(), [-(2**15), 40000 - 2**15, 2**15 - 1])
        self.assertEqual(raw["U64"].tolist(), [-(2**63), 5, 2**63 - 1])
        self.assertEqual(raw["U8"].tolist(), [0, 200, 255])
        # A fresh interpreter, nothing cached: astropy reads the same numbers.
        script = (
            "import json, sys; from astropy.io import fits\n"
            "with fits.open(sys.argv[1]) as h:\n"
            "    print(json.dumps({n: h[1].data[n].tolist() for n in h[1].columns.names}))"
        )
        fresh = json.loads(
            subprocess.run(
                [sys.executable, "-c", script, path], check=True, capture_output=True, text=True
            ).stdout
        )
        self.assertEqual(fresh, {name: values.tolist() for name, values in columns.items()})

    def test_units_comments_date_and_provenance_in_the_table_header(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        long_text = "a description that does not fit on one card: " + " ".join(["word"] * 25)
        fits_table.write_fits_table(
            path,
            {"EW": np.array([1.0]), "Z": np.array([0.1]), "FLAGS": np.array([3])},
            header={"RUNID": "r1", "REPRESENTATION": "vae", "SNRMIN": (3.0, "S/N cut")},
            units={"EW": "Angstrom", "Z": ""},
            descriptions={"EW": "EW(Halpha)", "FLAGS": long_text},
        )
        with fits.open(path) as hdul:
            table = hdul[1].header
            self.assertEqual(table["TUNIT1"], "Angstrom")
            self.assertNotIn("TUNIT2", table)  # dimensionless: no unit card
            self.assertEqual(table["TCOMM1"], "EW(Halpha)")
            self.assertNotIn("TCOMM2", table)
            self.assertEqual(table["TCOMM3"], long_text)  # whole, through CONTINUE
            self.assertGreater(len(long_text), fits_table.MAX_CARD_STRING)
            self.assertEqual(table["LONGSTRN"], "OGIP 1.0")
            for hdu in hdul:
                with self.subTest(hdu=hdu.name):
                    self.assertEqual(hdu.header["RUNID"], "r1")
                    self.assertEqual(hdu.header["REPRESENTATION"], "vae")
                    self.assertEqual(hdu.header["SNRMIN"], 3.0)
                    self.assertEqual(hdu.header.comments["SNRMIN"], "S/N cut")
                    written = datetime.datetime.fromisoformat(hdu.header["DATE"])
                    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
                    self.assertLess(abs((now - written).total_seconds()), 3600)
            self.assertEqual(hdul[1].verify_checksum(), 1)
        # A short comment alone needs no LONGSTRN card.
        fits_table.write_fits_table(
            path, {"A": np.arange(2)}, descriptions={"A": "x" * 68}, overwrite=True
        )
        with fits.open(path) as hdul:
            self.assertEqual(hdul[1].header["TCOMM1"], "x" * 68)
            self.assertNotIn("LONGSTRN", hdul[1].header)

    def test_refuses_reserved_keys_and_unknown_columns(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        for key in ("NAXIS2", "TFORM1", "tcomm1", "DATE", "EXTNAME", "TZERO3"):
            with self.subTest(key=key):
                with self.assertRaisesRegex(ValueError, f"{key!r} is a reserved"):
                    fits_table.write_fits_table(path, {"A": np.arange(2)}, header={key: 1})
        with self.assertRaisesRegex(ValueError, r"descriptions .*\['B'\]"):
            fits_table.write_fits_table(path, {"A": np.arange(2)}, descriptions={"B": "b"})
        with self.assertRaisesRegex(ValueError, r"units .*\['B'\]"):
            fits_table.write_fits_table(path, {"A": np.arange(2)}, units={"B": "m"})
        self.assertFalse(os.path.exists(path))

    def test_rows_written_in_chunks_equal_astropys_whole_table(self):
        # 23 rows in chunks of 4 (the last one short), a 47-byte row (not a
        # multiple of 4, so the checksum's words straddle rows and chunks),
        # strings whose longest value is in the last chunk, TZERO columns,
        # vectors, booleans and names made from codes chunk by chunk.
        rng = np.random.default_rng(3)
        n = 23
        ids = np.array([f"g{i}" for i in range(n - 1)] + ["the-longest-i"])
        codes = rng.integers(0, 3, n).astype(np.int16)
        names = ("SF", "sAGN", "retired/passive")
        columns = {
            "OBJID": ids,
            "U16": rng.integers(0, 2**16, n).astype(np.uint16),
            "Z": rng.random(n),
            "LATENT": rng.normal(size=(n, 2)).astype(np.float32),
            "FLAG": rng.random(n) > 0.5,
            "WHAN": fits_table.CodedNames(codes, names),
        }
        directory = self.create_tempdir().full_path
        path = os.path.join(directory, "chunked.fits")
        with mock.patch.object(fits_table, "CHUNK_ROWS", 4):
            fits_table.write_fits_table(path, columns, header={"RUNID": "r"})
        whole = fits.BinTableHDU.from_columns(
            [
                fits.Column(name="OBJID", format="13A", array=ids.astype("S13")),
                fits.Column(name="U16", format="I", array=columns["U16"], bzero=2**15),
                fits.Column(name="Z", format="D", array=columns["Z"]),
                fits.Column(name="LATENT", format="2E", array=columns["LATENT"]),
                fits.Column(name="FLAG", format="L", array=columns["FLAG"]),
                fits.Column(
                    name="WHAN", format="15A", array=np.asarray(names)[codes].astype("S15")
                ),
            ]
        )
        self.assertEqual(whole.header["NAXIS1"], 13 + 2 + 8 + 8 + 1 + 15)
        reference = os.path.join(directory, "whole.fits")
        whole.writeto(reference)

        def data_bytes(file):
            with fits.open(file) as hdul:
                info = hdul.fileinfo(1)
            with open(file, "rb") as f:
                f.seek(info["datLoc"])
                return f.read(info["datSpan"])

        self.assertEqual(data_bytes(path), data_bytes(reference))
        self.assertEqual(os.path.getsize(path) % 2880, 0)
        with fits.open(path, checksum=True) as hdul:
            table = hdul[1]
            self.assertEqual(table.header["NAXIS2"], n)
            self.assertEqual(table.verify_datasum(), 1)
            self.assertEqual(table.verify_checksum(), 1)
            self.assertEqual(hdul[0].verify_checksum(), 1)
            self.assertEqual(table.header["RUNID"], "r")
            self.assertEqual(list(table.data["WHAN"]), [names[c] for c in codes])
            self.assertEqual(table.data["U16"].tolist(), columns["U16"].tolist())
            self.assertEqual(table.data["OBJID"][-1], "the-longest-i")
        # The checksum is not a constant: one byte changed in the data fails it.
        with open(path, "r+b") as f:
            f.seek(data_at := os.path.getsize(path) - 2880)
            byte = f.read(1)
            f.seek(data_at)
            f.write(bytes([byte[0] ^ 1]))
        with fits.open(path) as hdul:
            self.assertEqual(hdul[1].verify_datasum(), 0)

    def test_checksum_encoding_matches_the_conventions_example(self):
        # FITS checksum convention (Seaman, Pence & Rots 2012), appendix: the
        # sum 868229149 is encoded as "hcHjjc9ghcEghc9g" (of its complement).
        self.assertEqual(fits_table._encode_checksum(~868229149), "hcHjjc9ghcEghc9g")
        self.assertEqual(fits_table._ones_complement_sum(b"\xff\xff\xff\xff" * 2), 0xFFFFFFFF)
        self.assertEqual(fits_table._ones_complement_sum(b"\x00\x00\x00\x01", 0xFFFFFFFF), 1)

    def test_empty_table(self):
        path = os.path.join(self.create_tempdir().full_path, "t.fits")
        fits_table.write_fits_table(path, {"A": np.arange(0), "S": np.array([], dtype=str)})
        with fits.open(path, checksum=True) as hdul:
            self.assertLen(hdul[1].data, 0)
            self.assertEqual(hdul[1].verify_checksum(), 1)


if __name__ == "__main__":
    absltest.main()
