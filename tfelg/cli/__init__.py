"""Thin absl binaries: each parses flags and calls one library function.

TensorFlow's C++ start-up chatter (no CUDA device on a CPU machine, oneDNN
notices) is silenced for the binaries unless the user set the level.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
