"""Tests for tfelg.atomic: whole files and folders, and the leftovers of killed writers.

Killed writers are real processes killed with SIGKILL in the middle of a
write, so the leftovers are exactly what a crash leaves.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from unittest import mock

from absl.testing import absltest

from tfelg import atomic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A writer that opens an atomic write of argv[1], writes part of it, says
# "ready" and waits for a line on stdin before finishing the write.
_WRITER = textwrap.dedent(
    """
    import sys
    from tfelg import atomic
    with atomic.atomic_open(sys.argv[1], "w") as f:
        f.write("from the writer")
        f.flush()
        print("ready", flush=True)
        sys.stdin.readline()
    print("done", flush=True)
    """
)


def _start_writer(path):
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the writer did not start")
    return process


def _hidden(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


class AtomicFileTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.folder = self.create_tempdir().full_path
        self.path = os.path.join(self.folder, "table.txt")

    def test_temporary_names_its_writer(self):
        with atomic.atomic_path(self.path) as tmp:
            name = os.path.basename(tmp)
            self.assertStartsWith(name, f".table.txt.{atomic._TAG}-{os.getpid()}.")
            self.assertEndsWith(name, ".tmp.txt")
            self.assertTrue(atomic._TEMPORARY_RE.match(name))
            self.assertFalse(atomic.is_stale_temporary(tmp))  # This process is alive.

    def test_failed_write_keeps_old_content_and_leaves_nothing(self):
        atomic.write_text(self.path, "old")
        with self.assertRaises(ZeroDivisionError), atomic.atomic_open(self.path, "w") as f:
            f.write("half")
            raise ZeroDivisionError
        with open(self.path) as f:
            self.assertEqual(f.read(), "old")
        self.assertEqual(_hidden(self.folder), [])

    def test_killed_writer_leftover_is_removed_by_the_next_write(self):
        writer = _start_writer(self.path)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdin.close()
        writer.stdout.close()
        (leftover,) = _hidden(self.folder)
        self.assertTrue(atomic.is_stale_temporary(os.path.join(self.folder, leftover)))
        self.assertFalse(os.path.exists(self.path))

        atomic.write_text(self.path, "next run")
        self.assertEqual(_hidden(self.folder), [])
        with open(self.path) as f:
            self.assertEqual(f.read(), "next run")

    def test_live_writer_is_never_hurt(self):
        writer = _start_writer(self.path)
        self.addCleanup(writer.kill)
        (theirs,) = _hidden(self.folder)
        atomic.write_text(self.path, "ours")  # Cleans stale temporaries of the same target.
        self.assertEqual(_hidden(self.folder), [theirs])
        self.assertEqual(atomic.remove_stale_temporaries(self.folder), [])
        writer.stdin.write("\n")
        writer.stdin.close()
        self.assertEqual(writer.stdout.readline().strip(), "done")
        writer.wait(timeout=30)
        writer.stdout.close()
        self.assertEqual(writer.returncode, 0)
        with open(self.path) as f:
            self.assertEqual(f.read(), "from the writer")  # The later rename wins.
        self.assertEqual(_hidden(self.folder), [])

    def test_temporaries_of_other_hosts_and_old_names_are_removed_only_when_old(self):
        other_tag = "0" * 8 if atomic._TAG != "0" * 8 else "1" * 8
        names = {
            "other_host": f".table.txt.{other_tag}-{os.getpid()}.abcdefgh.tmp.txt",
            "untagged": ".table.txt.k2j3h4_1.tmp.txt",
            "dead_here": f".table.txt.{atomic._TAG}-{_dead_pid()}.abcdefgh.tmp.txt",
            "other_target": f".other.txt.{atomic._TAG}-{_dead_pid()}.abcdefgh.tmp.txt",
            "not_ours": ".table.txt.notes",
        }
        for name in names.values():
            with open(os.path.join(self.folder, name), "w") as f:
                f.write("x")
        removed = atomic.remove_stale_temporaries(self.folder, "table.txt")
        self.assertEqual(removed, [os.path.join(self.folder, names["dead_here"])])

        old = time.time() - atomic.STALE_AGE_S - 60
        for key, name in names.items():
            if key != "dead_here":
                os.utime(os.path.join(self.folder, name), (old, old))
        # The next write into the folder removes every stale temporary there,
        # whatever its target (a run need not write the same names again).
        atomic.write_text(os.path.join(self.folder, "another.txt"), "new")
        self.assertEqual(_hidden(self.folder), [names["not_ours"]])


class AtomicDirectoryTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.parent = self.create_tempdir().full_path
        self.path = os.path.join(self.parent, "analysis")

    def _build(self, files):
        with atomic.atomic_directory(self.path) as build:
            self.assertEqual(os.path.dirname(build), self.parent)
            self.assertEqual(os.listdir(build), [])
            for name, text in files.items():
                os.makedirs(os.path.join(build, os.path.dirname(name)), exist_ok=True)
                with open(os.path.join(build, name), "w") as f:
                    f.write(text)

    def _tree(self):
        found = {}
        for folder, _, files in os.walk(self.path):
            for name in files:
                path = os.path.join(folder, name)
                with open(path) as f:
                    found[os.path.relpath(path, self.path)] = f.read()
        return found

    def test_replaces_the_whole_folder(self):
        self._build({"a/x.txt": "1", "b/y.txt": "2", "events.1": "e"})
        self._build({"a/x.txt": "3", "events.2": "e"})
        self.assertEqual(self._tree(), {"a/x.txt": "3", "events.2": "e"})
        self.assertEqual(os.listdir(self.parent), ["analysis"])
        self.assertEqual(oct(os.stat(self.path).st_mode & 0o777), "0o755")

    def test_replaces_without_the_one_step_exchange(self):
        self._build({"old.txt": "1"})
        with mock.patch.object(atomic, "_exchange", return_value=False) as exchange:
            self._build({"new.txt": "2"})
        exchange.assert_called_once()
        self.assertEqual(self._tree(), {"new.txt": "2"})
        self.assertEqual(os.listdir(self.parent), ["analysis"])

    def test_exchanges_in_one_step_on_linux(self):
        if not sys.platform.startswith("linux"):
            self.skipTest("renameat2 is Linux only")
        # Two full folders swap places: the target is never missing.
        self._build({"old.txt": "1"})
        new = os.path.join(self.parent, "new")
        os.makedirs(new)
        with open(os.path.join(new, "new.txt"), "w") as f:
            f.write("2")
        self.assertTrue(atomic._exchange(new, self.path))
        self.assertEqual(self._tree(), {"new.txt": "2"})
        self.assertEqual(os.listdir(new), ["old.txt"])
        # And the folder replacement takes that way, not a rename aside.
        with mock.patch.object(atomic, "_exchange", wraps=atomic._exchange) as exchange:
            self._build({"third.txt": "3"})
        exchange.assert_called_once()
        self.assertEqual(self._tree(), {"third.txt": "3"})

    def test_failure_keeps_the_old_folder(self):
        self._build({"keep.txt": "1"})
        with self.assertRaises(ZeroDivisionError), atomic.atomic_directory(self.path) as build:
            with open(os.path.join(build, "half.txt"), "w") as f:
                f.write("half")
            raise ZeroDivisionError
        self.assertEqual(self._tree(), {"keep.txt": "1"})
        self.assertEqual(os.listdir(self.parent), ["analysis"])

    def test_killed_build_is_removed_by_the_next_one(self):
        stale = os.path.join(self.parent, f".analysis.{atomic._TAG}-{_dead_pid()}.abcdefgh.tmp")
        live = os.path.join(self.parent, f".analysis.{atomic._TAG}-{os.getpid()}.abcdefgh.tmp")
        for folder in (stale, live):
            os.makedirs(os.path.join(folder, "inside"))
        self._build({"x.txt": "1"})
        self.assertFalse(os.path.exists(stale))
        self.assertTrue(os.path.isdir(live))  # A build of a live process (here: this one).

    def test_a_file_is_not_replaced(self):
        with open(self.path, "w") as f:
            f.write("not a folder")
        with self.assertRaises(NotADirectoryError):
            self._build({"x.txt": "1"})
        with open(self.path) as f:
            self.assertEqual(f.read(), "not a folder")
        self.assertEqual(os.listdir(self.parent), ["analysis"])


if __name__ == "__main__":
    absltest.main()
