"""The class schemes a representation's clusters are compared with.

Which schemes, and in which form, is one decision shared by the class
inference (:func:`tfelg.analysis.analyze.infer_classes`), the figures
(:mod:`tfelg.analysis.figures`), the projector and the results scripts: kept
in one small module (NumPy and :mod:`tfelg.schemes` only) so that each of
them reads the same views without importing the whole analysis.
"""

from __future__ import annotations

import numpy as np

from tfelg import schemes
from tfelg.analysis.embeddings import Embeddings

# Classes that are not classes: galaxies without a scheme class are left out
# of the matching (and counted).
IGNORED_CLASSES = ("low_sn", "unclassified", "unknown")


def scheme_views(emb: Embeddings) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The class schemes clusters are compared with: codes and names.

    Emission lines (embeddings with a ``whan`` label): WHAN, BPT in its
    three-class form (star-forming, composite, AGN), as in the reference
    work (Seyfert/LINER stay in the catalogue), and the true class of
    synthetic data. Any other data (HST images: ``true_type``, ``uvj``,
    ``gini_m20``): every label column, in the embeddings' order. A column
    whose every galaxy is ``unknown``/``unclassified``/``low_sn`` (real
    data without truth) is left out.
    """
    if "whan" not in emb.labels:
        views = {}
        for scheme, codes in emb.labels.items():
            names = list(emb.class_names[scheme])
            known = [i for i, n in enumerate(names) if n not in IGNORED_CLASSES]
            if np.isin(codes, known).any():
                views[scheme] = (codes, names)
        return views
    views = {"whan": (emb.labels["whan"], list(emb.class_names["whan"]))}
    views["bpt"] = (schemes.bpt_coarse(emb.labels["bpt"]), list(schemes.BPT_COARSE_NAMES))
    if "true_class" in emb.labels:
        names = list(emb.class_names["true_class"])
        codes = emb.labels["true_class"]
        if "unknown" not in names or np.any(codes != names.index("unknown")):
            views["true_class"] = (codes, names)
    return views
