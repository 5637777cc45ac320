r"""Image throughput: ResNet feature extraction, SimCLR and GAN training, against the CPU's peak.

  python benchmarks/image_throughput.py
  python benchmarks/image_throughput.py --parts=extract --images=1024

What it measures (64x64x3 stamps; toy stamps, as the content does not
change the arithmetic):

* **extract**: images/s of :class:`tfelg.models.features.FeatureExtractor`
  (preprocessing on the host, the network in a ``tf.function`` per batch) for
  the small ResNet and ResNet50 (both at 64x64, random weights), against a
  bare-Keras ``model.predict`` of the same network on already-preprocessed
  inputs, in the same run.
* **simclr**: training images/s of ``--model=simclr`` under the project's
  loop (``tfelg.training.loop.Trainer``, default strategy; best epoch after
  the first), against a bare-Keras reference: the same SimCLR model's
  ``per_example_losses`` and optimizer inside a ``keras.Model.train_step``
  run by ``model.fit`` (same batch, same data), best epoch after the first.
* **gan**: training images/s of ``--model=gan`` under the loop, against a
  bare-Keras reference: the same generator and discriminator layers (a GAN
  made from the loop's model config: options, seed, stretch, sky noise), trained by a plain
  ``tf.function`` step written here with the same hinge loss, DiffAugment,
  sky-noise model (when the GAN has one), Adam settings (the model's
  ``make_optimizers``), generator EMA and batch, over a plain ``tf.data``
  pipeline: no strategy, no per-step loss check, no tfelg loop. Best epoch
  after the first. The reference's graph FLOPs are printed next to the
  loop step's: equal values show that both do the same arithmetic.

Against what (as in ``train_throughput.py``, whose helpers are used):

* **peak FP32** from /proc/cpuinfo (cores x clock x 2 FMA x lanes x 2);
* **matmul ceiling**: a 2048^3 ``tf.matmul``; **conv ceiling**: a
  3x3 convolution 128 -> 128 channels on 64 x 32x32 maps, the best a
  convolutional layer does here;
* **model FLOPs**: matrix products and convolutions of the traced forward
  pass (extraction) or of the whole training step's graph (forward and
  gradients; SimCLR's two views, the GAN's generator and discriminator).

Record the output in benchmarks/RESULTS.md with the load average.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_throughput as tt  # noqa: E402  (peak, matmul ceiling, graph FLOPs)

_PARTS = flags.DEFINE_list("parts", ["extract", "simclr", "gan"], "What to measure.")
_IMAGES = flags.DEFINE_integer("images", 512, "Stamps to extract / train on per epoch.")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Batch size.")
_TRAIN_EPOCHS = flags.DEFINE_integer("train_epochs", 3, "Training epochs (first is warm-up).")
_REPEATS = flags.DEFINE_integer(
    "repeats", 3, "Extraction passes, tfelg and Keras alternated (best of each kept)."
)


def conv_ceiling(repeats: int = 10) -> float:
    """FLOP/s of a large 3x3 convolution (64 x 32x32x128 -> 128), best of ``repeats``."""
    import tensorflow as tf

    x = tf.random.stateless_normal((64, 32, 32, 128), seed=(1, 2))
    k = tf.random.stateless_normal((3, 3, 128, 128), seed=(3, 4))

    @tf.function
    def conv(x, k):
        return tf.reduce_sum(tf.nn.conv2d(x, k, 1, "SAME"))

    conv(x, k).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        conv(x, k).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * 64 * 32 * 32 * 128 * 9 * 128 / best


def _forward_flops(network, batch: int) -> float:
    import tensorflow as tf

    spec = tf.TensorSpec((batch, *network.input_shape[1:]), tf.float32)
    graph = tf.function(lambda x: network(x, training=False)).get_concrete_function(spec).graph
    return tt._graph_flops(graph) / batch  # noqa: SLF001


def measure_extraction(architecture: str, images) -> dict:
    import keras
    import numpy as np

    from tfelg.models import features

    batch = _BATCH.value
    extractor = features.make_extractor(architecture, fit_images=images[:batch], seed=0)
    x = np.asarray(features.apply_preprocessing(extractor.preprocessing, images), np.float32)
    extractor(images[:batch], batch_size=batch)  # trace
    extractor.network.predict(x[:batch], batch_size=batch, verbose=0)
    # Alternated, best of each: on a shared machine the load moves between passes.
    tfelg_best = keras_best = float("inf")
    for _ in range(_REPEATS.value):
        start = time.perf_counter()
        extractor(images, batch_size=batch)
        tfelg_best = min(tfelg_best, time.perf_counter() - start)
        start = time.perf_counter()
        extractor.network.predict(x, batch_size=batch, verbose=0)
        keras_best = min(keras_best, time.perf_counter() - start)
    tfelg_rate = len(images) / tfelg_best
    keras_rate = len(images) / keras_best
    flops = _forward_flops(extractor.network, batch)
    keras.backend.clear_session()
    return {"tfelg": tfelg_rate, "keras": keras_rate, "flops": flops}


def _image_splits(images, kind):
    import numpy as np

    n_eval = max(_BATCH.value, len(images) // 8)
    parts = {
        "train": slice(0, len(images)),
        "validation": slice(0, n_eval),
        "test": slice(n_eval, 2 * n_eval),
    }
    return {
        s: {"image": images[r], "true_type": kind[r].astype(np.int64)} for s, r in parts.items()
    }


def _config(model: str, options: dict):
    from tfelg.training import config as config_lib

    return config_lib.ExperimentConfig(
        data=config_lib.DataConfig(dataset="hst_galaxies/synthetic", input="image"),
        model=config_lib.ModelConfig(name=model, latent_dim=64, options=options),
        trainer=config_lib.TrainerConfig(epochs=_TRAIN_EPOCHS.value, batch_size=_BATCH.value),
        # No per-epoch quality evaluations (tfelg.metrics.monitor): images/s of training only.
        runtime=config_lib.RuntimeConfig(progress_bar=False, quality_every=0),
    )


def _step_flops(model, batch_spec, batch: int) -> float:
    import tensorflow as tf

    optimizers = model.make_optimizers(1e-3)
    step = tf.function(
        lambda b: model.train_step_on_replica(b, optimizers, batch)
    ).get_concrete_function(batch_spec)
    return tt._graph_flops(step.graph) / batch  # noqa: SLF001


def measure_training(model_name: str, images, kind, options=None) -> dict:
    import keras
    import tensorflow as tf

    from tfelg.training import loop

    batch = _BATCH.value
    splits = _image_splits(images, kind)
    names = {"true_type": ["red", "blue"]}
    with tempfile.TemporaryDirectory() as workdir:
        trainer = loop.Trainer(
            _config(model_name, options or {}),
            workdir,
            splits=splits,
            class_names=names,
            log=lambda _: None,
        )
        trainer.run()
        tfelg_rate = max(h["train_samples_per_second"] for h in trainer.history[1:])
        spec = {"image": tf.TensorSpec((batch, *images.shape[1:]), tf.float32)}
        if model_name == "gan":
            spec["label"] = tf.TensorSpec((batch,), tf.int32)
        flops = _step_flops(trainer.model, spec, batch)
        scaled = trainer.preprocessor.scale_images(images)
        model_config = trainer.model.get_config()
        labels = trainer._arrays["train"].get("label")  # noqa: SLF001  (the loop's own labels)
    keras.backend.clear_session()
    result = {"tfelg": tfelg_rate, "flops": flops, "keras": None}
    if model_name == "simclr":
        result["keras"] = _keras_fit_simclr(scaled, options or {})
        keras.backend.clear_session()
    if model_name == "gan":
        result["keras"], result["keras_flops"] = _bare_gan(scaled, labels, model_config)
        keras.backend.clear_session()
    return result


def _bare_gan(scaled, labels, model_config) -> tuple[float, float]:
    """Images/s and step FLOPs/image of the GAN's layers under a hand-written ``tf.function`` step.

    What tfelg's ``GAN.train_step_on_replica`` computes, written out with
    the layers of a GAN made from the loop's model config (same options,
    seed, image stretch and sky noise) and the module's augmentation and
    noise functions: one discriminator step (hinge loss on augmented real
    and generated images), one generator step (``-D`` of augmented
    generated images), the EMA update with the same warm-up. No
    distribution strategy, no ``strategy.reduce``, no per-step host sync or
    divergence check.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from tfelg.models import gan as gan_lib

    batch = _BATCH.value
    model = gan_lib.GAN.from_config(model_config)
    generator, discriminator = model.generator, model.discriminator
    optimizers = model.make_optimizers(_config("gan", {}).trainer.learning_rate)
    opt_d, opt_g = optimizers["discriminator"], optimizers["generator"]
    noise = keras.random.SeedGenerator(1)
    augment_seed = keras.random.SeedGenerator(2)
    sky_noise = getattr(model, "noise_model", False)
    stretch, sky = model_config.get("image_stretch"), model_config.get("image_noise")
    max_shift = model_config.get("max_shift", 4)
    decay_max = model_config.get("ema_decay", 0.999)
    augment_on = model_config.get("augment", True)

    def augment(x):
        return gan_lib.diff_augment(x, augment_seed, max_shift=max_shift) if augment_on else x

    def observed(x):
        return gan_lib.add_sky_noise(x, stretch, noise, sky) if sky_noise else x

    def step(real, label):
        n = tf.shape(real)[0]
        z = keras.random.normal((n, model.latent_dim), seed=noise)
        fake = tf.stop_gradient(observed(generator(z, label, training=True)))
        variables = discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logit = discriminator(augment(real), label, training=True)
            fake_logit = discriminator(augment(fake), label, training=True)
            d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real_logit) + tf.nn.relu(1.0 + fake_logit))
        opt_d.apply_gradients(zip(tape.gradient(d_loss, variables), variables, strict=True))
        z = keras.random.normal((n, model.latent_dim), seed=noise)
        variables = generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = observed(generator(z, label, training=True))
            g_loss = -tf.reduce_mean(discriminator(augment(fake), label, training=True))
        opt_g.apply_gradients(zip(tape.gradient(g_loss, variables), variables, strict=True))
        t = tf.cast(opt_g.iterations, tf.float32)
        decay = tf.minimum(decay_max, (1.0 + t) / (10.0 + t))
        for ema, weight in zip(model.ema_generator.weights, generator.weights, strict=True):
            ema.assign(decay * ema.value + (1.0 - decay) * weight.value)
        return d_loss, g_loss

    step = tf.function(step, autograph=False)
    spec = (
        tf.TensorSpec((batch, *scaled.shape[1:]), tf.float32),
        tf.TensorSpec((batch,), tf.int32),
    )
    flops = tt._graph_flops(step.get_concrete_function(*spec).graph) / batch  # noqa: SLF001
    label = np.zeros(len(scaled), np.int32) if labels is None else np.asarray(labels, np.int32)
    data = tf.data.Dataset.from_tensor_slices((scaled[: len(label)], label))
    data = data.shuffle(len(label), seed=0).batch(batch, drop_remainder=True).prefetch(2)
    times = []
    for _ in range(_TRAIN_EPOCHS.value):
        start = time.perf_counter()
        steps = 0
        for real, y in data:
            d_loss, _ = step(real, y)
            steps += 1
        float(d_loss)  # wait for the last step
        times.append(time.perf_counter() - start)
    return steps * batch / min(times[1:]), flops


def _keras_fit_simclr(scaled, options) -> float:
    """Images/s of the same SimCLR step run by ``keras.Model.fit`` (best epoch after the first)."""
    import keras
    import tensorflow as tf

    from tfelg.models.simclr import SimCLR

    class FitSimCLR(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.tracker = keras.metrics.Mean(name="loss")

        def train_step(self, data):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(
                    self.inner.per_example_losses({"image": data}, training=True)["loss"]
                )
            variables = self.inner.trainable_variables
            self.optimizer.apply_gradients(
                zip(tape.gradient(loss, variables), variables, strict=True)
            )
            self.tracker.update_state(loss)
            return {"loss": self.tracker.result()}

        @property
        def metrics(self):
            return [self.tracker]

    batch = _BATCH.value
    model = FitSimCLR(SimCLR(latent_dim=64, seed=0, **options))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    data = tf.data.Dataset.from_tensor_slices(scaled).shuffle(len(scaled), seed=0)
    data = data.batch(batch, drop_remainder=True).prefetch(2)
    model.fit(data, epochs=_TRAIN_EPOCHS.value, verbose=0, callbacks=[Timer()])
    steps = len(scaled) // batch
    return steps * batch / min(times[1:])


def main(argv):
    del argv
    import tensorflow as tf
    from absl import logging

    from tfelg.testing.toy_images import toy_stamps

    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    peak = tt.cpu_peak()
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"CPU: {peak['model']}, {peak['logical']} logical CPUs, flags -> {peak['isa']}")
    print(f"Peak FP32: {peak['peak'] / 1e9:.1f} GFLOP/s = {peak['how']}")
    print(f"TensorFlow {tf.__version__}")
    matmul, conv = tt.matmul_ceiling(2048), conv_ceiling()
    print(
        f"tf.matmul 2048^3: {matmul / 1e9:.1f} GFLOP/s ({100 * matmul / peak['peak']:.0f}% of peak)"
    )
    print(
        f"conv 3x3 128->128 on 64x32x32: {conv / 1e9:.1f} GFLOP/s ({100 * conv / peak['peak']:.0f}% of peak)"
    )
    print()
    images, kind = toy_stamps(_IMAGES.value, seed=0)
    header = (
        f"{'what':<28} {'images/s':>9} {'keras img/s':>11} {'tfelg/keras':>11} "
        f"{'GFLOP/img':>9} {'GFLOP/s':>8} {'% peak':>7} {'% conv':>7}"
    )
    print(header)
    print("-" * len(header))

    def row(label, r):
        achieved = r["flops"] * r["tfelg"]
        if r.get("keras_flops"):
            note = f"  (bare step {r['keras_flops'] / 1e9:.3f} GFLOP/img)"
        else:
            note = ""
        keras_cells = (
            f"{r['keras']:>11.1f} {r['tfelg'] / r['keras']:>11.2f}"
            if r["keras"]
            else f"{'-':>11} {'-':>11}"
        )
        print(
            f"{label:<28} {r['tfelg']:>9.1f} {keras_cells} {r['flops'] / 1e9:>9.3f} "
            f"{achieved / 1e9:>8.1f} {100 * achieved / peak['peak']:>7.1f} "
            f"{100 * achieved / conv:>7.1f}{note}",
            flush=True,
        )

    jobs = []
    if "extract" in _PARTS.value:
        jobs += [
            ("extract small_resnet 64px", lambda: measure_extraction("small_resnet", images)),
            ("extract resnet50 64px", lambda: measure_extraction("resnet50", images)),
        ]
    if "simclr" in _PARTS.value:
        jobs.append(
            ("train simclr (small_resnet)", lambda: measure_training("simclr", images, kind))
        )
    if "gan" in _PARTS.value:
        jobs.append(("train gan (base_filters 32)", lambda: measure_training("gan", images, kind)))
    for label, job in jobs:
        try:
            row(label, job())
        except Exception as e:  # a benchmark reports a failure and goes on
            print(f"{label:<28} failed: {e!r}"[:300], flush=True)
    print()
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    matmul_after, conv_after = tt.matmul_ceiling(2048), conv_ceiling()
    print(
        f"ceilings again after the runs: matmul {matmul_after / 1e9:.1f}, conv "
        f"{conv_after / 1e9:.1f} GFLOP/s (before: {matmul / 1e9:.1f}, {conv / 1e9:.1f}); "
        "'% conv' above uses the conv ceiling measured before"
    )
    print(
        "images/s: tfelg's path (extractor with host preprocessing; training: the project's "
        "loop, best epoch after the first); keras img/s: model.predict / model.fit of the same "
        "network and step in the same run (GAN: its layers under a hand-written tf.function "
        "step, best epoch after the first); GFLOP/img: matrix products and convolutions of the "
        "forward graph (extract) or of the whole training step's graph (train); "
        f"batch {_BATCH.value}, {_IMAGES.value} images."
    )
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
