"""emission_lines dataset (importing registers the builder with TFDS)."""

from tfelg_datasets.emission_lines.emission_lines_dataset_builder import (
    Builder,
    EmissionLinesConfig,
    split_of,
)

__all__ = ["Builder", "EmissionLinesConfig", "split_of"]
