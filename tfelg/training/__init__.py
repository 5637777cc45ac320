"""Configs and the one distributed training loop."""
