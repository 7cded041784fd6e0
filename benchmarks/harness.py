"""What the benchmark scripts share: the timed model, the device's name, the
command-line arguments of a model's shape, timing and memory readings, and the
JSON report. A module of its own, so that no script imports another."""

import json
import os
import platform
import resource
import statistics
import time

import keras
import numpy as np

import keras_hsru

LAYERS = {
    "HSRU": lambda units: keras_hsru.HSRU(units, return_sequences=True),
    # HSRU with one implementation forced, beside what "auto" picks on this device.
    "HSRU(fused)": lambda units: keras_hsru.HSRU(
        units, return_sequences=True, implementation="fused"
    ),
    "HSRU(scan)": lambda units: keras_hsru.HSRU(
        units, return_sequences=True, implementation="scan"
    ),
    # A counter modulo 5 instead of the XOR bit (the composed scans on every device).
    "HSRU(memory_states=5)": lambda units: keras_hsru.HSRU(
        units, return_sequences=True, memory_states=5
    ),
    "RNN(HSRUCell)": lambda units: keras.layers.RNN(
        keras_hsru.HSRUCell(units), return_sequences=True
    ),
    "LSTM": lambda units: keras.layers.LSTM(units, return_sequences=True),
    "GRU": lambda units: keras.layers.GRU(units, return_sequences=True),
    # No recurrence: a Dense(units) on each step in the same model, so what is
    # left is what keras' train step and the layers around cost at this size.
    "Dense": lambda units: keras.layers.Dense(units),
}


def build_model(layer, length, features):
    """The timed model: `layer` (returning sequences), average pooling, `Dense(1)`, AdamW."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((length, features)),
            layer,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.AdamW(1e-3, global_clipnorm=1.0), "mse")
    return model


def device_name():
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.device_kind if device.platform == "gpu" else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "cpu"


def host_name():
    """The CPU model and core count, for the report."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores"


def add_model_arguments(parser):
    """--batch, --features, --units: the timed model's shape (the docs' CPU setting by default)."""
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--units", type=int, default=128)


DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def write_report(path, args, names, **fields):
    """Writes JSON to `path`: the backend and device, `args`' values of `names`, and `fields`."""
    report = {"backend": keras.backend.backend(), "device": device_name()}
    report.update({name: getattr(args, name) for name in names}, **fields)
    with open(path, "w") as f:
        json.dump(report, f, indent=2)


def check_positive(args, names):
    """Raises a ValueError naming the first of `names` whose value in `args` is not positive."""
    for name in names:
        value = getattr(args, name)
        if isinstance(value, list):
            value = min(value)
        if value <= 0:
            raise ValueError(
                f"--{name} must be a positive integer. Received: {name}={getattr(args, name)}"
            )


def synchronize(value):
    """Block until the device has produced `value` (copying back one number only)."""
    if isinstance(value, (list, tuple)):
        value = value[0]
    if not isinstance(value, (float, np.ndarray, np.floating)):
        keras.ops.convert_to_numpy(keras.ops.sum(keras.ops.reshape(value, (-1,))[:1]))


def reset_peak_memory():
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()


def peak_memory_bytes():
    """Peak device memory on GPU (torch: since the last reset; JAX: since start); else peak RSS."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated()
    if backend == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"]
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def minor_page_faults():
    """Page faults of this process so far that needed no disk: fresh memory pages."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def median_seconds(fn, repeats, warmup=2, page_faults=None):
    """Median seconds of `repeats` calls after `warmup` calls, and the first call's.

    If `page_faults` is a list, the minor page faults of each timed call are
    appended to it.
    """
    first = time.perf_counter()
    synchronize(fn())
    first = time.perf_counter() - first
    for _ in range(warmup - 1):
        synchronize(fn())
    times = []
    for _ in range(repeats):
        faults = minor_page_faults()
        start = time.perf_counter()
        synchronize(fn())
        times.append(time.perf_counter() - start)
        if page_faults is not None:
            page_faults.append(minor_page_faults() - faults)
    return statistics.median(times), first
