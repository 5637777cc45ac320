"""emission_lines: SDSS-like emission-line galaxies as a TFDS dataset.

Three configs share one feature set (``spectrum`` only where a config has
spectra), so every model and analysis step reads any of them the same way:

* ``synthetic`` (default): seeded, physically plausible galaxies made by
  :mod:`tfelg.synthetic.emission_lines`; nothing to download.
* ``mpajhu``: the MPA-JHU DR7 or DR8 line + info catalogues, read from
  ``<manual_dir>/mpajhu/``.
* ``sdss_spec``: a folder of SDSS ``spec-PLATE-MJD-FIBER.fits`` files, read
  from ``<manual_dir>/sdss_spec/``.

WHAN and BPT labels are always computed by :mod:`tfelg.schemes` from the
measurements as stored (noisy, like a real catalogue); the synthetic
generator's true class is a separate feature (``unknown`` for real data).

Splits (train 80 %, validation 10 %, test 10 %) are assigned by a hash of the
object id, so they are stable across re-generation and independent of row
order. Models are selected on ``validation`` and evaluated on ``test``.

File I/O goes through ``epath`` and astropy receives file objects, as TFDS
builders must (the TFDS test harness forbids ``os`` and ``open`` here).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from tfelg import lines, schemes, spectra
from tfelg.errors import InputError
from tfelg.io import mpajhu, sdss_spec
from tfelg.synthetic import emission_lines as synthetic

SPLIT_FRACTIONS = (("train", 0.8), ("validation", 0.1), ("test", 0.1))
TRUE_CLASS_NAMES = tuple(synthetic.TRUE_CLASS_NAMES) + ("unknown",)

MPAJHU_FILE_PAIRS = (
    # (line catalogue, info catalogue), DR7 first.
    ("gal_line_dr7_v5_2.fit", "gal_info_dr7_v5_2.fit"),
    ("galSpecLine-dr8.fits", "galSpecInfo-dr8.fits"),
)


@dataclasses.dataclass(eq=False)
class EmissionLinesConfig(tfds.core.BuilderConfig):
    """What changes the bytes on disk.

    Attributes:
      source: ``synthetic``, ``mpajhu`` or ``sdss_spec``.
      num_galaxies: synthetic only, sample size.
      seed: synthetic only, generator seed.
      with_spectrum: whether examples carry a rest-frame spectrum.
      ew_convention: mpajhu only, sign convention of the catalogue's EQW
        columns (MPA-JHU: ``emission_negative``); stored EWs are always
        emission-positive.
    """

    source: str = "synthetic"
    num_galaxies: int = 20_000
    seed: int = 0
    with_spectrum: bool = True
    ew_convention: str = "emission_negative"


def split_of(object_id: str) -> str:
    """Deterministic split for an object id (md5, not Python's salted hash)."""
    digest = hashlib.md5(object_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "little") / 2.0**64
    cumulative = 0.0
    for name, fraction in SPLIT_FRACTIONS:
        cumulative += fraction
        if u < cumulative:
            return name
    return SPLIT_FRACTIONS[-1][0]


def _read_bytes(path: epath.Path) -> io.BytesIO:
    """Whole file in memory: astropy wants a seekable file object."""
    try:
        return io.BytesIO(path.read_bytes())
    except FileNotFoundError as e:
        raise InputError("file not found", path=path) from e


def _check_unique_ids(table: lines.LineTable) -> None:
    """Object ids are example keys: a repeat is an error, never a silent overwrite."""
    ids, first, counts = np.unique(table.object_id, return_index=True, return_counts=True)
    if np.any(counts > 1):
        repeated = ids[counts > 1][0]
        rows = np.flatnonzero(table.object_id == repeated)[:2]
        raise InputError(
            f"object id {repeated!r} appears more than once (rows {rows[0]} and {rows[1]})",
            path=table.source,
            row=int(rows[1]),
        )


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for emission_lines."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: synthetic, mpajhu and sdss_spec configs."}
    BUILDER_CONFIGS = [
        EmissionLinesConfig(
            name="synthetic",
            description="Seeded synthetic SDSS-like galaxies (20,000) with spectra.",
        ),
        EmissionLinesConfig(
            name="mpajhu",
            source="mpajhu",
            with_spectrum=False,
            description="MPA-JHU DR7/DR8 line catalogue (manual download).",
        ),
        EmissionLinesConfig(
            name="sdss_spec",
            source="sdss_spec",
            description="SDSS spec-PLATE-MJD-FIBER.fits files (manual download).",
        ),
    ]
    DEFAULT_CONFIG_NAME = "synthetic"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Only the `mpajhu` and `sdss_spec` configs need files; `synthetic` needs none.

    mpajhu: put the MPA-JHU catalogues in `<manual_dir>/mpajhu/`, either DR7
      `gal_line_dr7_v5_2.fit` + `gal_info_dr7_v5_2.fit`
      (https://wwwmpa.mpa-garching.mpg.de/SDSS/DR7/) or DR8
      `galSpecLine-dr8.fits` + `galSpecInfo-dr8.fits` (SDSS SAS, dr8/sdss/spectro/redux).
    sdss_spec: put SDSS `spec-PLATE-MJD-FIBER.fits` files in `<manual_dir>/sdss_spec/`
      (any depth of sub-folders), e.g. from the SDSS Science Archive Server.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "object_id": tfds.features.Text(),
            "redshift": np.float32,
            "flux": tfds.features.Tensor(shape=(lines.NUM_LINES,), dtype=np.float32),
            "flux_err": tfds.features.Tensor(shape=(lines.NUM_LINES,), dtype=np.float32),
            "ew": tfds.features.Tensor(shape=(lines.NUM_LINES,), dtype=np.float32),
            "ew_err": tfds.features.Tensor(shape=(lines.NUM_LINES,), dtype=np.float32),
            "whan": tfds.features.ClassLabel(names=schemes.WHAN_NAMES),
            "bpt": tfds.features.ClassLabel(names=schemes.BPT_NAMES),
            "true_class": tfds.features.ClassLabel(names=TRUE_CLASS_NAMES),
        }
        if self.builder_config.with_spectrum:
            shape = (spectra.NUM_PIXELS,)
            features["spectrum"] = tfds.features.Tensor(shape=shape, dtype=np.float32)
            features["spectrum_ivar"] = tfds.features.Tensor(shape=shape, dtype=np.float32)
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            supervised_keys=None,
            homepage="https://github.com/tfelg/tfelg",
            metadata=tfds.core.MetadataDict(
                line_names=list(lines.LINE_NAMES),
                line_wavelengths_angstrom=[lines.LINE_WAVELENGTHS[n] for n in lines.LINE_NAMES],
                flux_unit="1e-17 erg/s/cm^2",
                ew_unit="Angstrom, emission-positive",
                rest_loglam_start=float(spectra.REST_LOGLAM[0]),
                rest_loglam_step=spectra.REST_LOGLAM_STEP,
                num_pixels=spectra.NUM_PIXELS,
                splits=dict(SPLIT_FRACTIONS),
            ),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        if config.source == "synthetic":
            rows = self._synthetic_rows()
        elif config.source == "mpajhu":
            rows = self._mpajhu_rows(epath.Path(dl_manager.manual_dir) / "mpajhu")
        elif config.source == "sdss_spec":
            rows = self._sdss_spec_rows(epath.Path(dl_manager.manual_dir) / "sdss_spec")
        else:
            raise ValueError(
                f"unknown emission_lines source {config.source!r}; "
                "expected synthetic, mpajhu or sdss_spec"
            )
        table = rows[0]
        _check_unique_ids(table)
        labels = schemes.classify_table(table)
        return {name: self._generate_examples(rows, labels, name) for name, _ in SPLIT_FRACTIONS}

    # --- Sources: each returns (LineTable, true_class codes, spectrum, ivar). ---

    def _synthetic_rows(self):
        config = self.builder_config
        sample = synthetic.generate(
            config.num_galaxies, config.seed, with_spectrum=config.with_spectrum
        )
        return sample.lines, sample.true_class, sample.spectrum, sample.spectrum_ivar

    def _mpajhu_rows(self, folder: epath.Path):
        for line_name, info_name in MPAJHU_FILE_PAIRS:
            line_path, info_path = folder / line_name, folder / info_name
            if line_path.exists():
                if not info_path.exists():
                    raise InputError(
                        f"line catalogue found but its info catalogue {info_name} is missing "
                        "(redshifts and object ids come from it)",
                        path=line_path,
                    )
                table = mpajhu.read_mpajhu(
                    _read_bytes(line_path),
                    _read_bytes(info_path),
                    ew_convention=self.builder_config.ew_convention,
                    line_name=str(line_path),
                    info_name=str(info_path),
                )
                unknown = np.full(len(table), TRUE_CLASS_NAMES.index("unknown"), np.int8)
                return table, unknown, None, None
        expected = " or ".join(" + ".join(pair) for pair in MPAJHU_FILE_PAIRS)
        raise InputError(f"no MPA-JHU catalogues found; expected {expected}", path=folder)

    def _sdss_spec_rows(self, folder: epath.Path):
        paths = sdss_spec.list_spec_files(folder)  # errors if missing or empty
        tables, fluxes, ivars = [], [], []
        for path in paths:
            spectrum = sdss_spec.read_spec_file(_read_bytes(path), name=str(path))
            tables.append(spectrum.lines)
            if self.builder_config.with_spectrum:
                flux, ivar = sdss_spec.rest_frame_spectrum(spectrum)
                fluxes.append(flux)
                ivars.append(ivar)
        table = lines.LineTable.concatenate(tables)
        unknown = np.full(len(table), TRUE_CLASS_NAMES.index("unknown"), np.int8)
        if not self.builder_config.with_spectrum:
            return table, unknown, None, None
        return table, unknown, np.stack(fluxes), np.stack(ivars)

    def _generate_examples(self, rows, labels, split: str):
        table, true_class, spectrum, ivar = rows
        for i, object_id in enumerate(table.object_id):
            if split_of(object_id) != split:
                continue
            example = {
                "object_id": object_id,
                "redshift": np.float32(table.redshift[i]),
                "flux": table.flux[i].astype(np.float32),
                "flux_err": table.flux_err[i].astype(np.float32),
                "ew": table.ew[i].astype(np.float32),
                "ew_err": table.ew_err[i].astype(np.float32),
                "whan": int(labels["whan"][i]),
                "bpt": int(labels["bpt"][i]),
                "true_class": int(true_class[i]),
            }
            if self.builder_config.with_spectrum:
                example["spectrum"] = spectrum[i].astype(np.float32)
                example["spectrum_ivar"] = ivar[i].astype(np.float32)
            yield object_id, example
