"""Tests for tfelg.outputs.projector, including reading it back from a real TensorBoard.

The server test starts ``tensorboard`` on 127.0.0.1 with an OS-chosen port
and reads the projector plugin's routes (see
``tensorboard/plugins/projector/projector_plugin.py``: ``/runs``, ``/info``,
``/metadata``, ``/tensor``, ``/sprite_image`` under
``/data/plugin/projector``), exactly as the browser front end does.
"""

import io
import json
import os
import time

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from PIL import Image

from tfelg.outputs import projector, sprites
from tfelg.testing.tensorboard_server import SERVER_TIMEOUT_S, TensorBoardServer


def _sample(n=40, d=5, seed=0):
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(n, d)).astype(np.float32)
    metadata = {
        "id": [f"spec-{i:04d}" for i in range(n)],
        "whan": rng.choice(["star_forming", "retired", "strong_agn"], size=n).tolist(),
        "cluster": rng.integers(0, 3, size=n),
        "redshift": rng.uniform(0.01, 0.3, size=n),
    }
    thumbs = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    return embeddings, metadata, thumbs


class WriteProjectorTest(tf.test.TestCase):
    def test_files_and_config(self):
        logdir = self.get_temp_dir() + "/files"
        embeddings, metadata, thumbs = _sample()
        info = projector.write_projector(logdir, embeddings, metadata, sprite_images=thumbs)
        self.assertEqual(info["tensor_name"], "embedding/.ATTRIBUTES/VARIABLE_VALUE")
        self.assertFalse(info["subsampled"])
        self.assertIsNone(info["rows_path"])
        self.assertEqual((info["n_total"], info["n_points"]), (40, 40))
        self.assertEqual(info["thumb_size"], (8, 8))
        reader = tf.train.load_checkpoint(logdir)
        np.testing.assert_array_equal(reader.get_tensor(info["tensor_name"]), embeddings)
        with open(info["config_path"]) as f:
            config = f.read()
        self.assertIn('metadata_path: "metadata.tsv"', config)
        self.assertIn('image_path: "sprite.png"', config)
        self.assertNotIn(logdir, config)  # Relative paths only.
        with open(info["metadata_path"]) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "id\twhan\tcluster\tredshift")
        self.assertLen(lines, 41)
        self.assertTrue(lines[1].startswith("spec-0000\t"))
        sprite = np.asarray(Image.open(info["sprite_path"]))
        self.assertEqual(sprite.shape, (7 * 8, 7 * 8, 3))  # ceil(sqrt(40)) = 7 per side.
        np.testing.assert_array_equal(sprite[:8, 8:16], thumbs[1])
        np.testing.assert_array_equal(sprite[8:16, :8], thumbs[7])

    def test_narrow_embeddings_are_padded_with_named_zero_columns(self):
        # TensorBoard 2.21's projector draws nothing for a 2-D tensor (its
        # PCA asks for a third component): 1-D and 2-D embeddings get zero
        # columns up to three, named in projector_columns.txt.
        embeddings, metadata, _ = _sample(n=12, d=2)
        logdir = self.get_temp_dir() + "/narrow"
        with self.assertLogs(logger="absl", level="INFO") as logs:
            info = projector.write_projector(
                logdir, embeddings, metadata, column_names=["log_nii_ha", "log_oiii_hb"]
            )
        self.assertIn("padded with 1 column(s) of zeros", "\n".join(logs.output))
        tensor = tf.train.load_checkpoint(logdir).get_tensor(info["tensor_name"])
        self.assertEqual(tensor.shape, (12, 3))
        np.testing.assert_array_equal(tensor[:, :2], embeddings)
        np.testing.assert_array_equal(tensor[:, 2], np.zeros(12, np.float32))
        self.assertEqual(info["columns"], ["log_nii_ha", "log_oiii_hb", "zero_padding"])
        self.assertEqual(info["n_padding_columns"], 1)
        with open(info["columns_path"]) as f:
            rows = [line.split("\t") for line in f.read().splitlines() if not line.startswith("#")]
        self.assertEqual(
            [r[:2] for r in rows],
            [["1", "log_nii_ha"], ["2", "log_oiii_hb"], ["3", "zero_padding"]],
        )
        self.assertIn("padding: always 0", rows[2][2])

        info = projector.write_projector(logdir + "1", embeddings[:, :1])
        tensor = tf.train.load_checkpoint(logdir + "1").get_tensor(info["tensor_name"])
        self.assertEqual(tensor.shape, (12, 3))
        np.testing.assert_array_equal(tensor[:, 1:], np.zeros((12, 2), np.float32))
        self.assertEqual(info["columns"], ["z1", "zero_padding", "zero_padding"])

        # Three or more columns are written as they are.
        wide, _, _ = _sample(n=12, d=3)
        info = projector.write_projector(logdir + "3", wide)
        self.assertEqual(info["n_padding_columns"], 0)
        self.assertEqual(info["columns"], ["z1", "z2", "z3"])
        tensor = tf.train.load_checkpoint(logdir + "3").get_tensor(info["tensor_name"])
        np.testing.assert_array_equal(tensor, wide)
        with self.assertRaisesRegex(ValueError, "column_names has 1 names for 3 columns"):
            projector.write_projector(logdir + "3", wide, column_names=["a"])

    def test_single_column_has_no_header_and_labels_are_cleaned(self):
        logdir = self.get_temp_dir() + "/single"
        embeddings, _, _ = _sample(n=3)
        info = projector.write_projector(
            logdir, embeddings, {"label": ["a\tb", "line\nbreak", "plain"]}
        )
        with open(info["metadata_path"]) as f:
            self.assertEqual(f.read(), "a b\nline break\nplain\n")
        self.assertIsNone(info["sprite_path"])

    def test_subsample_is_seeded_and_traceable(self):
        embeddings, metadata, thumbs = _sample(n=50)
        infos = []
        for name in ("a", "b"):
            logdir = os.path.join(self.get_temp_dir(), "sub", name)
            with self.assertLogs(logger="absl", level="WARNING") as logs:
                infos.append(
                    projector.write_projector(
                        logdir, embeddings, metadata, sprite_images=thumbs, max_points=20, seed=4
                    )
                )
            self.assertIn("subsample", "\n".join(logs.output))
        info = infos[0]
        self.assertTrue(info["subsampled"])
        self.assertEqual((info["n_total"], info["n_points"]), (50, 20))
        rows = np.loadtxt(info["rows_path"], dtype=np.int64)
        np.testing.assert_array_equal(rows, np.loadtxt(infos[1]["rows_path"], dtype=np.int64))
        self.assertLen(np.unique(rows), 20)
        self.assertTrue(np.all(np.diff(rows) > 0))
        reader = tf.train.load_checkpoint(info["logdir"])
        np.testing.assert_array_equal(reader.get_tensor(info["tensor_name"]), embeddings[rows])
        with open(info["metadata_path"]) as f:
            ids = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
        self.assertEqual(ids, [f"spec-{r:04d}" for r in rows])
        sprite = np.asarray(Image.open(info["sprite_path"]))
        np.testing.assert_array_equal(sprite[:8, :8], thumbs[rows[0]])

    def test_thumbnails_of_the_subsample_only_give_the_same_sprite(self):
        # What the projector component does with a million galaxies: it renders
        # only the thumbnails of subsample_rows(N, max_points, seed).
        embeddings, metadata, thumbs = _sample(n=50)
        rows = projector.subsample_rows(50, 20, 4)
        sprites = []
        for name, images in (("all", thumbs), ("subsample", thumbs[rows])):
            logdir = os.path.join(self.get_temp_dir(), "presub", name)
            info = projector.write_projector(
                logdir, embeddings, metadata, sprite_images=images, max_points=20, seed=4
            )
            sprites.append(np.asarray(Image.open(info["sprite_path"])))
        np.testing.assert_array_equal(sprites[0], sprites[1])
        logdir = os.path.join(self.get_temp_dir(), "presub", "bad")
        with self.assertRaisesRegex(ValueError, "19 thumbnails for 50 embeddings.*the 20"):
            projector.write_projector(
                logdir, embeddings, metadata, sprite_images=thumbs[:19], max_points=20, seed=4
            )
        with self.assertRaisesRegex(ValueError, "20 thumbnails for 50 embeddings"):
            projector.write_projector(  # all 50 shown: all 50 thumbnails needed
                logdir, embeddings, metadata, sprite_images=thumbs[:20], max_points=50, seed=4
            )

    def test_rewrite_replaces_checkpoint_and_stale_assets(self):
        logdir = self.get_temp_dir() + "/rewrite"
        embeddings, metadata, thumbs = _sample(n=30)
        projector.write_projector(logdir, embeddings, metadata, sprite_images=thumbs, max_points=10)
        info = projector.write_projector(logdir, embeddings * 2)
        for name in ("metadata.tsv", "sprite.png", "projector_rows.txt"):
            self.assertFalse(os.path.exists(os.path.join(logdir, name)), name)
        reader = tf.train.load_checkpoint(logdir)
        np.testing.assert_array_equal(reader.get_tensor(info["tensor_name"]), embeddings * 2)
        self.assertLen([f for f in os.listdir(logdir) if f.endswith(".index")], 1)

    def test_bad_input(self):
        logdir = self.get_temp_dir() + "/bad"
        embeddings, metadata, thumbs = _sample(n=10)
        with self.assertRaisesRegex(ValueError, "'whan' has 9 values"):
            projector.write_projector(logdir, embeddings, {**metadata, "whan": ["x"] * 9})
        with self.assertRaisesRegex(ValueError, "9 thumbnails"):
            projector.write_projector(logdir, embeddings, sprite_images=thumbs[:9])
        bad = embeddings.copy()
        bad[2, 1] = np.nan
        with self.assertRaisesRegex(ValueError, "finite"):
            projector.write_projector(logdir, bad)
        with self.assertRaisesRegex(ValueError, r"\(N, d\)"):
            projector.write_projector(logdir, embeddings[:, 0])
        with self.assertRaisesRegex(ValueError, "identifier"):
            projector.write_projector(logdir, embeddings, tensor_name="a/b")

    def test_large_sprite_shrinks_thumbnails(self):
        # 300 thumbnails of 32 px: an 18-wide grid would be 576 px; allow 256.
        images = np.full((300, 32, 32, 3), 200, dtype=np.uint8)
        with self.assertLogs(logger="absl", level="WARNING"):
            sprite, size = sprites.make_sprite(images, max_size=256)
        self.assertEqual(size, (14, 14))
        self.assertLessEqual(max(sprite.shape[:2]), 256)
        self.assertEqual(sprite[0, 0].tolist(), [200, 200, 200])


class TensorBoardServerTest(tf.test.TestCase):
    """Starts a real TensorBoard and reads the projector's data over HTTP."""

    def setUp(self):
        super().setUp()
        self.logdir = os.path.join(self.get_temp_dir(), "tb")
        rng = np.random.default_rng(1)
        self.embeddings = rng.normal(size=(25, 4)).astype(np.float32)
        self.metadata = {
            "id": [f"g{i}" for i in range(25)],
            "whan": ["retired\tpassive" if i == 3 else "star_forming" for i in range(25)],
        }
        spectra = rng.normal(1.0, 0.1, size=(25, 200))
        self.thumbs = sprites.render_spectra(spectra, loglam=np.linspace(3.6, 3.8, 200), size=16)
        self.info = projector.write_projector(
            self.logdir, self.embeddings, self.metadata, sprite_images=self.thumbs
        )
        self.server = TensorBoardServer(self.logdir)
        self.addCleanup(self.server.stop)

    def test_projector_routes(self):
        deadline = time.monotonic() + SERVER_TIMEOUT_S
        self.server.wait_until_serving(deadline)
        base = "data/plugin/projector/"
        runs = json.loads(self.server.get(base + "runs"))
        self.assertEqual(runs, ["."])

        config = json.loads(self.server.get(base + "info", run="."))
        (embedding,) = [
            e for e in config["embeddings"] if e["tensorName"] == self.info["tensor_name"]
        ]
        self.assertEqual([int(v) for v in embedding["tensorShape"]], [25, 4])
        self.assertEqual(embedding["metadataPath"], "metadata.tsv")
        self.assertEqual(embedding["sprite"]["imagePath"], "sprite.png")
        self.assertEqual(embedding["sprite"]["singleImageDim"], [16, 16])

        name = self.info["tensor_name"]
        text = self.server.get(base + "metadata", run=".", name=name).decode()
        lines = text.splitlines()
        self.assertEqual(lines[0], "id\twhan")
        self.assertEqual(lines[4], "g3\tretired passive")
        self.assertLen(lines, 26)

        raw = self.server.get(base + "tensor", run=".", name=name)
        tensor = np.frombuffer(raw, dtype=np.float32).reshape(25, 4)
        np.testing.assert_array_equal(tensor, self.embeddings)

        png = self.server.get(base + "sprite_image", run=".", name=name)
        sprite = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        self.assertEqual(sprite.shape, (5 * 16, 5 * 16, 3))
        np.testing.assert_array_equal(sprite[16:32, 32:48], self.thumbs[7])


if __name__ == "__main__":
    absltest.main()
