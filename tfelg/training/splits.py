"""The galaxies a run trains on: the TFDS splits, loaded into memory and checked.

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


def load_splits(data_config, builder=None) -> dict[str, dict[str, np.ndarray]]:
    """Train, validation and test arrays (``tfelg.data.load_split_arrays``), generated if needed.

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
    splits = {}
    for split in SPLITS:
        if split not in builder.info.splits or builder.info.splits[split].num_examples == 0:
            raise InputError(
                f"split {split!r} of {builder.info.full_name} is empty; training needs "
                "galaxies in train, validation and test (use more galaxies)"
            )
        splits[split] = tfelg_data.load_split_arrays(builder, split)
    return splits


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
