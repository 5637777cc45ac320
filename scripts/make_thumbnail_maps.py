"""Writes the thumbnail maps under docs/hst/: synthetic galaxies and the Hubble Deep Field.

The picture people expect of an image embedding (issue 14 item 3): a t-SNE
map with each galaxy's RGB thumbnail at its place, one per cell of an
R x R grid (:mod:`tfelg.outputs.thumbnail_map`). Both maps here are of the
classical baseline, pixel PCA, so they show what a representation with no
training already sorts galaxies by (mostly size and surface brightness);
the ``hst_images`` pipeline draws the same figures for its learned
representations.

* ``synthetic``: a ``hst_galaxies/synthetic`` sample (built into
  ``--data_dir`` if it is not there: ``--num_galaxies`` GalSim galaxies,
  ``--seed``), features from :func:`tfelg.metrics.quality.pixel_pca_features`
  (asinh of the pixels over their noise, 16 principal components); a
  Gaussian mixture of ``--clusters`` components on the same features; the
  thumbnail map (Lupton composites, one stretch, the central 40 x 40 pixels),
  the map by true type, UVJ class, Gini-M20 class (every measured galaxy;
  the untrusted counted in the panel's title) and cluster, and the UVJ
  diagram by cluster.
* ``hdf``: the stamps of scikit-image's XDF colour image
  (:func:`tfelg.io.deep_field.hubble_deep_field_stamps`, the
  ``hubble_deep_field`` config's stamps), which is an 8-bit display stretch
  of other filters: drawn in its own colours (their central 40 x 40
  pixels); features the PCA of its display values seen through a Gaussian
  window around the stamp centre (the field is crowded: whole stamps sort by
  their brightest neighbour); no labels, so the map by cluster only.

t-SNE with :func:`tfelg.analysis.tsne.run_tsne` (seeded, 2 threads).

  nice python scripts/make_thumbnail_maps.py --data_dir=/tmp/tfds --output_dir=docs/hst
"""

from __future__ import annotations

import os
import time

import numpy as np
from absl import app, flags, logging

from tfelg import schemes

_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory for hst_galaxies.")
_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", 500, "Synthetic sample size.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the sample, the PCA, the mixture and t-SNE.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "docs/hst", "Folder for the PNGs.")
_GRID = flags.DEFINE_integer("grid_size", 24, "Cells along the longer side of the thumbnail grid.")
_CLUSTERS = flags.DEFINE_integer("clusters", 6, "Gaussian mixture components (synthetic).")
_HDF_CLUSTERS = flags.DEFINE_integer("hdf_clusters", 5, "Gaussian mixture components (HDF).")
_WHICH = flags.DEFINE_list("which", ["synthetic", "hdf"], "Maps to make: synthetic, hdf.")
# The synthetic map shows the central pixels of each stamp (most galaxies
# are much smaller than 64 pixels; the largest disks still fit).
SYNTHETIC_CROP = 40
# The HDF stamps' PCA sees the pixels through this Gaussian window around
# the stamp centre, and the map shows their central HDF_CROP pixels.
HDF_WINDOW_SIGMA = 10.0
HDF_CROP = 40

_N_JOBS = flags.DEFINE_integer("n_jobs", 2, "t-SNE threads.")


def _tsne(features, seed: int) -> np.ndarray:
    from tfelg.analysis import tsne

    return tsne.run_tsne(features, seed=seed, n_jobs=_N_JOBS.value, progress_bar=False).embedding


def _mixture(features, k: int, seed: int) -> np.ndarray:
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(k, covariance_type="full", n_init=3, random_state=seed)
    return gmm.fit(features).predict(features).astype(np.int64)


def synthetic_maps(data_dir, num_galaxies: int, seed: int, out: str) -> list[str]:
    from tfelg import data, hst_report
    from tfelg.metrics import quality
    from tfelg.outputs import thumbnail_map

    builder = data.make_builder(
        "hst_galaxies/synthetic", data_dir, num_galaxies=num_galaxies, seed=seed
    )
    data.prepare(builder)
    arrays = hst_report.load_all(builder)
    images = arrays["image"]
    type_names = builder.info.features["true_type"].names
    features = quality.pixel_pca_features(images, n_components=16, seed=seed)(images)
    xy = _tsne(features, seed)
    clusters = _mixture(features, _CLUSTERS.value, seed)
    trusted = arrays["trust_nonparametric"].astype(bool)
    band = builder.info.metadata.get("morphology_band", "F850LP")
    name = builder.info.full_name
    return [
        thumbnail_map.plot_thumbnail_map(
            xy,
            images,
            os.path.join(out, "thumbnail_map_synthetic.png"),
            grid_size=_GRID.value,
            crop=SYNTHETIC_CROP,
            title=f"t-SNE of pixel PCA, {name}",
        ),
        thumbnail_map.plot_map_by_labels(
            xy,
            {
                "true type": (arrays["true_type"].astype(np.int64), type_names),
                "UVJ class": (arrays["uvj"].astype(np.int64), schemes.UVJ_NAMES),
                f"Gini-M20 class ({band}; {int((~trusted).sum())} untrusted)": (
                    arrays["gini_m20"].astype(np.int64),
                    schemes.GINI_M20_NAMES,
                ),
            },
            clusters,
            os.path.join(out, "tsne_by_class_synthetic.png"),
            seed=seed,
            title=f"t-SNE of pixel PCA, {name}; clusters: Gaussian mixture on the features",
        ),
        thumbnail_map.plot_uvj_by_cluster(
            arrays["u_minus_v"],
            arrays["v_minus_j"],
            arrays["redshift"],
            clusters,
            os.path.join(out, "uvj_by_cluster_synthetic.png"),
            seed=seed,
        ),
    ]


def hdf_maps(seed: int, out: str) -> list[str]:
    from sklearn.decomposition import PCA

    from tfelg.io import deep_field
    from tfelg.outputs import thumbnail_map

    field = deep_field.hubble_deep_field_stamps(64)
    stamps = field.stamps
    # The field is crowded: without a window the PCA of whole stamps sorts
    # them by their brightest neighbour, not by the source they are cut around.
    y, x = np.mgrid[:64, :64] - 31.5
    window = np.exp(-0.5 * (x**2 + y**2) / HDF_WINDOW_SIGMA**2)[None, :, :, None]
    flat = (stamps * window).reshape(len(stamps), -1)
    features = PCA(16, random_state=seed).fit_transform(flat)
    features /= np.sqrt(np.mean(features**2))
    xy = _tsne(features, seed)
    clusters = _mixture(features, _HDF_CLUSTERS.value, seed)
    title = (
        "t-SNE of pixel PCA, Hubble XDF colour image (skimage; display stretch of other "
        "filters); clusters: Gaussian mixture on the features"
    )
    return [
        thumbnail_map.plot_thumbnail_map(
            xy,
            stamps,
            os.path.join(out, "thumbnail_map_hdf.png"),
            grid_size=_GRID.value,
            calibrated=False,
            crop=HDF_CROP,
            title=f"t-SNE of pixel PCA (Gaussian window, sigma {HDF_WINDOW_SIGMA:g} px), "
            "Hubble XDF (skimage)",
        ),
        thumbnail_map.plot_map_by_labels(
            xy, {}, clusters, os.path.join(out, "tsne_by_cluster_hdf.png"), seed=seed, title=title
        ),
    ]


def main(argv):
    del argv
    os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
    unknown = set(_WHICH.value) - {"synthetic", "hdf"}
    if unknown:
        raise app.UsageError(f"--which: unknown {sorted(unknown)}; known: synthetic, hdf")
    for which in _WHICH.value:
        start = time.perf_counter()
        if which == "synthetic":
            paths = synthetic_maps(
                _DATA_DIR.value, _NUM_GALAXIES.value, _SEED.value, _OUTPUT_DIR.value
            )
        else:
            paths = hdf_maps(_SEED.value, _OUTPUT_DIR.value)
        logging.info("%s: %.1f s", which, time.perf_counter() - start)
        for path in paths:
            print(path)


if __name__ == "__main__":
    app.run(main)
