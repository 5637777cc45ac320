"""hst_galaxies dataset (importing registers the builder with TFDS)."""

from tfelg_datasets.hst_galaxies.hst_galaxies_dataset_builder import Builder, HstGalaxiesConfig

__all__ = ["Builder", "HstGalaxiesConfig"]
