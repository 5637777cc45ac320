"""Expected split sizes of a TFDS dataset, from the split rule itself.

The emission-line builder assigns each galaxy to a split by the md5 digest
of its object id (DESIGN.md: deterministic, not Python's salted hash): the
first 8 bytes, little-endian, as a fraction u of 2^64; train if u < 0.8,
validation if u < 0.9, test otherwise. Tests derive the sizes they expect
from the object ids with this independent copy of the rule, instead of
locking in numbers read off one build (which would hide a changed rule or a
lost galaxy behind an updated constant).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SPLIT_FRACTIONS = (("train", 0.8), ("validation", 0.1), ("test", 0.1))


def md5_split(object_id: str) -> str:
    u = int.from_bytes(hashlib.md5(object_id.encode("utf-8")).digest()[:8], "little") / 2.0**64
    cumulative = 0.0
    for name, fraction in SPLIT_FRACTIONS:
        cumulative += fraction
        if u < cumulative:
            return name
    return SPLIT_FRACTIONS[-1][0]


def md5_split_counts(object_ids: Iterable[str]) -> dict[str, int]:
    """``{"train": n, "validation": n, "test": n}`` for these object ids."""
    counts = {name: 0 for name, _ in SPLIT_FRACTIONS}
    for object_id in object_ids:
        counts[md5_split(str(object_id))] += 1
    return counts
