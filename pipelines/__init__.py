"""Pipelines chaining components, installed as ``tfelg_pipelines``."""
