"""TensorFlow on a CPU: HSRU's fused sequential scan against the composed ops, in one run.

In graphs on a CPU, `keras_hsru.ops.hybrid_scan` runs V, the spikes and D as
one sequential `tf.scan` forward and one reverse `tf.scan` for all gradients
(`keras_hsru/ops/_tensorflow.py`, `fused_hybrid_scan`). This times one
`train_on_batch` and one `predict_on_batch` of the model `speed.py` times,
with an HSRU layer, once with that fused path and once with the composed ops
it replaces (linear_scan + spike + xor_scan, what `hybrid_scan` falls back
to when the fused function declines), twice each in alternation, and prints
medians and the ratio.

    KERAS_BACKEND=tensorflow python benchmarks/tensorflow_fused_scan.py --json results/tf-fused-scan-cpu.json
"""

import argparse
import functools
import json
import statistics

import keras
import numpy as np
from speed import add_model_arguments, build_model, check_positive, median_seconds

import keras_hsru
from keras_hsru.ops import _tensorflow

FUSED = _tensorflow.fused_hybrid_scan


def composed_only(*args):
    return None  # hybrid_scan then uses linear_scan + spike + xor_scan


def time_model(length, args):
    """Median train-step and forward milliseconds of the model `speed.py` times, for HSRU."""
    model = build_model(keras_hsru.HSRU(args.units, return_sequences=True), length, args.features)
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
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "lengths", "repeats"))
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("run with KERAS_BACKEND=tensorflow")

    rows = []
    print("| L | path | round | train ms | forward ms |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for length in args.lengths:
        for round_ in (1, 2):
            for path, function in (("composed", composed_only), ("fused", FUSED)):
                _tensorflow.fused_hybrid_scan = function
                train, forward = time_model(length, args)
                rows.append(
                    {
                        "length": length,
                        "path": path,
                        "round": round_,
                        "train_ms": train,
                        "forward_ms": forward,
                    }
                )
                print(f"| {length} | {path} | {round_} | {train:.1f} | {forward:.1f} |", flush=True)
    _tensorflow.fused_hybrid_scan = FUSED
    print("\n| L | train: composed / fused | forward: composed / fused |")
    print("| ---: | ---: | ---: |")
    ratios = {}
    for length in args.lengths:
        train = median(rows, length, "composed", "train_ms") / median(
            rows, length, "fused", "train_ms"
        )
        forward = median(rows, length, "composed", "forward_ms") / median(
            rows, length, "fused", "forward_ms"
        )
        ratios[length] = {"train": train, "forward": forward}
        print(f"| {length} | {train:.2f}x | {forward:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": vars(args), "rows": rows, "ratios": ratios}, f, indent=2)


if __name__ == "__main__":
    main()
