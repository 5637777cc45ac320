"""Helpers for tests and TFDS dummy data: tiny files in the real formats.

Library code never imports this package.
"""
