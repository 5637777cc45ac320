r"""Training throughput of every autoencoder, against the CPU's peak FP32 rate.

  python benchmarks/train_throughput.py                 # all models, lines + spectrum
  python benchmarks/train_throughput.py --models=ae,vae --inputs=spectrum --epochs=4

What it measures, for each model, input (lines: 10 equivalent widths;
spectrum: ~1,380 pixels) and ``jit_compile`` off/on: training samples per
second of the real training loop (``tfelg.training.loop.Trainer``, default
strategy: tf.data pipeline, ``strategy.run`` in a ``tf.function``, a host
sync per step for the NaN check), as the best epoch after the first (the
first includes tracing and XLA compilation).

Against what:

* **Peak FP32 rate** from /proc/cpuinfo: cores x clock x FLOP/cycle/core,
  where FLOP/cycle/core = 2 (an FMA is two FLOPs) x FMA units x vector lanes
  (avx512f: 16 fp32 lanes; avx2+fma: 8; else SSE: 4). FMA units are assumed 2
  (Skylake-SP Gold/Platinum, Ice Lake, AMD Zen 2-4 all have two; a few
  Xeon Silver/Bronze parts have one for 512-bit). The clock is the current
  "cpu MHz" (turbo and AVX frequency licences move it either way).
* **Practical ceiling**: a large fp32 ``tf.matmul`` (n = 2048), the best
  any dense layer can do here.
* **Model FLOPs** counted analytically from the layer shapes: the matrix
  products and convolutions of the model's forward pass (traced at the
  benchmark's batch size; element-wise work not counted), x3 for forward +
  backward. For the AAE the "x3 forward" rule undercounts (a step also runs
  the discriminator three times), so the FLOPs of the actual training step's
  graph (forward and gradient ops alike) are counted and used too.

Figures are for the machine it runs on; record them in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time

from absl import app, flags

_MODELS = flags.DEFINE_list("models", ["ae", "cae", "vae", "cvae", "aae"], "Models.")
_INPUTS = flags.DEFINE_list("inputs", ["lines", "spectrum"], "Inputs.")
_JIT = flags.DEFINE_list("jit", ["off", "on"], "jit_compile settings to compare.")
_EPOCHS = flags.DEFINE_integer("epochs", 3, "Epochs per measurement (first is warm-up).")
_LINES_GALAXIES = flags.DEFINE_integer("lines_galaxies", 16000, "Training galaxies, lines.")
_SPECTRUM_GALAXIES = flags.DEFINE_integer("spectrum_galaxies", 4096, "Training galaxies, spectra.")
_LINES_BATCH = flags.DEFINE_integer("lines_batch_size", 200, "Batch size, lines (reference: 200).")
_SPECTRUM_BATCH = flags.DEFINE_integer("spectrum_batch_size", 256, "Batch size, spectra.")
_MATMUL_N = flags.DEFINE_integer("matmul_n", 2048, "Size of the matmul ceiling test.")


# -- the machine ---------------------------------------------------------------------------
def cpu_peak() -> dict:
    """Peak FP32 FLOP/s from /proc/cpuinfo, with the reasoning."""
    text = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    blocks = [b for b in text.split("\n\n") if b.strip()]
    first = (
        dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in blocks[0].splitlines())
        )
        if blocks
        else {}
    )
    flag_set = set(first.get("flags", "").split())
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    siblings = int(first.get("siblings", logical) or logical)
    cores_per_package = int(first.get("cpu cores", siblings) or siblings)
    threads_per_core = max(1, siblings // max(cores_per_package, 1))
    cores = max(1, logical // threads_per_core)
    mhz = float(first.get("cpu MHz", "0") or 0)
    if "avx512f" in flag_set:
        lanes, isa = 16, "avx512f"
    elif "avx2" in flag_set and "fma" in flag_set:
        lanes, isa = 8, "avx2+fma"
    else:
        lanes, isa = 4, "sse"
    fma_units = 2
    flop_per_cycle = 2 * fma_units * lanes
    peak = cores * mhz * 1e6 * flop_per_cycle
    return {
        "model": first.get("model name", platform.processor()),
        "isa": isa,
        "cores": cores,
        "logical": logical,
        "mhz": mhz,
        "flop_per_cycle": flop_per_cycle,
        "peak": peak,
        "how": (
            f"{cores} cores x {mhz / 1000:.3f} GHz x {flop_per_cycle} FLOP/cycle/core "
            f"(2 per FMA x {fma_units} FMA units x {lanes} fp32 lanes, {isa})"
        ),
    }


def matmul_ceiling(n: int, repeats: int = 10) -> float:
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(1, 2))
    b = tf.random.stateless_normal((n, n), seed=(3, 4))

    @tf.function
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b))

    product(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


# -- FLOPs from the graph's layer shapes ---------------------------------------------------------
def _op_flops(op) -> float:
    """FLOPs of one matrix-product or convolution op (0 for anything else)."""

    def dims(tensor):
        return [d if d is not None else 0 for d in tensor.shape.as_list()]

    kind = op.type
    if kind == "MatMul":
        a, b = dims(op.inputs[0]), dims(op.inputs[1])
        m, k = (a[1], a[0]) if op.get_attr("transpose_a") else (a[0], a[1])
        n = b[0] if op.get_attr("transpose_b") else b[1]
        return 2.0 * m * k * n
    if kind in ("BatchMatMulV2", "BatchMatMulV3", "BatchMatMul"):
        out = dims(op.outputs[0])
        a = dims(op.inputs[0])
        k = a[-2] if op.get_attr("adj_x") else a[-1]
        size = 1
        for d in out:
            size *= d
        return 2.0 * size * k
    if kind == "Conv2D":
        out = dims(op.outputs[0])
        kh, kw, ci, _ = dims(op.inputs[1])
        return 2.0 * out[0] * out[1] * out[2] * out[3] * kh * kw * ci
    if kind == "Conv2DBackpropInput":  # transposed convolution, or a conv's input gradient
        kh, kw, ci, co = dims(op.inputs[1])
        grad = dims(op.inputs[2])
        return 2.0 * grad[0] * grad[1] * grad[2] * co * kh * kw * ci
    if kind == "Conv2DBackpropFilter":
        kh, kw, ci, co = dims(op.outputs[0])
        grad = dims(op.inputs[2])
        return 2.0 * grad[0] * grad[1] * grad[2] * co * kh * kw * ci
    return 0.0


def _graph_flops(graph) -> float:
    total = 0.0
    for op in graph.get_operations():
        total += _op_flops(op)
        if op.type in ("PartitionedCall", "StatefulPartitionedCall"):
            name = op.get_attr("f").name
            function = graph._get_function(name)  # noqa: SLF001 (no public accessor)
            if function is not None:
                total += _graph_flops(function.graph)
    return total


def model_flops(model, num_features: int, batch_size: int) -> tuple[float, float]:
    """(forward FLOPs per example, training-step FLOPs per example from the step's graph)."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch_size, num_features), tf.float32)
    forward = tf.function(lambda x: model(x, training=True)).get_concrete_function(spec)
    optimizers = model.make_optimizers(1e-3)
    step = tf.function(
        lambda x, w: model.train_step_on_replica(x, w, optimizers, batch_size)
    ).get_concrete_function(spec, spec)
    return _graph_flops(forward.graph) / batch_size, _graph_flops(step.graph) / batch_size


# -- the measurement --------------------------------------------------------------------------
def synthetic_splits(num_train: int, seed: int = 0):
    """Train/validation/test arrays from the synthetic generator (no TFDS needed)."""
    from tfelg.synthetic import emission_lines as synthetic

    num_eval = max(64, num_train // 16)
    sample = synthetic.generate(num_train + 2 * num_eval, seed)
    table = sample.lines
    arrays = {
        "ew": table.ew,
        "flux": table.flux,
        "spectrum": sample.spectrum,
        "spectrum_ivar": sample.spectrum_ivar,
    }
    bounds = {
        "train": (0, num_train),
        "validation": (num_train, num_train + num_eval),
        "test": (num_train + num_eval, num_train + 2 * num_eval),
    }
    return {s: {k: v[a:b] for k, v in arrays.items()} for s, (a, b) in bounds.items()}


def measure(model_name: str, input_name: str, jit: bool, splits, batch_size: int) -> dict:
    import keras

    from tfelg.training import config as config_lib
    from tfelg.training import loop

    config = config_lib.ExperimentConfig(
        data=config_lib.DataConfig(input=input_name),
        model=config_lib.ModelConfig(name=model_name, latent_dim=2),
        trainer=config_lib.TrainerConfig(epochs=_EPOCHS.value, batch_size=batch_size),
        runtime=config_lib.RuntimeConfig(jit_compile=jit, progress_bar=False),
    )
    with tempfile.TemporaryDirectory() as workdir:
        trainer = loop.Trainer(config, workdir, splits=splits, log=lambda _: None)
        trainer.run()
        rates = [h["train_samples_per_second"] for h in trainer.history[1:]]
        forward, step = model_flops(trainer.model, trainer.preprocessor.num_features, batch_size)
    keras.backend.clear_session()
    return {
        "samples_per_second": max(rates),
        "forward_flops": forward,
        "step_flops": step,
    }


def main(argv):
    del argv
    import tensorflow as tf
    from absl import logging

    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # TensorFlow's per-checkpoint INFO lines

    peak = cpu_peak()
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"CPU: {peak['model']}, {peak['logical']} logical CPUs, flags -> {peak['isa']}")
    print(f"Peak FP32: {peak['peak'] / 1e9:.1f} GFLOP/s = {peak['how']}")
    print(
        f"TensorFlow {tf.__version__}, intra-op threads "
        f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}"
    )
    ceiling = matmul_ceiling(_MATMUL_N.value)
    print(
        f"tf.matmul {_MATMUL_N.value}x{_MATMUL_N.value} fp32: {ceiling / 1e9:.1f} GFLOP/s "
        f"({100 * ceiling / peak['peak']:.0f}% of peak): the practical ceiling"
    )
    print()
    header = (
        f"{'model':<5} {'input':<8} {'jit':<4} {'batch':>5} {'samples/s':>10} "
        f"{'fwd MFLOP/ex':>12} {'GFLOP/s 3xfwd':>13} {'GFLOP/s step':>12} "
        f"{'% peak':>7} {'% matmul':>8}"
    )
    print(header)
    print("-" * len(header))
    sizes = {"lines": _LINES_GALAXIES.value, "spectrum": _SPECTRUM_GALAXIES.value}
    batches = {"lines": _LINES_BATCH.value, "spectrum": _SPECTRUM_BATCH.value}
    for input_name in _INPUTS.value:
        splits = synthetic_splits(sizes[input_name])
        for model_name in _MODELS.value:
            for jit_name in _JIT.value:
                jit = jit_name == "on"
                try:
                    r = measure(model_name, input_name, jit, splits, batches[input_name])
                except Exception as e:  # a benchmark reports a failure and goes on
                    print(f"{model_name:<5} {input_name:<8} {jit_name:<4} failed: {e!r}"[:200])
                    continue
                rate = r["samples_per_second"]
                achieved_3x = 3 * r["forward_flops"] * rate
                achieved_step = r["step_flops"] * rate
                print(
                    f"{model_name:<5} {input_name:<8} {jit_name:<4} {batches[input_name]:>5} "
                    f"{rate:>10.0f} {r['forward_flops'] / 1e6:>12.4f} "
                    f"{achieved_3x / 1e9:>13.2f} {achieved_step / 1e9:>12.2f} "
                    f"{100 * achieved_step / peak['peak']:>7.2f} "
                    f"{100 * achieved_step / ceiling:>8.2f}",
                    flush=True,
                )
    print()
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(
        "samples/s: best epoch after the first of the real training loop; FLOPs: matrix "
        "products and convolutions only; '% peak' and '% matmul' use the step graph's FLOPs."
    )
    return 0


if __name__ == "__main__":
    sys.exit(app.run(main))
