r"""Cost of the per-epoch sample-quality monitor (tfelg/metrics/monitor.py) against GAN training.

  python benchmarks/quality_monitor.py
  python benchmarks/quality_monitor.py --per_class=32 --classes=6 --steps=20

What it measures, on toy 64x64x3 stamps (the arithmetic does not depend on
the content) and an untrained GAN of the default size (base_filters 32,
latent_dim 64, ``--classes`` classes):

* **set-up**: building a :class:`tfelg.metrics.monitor.QualityMonitor`
  (extractors fitted on 512 training images, the real validation sample's
  features and colours), paid once per run, at the first evaluation;
* **evaluation**: one :meth:`QualityMonitor.evaluate` (generating
  ``classes x per_class`` images, features, FID/KID/precision/recall over
  all and per class, colours), for the default pixel PCA, with the small
  random ResNet added, and with 8 statmorph morphologies per class;
* **against**: one GAN training step at batch 64 under a plain
  ``tf.function`` (the trainer's step, without the loop), so that the cost
  reads as "one evaluation = N training steps" in the same run.

Wall and CPU (process) seconds are both printed: on a shared machine wall
time is inflated by the load, CPU time is the steadier figure.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags

_PER_CLASS = flags.DEFINE_integer("per_class", 32, "Validation (and generated) images per class.")
_CLASSES = flags.DEFINE_integer("classes", 6, "Classes of the GAN (hst_galaxies' true types: 6).")
_STEPS = flags.DEFINE_integer("steps", 10, "GAN training steps timed (after one warm-up).")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Batch of the timed GAN steps.")


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf
    from absl import logging

    from tfelg.metrics import monitor
    from tfelg.models.gan import GAN
    from tfelg.testing.toy_images import toy_stamps
    from tfelg.training.images import ImagePreprocessor

    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    classes, per_class = _CLASSES.value, _PER_CLASS.value
    names = [f"class{k}" for k in range(classes)]
    images, _ = toy_stamps(512 + classes * per_class, seed=0)
    labels = np.arange(len(images)) % classes
    prep = ImagePreprocessor.fit({"image": images[:512]})
    scaled = prep.scale_images(images)
    train = {"image": scaled[:512], "label": labels[:512]}
    validation = {"image": scaled[512:], "label": labels[512:]}
    gan = GAN(image_shape=(64, 64, 3), class_names=names, seed=0)

    # The alternative: the GAN's own training step, as the trainer runs it (one replica).
    optimizers = gan.make_optimizers(2e-4)
    batch = {
        "image": tf.constant(scaled[: _BATCH.value]),
        "label": tf.constant(labels[: _BATCH.value], tf.int32),
    }
    step = tf.function(lambda b: gan.train_step_on_replica(b, optimizers, _BATCH.value))
    step(batch)  # trace

    def steps():
        for _ in range(_STEPS.value):
            out = step(batch)
        return float(out["generator"])

    _, step_wall, step_cpu = timed(steps)
    step_wall, step_cpu = step_wall / _STEPS.value, step_cpu / _STEPS.value
    print(
        f"GAN training step (batch {_BATCH.value}, base_filters 32): "
        f"{step_wall:.3f} s wall, {step_cpu:.3f} s CPU"
    )
    print()
    header = (
        f"{'monitor':<34} {'set-up wall':>11} {'set-up CPU':>10} {'eval wall':>9} "
        f"{'eval CPU':>8} {'eval / step (CPU)':>17}"
    )
    print(header)
    print("-" * len(header))
    for label, kwargs in (
        ("pixel_pca (default)", {}),
        ("pixel_pca + small_resnet", {"features": ["pixel_pca", "small_resnet"]}),
        ("pixel_pca + morphology 8/class", {"morphology_per_class": 8}),
    ):
        quality, setup_wall, setup_cpu = timed(
            lambda kwargs=kwargs: monitor.QualityMonitor.from_splits(
                validation, train, names, prep.inverse, per_class=per_class, seed=0, **kwargs
            )
        )
        quality.evaluate(gan)  # the first call traces the generator
        values, wall, cpu = timed(lambda quality=quality: quality.evaluate(gan))
        print(
            f"{label:<34} {setup_wall:>11.2f} {setup_cpu:>10.2f} {wall:>9.2f} {cpu:>8.2f} "
            f"{cpu / step_cpu:>17.1f}",
            flush=True,
        )
    print()
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(
        f"{classes} classes x {per_class} images per side, {len(values)} scalars "
        "(last row); seconds; set-up is paid once per run, at the first evaluation."
    )
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
