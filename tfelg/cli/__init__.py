"""Thin absl binaries: each parses flags and calls one library function."""
