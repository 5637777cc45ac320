"""runner.execute: cache keys, reuse of complete outputs only, atomic outputs, records."""

import glob
import hashlib
import json
import os

from absl.testing import absltest

from tfelg.errors import InputError
from tfelg_components import runner
from tfelg_components.base import Context, Dataset, Files, Input, Output, Report, component

CALLS = []  # names of the components whose functions ran
BROKEN = {"count": False}  # makes `count` fail


@component(version="1")
def write(data: Output[Dataset], text: str = "hello", parts: int = 2):
    CALLS.append("write")
    os.makedirs(data.path("sub"))
    for i in range(parts):
        with open(data.path("sub", f"part{i}.txt"), "w") as f:
            f.write(f"{text} {i}\n")
    data.properties["parts"] = parts


@component(version="1")
def count(data: Input[Dataset], report: Output[Report], extra: Input[Files] = None):
    CALLS.append("count")
    if BROKEN["count"]:
        raise ValueError("cannot count today")
    n = len(os.listdir(data.path("sub")))
    if extra is not None:
        n += len(os.listdir(extra.uri))
    with open(report.path("count.json"), "w") as f:
        json.dump({"files": n}, f)


@component(version="1")
def resumable(report: Output[Report], context: Context):
    """Fails on its first attempt after saving progress in the work folder."""
    CALLS.append("resumable")
    progress = os.path.join(context.work_dir, "progress.txt")
    if not os.path.exists(progress):
        with open(progress, "w") as f:
            f.write("half")
        raise RuntimeError("killed half-way")
    with open(report.path("done.txt"), "w") as f:
        f.write(open(progress).read() + " then done")


def _tmp_dirs(root):
    return glob.glob(os.path.join(root, "**", runner.TMP_PREFIX + "*"), recursive=True)


class FingerprintTest(absltest.TestCase):
    def test_content_and_names_count_not_creation_order(self):
        a, b = self.create_tempdir().full_path, self.create_tempdir().full_path
        for folder, names in ((a, ["x", "y/z"]), (b, ["y/z", "x"])):
            for name in names:
                os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
                with open(os.path.join(folder, name), "w") as f:
                    f.write(name)
        self.assertEqual(runner.fingerprint(a), runner.fingerprint(b))
        self.assertTrue(runner.fingerprint(a).startswith("sha256:"))
        with open(os.path.join(b, "x"), "a") as f:
            f.write("!")
        self.assertNotEqual(runner.fingerprint(a), runner.fingerprint(b))
        os.rename(os.path.join(a, "x"), os.path.join(a, "w"))
        self.assertNotEqual(
            runner.fingerprint(a), runner.fingerprint(self.create_tempdir().full_path)
        )
        self.assertNotEqual(runner.fingerprint(os.path.join(a, "w")), runner.fingerprint(a))

    def test_same_bytes_under_another_name_is_another_fingerprint(self):
        # A fingerprint of the bytes alone would let a step reuse the output
        # made from a folder whose files were renamed (a component may read a
        # file by its name).
        a, b = self.create_tempdir(), self.create_tempdir()
        a.create_file("sub/one.txt", "same bytes")
        b.create_file("sub/two.txt", "same bytes")
        self.assertNotEqual(runner.fingerprint(a.full_path), runner.fingerprint(b.full_path))
        c = self.create_tempdir()
        c.create_file("one/sub.txt", "same bytes")  # same names, other folder layout
        self.assertNotEqual(runner.fingerprint(a.full_path), runner.fingerprint(c.full_path))
        # A single file (an external input) too, and never as a folder holding it.
        one, two = a.full_path + "/sub/one.txt", b.full_path + "/sub/two.txt"
        self.assertNotEqual(runner.fingerprint(one), runner.fingerprint(two))
        self.assertNotEqual(runner.fingerprint(one), runner.fingerprint(os.path.dirname(one)))
        again = self.create_tempdir().create_file("one.txt", "same bytes").full_path
        self.assertEqual(runner.fingerprint(one), runner.fingerprint(again))

    def test_the_stream_hashed_is_the_documented_one(self):
        # External inputs are fingerprinted on every run and the fingerprints
        # enter the cache keys: the stream (path, NUL, 8-byte little-endian
        # size, bytes; sorted paths) must not change under existing run roots.
        folder = self.create_tempdir()
        files = {"b.txt": b"bb", "a/c.bin": bytes(range(256)) * 3, "a/empty": b""}
        for name, content in files.items():
            folder.create_file(name, content, mode="wb")
        expected = hashlib.sha256()
        for name in sorted(files):
            content = files[name]
            expected.update(name.encode() + b"\0" + len(content).to_bytes(8, "little") + content)
        self.assertEqual(runner.fingerprint(folder.full_path), "sha256:" + expected.hexdigest())
        single = hashlib.sha256(b"\0" + b"c.bin\0" + (768).to_bytes(8, "little") + files["a/c.bin"])
        self.assertEqual(
            runner.fingerprint(os.path.join(folder.full_path, "a", "c.bin")),
            "sha256:" + single.hexdigest(),
        )


class ExecuteTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        CALLS.clear()
        BROKEN["count"] = False
        self.root = self.create_tempdir().full_path

    def test_runs_then_reuses(self):
        first = runner.execute(write, self.root, params={"text": "hi"})
        self.assertFalse(first.cached)
        self.assertEqual(first.status, "complete")
        uri = first.outputs["data"].uri
        self.assertEqual(uri, os.path.join(self.root, "write", "data", first.id))
        self.assertEqual(first.id, first.cache_key[:16])
        self.assertEqual(first.outputs["data"].fingerprint, runner.fingerprint(uri))
        self.assertEqual(first.outputs["data"].properties, {"parts": 2})
        record = json.load(open(runner.record_path(self.root, "write", first.id)))
        self.assertEqual(record["status"], "complete")
        self.assertEqual(record["parameters"], {"text": "hi", "parts": 2})
        self.assertEqual(record["outputs"]["data"]["uri"], os.path.join("write", "data", first.id))
        for key in ("started", "ended", "seconds", "code_version", "inputs"):
            self.assertIn(key, record)
        self.assertEqual(_tmp_dirs(self.root), [])

        again = runner.execute(write, self.root, params={"text": "hi"})
        self.assertTrue(again.cached)
        self.assertEqual(again.outputs["data"].uri, uri)
        self.assertEqual(again.outputs["data"].fingerprint, first.outputs["data"].fingerprint)
        self.assertEqual(CALLS, ["write"])

    def test_key_follows_parameters_inputs_and_code(self):
        a = runner.execute(write, self.root, params={"text": "a"})
        b = runner.execute(write, self.root, params={"text": "b"})
        self.assertNotEqual(a.id, b.id)
        count_a = runner.execute(count, self.root, {"data": a.outputs["data"]})
        count_b = runner.execute(count, self.root, {"data": b.outputs["data"]})
        self.assertNotEqual(count_a.id, count_b.id)  # same file names, other contents
        self.assertEqual(CALLS, ["write", "write", "count", "count"])
        write_v2 = component(version="2")(write.fn)
        self.assertNotEqual(runner.execute(write_v2, self.root, params={"text": "a"}).id, a.id)
        self.assertEqual(
            runner.execute(write, self.root, params={"text": "a"}, node="other").id, a.id
        )

    def test_external_input_is_fingerprinted(self):
        data = runner.execute(write, self.root).outputs["data"]
        extra = self.create_tempdir()
        extra.create_file("one.txt", "1")
        first = runner.execute(count, self.root, {"data": data, "extra": Files(extra.full_path)})
        self.assertEqual(first.inputs["extra"].fingerprint, runner.fingerprint(extra.full_path))
        extra.create_file("two.txt", "2")
        second = runner.execute(count, self.root, {"data": data, "extra": Files(extra.full_path)})
        self.assertFalse(second.cached)
        with self.assertRaisesRegex(InputError, "does not exist"):
            runner.execute(count, self.root, {"data": data, "extra": Files("/no/such/folder")})

    def test_failure_is_recorded_and_named_then_resumes(self):
        data = runner.execute(write, self.root)
        BROKEN["count"] = True
        with self.assertRaisesRegex(
            runner.ComponentError, "'count' failed: ValueError: cannot count"
        ) as cm:
            runner.execute(count, self.root, {"data": data.outputs["data"]})
        record = json.load(open(cm.exception.record))
        self.assertEqual(record["status"], "failed")
        self.assertIn("cannot count today", record["error"])
        self.assertIn("Traceback", record["error"])
        self.assertEqual(os.listdir(os.path.join(self.root, "count", "report")), [])
        self.assertTrue(os.path.isdir(data.outputs["data"].uri))  # earlier outputs kept

        BROKEN["count"] = False
        fixed = runner.execute(count, self.root, {"data": data.outputs["data"]})
        self.assertFalse(fixed.cached)
        self.assertEqual(fixed.id, record["id"])
        self.assertEqual(fixed.status, "complete")

    def test_leftovers_of_a_killed_attempt_are_never_reused(self):
        clean = runner.execute(write, self.create_tempdir().full_path)
        key = clean.id
        out_dir = os.path.join(self.root, "write", "data")
        # A half-written temporary folder, a renamed folder whose record never
        # became complete, and a stale temporary folder of another execution.
        for name in (runner.TMP_PREFIX + key, key, runner.TMP_PREFIX + "0123456789abcdef"):
            os.makedirs(os.path.join(out_dir, name, "sub"))
            with open(os.path.join(out_dir, name, "sub", "part0.txt"), "w") as f:
                f.write("hal")
        runner.write_json(
            runner.record_path(self.root, "write", key),
            {"status": "running", "cache_key": clean.cache_key},
        )
        with self.assertRaisesRegex(InputError, "not a complete output"):
            runner.read_artifact(os.path.join(out_dir, key))

        execution = runner.execute(write, self.root)
        self.assertFalse(execution.cached)
        self.assertEqual(execution.id, key)
        self.assertEqual(os.listdir(out_dir), [key])
        self.assertEqual(execution.outputs["data"].fingerprint, clean.outputs["data"].fingerprint)
        self.assertEqual(
            sorted(os.listdir(execution.outputs["data"].path("sub"))), ["part0.txt", "part1.txt"]
        )

    def test_a_damaged_record_is_run_again_with_a_warning_not_forever_an_error(self):
        first = runner.execute(write, self.root)
        path = runner.record_path(self.root, "write", first.id)
        good = open(path, encoding="utf-8").read()
        no_keys = "damaged execution record (ValueError: no status or cache key)"
        # Each damage with the reason the warning gives: the underlying error
        # (not the InputError wrapping a JSON error).
        damages = [
            (good[: len(good) // 2], "damaged execution record (JSONDecodeError: "),  # cut short
            ("\x00\x00\x00", "damaged execution record (JSONDecodeError: "),
            ("[1, 2]", "damaged execution record (InputError: "),
            ("{}", no_keys),
            (json.dumps({"status": "complete", "cache_key": 5}), no_keys),
            (json.dumps({"status": 3, "cache_key": first.cache_key}), no_keys),
            (
                json.dumps({"status": "complete", "cache_key": first.cache_key}),
                "damaged execution record (KeyError: 'inputs')",
            ),
            (  # an output that is not an artifact's record
                json.dumps(dict(json.loads(good), outputs={"data": 3})),
                "damaged execution record (TypeError: ",
            ),
        ]
        for damage, reason in damages:
            with self.subTest(damage[:30]):
                CALLS.clear()
                with open(path, "w", encoding="utf-8") as f:
                    f.write(damage)
                with self.assertLogs(level="WARNING") as logs:
                    again = runner.execute(write, self.root)
                self.assertIn(reason, "\n".join(logs.output))
                self.assertIn(path, "\n".join(logs.output))
                self.assertEqual(CALLS, ["write"])
                self.assertFalse(again.cached)
                self.assertEqual(again.id, first.id)
                self.assertEqual(runner.read_json(path)["status"], "complete")
                self.assertEqual(os.listdir(os.path.dirname(again.outputs["data"].uri)), [first.id])
                self.assertTrue(runner.execute(write, self.root).cached)  # and then reused

    def test_node_folder_that_is_a_file(self):
        with open(os.path.join(self.root, "write"), "w") as f:
            f.write("not a folder")
        with self.assertRaisesRegex(InputError, "cannot make the folder of node 'write'"):
            runner.execute(write, self.root)

    def test_missing_output_folder_is_made_again(self):
        first = runner.execute(write, self.root)
        os.rename(first.outputs["data"].uri, first.outputs["data"].uri + "-moved")
        again = runner.execute(write, self.root)
        self.assertFalse(again.cached)
        self.assertTrue(os.path.isdir(first.outputs["data"].uri))

    def test_work_dir_survives_a_failure_and_goes_after_success(self):
        with self.assertRaisesRegex(runner.ComponentError, "'resumable' failed: RuntimeError"):
            runner.execute(resumable, self.root)
        done = runner.execute(resumable, self.root)
        with open(done.outputs["report"].path("done.txt")) as f:
            self.assertEqual(f.read(), "half then done")
        self.assertFalse(
            os.path.exists(os.path.join(self.root, "resumable", runner.WORK_DIR, done.id))
        )


class ReadArtifactTest(absltest.TestCase):
    def test_outputs_and_external_files(self):
        root = self.create_tempdir().full_path
        execution = runner.execute(write, root, params={"text": "x"})
        data = execution.outputs["data"]
        read = runner.read_artifact(data.uri, Dataset)
        self.assertIsInstance(read, Dataset)
        self.assertEqual((read.fingerprint, read.properties), (data.fingerprint, {"parts": 2}))
        with self.assertRaisesRegex(InputError, "is a Dataset, not a Report"):
            runner.read_artifact(data.uri, Report)
        with self.assertRaisesRegex(InputError, "half-written"):
            runner.read_artifact(
                os.path.join(root, "write", "data", runner.TMP_PREFIX + execution.id)
            )
        with self.assertRaisesRegex(InputError, "no such artifact"):
            runner.read_artifact(os.path.join(root, "nothing"))
        with open(runner.record_path(root, "write", execution.id), "w") as f:
            f.write('{"status": "compl')
        with self.assertRaisesRegex(InputError, "execution record is damaged.*run its step again"):
            runner.read_artifact(data.uri, Dataset)
        external = self.create_tempdir()
        external.create_file("a.fits", "x")
        read = runner.read_artifact(external.full_path, Files)
        self.assertIsInstance(read, Files)
        self.assertEqual(read.fingerprint, runner.fingerprint(external.full_path))

    def test_an_output_counts_only_with_a_complete_record_listing_it(self):
        root = self.create_tempdir().full_path
        execution = runner.execute(write, root)
        uri = execution.outputs["data"].uri
        path = runner.record_path(root, "write", execution.id)
        record = runner.read_json(path)
        listed = record["outputs"]
        for status, outputs in (("running", listed), ("failed", listed), ("complete", {})):
            with self.subTest(status=status, outputs=bool(outputs)):
                runner.write_json(path, dict(record, status=status, outputs=outputs))
                with self.assertRaisesRegex(
                    InputError, rf"not a complete output \(status {status}\)"
                ):
                    runner.read_artifact(uri, Dataset)

    def test_a_damaged_output_entry_is_named_not_a_raw_error(self):
        root = self.create_tempdir().full_path
        execution = runner.execute(write, root)
        uri = execution.outputs["data"].uri
        path = runner.record_path(root, "write", execution.id)
        record = runner.read_json(path)
        good = record["outputs"]["data"]
        damaged = {
            "KeyError": {k: v for k, v in good.items() if k != "type"},
            "TypeError": ["not", "a", "mapping"],
            "ValueError": dict(good, type="Telescope"),
        }
        for error, entry in damaged.items():
            with self.subTest(error):
                runner.write_json(path, dict(record, outputs={"data": entry}))
                with self.assertRaisesRegex(
                    InputError, rf"execution record is damaged \({error}\(.*run its step again"
                ):
                    runner.read_artifact(uri, Dataset)


if __name__ == "__main__":
    absltest.main()
