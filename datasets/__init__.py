"""TFDS builders of tfelg, installed as ``tfelg_datasets``.

Importing a sub-package registers its builder with TFDS:

    import tfelg_datasets.emission_lines  # registers "emission_lines"
"""
