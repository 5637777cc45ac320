"""The projector seen in a real browser: headless Chromium draws the points.

The HTTP test in projector_test.py checks what TensorBoard serves; this one
checks what a person sees. TensorBoard 2.21's projector served a 2-D tensor
perfectly well and drew nothing from it ("Total variance described: NaN%"),
which only a browser shows. A real TensorBoard on 127.0.0.1 serves a
projector written by :func:`tfelg.outputs.projector.write_projector`;
Chromium (WebGL in its software renderer) takes a screenshot of the
projector page, and the test counts the pixels of the projector's point
colour in the drawing area.

Needs Debian's ``chromium`` (``apt-get install chromium``); skips, saying
so, without it. ``.ci/run`` installs it where it can.
"""

import os
import time

import numpy as np
import tensorflow as tf
from absl.testing import absltest, parameterized

from tfelg.outputs import projector
from tfelg.testing import browser
from tfelg.testing.tensorboard_server import SERVER_TIMEOUT_S, TensorBoardServer

N_POINTS = 300
# Each point is a disc of roughly 30-60 pixels at this window size: 300 of
# them covered about 16,000 pixels in 2-D and, overlapping on a line, 3,900
# in 1-D (measured); the empty canvas of an unpadded 2-D tensor has none.
MIN_POINT_PIXELS = 1000
WINDOW = (1400, 900)


def _drawing_area(image: np.ndarray) -> np.ndarray:
    """The middle of the page, where the projector draws (not its side panels)."""
    h, w = image.shape[:2]
    return image[int(0.15 * h) :, int(0.23 * w) : int(0.78 * w)]


@absltest.skipIf(browser.chromium_missing_reason(), browser.chromium_missing_reason() or "")
class ProjectorInBrowserTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(("d2", 2), ("d1", 1))
    def test_points_are_drawn(self, dim):
        rng = np.random.default_rng(dim)
        logdir = os.path.join(self.get_temp_dir(), f"tb{dim}")
        embeddings = rng.normal(size=(N_POINTS, dim)).astype(np.float32)
        labels = {
            "id": [f"g{i}" for i in range(N_POINTS)],
            "whan": [("star_forming", "retired")[i % 2] for i in range(N_POINTS)],
        }
        projector.write_projector(logdir, embeddings, labels)
        server = TensorBoardServer(logdir)
        self.addCleanup(server.stop)
        server.wait_until_serving(time.monotonic() + SERVER_TIMEOUT_S)

        png = os.path.join(self.get_temp_dir(), f"projector_d{dim}.png")
        # The page fetches the tensors from the server in real time, not in the
        # browser's virtual time: on a machine busy with other tests the first
        # budget can end before they arrive (one clean-clone CI run drew 0 pixels
        # in 2-D; the run before it and a rerun passed). A longer second look,
        # then the verdict.
        for budget_ms in (15_000, 45_000):
            image = browser.screenshot(
                server.url + "#projector", png, size=WINDOW, budget_ms=budget_ms
            )
            self.assertEqual(image.shape, (WINDOW[1], WINDOW[0], 3))
            drawn = browser.count_colour(_drawing_area(image), browser.PROJECTOR_POINT_RGB)
            if drawn > MIN_POINT_PIXELS:
                break
        self.assertGreater(
            drawn,
            MIN_POINT_PIXELS,
            f"{dim}-D projector: {drawn} pixels of point colour in the screenshot {png}",
        )


if __name__ == "__main__":
    absltest.main()
