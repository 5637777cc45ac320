"""tfelg.cli.output_paths: the --output check shared by tfelg-classify and tfelg-morphology."""

import io
import os
from contextlib import redirect_stderr

from absl.testing import absltest

from tfelg.cli import output_paths
from tfelg.errors import InputError


class CheckOutputPathTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path

    def test_bad_names_are_refused_with_the_flag_and_an_example(self):
        cases = {
            "folder": (self.dir, ValueError, rf"--output={self.dir} is a folder; .*e\.g\. "),
            "slash": (
                os.path.join(self.dir, "new") + "/",
                ValueError,
                r"--output=.*/new/ ends with '/', a folder; give a file name, e\.g\. .*/new/",
            ),
            "empty": ("", ValueError, r"--output is empty; give the FITS file"),
            "blank": ("  ", ValueError, r"--output is empty"),
            "none": (None, ValueError, r"--output is empty"),
            "unwritable": ("/proc/tfelg/x.fits", InputError, r"cannot write in /proc"),
        }
        for name, (path, error, message) in cases.items():
            with self.subTest(name):
                with self.assertRaisesRegex(error, message):
                    output_paths.check_output_path(path, example="table.fits")

    def test_messages_suggest_the_binarys_file_name(self):
        for example in ("classes.fits", "morphology.fits"):
            with self.subTest(example):
                with self.assertRaises(ValueError) as caught:
                    output_paths.check_output_path(self.dir, example=example)
                self.assertEndsWith(str(caught.exception), os.path.join(self.dir, example))

    def test_a_file_on_the_way_names_both(self):
        plain = self.create_tempfile("plain_file").full_path
        target = os.path.join(plain, "deeper", "x.fits")
        with self.assertRaises(InputError) as caught:
            output_paths.check_output_path(target)
        self.assertEqual(
            str(caught.exception),
            f"{target}: cannot write {target}: {plain} is a file, not a folder",
        )

    def test_existing_file_needs_overwrite(self):
        existing = self.create_tempfile("old.fits", content="x").full_path
        with self.assertRaisesRegex(FileExistsError, "old.fits exists; pass --overwrite"):
            output_paths.check_output_path(existing)
        self.assertEqual(output_paths.check_output_path(existing, overwrite=True), existing)

    def test_good_name_is_returned_and_nothing_created(self):
        new = os.path.join(self.dir, "deeper", "classes.fits")
        self.assertEqual(output_paths.check_output_path(new), new)
        self.assertFalse(os.path.exists(os.path.dirname(new)), "checking creates nothing")
        self.assertEqual(os.listdir(self.dir), [], "the write test leaves no file")

    def test_error_exit_prints_one_line_and_returns_2(self):
        stderr = io.StringIO()
        with redirect_stderr(stderr):
            status = output_paths.error_exit("tfelg-x", ValueError("--output is empty"))
        self.assertEqual(status, 2)
        self.assertEqual(stderr.getvalue(), "tfelg-x: error: --output is empty\n")

    def test_user_errors_cover_what_the_check_raises(self):
        for error in (ValueError, InputError, FileExistsError, OSError):
            self.assertTrue(issubclass(error, output_paths.USER_ERRORS), error)
        self.assertFalse(issubclass(KeyError, output_paths.USER_ERRORS), "bugs keep tracebacks")


if __name__ == "__main__":
    absltest.main()
