"""Building and loading tfelg's TFDS datasets by name.

One place turns a dataset name such as ``emission_lines/synthetic`` (plus an
optional size and seed for the synthetic config) into a prepared TFDS
builder, so the binaries, the trainer and the pipeline components agree on
where data lives and how a custom synthetic sample is named.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import numpy as np

KNOWN_DATASETS = ("emission_lines", "hst_galaxies")


def _register_builders() -> None:
    # Importing the builder modules registers them with TFDS. Done lazily:
    # the builders import tfelg, not the other way round at import time.
    import tfelg_datasets.emission_lines  # noqa: F401
    import tfelg_datasets.hst_galaxies  # noqa: F401


def make_builder(
    dataset: str,
    data_dir: str | None = None,
    *,
    num_galaxies: int | None = None,
    seed: int | None = None,
):
    """A TFDS builder for ``NAME/CONFIG``, optionally resized or reseeded.

    Args:
      dataset: e.g. ``emission_lines/synthetic`` or ``emission_lines/mpajhu``.
      data_dir: TFDS data directory (default: TFDS's own default).
      num_galaxies, seed: synthetic configs only; a custom config named
        ``synthetic_n<N>_s<SEED>`` is made so differently sized samples never
        share a folder.

    Raises:
      ValueError: unknown dataset or config, or size/seed on a real config.
    """
    import tensorflow_datasets as tfds

    _register_builders()
    name, _, config_name = dataset.partition("/")
    if name not in KNOWN_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(KNOWN_DATASETS)}")
    builder_cls = tfds.builder_cls(name)
    configs = {c.name: c for c in builder_cls.BUILDER_CONFIGS}
    config_name = config_name or builder_cls.DEFAULT_CONFIG_NAME
    if config_name not in configs:
        raise ValueError(
            f"unknown config {config_name!r} of {name}; known configs: {', '.join(configs)}"
        )
    config = configs[config_name]
    if num_galaxies is not None or seed is not None:
        if config.source != "synthetic":
            raise ValueError(f"num_galaxies and seed apply to synthetic configs, not {dataset!r}")
        num_galaxies = config.num_galaxies if num_galaxies is None else int(num_galaxies)
        seed = config.seed if seed is None else int(seed)
        if num_galaxies < 10:
            raise ValueError(f"num_galaxies must be >= 10, got {num_galaxies}")
        if (num_galaxies, seed) != (config.num_galaxies, config.seed):
            config = dataclasses.replace(
                config,
                name=f"{config_name}_n{num_galaxies}_s{seed}",
                num_galaxies=num_galaxies,
                seed=seed,
                description=f"{config.description} [custom: {num_galaxies} galaxies, seed {seed}]",
            )
    return tfds.builder(name, config=config, data_dir=data_dir)


@contextlib.contextmanager
def deterministic_serialization():
    """TFDS writes byte-identical records for identical examples, in any process.

    TFDS serialises each example with ``tf.train.Example.SerializeToString()``,
    whose map of features is written in the order of protobuf's hash table,
    and that order changes from one process to the next (the table's seed
    comes from an address, which ASLR moves): the same galaxies gave
    different record files, so the pipeline's content fingerprint of a
    regenerated dataset changed and everything downstream ran again. Within
    this context the maps are written sorted by key
    (``SerializeToString(deterministic=True)``), which is the same message.
    Only in-process generation is covered (a Beam runner's workers serialise
    in their own processes).
    """
    from tensorflow_datasets.core import example_serializer

    cls = example_serializer.ExampleSerializer
    original = cls.serialize_example

    def serialize_example(self, example):
        return self.get_tf_example(example).SerializeToString(deterministic=True)

    cls.serialize_example = serialize_example
    try:
        yield
    finally:
        cls.serialize_example = original


def prepare(builder, manual_dir: str | None = None, *, beam_flags: list[str] | None = None):
    """Generates the dataset if not already on disk (TFDS skips it if it is).

    The records are byte-identical between generations of the same data
    (see :func:`deterministic_serialization`).

    Args:
      builder: a TFDS builder (:func:`make_builder`).
      manual_dir: folder holding the manual configs' files.
      beam_flags: Apache Beam pipeline flags, e.g. ``["--runner=DirectRunner",
        "--direct_num_workers=2"]``: generate through Beam (Dataflow, Flink,
        Spark, ...), with the same records. None: in this process.

    Raises:
      ValueError: ``beam_flags`` given but apache-beam is not installed.
    """
    import tensorflow_datasets as tfds

    beam_options = None
    if beam_flags is not None:
        try:
            from apache_beam.options.pipeline_options import PipelineOptions
        except ImportError as e:
            raise ValueError(
                "generating with Apache Beam needs apache-beam: pip install 'tfelg[beam]'"
            ) from e
        beam_options = PipelineOptions(flags=list(beam_flags))
    download_config = tfds.download.DownloadConfig(manual_dir=manual_dir, beam_options=beam_options)
    with deterministic_serialization():
        builder.download_and_prepare(download_config=download_config)
    return builder


#: Each open record file's read buffer. TFDS's own (8 MiB) times the files it reads at
#: once (its interleave opens up to 16, and as many ahead) was most of a reader's memory:
#: reading the line features of 300,000 synthetic galaxies (32 train shards) peaked at
#: +378 MB with it and +148 MB with 1 MiB, in the same time (23-25 s), the rows in the
#: same order.
READ_BUFFER_BYTES = 1 << 20


def split_batches(
    builder, split: str, batch_size: int = 4096, features=None
) -> Iterator[dict[str, np.ndarray]]:
    """One split as NumPy batches, in the stored order (the order of :func:`load_split_arrays`).

    What a reader whose memory must not grow with the dataset iterates over
    (a million spectra are 11 GB). ``features``: the feature names to parse
    (TFDS's PartialDecoding: the others, e.g. the spectra when only the lines
    are wanted, are not even parsed); None: all of them.
    """
    import tensorflow_datasets as tfds

    if split not in builder.info.splits:
        raise ValueError(
            f"{builder.info.full_name} has no split {split!r}; splits: "
            f"{', '.join(builder.info.splits.keys())}"
        )
    decoders = None
    if features is not None:
        known = builder.info.features.keys()
        unknown = sorted(set(features) - set(known))
        if unknown:
            raise ValueError(
                f"{builder.info.full_name} has no feature {', '.join(map(repr, unknown))}; "
                f"features: {', '.join(sorted(known))}"
            )
        decoders = tfds.decode.PartialDecoding({k: builder.info.features[k] for k in features})
    ds = builder.as_dataset(
        split=split,
        batch_size=batch_size,
        shuffle_files=False,
        decoders=decoders,
        read_config=tfds.ReadConfig(override_buffer_size=READ_BUFFER_BYTES),
    )
    for batch in tfds.as_numpy(ds):
        if "object_id" in batch:
            batch["object_id"] = batch["object_id"].astype(str)
        yield batch


def load_split_arrays(
    builder, split: str, batch_size: int = 4096, features=None
) -> dict[str, np.ndarray]:
    """Every feature (or the named ``features``) of one split as NumPy arrays (object ids as str).

    Batched reading keeps decoding off the critical path (DESIGN.md: TFDS
    per-example decoding is ~15k spectra/s; batching before parsing is ~3x
    faster). Leave the spectra out (``features``) where they are not used:
    they are 11 kB per galaxy.
    """
    chunks: dict[str, list[np.ndarray]] = {}
    for batch in split_batches(builder, split, batch_size, features):
        for key, value in batch.items():
            chunks.setdefault(key, []).append(value)
    if not chunks:
        raise ValueError(f"split {split!r} of {builder.info.full_name} is empty")
    return {key: np.concatenate(parts) for key, parts in chunks.items()}


def load_rows(builder, splits, rows, batch_size: int = 4096, features=None, transform=None):
    """Only the galaxies ``rows`` of ``splits`` read one after another, as {split: arrays}.

    ``rows``: sorted row numbers into the splits concatenated in the order
    given (the order the embeddings are in); None: every row. Each split is
    streamed in batches and only the chosen rows kept, so memory grows with
    ``len(rows)``, not with the dataset (the projector's sprite of 100,000
    thumbnails from a million spectra). A split none of whose rows are
    chosen gives zero-length arrays (``transform`` must accept zero rows).

    ``transform``: None, or a function of one batch's chosen rows
    ({feature: array}) returning the {name: array} to keep in their place,
    e.g. the thumbnails drawn from spectra: memory then grows with what it
    returns (3 kB a thumbnail), not with the features (11 kB a spectrum).
    """
    rows = None if rows is None else np.asarray(rows, dtype=np.int64)
    out, offset = {}, 0
    for split in splits:
        chunks: dict[str, list[np.ndarray]] = {}
        for batch in split_batches(builder, split, batch_size, features):
            n = len(next(iter(batch.values())))
            if rows is None:
                keep = slice(None)
            else:
                lo, hi = np.searchsorted(rows, [offset, offset + n])
                keep = rows[lo:hi] - offset
            chosen = {key: value[keep] for key, value in batch.items()}
            offset += n
            if transform is not None:
                chosen = transform(chosen)
            for key, value in chosen.items():
                chunks.setdefault(key, []).append(value)
        if not chunks:
            raise ValueError(f"split {split!r} of {builder.info.full_name} is empty")
        out[split] = {key: np.concatenate(parts) for key, parts in chunks.items()}
    return out
