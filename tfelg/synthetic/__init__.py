"""Seeded generators of the default (synthetic) data sets.

Real survey catalogues cannot be shipped or downloaded at run time, so the
demo, the tests and the TFDS ``synthetic`` configs draw their galaxies from
these generators: physically plausible, with the true class known, and
identical for a given seed on every machine.
"""
