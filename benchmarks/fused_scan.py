"""HSRU's fused scan against the composed ops, in one run, on the current backend and device.

`keras_hsru.ops.hybrid_scan` has a fused path on every backend: V, the
spikes and D in one pass over the sequence and all gradients in one reverse
pass (torch + CUDA: Triton kernels; JAX + GPU: Pallas kernels; TensorFlow
and JAX on a CPU: a sequential loop), and the composed ops (linear_scan + spike +
xor_scan). This times one `train_on_batch` and one `predict_on_batch` of the
model `speed.py` times, with `HSRU(implementation="fused")` and
`HSRU(implementation="scan")`, alternating `--rounds` times, and prints
medians and the ratio. `implementation="auto"` takes the fused path wherever
one exists (`keras_hsru/ops/_algorithms.py`).

    KERAS_BACKEND=tensorflow python benchmarks/fused_scan.py --json outputs/fused-scan-cpu-tensorflow.json
    KERAS_BACKEND=jax python benchmarks/fused_scan.py --batch 64 --features 64 --units 256 --lengths 1024 4096
"""

import argparse
import functools
import json
import statistics

import keras
import numpy as np
from harness import add_model_arguments, build_model, check_positive, device_name, median_seconds

import keras_hsru

PATHS = {"composed": "scan", "fused": "fused"}  # row label -> HSRU's `implementation`


def time_model(implementation, length, args):
    """Median train-step and forward milliseconds of the model `speed.py` times, for HSRU."""
    layer = keras_hsru.HSRU(args.units, return_sequences=True, implementation=implementation)
    model = build_model(layer, length, args.features)
    x = np.random.default_rng(0).normal(size=(args.batch, length, args.features)).astype("float32")
    y = np.zeros((args.batch, 1), "float32")
    train, _ = median_seconds(functools.partial(model.train_on_batch, x, y), args.repeats)
    forward, _ = median_seconds(functools.partial(model.predict_on_batch, x), args.repeats)
    return 1e3 * train, 1e3 * forward


def median(rows, length, path, key):
    return statistics.median(r[key] for r in rows if r["length"] == length and r["path"] == path)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two paths")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "lengths", "repeats", "rounds"))

    try:  # before timing anything: does a fused path run here?
        keras_hsru.HSRU(2, implementation="fused")(np.zeros((1, 2, 1), "float32"))
    except ValueError as error:
        raise SystemExit(f"No fused path here: {error}") from None
    device = device_name()
    print(f"backend {keras.backend.backend()}, device {device}, B={args.batch}, ", end="")
    print(f"Din={args.features}, H={args.units}; medians of {args.repeats}\n")
    rows = []
    print("| L | path | round | train ms | forward ms |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for length in args.lengths:
        for round_ in range(1, args.rounds + 1):
            for path, implementation in PATHS.items():
                train, forward = time_model(implementation, length, args)
                rows.append(
                    {
                        "length": length,
                        "path": path,
                        "round": round_,
                        "train_ms": train,
                        "forward_ms": forward,
                    }
                )
                print(f"| {length} | {path} | {round_} | {train:.2f} | {forward:.2f} |", flush=True)
    print("\n| L | train: composed / fused | forward: composed / fused |")
    print("| ---: | ---: | ---: |")
    ratios = {}
    for length in args.lengths:
        train, forward = (
            median(rows, length, "composed", key) / median(rows, length, "fused", key)
            for key in ("train_ms", "forward_ms")
        )
        ratios[length] = {"train": train, "forward": forward}
        print(f"| {length} | {train:.2f}x | {forward:.2f}x |")
    if args.json:
        config = {**vars(args), "backend": keras.backend.backend(), "device": device}
        with open(args.json, "w") as f:
            json.dump({"config": config, "rows": rows, "ratios": ratios}, f, indent=2)


if __name__ == "__main__":
    main()
