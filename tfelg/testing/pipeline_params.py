"""Parameters of the hst_images pipeline's tiny test runs, in one place.

tests/pipelines/hst_images_test.py (synthetic galaxies, with the GAN) and
tests/pipelines/hst_images_hdf_test.py (the Hubble Deep Field, without it)
each run the whole pipeline, so each must make every step as small as it
can be and still run: one epoch of a SimCLR network a few filters wide,
K <= 3, a few bootstrap and gap draws, a short t-SNE. They share that
setting from here, so a renamed or new parameter is changed once and the
two runs stay comparable; each test adds only what its data set needs.
"""

from __future__ import annotations


def tiny_image_run(**params) -> dict:
    """The feature model and the analysis at their smallest, then ``params``.

    A new dict (nested ones too) on every call: a test that changes its
    parameters cannot change the other file's run.
    """
    return {
        "feature_epochs": 1,
        "feature_batch_size": 16,
        "feature_options": {"widths": [8, 16], "blocks_per_stage": 1, "projection_units": 16},
        "feature_latent_dim": 8,
        "reduce_dim": 4,
        "k_max": 3,
        "gap_references": 2,
        "gap_n_init": 2,
        "n_bootstrap": 5,
        "tsne_perplexity": 10.0,
        "tsne_iterations": 25,
        "tsne_early_iterations": 25,
        **params,
    }
