"""tfelg.outputs.markdown_block: only the measured block of a results document changes."""

import os

from absl.testing import absltest

from tfelg.outputs import markdown_block
from tfelg.outputs.markdown_block import END, START

BLOCK = f"{START}\nnew table\n{END}"


class MarkdownBlockTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.create_tempdir().full_path, "results.md")

    def _write(self, text):
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)

    def _read(self):
        with open(self.path, encoding="utf-8") as f:
            return f.read()

    def test_replaces_the_block_and_keeps_the_reading_around_it(self):
        self._write(f"# T\n\nreading above\n\n{START}\nold\ntable\n{END}\n\nbelow, é\n")
        markdown_block.write(self.path, BLOCK, "ignored")
        self.assertEqual(self._read(), f"# T\n\nreading above\n\n{BLOCK}\n\nbelow, é\n")
        # A second run finds its own block again.
        markdown_block.write(self.path, f"{START}\nnewer\n{END}", "ignored")
        self.assertEqual(
            self._read(), f"# T\n\nreading above\n\n{START}\nnewer\n{END}\n\nbelow, é\n"
        )

    def test_appends_to_a_document_without_a_block(self):
        self._write("# T\n\nonly prose\n\n")
        markdown_block.write(self.path, BLOCK, "ignored")
        self.assertEqual(self._read(), f"# T\n\nonly prose\n\n{BLOCK}\n")

    def test_an_end_marker_before_the_start_is_not_a_block(self):
        self._write(f"{END} quoted in prose, then nothing\n{START}\n")
        markdown_block.write(self.path, BLOCK, "ignored")
        self.assertEqual(self._read(), f"{END} quoted in prose, then nothing\n{START}\n\n{BLOCK}\n")

    def test_creates_a_missing_document_with_its_title(self):
        markdown_block.write(self.path, BLOCK, "Quality of generated galaxies")
        self.assertEqual(self._read(), f"# Quality of generated galaxies\n\n{BLOCK}\n")

    def test_refuses_a_block_the_next_run_could_not_find(self):
        self._write("keep me\n")
        with self.assertRaisesRegex(ValueError, "must start with"):
            markdown_block.write(self.path, "new table", "T")
        self.assertEqual(self._read(), "keep me\n")


if __name__ == "__main__":
    absltest.main()
