"""A real TensorBoard server on 127.0.0.1 for tests, read over HTTP as the browser does.

The server is ``python -m tensorboard.main`` with an OS-chosen port; the
port is read from the line TensorBoard prints when it starts. Routes of the
projector plugin (``tensorboard/plugins/projector/projector_plugin.py``):
``/runs``, ``/info``, ``/metadata``, ``/tensor``, ``/sprite_image`` under
``/data/plugin/projector``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SERVER_TIMEOUT_S = 60.0
_URL_RE = re.compile(r"TensorBoard \S+ at (http://127\.0\.0\.1:(\d+)/)")


class TensorBoardServer:
    """A TensorBoard process on 127.0.0.1 serving ``logdir``; always stop() it."""

    def __init__(self, logdir):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                f"--logdir={logdir}",
                "--host=127.0.0.1",
                "--port=0",
                "--load_fast=false",
                "--reload_interval=0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url = None
        self._found = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.process.stderr:
            self.lines.append(line)
            match = _URL_RE.search(line)
            if match and self.url is None:
                self.url = match.group(1)
                self._found.set()

    def wait_until_serving(self, deadline):
        while not self._found.wait(timeout=0.2):
            if self.process.poll() is not None:
                raise RuntimeError("tensorboard exited:\n" + "".join(self.lines))
            if time.monotonic() > deadline:
                raise TimeoutError("tensorboard did not start:\n" + "".join(self.lines))
        while True:  # The port is announced before the first request is served.
            try:
                self.get("data/logdir")
                return
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def get(self, route, **params):
        url = self.url + route
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()
