"""One colour per class, everywhere: figures, cluster panels and projector metadata.

A reader learns that star-forming galaxies are blue in one figure and then
expects blue to mean star-forming in every other one, so the colours live
here, once, and every figure (``tfelg.outputs.diagrams``,
``tfelg.outputs.analysis_plots``) and the projector's metadata
(:func:`projector_colour_columns`) take them from this module. Nothing here
imports matplotlib, so the projector writer can use it cheaply.

Classes use the Okabe & Ito (2008) palette, designed to stay distinct for
the common forms of colour blindness:

================  ==============  =========================================
colour            hex             classes
================  ==============  =========================================
blue              ``#0072B2``     star_forming
bluish green      ``#009E73``     composite
vermillion        ``#D55E00``     seyfert, strong_agn (the strong AGN)
orange            ``#E69F00``     liner, weak_agn (the weak AGN)
reddish purple    ``#CC79A7``     agn (above Kewley+01, Seyfert/LINER undecided)
sky blue          ``#56B4E9``     retired
black             ``#000000``     passive, quiescent
grey              ``#BBBBBB``     low_sn (drawn small and faint)
yellow            ``#F0E442``     unclassified, unknown
================  ==============  =========================================

Clusters found by a mixture are not classes, and a cluster drawn in the
star-forming blue would read as "the star-forming cluster". Cluster colours
therefore come from :data:`CLUSTER_PALETTE`, chosen so that every one lies
at least :data:`MIN_CLUSTER_CLASS_DISTANCE` (CIE 1976 colour difference) from
every class colour; panels that show clusters also write each cluster's
number on the map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# Okabe & Ito (2008), "Color Universal Design", the eight colours plus a grey.
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "bluish green": "#009E73",
    "vermillion": "#D55E00",
    "orange": "#E69F00",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "black": "#000000",
    "grey": "#BBBBBB",
    "yellow": "#F0E442",
}

# The one class -> colour mapping. Names mean the same physics in every
# scheme (WHAN's strong AGN are BPT's Seyferts in spirit), so they share.
CLASS_COLOURS: dict[str, str] = {
    "star_forming": OKABE_ITO["blue"],
    "composite": OKABE_ITO["bluish green"],
    "seyfert": OKABE_ITO["vermillion"],
    "strong_agn": OKABE_ITO["vermillion"],
    "liner": OKABE_ITO["orange"],
    "weak_agn": OKABE_ITO["orange"],
    "agn": OKABE_ITO["reddish purple"],
    "retired": OKABE_ITO["sky blue"],
    "passive": OKABE_ITO["black"],
    "quiescent": OKABE_ITO["black"],
    "low_sn": OKABE_ITO["grey"],
    "unclassified": OKABE_ITO["yellow"],
    "unknown": OKABE_ITO["yellow"],
}

# Class names that are not physical classes: drawn small and faint.
FAINT_CLASSES = ("low_sn",)

# For class names this module does not know (a user's own labels): Paul
# Tol's "muted" colours, none of them a known class's or a cluster's colour.
FALLBACK_COLOURS: tuple[str, ...] = (
    "#44AA99",  # teal
    "#CC6677",  # rose
    "#999933",  # olive
    "#88CCEE",  # cyan
    "#AA4499",  # purple
    "#117733",  # green
)

# Cluster colours, ordered by greedy farthest-point selection in CIE Lab
# space away from the class colours (so the first clusters get the most
# distinct colours). Every one is >= MIN_CLUSTER_CLASS_DISTANCE from every
# class colour (tested).
CLUSTER_PALETTE: tuple[str, ...] = (
    "#332288",  # indigo
    "#8C6D31",  # dark gold
    "#2CA02C",  # green
    "#843C39",  # dark red
    "#DDCC77",  # sand
    "#9467BD",  # lilac
    "#D62728",  # red
    "#FDAE6B",  # peach
    "#882255",  # wine
    "#393B79",  # navy
    "#9E9AC8",  # lavender
    "#17BECF",  # cyan
)
# Beyond len(CLUSTER_PALETTE) clusters the colours repeat with another marker.
CLUSTER_MARKERS: tuple[str, ...] = ("o", "s", "^", "D")
MIN_CLUSTER_CLASS_DISTANCE = 25.0


def class_colour(name: str, code: int = 0) -> str:
    """The colour of class ``name`` (hex); unknown names get a fallback by ``code``."""
    return CLASS_COLOURS.get(name, FALLBACK_COLOURS[code % len(FALLBACK_COLOURS)])


def cluster_colour(code: int) -> str:
    """The colour of cluster ``code`` (hex), never a class colour."""
    return CLUSTER_PALETTE[code % len(CLUSTER_PALETTE)]


def cluster_marker(code: int) -> str:
    """The marker of cluster ``code``: a new one each time the palette wraps around."""
    return CLUSTER_MARKERS[(code // len(CLUSTER_PALETTE)) % len(CLUSTER_MARKERS)]


def colour_name(hex_colour: str) -> str:
    """A readable name for a palette colour ("vermillion"), else the hex code itself."""
    for name, value in OKABE_ITO.items():
        if value.lower() == hex_colour.lower():
            return name
    return hex_colour


def hex_to_lab(hex_colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB hex colour, for colour differences."""
    text = hex_colour.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"expected a #RRGGBB colour, got {hex_colour!r}")
    rgb = np.array([int(text[i : i + 2], 16) / 255.0 for i in (0, 2, 4)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    to_xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    )
    xyz = to_xyz @ linear / np.array([0.95047, 1.0, 1.08883])
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    return np.array([116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])])


def colour_distance(a: str, b: str) -> float:
    """CIE 1976 colour difference (Delta E*ab) between two hex colours."""
    return float(np.linalg.norm(hex_to_lab(a) - hex_to_lab(b)))


def class_colour_labels(values: Sequence[str]) -> list[str]:
    """Per-row labels "blue #0072B2" for class names, for a projector metadata column."""
    cache: dict[str, str] = {}
    out = []
    for value in values:
        name = value.decode() if isinstance(value, bytes) else str(value)
        if name not in cache:
            known = name in CLASS_COLOURS
            hex_colour = class_colour(name)
            cache[name] = f"{colour_name(hex_colour)} {hex_colour}" if known else "none"
        out.append(cache[name])
    return out


def projector_colour_columns(
    metadata: Mapping[str, Sequence], columns: Sequence[str] = ("whan", "bpt", "true_class")
) -> dict[str, list[str]]:
    """``<column>_colour`` metadata columns: each point's class colour in the figures.

    TensorBoard's projector picks its own colours when it colours by a
    column (in order of first appearance), and its config has no field to
    set them. These columns carry the figures' colour of each point's class
    ("vermillion #D55E00" for a Seyfert), so a person in the projector can
    label or search points by the colour they saw in a figure.

    Args:
      metadata: the projector's metadata columns (name -> N labels).
      columns: the class columns to describe; absent ones are skipped.

    Returns:
      {``<column>_colour``: N labels}, for the columns present.
    """
    return {f"{c}_colour": class_colour_labels(metadata[c]) for c in columns if c in metadata}
