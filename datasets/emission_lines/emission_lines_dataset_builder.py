"""emission_lines: SDSS-like emission-line galaxies as a TFDS dataset.

Three configs share one feature set (``spectrum`` only where a config has
spectra), so every model and analysis step reads any of them the same way:

* ``synthetic`` (default): seeded, physically plausible galaxies made by
  :mod:`tfelg.synthetic.emission_lines`; nothing to download.
* ``synthetic_wide_z``: the same galaxies (same seed, classes and physical
  properties) at redshifts uniform in 0.02-0.39 and independent of the
  class (:data:`tfelg.synthetic.emission_lines.WIDE_REDSHIFT_RANGE`), to test
  whether a representation follows redshift rather than the classes.
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

Manual configs check their files before TFDS does: a missing folder is a
one-line :class:`ManualDataMissing` saying which files to put where (TFDS
itself fails with an AssertionError deep in its download manager), and
bare ``tfds build emission_lines`` skips them with that line instead of
stopping. A prepared manual dataset records the name, size, mtime and
SHA-256 of every file it was built from; when the files in the manual
folder differ later, :class:`StaleManualDataset` refuses to reuse it
(TFDS would reuse it silently: its data path depends only on the config
name and version). The check is in ``download_and_prepare``, which
``tfds build``, ``tfds.load`` (``download=True``, the default) and tfelg's
binaries call; reading a prepared folder directly is not checked.

Every config also generates through Apache Beam (``pip install tfelg[beam]``)
when TFDS is given a runner or pipeline options (``tfds build ...
--beam_pipeline_options=runner=...``, ``tfelg-dataset --beam_runner=...``,
``tfds.download.DownloadConfig(beam_runner=..., beam_options=...)``), with
the same records as in-process generation: synthetic galaxies are made in
independently seeded blocks (:data:`tfelg.synthetic.emission_lines.SEED_BLOCK`),
one block per Beam element; SDSS spectra are read one file per element;
the MPA-JHU catalogue pair is read by one worker and its rows encoded in
chunks by all of them. Both paths build each example with
:func:`_examples`. In-process generation of a synthetic config makes
one block at a time, once per split (memory does not grow with the size);
of a real config it holds the whole catalogue in memory and reads it once
for the three splits; the Beam path makes each block or file once and
partitions the examples by split.

Synthetic configs of other sizes are named ``synthetic_n<N>_s<SEED>``
(:func:`synthetic_config`, as :func:`tfelg.data.make_builder` names them),
and such a name is understood wherever TFDS takes a config name, e.g.
``tfds build emission_lines/synthetic_n2000_s0`` (likewise
``synthetic_wide_z_n<N>_s<SEED>``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import sys
import time

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
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
      redshift_range: synthetic only: None (the generator's default
        redshift distribution) or (low, high), uniform redshifts
        (``synthetic_wide_z``; see :func:`tfelg.synthetic.emission_lines.generate`).
    """

    source: str = "synthetic"
    num_galaxies: int = 20_000
    seed: int = 0
    with_spectrum: bool = True
    ew_convention: str = "emission_negative"
    redshift_range: tuple[float, float] | None = None


class ManualDataMissing(InputError):
    """A manual config's files are not where the builder looks for them."""


class StaleManualDataset(InputError):
    """A prepared manual dataset was built from other files than those now present."""


_SYNTHETIC_NAME = re.compile(r"(synthetic|synthetic_wide_z)_n(\d+)_s(\d+)")


def synthetic_config(
    num_galaxies: int, seed: int, base_name: str = "synthetic"
) -> EmissionLinesConfig:
    """The synthetic config of another size or seed, named ``synthetic_n<N>_s<SEED>``.

    The name carries what changes the bytes on disk, so samples of different
    sizes never share a TFDS folder, and the name alone rebuilds the config
    (``tfds build emission_lines/synthetic_n2000_s0``).
    """
    if num_galaxies < 10:
        raise ValueError(f"num_galaxies must be >= 10, got {num_galaxies}")
    base = next(c for c in Builder.BUILDER_CONFIGS if c.name == base_name)
    return dataclasses.replace(
        base,
        name=f"{base.name}_n{num_galaxies}_s{seed}",
        num_galaxies=num_galaxies,
        seed=seed,
        description=f"{base.description} [custom: {num_galaxies} galaxies, seed {seed}]",
    )


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


def _read_bytes(path: epath.Path, record: dict | None = None, root=None) -> io.BytesIO:
    """Whole file in memory: astropy wants a seekable file object.

    With ``record``, the file's fingerprint (see :func:`_file_fingerprint`)
    is stored there under its path relative to ``root``, from the bytes read,
    so fingerprinting costs no second read.
    """
    try:
        stat = path.stat()
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise InputError("file not found", path=path) from e
    if record is not None:
        record[_relative_name(path, root)] = _file_fingerprint(
            stat, hashlib.sha256(data).hexdigest()
        )
    return io.BytesIO(data)


def _relative_name(path: epath.Path, root: epath.Path) -> str:
    return path.relative_to(root).as_posix()


def _file_fingerprint(stat, sha256: str) -> dict:
    """Size, mtime (s) and SHA-256 of one manual file.

    The mtime lets a later check skip hashing unchanged files (as make and
    rsync do). A file modified within two seconds of being read records no
    mtime, so a rewrite within the same second (same size, same whole-second
    mtime) is still caught by the hash.
    """
    mtime = int(stat.mtime)
    return {
        "size": int(stat.length),
        "mtime": None if abs(time.time() - mtime) < 2 else mtime,
        "sha256": sha256,
    }


def _sha256_of(path: epath.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def manual_files(source: str, folder: epath.Path) -> list[epath.Path]:
    """The files a manual config reads from its folder.

    Raises:
      ManualDataMissing: the folder lacks them; the message says which files
        to put where.
      InputError: the files are there but incomplete or unreadable as a set
        (an MPA-JHU line catalogue without its info catalogue).
    """
    folder = epath.Path(folder)
    if source == "mpajhu":
        for line_name, info_name in MPAJHU_FILE_PAIRS:
            line_path, info_path = folder / line_name, folder / info_name
            if line_path.exists():
                if not info_path.exists():
                    raise InputError(
                        f"line catalogue found but its info catalogue {info_name} is missing "
                        "(redshifts and object ids come from it)",
                        path=line_path,
                    )
                return [line_path, info_path]
        expected = " or ".join(
            f"{release} {' + '.join(pair)}"
            for release, pair in zip(("DR7", "DR8"), MPAJHU_FILE_PAIRS, strict=True)
        )
        raise ManualDataMissing(
            f"no MPA-JHU catalogues here: put {expected} in this folder "
            "(--manual_dir names the folder above mpajhu/; "
            "datasets/emission_lines/README.md says where to download them)",
            path=folder,
        )
    if source == "sdss_spec":
        if folder.is_dir():
            try:
                return sdss_spec.list_spec_files(folder)
            except InputError:  # a folder, but no spec file in it
                pass
        raise ManualDataMissing(
            f"no SDSS spectra here: put {sdss_spec.SPEC_FILE_GLOB} files "
            "(spec-PLATE-MJD-FIBER.fits, any depth of sub-folders) in this folder "
            "(--manual_dir names the folder above sdss_spec/)",
            path=folder,
        )
    raise ValueError(f"{source!r} is not a manual config source")


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


def _tfds_cli_builds_every_config() -> bool:
    """Whether this builder is being made by bare ``tfds build emission_lines``.

    Given no config, TFDS's CLI makes one builder per ``BUILDER_CONFIGS``
    entry inside ``_make_builders`` (tensorflow_datasets/scripts/cli/build.py,
    TFDS 4.9), with ``builder_kwargs["config"]`` left ``None``, and stops at
    the first exception. TFDS has no way for a config to say "skip me", so
    the builder looks for that frame: there, a manual config without its
    files is skipped with one line; anywhere else (``tfds build
    emission_lines/mpajhu``, ``tfds.load``, tfelg's binaries) it is an error.
    tests/packaging_test.py runs the real CLI, so a TFDS that renames the
    function fails a test rather than silently changing behaviour.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if (
            frame.f_code.co_name == "_make_builders"
            and frame.f_globals.get("__name__") == "tensorflow_datasets.scripts.cli.build"
        ):
            builder_kwargs = frame.f_locals.get("builder_kwargs") or {}
            return builder_kwargs.get("config") is None
        frame = frame.f_back
    return False


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for emission_lines."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: synthetic, mpajhu and sdss_spec configs.",
        "2.0.0": (
            "Synthetic galaxies are drawn in blocks of 1,000, each block from its own "
            "seed (SeedSequence(seed).spawn), so that Apache Beam workers make blocks "
            "independently: every synthetic config has new values (same object ids, "
            "splits and class proportions). mpajhu and sdss_spec records are unchanged. "
            "Every config can be generated with Apache Beam."
        ),
    }
    BUILDER_CONFIGS = [
        EmissionLinesConfig(
            name="synthetic",
            description="Seeded synthetic SDSS-like galaxies (20,000) with spectra.",
        ),
        EmissionLinesConfig(
            name="synthetic_wide_z",
            redshift_range=synthetic.WIDE_REDSHIFT_RANGE,
            description=(
                "The synthetic galaxies (20,000) at redshifts uniform in 0.02-0.39, "
                "independent of the class."
            ),
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

    def __init__(self, **kwargs):
        self._skip_missing_manual_data = _tfds_cli_builds_every_config()
        self._manual_root = None  # set by download_and_prepare
        self._use_beam = False  # set by download_and_prepare
        super().__init__(**kwargs)

    def __getstate__(self):
        # TFDS pickles a builder as its constructor's arguments (tfds build
        # --num_processes sends builders to worker processes); keep the flag.
        state = super().__getstate__()
        state["_skip_missing_manual_data"] = self._skip_missing_manual_data
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._skip_missing_manual_data = state.get("_skip_missing_manual_data", False)

    def _create_builder_config(self, builder_config, version):
        """Also understands ``synthetic_n<N>_s<SEED>`` (see :func:`synthetic_config`)."""
        if isinstance(builder_config, str) and builder_config not in self.builder_configs:
            name = builder_config.partition(":")[0]  # the version is TFDS's business
            match = _SYNTHETIC_NAME.fullmatch(name)
            if match:
                # (Not through TFDS, which would log the whole config as a
                # "custom data configuration" warning.)
                return synthetic_config(int(match[2]), int(match[3]), base_name=match[1])
        return super()._create_builder_config(builder_config, version=version)

    def download_and_prepare(self, *, download_dir=None, download_config=None, **kwargs):
        """TFDS's download_and_prepare, with the manual files checked first.

        Raises:
          ManualDataMissing: a manual config's files are not in its folder
            (skipped with a warning instead under bare ``tfds build``).
          StaleManualDataset: the prepared dataset was built from other
            files than those now in the manual folder.
        """
        source = self.builder_config.source
        download_config = download_config or tfds.download.DownloadConfig()
        # TFDS itself starts a Beam pipeline only when a split generator
        # is a Beam object: a runner or options are the user's request for one.
        self._use_beam = (
            download_config.beam_runner is not None or download_config.beam_options is not None
        )
        if source != "synthetic":
            # Where TFDS's download manager looks (DatasetBuilder._make_download_manager).
            root = download_config.manual_dir or (
                epath.Path(download_dir or self.data_dir_root / "downloads") / "manual"
            )
            self._manual_root = epath.Path(root).expanduser()
            if self.data_path.exists() and not download_config.download_mode.overwrite_dataset:
                self._check_manual_files_unchanged(self._manual_root / source)
        try:
            if source != "synthetic" and download_config.manual_dir and not self.data_path.exists():
                # Before TFDS announces a generation. (Without an explicit
                # manual_dir, _split_generators checks the folder TFDS's
                # download manager reports, which tests may patch.)
                manual_files(source, self._manual_root / source)
            super().download_and_prepare(
                download_dir=download_dir, download_config=download_config, **kwargs
            )
        except ManualDataMissing as e:
            if not self._skip_missing_manual_data:
                raise
            logging.warning("Skipping %s: %s", self.info.full_name, e)

    def _check_manual_files_unchanged(self, folder: epath.Path) -> None:
        """Refuses a prepared manual dataset whose files have changed since.

        Files moved away after building are fine (nothing to compare); a
        dataset prepared before fingerprints were recorded gets a warning.
        Only files whose size or mtime changed are hashed again.
        """
        stored = self.info.metadata.get("manual_files")
        if stored is None:
            logging.warning(
                "%s in %s records no fingerprint of its manual files (prepared by an older "
                "tfelg): it cannot be checked against %s",
                self.info.full_name,
                self.data_path,
                folder,
            )
            return
        try:
            files = manual_files(self.builder_config.source, folder)
        except ManualDataMissing:
            return
        current = {_relative_name(path, folder): path for path in files}
        changed = []
        for name in sorted(current.keys() & stored.keys()):
            before, path = stored[name], current[name]
            stat = path.stat()
            if int(stat.length) != before["size"]:
                changed.append(name)
            elif before["mtime"] is None or int(stat.mtime) != before["mtime"]:
                if _sha256_of(path) != before["sha256"]:
                    changed.append(name)
        differences = [
            (label, names)
            for label, names in (
                ("changed", changed),
                ("new", sorted(current.keys() - stored.keys())),
                ("gone", sorted(stored.keys() - current.keys())),
            )
            if names
        ]
        if differences:
            listed = "; ".join(
                f"{label}: {', '.join(names[:3])}"
                + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                for label, names in differences
            )
            raise StaleManualDataset(
                f"{self.info.full_name} in {self.data_path} was prepared from other files "
                f"than those now here ({listed}); delete {self.data_path} to rebuild it "
                "from these files (tfds build: --overwrite), or put the old files back",
                path=folder,
            )

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
            if self._use_beam:
                return _beam_split_generators(
                    "synthetic",
                    list(range(synthetic.num_blocks(config.num_galaxies))),
                    num_galaxies=config.num_galaxies,
                    seed=config.seed,
                    with_spectrum=config.with_spectrum,
                    redshift_range=config.redshift_range,
                )
            # Block by block, each split in its own pass (TFDS writes the splits
            # one after another): memory stays that of one block whatever the
            # size, at the price of drawing every block three times (~0.1 ms
            # a galaxy, against ~1 ms for TFDS to encode and write it).
            return {name: self._synthetic_split(name) for name, _ in SPLIT_FRACTIONS}
        elif config.source in ("mpajhu", "sdss_spec"):
            try:
                root = epath.Path(dl_manager.manual_dir)
            except AssertionError:  # TFDS: the manual folder is missing or empty
                root = None
            if root is None:
                # One line saying what to put where, not TFDS's AssertionError.
                manual_files(config.source, self._manual_root / config.source)
                raise AssertionError(f"TFDS found no manual folder; expected {self._manual_root}")
            folder = root / config.source
            if self._use_beam:
                paths = manual_files(config.source, folder)
                # Fingerprints (size, mtime, SHA-256) here, before the workers read.
                self.info.metadata["manual_files"] = {
                    _relative_name(path, folder): _file_fingerprint(path.stat(), _sha256_of(path))
                    for path in paths
                }
                if config.source == "mpajhu":
                    elements = [tuple(map(str, paths))]
                    kwargs = {"ew_convention": config.ew_convention}
                else:
                    elements = [str(path) for path in paths]
                    kwargs = {"with_spectrum": config.with_spectrum}
                return _beam_split_generators(config.source, elements, **kwargs)
            record: dict[str, dict] = {}
            read = {"mpajhu": self._mpajhu_rows, "sdss_spec": self._sdss_spec_rows}[config.source]
            rows = read(manual_files(config.source, folder), record, folder)
            # Saved in metadata.json with the dataset (DatasetInfo.metadata
            # may be filled until generation ends): what
            # _check_manual_files_unchanged compares against.
            self.info.metadata["manual_files"] = record
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

    def _synthetic_split(self, split: str):
        """The examples of one split, made block by block (the rows of synthetic.generate)."""
        config = self.builder_config
        for block in range(synthetic.num_blocks(config.num_galaxies)):
            for example_split, key, example in _block_examples(
                block,
                num_galaxies=config.num_galaxies,
                seed=config.seed,
                with_spectrum=config.with_spectrum,
                redshift_range=config.redshift_range,
            ):
                if example_split == split:
                    yield key, example

    def _mpajhu_rows(self, paths: list[epath.Path], record: dict, folder: epath.Path):
        line_path, info_path = paths
        table = mpajhu.read_mpajhu(
            _read_bytes(line_path, record, folder),
            _read_bytes(info_path, record, folder),
            ew_convention=self.builder_config.ew_convention,
            line_name=str(line_path),
            info_name=str(info_path),
        )
        unknown = np.full(len(table), TRUE_CLASS_NAMES.index("unknown"), np.int8)
        return table, unknown, None, None

    def _sdss_spec_rows(self, paths: list[epath.Path], record: dict, folder: epath.Path):
        tables, fluxes, ivars = [], [], []
        for path in paths:
            spectrum = sdss_spec.read_spec_file(_read_bytes(path, record, folder), name=str(path))
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
        for example_split, key, example in _examples(
            table, labels, true_class, spectrum, ivar, self.builder_config.with_spectrum
        ):
            if example_split == split:
                yield key, example


def _examples(table, labels, true_class, spectrum, ivar, with_spectrum: bool):
    """(split, key, example) of every row: the one place examples are made.

    In-process generation and every Beam source call it, so both paths
    store the same records.
    """
    for i, object_id in enumerate(table.object_id):
        object_id = str(object_id)  # not numpy.str_, which Beam cannot encode as a key
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
        if with_spectrum:
            example["spectrum"] = spectrum[i].astype(np.float32)
            example["spectrum_ivar"] = ivar[i].astype(np.float32)
        yield split_of(object_id), object_id, example


# --- Apache Beam ------------------------------------------------------------------------
# Module-level functions with plain arguments: Beam pickles them to its
# workers (never the builder), and apache_beam is imported only when a
# pipeline is asked for (it is the optional [beam] extra).

MPAJHU_ROWS_PER_ELEMENT = 10_000
_UNKNOWN = TRUE_CLASS_NAMES.index("unknown")


def _serialize_deterministically_in_this_process() -> None:
    """Record bytes as in-process generation writes them, in a Beam worker too.

    In process, :func:`tfelg.data.deterministic_serialization` makes TFDS
    write protobuf maps sorted by key, so the same examples are the same
    bytes (the pipeline's content fingerprint depends on it). Beam workers
    are other processes, where TFDS's default order (protobuf's hash
    table, seeded per process) would give other bytes for the same
    records. Every Beam source calls this first: TFDS serialises in the
    same fused stage, in the same process, so each record has the bytes an
    in-process build gives it (the order of records is the same too; only a
    split of several shard files is cut at other places by TFDS's Beam
    writer). The patch stays in the worker process (it serves this
    pipeline only); the message is the same either way. Under an in-memory
    runner inside ``tfelg.data.prepare`` it is undone with that function's
    own.
    """
    from tensorflow_datasets.core import example_serializer

    cls = example_serializer.ExampleSerializer
    if getattr(cls.serialize_example, "deterministic", False):
        return

    def serialize_example(self, example):
        return self.get_tf_example(example).SerializeToString(deterministic=True)

    serialize_example.deterministic = True
    cls.serialize_example = serialize_example


def _synthetic_block_examples(
    block: int, *, num_galaxies: int, seed: int, with_spectrum: bool, redshift_range=None
):
    _serialize_deterministically_in_this_process()
    yield from _block_examples(
        block,
        num_galaxies=num_galaxies,
        seed=seed,
        with_spectrum=with_spectrum,
        redshift_range=redshift_range,
    )


def _block_examples(
    block: int, *, num_galaxies: int, seed: int, with_spectrum: bool, redshift_range=None
):
    """(split, key, example) of one seed block: what both generation paths store."""
    sample = synthetic.generate_block(
        num_galaxies, seed, block, with_spectrum=with_spectrum, redshift_range=redshift_range
    )
    labels = schemes.classify_table(sample.lines)
    yield from _examples(
        sample.lines,
        labels,
        sample.true_class,
        sample.spectrum,
        sample.spectrum_ivar,
        with_spectrum,
    )


def _mpajhu_row_chunks(paths: tuple[str, str], *, ew_convention: str):
    """The catalogue pair read by one worker, handed on in chunks of rows."""
    line_path, info_path = (epath.Path(p) for p in paths)
    table = mpajhu.read_mpajhu(
        _read_bytes(line_path),
        _read_bytes(info_path),
        ew_convention=ew_convention,
        line_name=str(line_path),
        info_name=str(info_path),
    )
    _check_unique_ids(table)
    for start in range(0, len(table), MPAJHU_ROWS_PER_ELEMENT):
        yield table.subset(slice(start, start + MPAJHU_ROWS_PER_ELEMENT))


def _table_examples(table: lines.LineTable):
    _serialize_deterministically_in_this_process()
    unknown = np.full(len(table), _UNKNOWN, np.int8)
    yield from _examples(table, schemes.classify_table(table), unknown, None, None, False)


def _sdss_spec_read(path: str, *, with_spectrum: bool):
    """One spec file -> (object id, file, (split, key, example))."""
    _serialize_deterministically_in_this_process()
    spectrum = sdss_spec.read_spec_file(_read_bytes(epath.Path(path)), name=path)
    table = spectrum.lines
    flux = ivar = None
    if with_spectrum:
        flux, ivar = (a[None, :] for a in sdss_spec.rest_frame_spectrum(spectrum))
    unknown = np.full(len(table), _UNKNOWN, np.int8)
    labels = schemes.classify_table(table)
    for example in _examples(table, labels, unknown, flux, ivar, with_spectrum):
        yield example[1], path, example


def _refuse_repeated_object(object_id_and_files):
    """An object id read from two files stops the pipeline, naming both."""
    object_id, files = object_id_and_files
    files = sorted(files)
    if len(files) > 1:
        raise InputError(
            f"object id {object_id!r} is in more than one file ({files[0]} and {files[1]})",
            path=files[1],
        )


def _beam_split_generators(source: str, elements: list, **kwargs) -> dict:
    """{split: beam.PTransform}, the three sharing one read of the source.

    TFDS applies each split's transform to the same pipeline; the first one
    applied builds the shared part (read, examples, ``beam.Partition`` by
    :func:`split_of`) and every split takes its partition, so each block or
    file is made once, not once per split.
    """
    import apache_beam as beam  # the [beam] extra; imported only when asked for

    names = [name for name, _ in SPLIT_FRACTIONS]
    shared: dict = {}

    def partitions(pipeline):
        if "partitions" not in shared:
            # Reshuffle: spread the elements over the workers (Beam would
            # otherwise keep a Create's elements together on one).
            items = (
                pipeline
                | f"{source}Elements" >> beam.Create(elements)
                | f"{source}Spread" >> beam.Reshuffle()
            )
            if source == "synthetic":
                examples = items | "SyntheticBlocks" >> beam.FlatMap(
                    _synthetic_block_examples, **kwargs
                )
            elif source == "mpajhu":
                examples = (
                    items
                    | "MpajhuRead" >> beam.FlatMap(_mpajhu_row_chunks, **kwargs)
                    | "MpajhuSpread" >> beam.Reshuffle()
                    | "MpajhuExamples" >> beam.FlatMap(_table_examples)
                )
            else:
                read = items | "SdssSpecRead" >> beam.FlatMap(_sdss_spec_read, **kwargs)
                _ = (
                    read
                    | "SdssSpecIds" >> beam.Map(lambda r: (r[0], r[1]))
                    | "SdssSpecById" >> beam.GroupByKey()
                    | "SdssSpecUnique" >> beam.Map(_refuse_repeated_object)
                )
                examples = read | "SdssSpecExamples" >> beam.Map(lambda r: r[2])
            shared["partitions"] = examples | "BySplit" >> beam.Partition(
                lambda example, _: names.index(example[0]), len(names)
            )
        return shared["partitions"]

    def split_transform(split: str):
        @beam.ptransform_fn
        def examples_of_split(pipeline):
            return partitions(pipeline.pipeline)[names.index(split)] | (
                f"KeyExample_{split}" >> beam.Map(lambda example: example[1:])
            )

        return examples_of_split()

    return {split: split_transform(split) for split in names}
