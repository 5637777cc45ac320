"""Tests for tfelg.outputs.tensorboard_command: the printed command runs from any shell."""

import os
import shlex
import sys
from unittest import mock

from absl.testing import absltest

from tfelg.outputs import tensorboard_command as tb


class TensorBoardCommandTest(absltest.TestCase):
    def test_names_the_tensorboard_of_this_environment(self):
        # The test runs in the project's virtual environment, which has
        # tensorboard beside its python (not on PATH after `make demo`).
        expected = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "tensorboard")
        self.assertTrue(os.path.isfile(expected), expected)
        self.assertEqual(tb.tensorboard_executable(), expected)
        self.assertTrue(os.path.isabs(tb.tensorboard_executable()))

    def test_interpreter_link_is_not_resolved(self):
        # A venv's python is a link to the base interpreter, whose folder has
        # no tensorboard: the venv's folder is the one to look in.
        venv = self.create_tempdir("venv bin").full_path
        base = self.create_tempdir("base").full_path
        with open(os.path.join(base, "python3"), "w") as f:
            f.write("")
        os.symlink(os.path.join(base, "python3"), os.path.join(venv, "python"))
        script = os.path.join(venv, "tensorboard")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(script, 0o755)
        with mock.patch.object(sys, "executable", os.path.join(venv, "python")):
            self.assertEqual(tb.tensorboard_executable(), script)
            command = tb.tensorboard_command("runs/my demo")
        self.assertEqual(shlex.split(command), [script, "--logdir", "runs/my demo"])

    def test_falls_back_to_a_bare_tensorboard(self):
        bare = self.create_tempdir().full_path
        with mock.patch.object(sys, "executable", os.path.join(bare, "python")):
            self.assertEqual(tb.tensorboard_executable(), "tensorboard")
            self.assertEqual(tb.tensorboard_command("/r"), "tensorboard --logdir /r")


if __name__ == "__main__":
    absltest.main()
