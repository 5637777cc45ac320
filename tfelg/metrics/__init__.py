"""Quality metrics of generated galaxy images: feature-space distances and physics.

:mod:`tfelg.metrics.distances` (FID, KID, precision/recall on feature
vectors), :mod:`tfelg.metrics.physics` (morphology and colour distributions
measured with :mod:`tfelg.morphology`, compared per class) and
:mod:`tfelg.metrics.quality` (the table that puts them together).
"""

from tfelg.metrics.distances import (
    KernelDistance,
    PrecisionRecall,
    frechet_distance,
    kernel_distance,
    precision_recall,
)
from tfelg.metrics.physics import measure_images, physics_distances
from tfelg.metrics.quality import compare, pixel_pca_features, quality_table, summarize

__all__ = [
    "KernelDistance",
    "PrecisionRecall",
    "compare",
    "frechet_distance",
    "kernel_distance",
    "measure_images",
    "physics_distances",
    "pixel_pca_features",
    "precision_recall",
    "quality_table",
    "summarize",
]
