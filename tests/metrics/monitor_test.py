"""The per-epoch sample-quality monitor (tfelg/metrics/monitor.py) and its trainer hook.

Unit tests on blobs of known colour and on a stand-in model whose "generator"
returns chosen real images; then tiny GAN runs under the loop (64x64 toy
stamps, base_filters 4, a few steps) whose TensorBoard event files are read
back, and a tiny SimCLR run (no ``generate``) that must stay unaffected.
"""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
from absl.testing import absltest

from tfelg.metrics import monitor
from tfelg.testing.toy_images import toy_stamps
from tfelg.training import loop
from tfelg.training.config import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    RuntimeConfig,
    TrainerConfig,
)

TRUE_TYPES = ["red", "blue"]


def blob(ratios, centre=(31.5, 31.5), sigma=3.0, amplitude=100.0, noise=0.1, seed=0):
    """One (64, 64, 3) Gaussian blob whose bands are ``ratios`` times the same profile."""
    yy, xx = np.mgrid[:64, :64]
    profile = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma**2))
    rng = np.random.default_rng(seed)
    return amplitude * profile[..., None] * np.asarray(ratios) + rng.normal(0, noise, (64, 64, 3))


class FastColoursTest(absltest.TestCase):
    def test_known_colours_follow_the_galaxy(self):
        ratios = [0.5, 1.0, 2.0]  # F435W - F850LP = F850LP - F160W = 2.5 log10(2)
        expected = 2.5 * np.log10(2.0)
        images = np.stack(
            [
                blob(ratios),
                blob(ratios, centre=(12.0, 50.0), seed=1),  # far off-centre
                blob([0.0, 1.0, 1.0], seed=2, noise=0.0),  # no F435W light: colour undefined
                np.zeros((64, 64, 3)),  # nothing: measured at the centre, NaN colours
            ]
        )
        colours = monitor.fast_colours(images)
        for colour in ("F435W-F850LP", "F850LP-F160W"):
            np.testing.assert_allclose(colours[colour][:2], expected, atol=0.01)
            self.assertTrue(np.isnan(colours[colour][3]))
        self.assertTrue(np.isnan(colours["F435W-F850LP"][2]))
        self.assertAlmostEqual(colours["F850LP-F160W"][2], 0.0, places=6)

    def test_bad_images_are_named(self):
        images = np.stack([blob([1, 1, 1]), blob([1, 1, 1])])
        images[1, 3, 4, 0] = np.nan
        with self.assertRaisesRegex(ValueError, "generated.*image 1"):
            monitor.fast_colours(images, "generated")
        with self.assertRaisesRegex(ValueError, "expected images of shape"):
            monitor.fast_colours(images[..., :2])


class StandInModel:
    """A 'generator' that returns chosen images for each class (identity scale)."""

    def __init__(self, pools):
        self.pools = pools
        self.num_classes = len(pools)

    def generate(self, labels, seed=0):
        rng = np.random.default_rng(seed)
        return np.stack([self.pools[k][rng.integers(len(self.pools[k]))] for k in labels])


class QualityMonitorTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        images, kind = toy_stamps(400, seed=5)
        cls.train = {"image": images[:200], "label": kind[:200]}
        cls.validation = {"image": images[200:300], "label": kind[200:300]}
        cls.held_out = images[300:], kind[300:]

    def make(self, **kwargs):
        return monitor.QualityMonitor.from_splits(
            self.validation, self.train, TRUE_TYPES, lambda x: x, per_class=20, **kwargs
        )

    def test_right_classes_score_better_than_swapped_classes(self):
        quality = self.make(seed=3)
        self.assertEqual(quality.describe()["per_class"], {"red": 20, "blue": 20})
        images, kind = self.held_out
        good = quality.evaluate(StandInModel([images[kind == 0], images[kind == 1]]))
        swapped = quality.evaluate(StandInModel([images[kind == 1], images[kind == 0]]))
        tags = {
            f"quality/pixel_pca/{scope}{m}"
            for scope in ("", "red/", "blue/")
            for m in monitor.FEATURE_METRICS
        } | {
            f"quality/colour/{scope}{c}"
            for scope in ("", "red/", "blue/")
            for c in ("F435W-F850LP", "F850LP-F160W")
        }
        self.assertEqual(set(good), tags)
        for scope in ("red/", "blue/"):
            # 20 vs 20 images of one distribution against the other class's images.
            for colour in ("F435W-F850LP", "F850LP-F160W"):
                tag = f"quality/colour/{scope}{colour}"
                self.assertLess(good[tag], 2.0)
                self.assertGreater(swapped[tag], 3.0 * good[tag])
            fidelity = [f"quality/pixel_pca/{scope}{m}" for m in ("precision", "recall")]
            self.assertGreaterEqual(min(good[t] for t in fidelity), 0.8)
            self.assertLessEqual(min(swapped[t] for t in fidelity), 0.1)
            self.assertLess(
                5 * good[f"quality/pixel_pca/{scope}kid"] + 0.05,
                swapped[f"quality/pixel_pca/{scope}kid"],
            )
        # The mixture over both classes is the same for both stand-ins: only per class differs.
        self.assertLess(good["quality/pixel_pca/fid"], 0.5 * swapped["quality/pixel_pca/red/fid"])
        # Fixed noise: the same generator gives the same values.
        again = quality.evaluate(StandInModel([images[kind == 0], images[kind == 1]]))
        self.assertEqual(good, again)

    def test_morphology_and_small_resnet_on_request(self):
        quality = self.make(seed=0, features=["small_resnet"], morphology_per_class=5)
        images, kind = self.held_out
        values = quality.evaluate(StandInModel([images[kind == 0], images[kind == 1]]))
        self.assertNotIn("quality/pixel_pca/fid", values)
        # 256 ResNet features from 40 images: no FID, but KID and precision/recall.
        self.assertTrue(np.isnan(values["quality/small_resnet/fid"]))
        self.assertTrue(np.isfinite(values["quality/small_resnet/kid"]))
        self.assertTrue(np.isfinite(values["quality/small_resnet/precision"]))
        for name in TRUE_TYPES:
            self.assertIn(f"quality/morphology/{name}/gini", values)
        self.assertEqual(quality.describe()["morphology_per_class"], 5)

    def test_bad_settings(self):
        with self.assertRaisesRegex(ValueError, "unknown quality feature extractor.*inception"):
            self.make(features=["inception"])
        empty = {"image": self.validation["image"][:0], "label": self.validation["label"][:0]}
        with self.assertRaisesRegex(ValueError, "validation split has no images"):
            monitor.QualityMonitor.from_splits(
                empty, self.train, TRUE_TYPES, lambda x: x, per_class=4
            )


def toy_splits():
    images, kind = toy_stamps(48, seed=0)
    parts = {"train": slice(0, 24), "validation": slice(24, 40), "test": slice(40, 48)}
    return {
        s: {"image": images[r], "true_type": kind[r].astype(np.int64)} for s, r in parts.items()
    }


def run(model, workdir, epochs=3, **runtime):
    options = {"base_filters": 4, "sample_every": 1, "samples_per_class": 2}
    if model == "simclr":
        options = {"widths": [8, 16], "blocks_per_stage": 1, "projection_units": 32}
    config = ExperimentConfig(
        data=DataConfig(dataset="hst_galaxies/synthetic", input="image"),
        model=ModelConfig(name=model, latent_dim=8, options=options),
        trainer=TrainerConfig(epochs=epochs, batch_size=8, learning_rate=2e-4, seed=3),
        runtime=RuntimeConfig(progress_bar=False, **runtime),
    )
    trainer = loop.Trainer(
        config,
        workdir,
        splits=toy_splits(),
        class_names={"true_type": TRUE_TYPES},
        log=lambda _: None,
    )
    metrics = trainer.run()
    return trainer, metrics


def event_scalars(workdir, split):
    """{tag: [(step, value)]} of the scalars in ``tensorboard/<split>``."""
    folder = os.path.join(workdir, "tensorboard", split)
    out = {}
    for name in sorted(os.listdir(folder)):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    number = float(tf.make_ndarray(value.tensor))
                    out.setdefault(value.tag, []).append((event.step, number))
    return out


class TrainerHookTest(absltest.TestCase):
    def test_gan_writes_quality_scalars_and_metrics(self):
        workdir = self.create_tempdir().full_path
        trainer, metrics = run("gan", workdir, quality_every=2)
        scalars = event_scalars(workdir, "validation")
        # Every 2 epochs and at the last (3), next to the validation losses.
        self.assertEqual([s for s, _ in scalars["quality/pixel_pca/kid"]], [2, 3])
        self.assertIn("quality/colour/F850LP-F160W", scalars)
        self.assertIn("quality/pixel_pca/red/kid", scalars)
        self.assertIn("discriminator", scalars)
        self.assertNotIn("quality/pixel_pca/kid", event_scalars(workdir, "train"))
        final = metrics["quality"]
        self.assertEqual(final["epoch"], 3)
        validation = toy_splits()["validation"]["true_type"]
        self.assertEqual(
            final["per_class"], dict(zip(TRUE_TYPES, np.bincount(validation), strict=True))
        )
        # NaN (e.g. the FID of < 17 images on 16 PCA components per class) is null
        # in JSON and absent from TensorBoard; every finite value is in both.
        self.assertIsNone(final["values"]["quality/pixel_pca/red/fid"])
        written = {
            tag: steps[-1][1]
            for tag, steps in scalars.items()
            if tag.startswith("quality/") and steps[-1][0] == 3
        }
        self.assertEqual(set(written), {t for t, v in final["values"].items() if v is not None})
        for tag, value in written.items():
            self.assertAlmostEqual(value, final["values"][tag], places=5)
        on_disk = json.load(open(os.path.join(workdir, "metrics.json")))
        self.assertEqual(on_disk["quality"], final)
        history = json.load(open(os.path.join(workdir, "history.json")))
        self.assertEqual(["quality" in h for h in history], [False, True, True])
        self.assertGreater(history[1]["quality_seconds"], 0.0)

        # quality_every=0: nothing measured, and the monitor never changed the training.
        off = self.create_tempdir().full_path
        trainer_off, metrics_off = run("gan", off, quality_every=0)
        self.assertNotIn("quality", metrics_off)
        self.assertFalse(any(t.startswith("quality/") for t in event_scalars(off, "validation")))
        np.testing.assert_array_equal(
            trainer.model.generate([0, 1], seed=1), trainer_off.model.generate([0, 1], seed=1)
        )

    def test_model_without_generate_is_unaffected(self):
        workdir = self.create_tempdir().full_path
        _, metrics = run("simclr", workdir, epochs=1, quality_every=1)
        self.assertNotIn("quality", metrics)
        self.assertFalse(
            any(t.startswith("quality/") for t in event_scalars(workdir, "validation"))
        )

    def test_command_line_flags(self):
        """tfelg-train's quality flags reach RuntimeConfig.

        In a subprocess: importing tfelg.cli.train defines its flags in the global
        FLAGS, which collide with other binaries' flags of the same name
        (``num_galaxies``) imported earlier by other tests in the same worker.
        """
        script = (
            "import json, sys\n"
            "from absl import flags\n"
            "from tfelg.cli import train, training_flags\n"
            "flags.FLAGS(sys.argv)\n"
            "runtime = training_flags.experiment_config(flags.FLAGS, 'gan', None).runtime\n"
            "print(json.dumps({k: getattr(runtime, k) for k in ('quality_every',"
            " 'quality_per_class', 'quality_features', 'quality_morphology')}))\n"
        )
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                "--workdir=unused",
                "--dataset=hst_galaxies/synthetic",
                "--quality_every=3",
                "--quality_per_class=10",
                "--quality_features=pixel_pca,small_resnet",
                "--quality_morphology=6",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        runtime = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(runtime["quality_every"], 3)
        self.assertEqual(runtime["quality_per_class"], 10)
        self.assertEqual(runtime["quality_features"], ["pixel_pca", "small_resnet"])
        self.assertEqual(runtime["quality_morphology"], 6)

    def test_config_checks(self):
        for runtime, message in (
            ({"quality_every": -1}, "runtime.quality_every must be >= 0"),
            ({"quality_per_class": 1}, "runtime.quality_per_class must be >= 2"),
            ({"quality_features": ["inception"]}, "quality_features must be a non-empty list"),
            ({"quality_features": []}, "quality_features must be a non-empty list"),
        ):
            config = ExperimentConfig(runtime=RuntimeConfig(**runtime))
            with self.assertRaisesRegex(ValueError, message):
                config.validate()


if __name__ == "__main__":
    absltest.main()
