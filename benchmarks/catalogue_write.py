r"""Memory and time of writing the value-added catalogue: in chunks of rows against the whole table.

    python benchmarks/catalogue_write.py                   # 10^6 galaxies, K = 10, d = 2
    python benchmarks/catalogue_write.py --rows=100000 --clusters=5

Both ways write the same columns as the pipeline's catalog_writer (ids,
redshift, latent coordinates and their imputed flags, the t-SNE map with its
flags, cluster and membership probabilities, WHAN, BPT and the true class,
names and codes):

* ``whole table``: every column converted at once and one
  ``astropy.io.fits.BinTableHDU.from_columns(...).writeto`` (what
  ``tfelg.outputs.fits_table`` did before issue 15);
* ``chunked``: :func:`tfelg.outputs.catalogue.write_catalogue` as it is now,
  which serialises :data:`tfelg.outputs.fits_table.CHUNK_ROWS` rows at a time.

Each runs in a fresh process; the inputs are made there first, then the
process's peak-RSS mark is reset (``/proc/self/clear_refs``, Linux) and the
write measured, so "+MB" is what writing needed on top of its inputs. The two
files are compared column by column before the ratios are printed.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import peak_memory
from absl import app, flags

_ROWS = flags.DEFINE_integer("rows", 1_000_000, "Galaxies in the catalogue.")
_CLUSTERS = flags.DEFINE_integer("clusters", 10, "K: width of CLUSTER_PROB.")
_LATENT = flags.DEFINE_integer("latent_dim", 2, "d: width of LATENT.")
_WAY = flags.DEFINE_enum("way", None, ["whole", "chunked"], "Internal: measure one way and exit.")
_PATH = flags.DEFINE_string("path", None, "Internal: the file the measured way writes.")


def _inputs(n: int, k: int, d: int) -> dict:
    from tfelg import schemes
    from tfelg.synthetic.emission_lines import TRUE_CLASS_NAMES

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(k), size=n)
    tsne = rng.normal(size=(n, 2))
    tsne[rng.random(n) < 0.05] = np.nan
    return {
        "object_id": np.array([f"synthetic-{i:09d}" for i in range(n)]),
        "redshift": rng.random(n).astype(np.float32) * 0.3,
        "latent": rng.normal(size=(n, d)).astype(np.float32),
        "latent_imputed": rng.random((n, d)) < 0.1,
        "tsne": tsne,
        "tsne_placed": ~np.isnan(tsne[:, 0]) & (rng.random(n) < 0.9),
        "cluster": proba.argmax(axis=1),
        "cluster_proba": proba,
        "whan": rng.integers(0, len(schemes.WHAN_NAMES), n),
        "bpt": rng.integers(0, len(schemes.BPT_NAMES), n),
        "true_class": rng.integers(0, len(TRUE_CLASS_NAMES), n),
    }


def _whole_table(path: str, inputs: dict) -> None:
    """The previous writer: every column converted, then one astropy table in memory."""
    from astropy.io import fits

    from tfelg import schemes
    from tfelg.synthetic.emission_lines import TRUE_CLASS_NAMES

    def text(values):
        return values.astype(f"S{int(np.char.str_len(values).max())}")

    tsne = inputs["tsne"].astype(np.float32)
    columns = [
        ("OBJID", text(inputs["object_id"])),
        ("Z", inputs["redshift"].astype(np.float64)),
        ("LATENT", inputs["latent"]),
        ("LATENT_IMPUTED", inputs["latent_imputed"]),
        ("TSNE_1", tsne[:, 0]),
        ("TSNE_2", tsne[:, 1]),
        ("TSNE_MAPPED", ~np.isnan(tsne[:, 0])),
        ("TSNE_PLACED", inputs["tsne_placed"]),
        ("CLUSTER", inputs["cluster"].astype(np.int16)),
        ("CLUSTER_PROB", inputs["cluster_proba"].astype(np.float32)),
    ]
    for name, names in (
        ("WHAN", schemes.WHAN_NAMES),
        ("BPT", schemes.BPT_NAMES),
        ("TRUE_CLASS", TRUE_CLASS_NAMES),
    ):
        codes = inputs[name.lower()].astype(np.int16)
        columns += [(name, text(np.asarray(names)[codes])), (f"{name}_CODE", codes)]
    formats = {"U": "A", "S": "A", "b": "L", "i": "I", "f": None}
    fits_columns = []
    for name, values in columns:
        kind = values.dtype.kind
        letter = formats[kind] or ("E" if values.dtype.itemsize == 4 else "D")
        if kind == "S":
            letter = f"{values.dtype.itemsize}A"
        width = f"{values.shape[1]}" if values.ndim == 2 else ""
        fits_columns.append(fits.Column(name=name, format=width + letter, array=values))
    table = fits.BinTableHDU.from_columns(fits_columns, name="VACAT")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path, checksum=True)


def _chunked(path: str, inputs: dict) -> None:
    from tfelg.outputs import catalogue

    catalogue.write_catalogue(path, **inputs)


def _measure_here() -> None:
    from astropy.io import fits  # noqa: F401  (imports are not the write's memory)

    from tfelg.outputs import catalogue  # noqa: F401

    inputs = _inputs(_ROWS.value, _CLUSTERS.value, _LATENT.value)
    with peak_memory.Measured() as measured:
        (_whole_table if _WAY.value == "whole" else _chunked)(_PATH.value, inputs)
    measured.print_json()


def _run(way: str, path: str) -> dict:
    return peak_memory.run_fresh(
        __file__,
        f"the {way} write",
        way=way,
        path=path,
        rows=_ROWS.value,
        clusters=_CLUSTERS.value,
        latent_dim=_LATENT.value,
    )


def _same_tables(a: str, b: str) -> None:
    from astropy.io import fits

    with fits.open(a) as ha, fits.open(b) as hb:
        da, db = ha[1].data, hb[1].data
        for name in da.columns.names:
            left, right = np.asarray(da[name]), np.asarray(db[name])
            if left.dtype.kind == "f":
                same = np.array_equal(left, right, equal_nan=True)
            else:
                same = np.array_equal(left, right)
            if not same:
                raise SystemExit(f"the two catalogues differ in column {name}")
        if ha[1].header["NAXIS1"] != hb[1].header["NAXIS1"]:
            raise SystemExit("the two catalogues' rows differ in width")


def main(argv):
    del argv
    if _WAY.value:
        _measure_here()
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = {way: os.path.join(tmp, f"{way}.fits") for way in ("whole", "chunked")}
        results = {way: _run(way, path) for way, path in paths.items()}
        _same_tables(paths["whole"], paths["chunked"])
        size_mb = os.path.getsize(paths["chunked"]) / 2**20
    print(
        f"catalogue of {_ROWS.value:,} galaxies (K = {_CLUSTERS.value}, d = {_LATENT.value}), "
        f"{size_mb:.0f} MB on disk; the two files hold the same columns and values"
    )
    print(f"{'way':<12} {'seconds':>8} {'+MB':>8}")
    for way, r in results.items():
        print(f"{way:<12} {r['seconds']:8.1f} {r['rise_mb']:8.0f}")
    whole, chunked = results["whole"], results["chunked"]
    print(
        f"chunked / whole table: memory x{chunked['rise_mb'] / whole['rise_mb']:.2f}, "
        f"time x{chunked['seconds'] / whole['seconds']:.2f}"
    )


if __name__ == "__main__":
    app.run(main)
