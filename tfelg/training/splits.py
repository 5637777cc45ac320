"""The galaxies a run trains on: the TFDS splits, in memory or streamed, and checked.

Split out of :mod:`tfelg.training.loop` (which re-exports every name here).
Selection never sees the test split: the loop fits its scaling on
``train``, keeps the epoch chosen on ``validation`` and evaluates ``test``
once, at the end.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tfelg import data as tfelg_data
from tfelg.errors import InputError

SPLITS = ("train", "validation", "test")

Arrays = Mapping[str, np.ndarray]


def open_dataset(data_config):
    """The TFDS builder for ``data_config``, checked against what the input needs.

    Cheap: the dataset is not generated. Raises ValueError (unknown dataset
    or config) or InputError (``input='spectrum'`` on a dataset without
    spectra, ``input='image'`` on one without images).
    """
    builder = tfelg_data.make_builder(
        data_config.dataset,
        data_config.data_dir,
        num_galaxies=data_config.num_galaxies,
        seed=data_config.dataset_seed,
    )
    if data_config.input == "spectrum" and "spectrum" not in builder.info.features:
        raise InputError(
            f"input 'spectrum' needs spectra, but dataset {data_config.dataset!r} "
            f"({builder.info.full_name}) has only line measurements; use --input=lines "
            "or a dataset with spectra (emission_lines/synthetic, emission_lines/sdss_spec)",
            column="spectrum",
        )
    if data_config.input == "image" and "image" not in builder.info.features:
        raise InputError(
            f"input 'image' needs images, but dataset {data_config.dataset!r} "
            f"({builder.info.full_name}) has none",
            column="image",
        )
    return builder


def prepare_dataset(data_config, builder=None):
    """The builder of ``data_config``, generated if needed, every split checked non-empty.

    Raises InputError when a split is empty (a tiny synthetic sample, or a
    catalogue with too few rows).
    """
    builder = builder or open_dataset(data_config)
    try:
        tfelg_data.prepare(builder, manual_dir=data_config.manual_dir)
    except AssertionError as e:
        # TFDS refuses to write a split without examples, with this message.
        if "No examples were yielded" not in str(e):
            raise
        raise InputError(
            f"{builder.info.full_name}: a split would be empty ({e}); training needs "
            "galaxies in train, validation and test (use more galaxies)"
        ) from e
    _check_builder_splits(builder)
    return builder


def _check_builder_splits(builder) -> None:
    for split in SPLITS:
        if split not in builder.info.splits or builder.info.splits[split].num_examples == 0:
            raise InputError(
                f"split {split!r} of {builder.info.full_name} is empty; training needs "
                "galaxies in train, validation and test (use more galaxies)"
            )


def load_splits(data_config, builder=None) -> dict[str, dict[str, np.ndarray]]:
    """Train, validation and test arrays (``tfelg.data.load_split_arrays``), generated if needed.

    Raises InputError when a split is empty (as :func:`prepare_dataset`).
    """
    builder = prepare_dataset(data_config, builder)
    return {split: tfelg_data.load_split_arrays(builder, split) for split in SPLITS}


#: Galaxies per batch when a split is read in batches (the readers' default).
BATCH_ROWS = 4096


class ArraySplits:
    """Splits already in memory (``{split: {feature: array}}``), read whole or in batches."""

    builder = None

    def __init__(self, splits: Mapping[str, Arrays], dataset: str = "the data"):
        check_splits(splits, dataset)
        self.splits = splits

    def prepare(self) -> None:
        """Nothing to generate."""

    def num_rows(self, split: str) -> int:
        return len(next(iter(self.splits[split].values())))

    def arrays(self, split: str) -> Arrays:
        return self.splits[split]

    def batches(self, split: str, features=None, rows: int = BATCH_ROWS):
        arrays = self.splits[split]
        if features is not None:
            arrays = {k: v for k, v in arrays.items() if k in features}
        n = self.num_rows(split)
        for start in range(0, n, rows):
            yield {k: v[start : start + rows] for k, v in arrays.items()}


class DatasetSplits:
    """A TFDS dataset's splits, streamed in batches (or read whole where a model needs that).

    ``data_config``: generate the dataset first if it is not on disk
    (:meth:`prepare`); None: it is (a pipeline's Dataset artifact), and is
    only read.
    """

    def __init__(self, builder, data_config=None):
        self.builder = builder
        self._data_config = data_config

    def prepare(self) -> None:
        if self._data_config is not None:
            prepare_dataset(self._data_config, self.builder)
        else:
            _check_builder_splits(self.builder)

    def num_rows(self, split: str) -> int:
        return self.builder.info.splits[split].num_examples

    def arrays(self, split: str) -> Arrays:
        return tfelg_data.load_split_arrays(self.builder, split)

    def batches(self, split: str, features=None, rows: int = BATCH_ROWS):
        if features is not None:
            # A feature the data lack is left to the reader's own message (the
            # preprocessing names the feature it needs and what is there).
            features = [k for k in features if k in self.builder.info.features]
        return tfelg_data.split_batches(self.builder, split, rows, features)


def check_splits(splits: Mapping[str, Arrays], dataset: str = "the data") -> None:
    """Every split present and non-empty (InputError otherwise)."""
    for split in SPLITS:
        if split not in splits:
            raise InputError(f"{dataset} has no {split!r} split")
        arrays = splits[split]
        n = len(next(iter(arrays.values()))) if arrays else 0
        if n == 0:
            raise InputError(
                f"split {split!r} of {dataset} is empty; training needs galaxies in "
                "train, validation and test (use more galaxies)"
            )
