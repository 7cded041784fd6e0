"""HSRU's forward pass chunk by chunk against the whole sequence at once, in one run.

Without training (`predict`, `training=False`) and without a mask, `HSRU`
computes its forward pass chunk by chunk (`keras_hsru.ops.scan_in_chunks`,
projections and readout included) where `keras_hsru.ops.inference_chunk_length()`
names a chunk length, and over the whole sequence at once elsewhere. This times
one `predict_on_batch` of the model `speed.py` times, with each
`--chunk-lengths` value in turn ("whole" for the whole sequence at once), by
setting that function for the run, alternating `--rounds` times, and prints
medians, the ratio of each chunk length to the whole sequence, and the minor
page faults per call. The train step does not chunk, so it is not timed.

    KERAS_BACKEND=jax python benchmarks/chunked_inference.py --json results/chunked-inference-cpu-jax.json
"""

import argparse
import functools
import json
import statistics

import keras
import numpy as np
from speed import add_model_arguments, build_model, check_positive, device_name, median_seconds

import keras_hsru


def chunk_length_argument(value):
    if value == "whole":
        return None
    try:
        chunk_length = int(value)
    except ValueError:
        chunk_length = 0
    if chunk_length <= 0:
        raise argparse.ArgumentTypeError(
            f"a chunk length is a positive integer or 'whole'. Received: {value!r}"
        )
    return chunk_length


def label(chunk_length):
    return "whole" if chunk_length is None else str(chunk_length)


def package_chunk_length():
    """The chunk length the package picks for a forward pass the way keras runs
    it here: on TensorFlow inside a graph (it differs from eager there)."""
    if keras.backend.backend() != "tensorflow":
        return keras_hsru.ops.inference_chunk_length()
    import tensorflow as tf

    seen = []
    tf.function(lambda: seen.append(keras_hsru.ops.inference_chunk_length()) or tf.constant(0))()
    return seen[0]


def time_forward(chunk_length, length, args):
    """Median forward milliseconds and page faults per call, with this chunk length."""
    keras_hsru.ops.inference_chunk_length = lambda: chunk_length
    layer = keras_hsru.HSRU(args.units, return_sequences=True)
    model = build_model(layer, length, args.features)
    x = np.random.default_rng(0).normal(size=(args.batch, length, args.features)).astype("float32")
    faults = []
    forward, _ = median_seconds(
        functools.partial(model.predict_on_batch, x), args.repeats, page_faults=faults
    )
    return 1e3 * forward, statistics.median(faults)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument(
        "--chunk-lengths",
        type=chunk_length_argument,
        nargs="+",
        default=[None, 64, 128, 256],
        help="steps per chunk, or 'whole'; the whole sequence is always timed",
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the chunk lengths")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "lengths", "repeats", "rounds"))
    chunk_lengths = [None] + [c for c in dict.fromkeys(args.chunk_lengths) if c is not None]

    device = device_name()
    default = package_chunk_length()  # before time_forward replaces the function
    print(f"backend {keras.backend.backend()}, device {device}, B={args.batch}, ", end="")
    print(f"Din={args.features}, H={args.units}; medians of {args.repeats}; ", end="")
    print(f"the package's chunk length here: {label(default)}\n")
    rows = []
    print("| L | chunk length | round | forward ms | page faults |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for length in args.lengths:
        for round_ in range(1, args.rounds + 1):
            for chunk_length in chunk_lengths:
                forward, faults = time_forward(chunk_length, length, args)
                rows.append(
                    {
                        "length": length,
                        "chunk_length": chunk_length,
                        "round": round_,
                        "forward_ms": forward,
                        "page_faults": faults,
                    }
                )
                print(
                    f"| {length} | {label(chunk_length)} | {round_} | {forward:.2f} | {faults:.0f} |",
                    flush=True,
                )

    def median(length, chunk_length, key):
        return statistics.median(
            r[key] for r in rows if r["length"] == length and r["chunk_length"] == chunk_length
        )

    print("\n| L | chunk length | forward ms | whole / chunked | page faults |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    ratios = {}
    for length in args.lengths:
        whole = median(length, None, "forward_ms")
        for chunk_length in chunk_lengths:
            forward = median(length, chunk_length, "forward_ms")
            ratios[f"{length}/{label(chunk_length)}"] = whole / forward
            faults = median(length, chunk_length, "page_faults")
            print(
                f"| {length} | {label(chunk_length)} | {forward:.2f} | {whole / forward:.2f}x "
                f"| {faults:.0f} |"
            )
    if args.json:
        config = {
            **vars(args),
            "chunk_lengths": chunk_lengths,
            "backend": keras.backend.backend(),
            "device": device,
            "package_chunk_length": default,
        }
        with open(args.json, "w") as f:
            json.dump({"config": config, "rows": rows, "whole_over_chunked": ratios}, f, indent=2)


if __name__ == "__main__":
    main()
