"""tfelg: find the natural classes of galaxies without labels, on TensorFlow.

Import the parts you need (``tfelg.schemes``, ``tfelg.io``, ...): this package
file imports nothing heavy, so ``tfelg.schemes`` stays usable without
TensorFlow being loaded.
"""

__version__ = "0.1.0"
