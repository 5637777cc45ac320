"""TFX-style components, installed as ``tfelg_components``."""
