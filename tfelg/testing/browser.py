"""Headless Chromium for tests: a screenshot of a page, as a person would see it.

TensorBoard's projector is a WebGL page: what it draws can only be checked in
a browser, not over HTTP. Chromium is not a Python package; on Debian it is
``apt-get install chromium`` (``/usr/bin/chromium``), and the tests that need
it skip, saying so, where it is absent.

WebGL without a GPU: ``--use-angle=swiftshader --enable-unsafe-swiftshader``
selects Chromium's software renderer, which headless Chromium no longer
falls back to on its own. ``--virtual-time-budget`` lets the page run (its
requests, timers and the projector's PCA) for that many milliseconds of
virtual time before the screenshot is taken, which on a busy machine is
more dependable than a wall-clock wait. The rest keep the browser from
reaching anything but the page: no background networking, component
updates, sync or QUIC, and a new, empty profile each time. (Chromium 156
drew the projector's WebGL in headless mode without the SwiftShader flags
too; they are given so that a Chromium that stops falling back to software
rendering on its own still draws.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np

CHROMIUM = "/usr/bin/chromium"
BROWSER_TIMEOUT_S = 300.0

#: The colour of an unselected, uncoloured point in TensorBoard's projector
#: (``POINT_COLOR_UNSELECTED`` = 0x7575D9 in vz_projector).
PROJECTOR_POINT_RGB = (0x75, 0x75, 0xD9)


def chromium_missing_reason() -> str | None:
    """None if Chromium is installed, else why a browser test cannot run."""
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return None
    return (
        f"{CHROMIUM} not found: the browser test needs Debian's chromium "
        "(apt-get install chromium; see README, Development)"
    )


def chromium_command(url: str, screenshot: str, profile: str, *, budget_ms: int, size) -> list:
    """The command line of one headless screenshot of ``url``."""
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # Tests may run as root, where the sandbox refuses to start.
        "--disable-dev-shm-usage",  # Containers often have a tiny /dev/shm.
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        "--hide-scrollbars",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={screenshot}",
        url,
    ]


def screenshot(url: str, path: str, *, budget_ms: int = 15_000, size=(1400, 900)) -> np.ndarray:
    """Opens ``url`` in headless Chromium, saves a PNG to ``path``, returns it as (h, w, 3).

    Raises:
      RuntimeError: Chromium failed or wrote no screenshot (its output is in
        the message).
    """
    from PIL import Image

    profile = tempfile.mkdtemp(prefix="tfelg-chromium-")
    try:
        result = subprocess.run(
            chromium_command(url, path, profile, budget_ms=budget_ms, size=size),
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT_S,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0 or not os.path.exists(path):
        raise RuntimeError(
            f"chromium exited with {result.returncode} and wrote no screenshot {path}:\n"
            + result.stderr[-4000:]
        )
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def count_colour(image: np.ndarray, rgb, tolerance: int = 8) -> int:
    """Pixels of ``image`` within ``tolerance`` of ``rgb`` in every channel."""
    diff = np.abs(image.astype(np.int16) - np.asarray(rgb, dtype=np.int16))
    return int(np.sum(np.all(diff <= tolerance, axis=-1)))
