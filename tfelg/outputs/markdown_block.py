"""The generated part of a results document, rewritten with the prose around it kept.

The results documents (docs/gan_quality.md, docs/hst_synthetic_classes.md,
docs/image_results.md) are half measured tables, half a written reading of
them. The scripts that measure the tables (scripts/make_*.py) rewrite only
what lies between :data:`START` and :data:`END`, so a re-run refreshes the
numbers without losing the reading; one function does it for all of them,
atomically (a killed run leaves the old document).
"""

from __future__ import annotations

import os

from tfelg import atomic

START, END = "<!-- tables -->", "<!-- /tables -->"


def write(path: str, block: str, title: str) -> str:
    """Puts ``block`` (which starts with START and ends with END) into ``path``.

    The document's old block is replaced, the text before and after it kept.
    A document without a block gets it appended; a missing one is created
    with ``# title`` above the block. Returns ``path``.

    Raises:
      ValueError: ``block`` is not delimited by START and END (it could not
        be found again by the next run).
    """
    if not (block.startswith(START) and block.endswith(END)):
        raise ValueError(f"the block for {path} must start with {START!r} and end with {END!r}")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        head, found, rest = text.partition(START)
        if found and END in rest:
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    else:
        text = f"# {title}\n\n{block}\n"
    return atomic.write_text(path, text)
