"""`hybrid_scan` over time chunks side by side against the whole sequence, in one run.

`keras_hsru.ops.hybrid_scan(..., time_chunk_length=N)` cuts the sequence into
chunks of N steps that the fused kernels (or the composed ops) compute as
`batch * chunks` rows at once, for more parallel programs at the price of
more memory traffic (the input read once more, D written once more). This times one forward and backward pass
of the scan alone (the input current in `--dtype`, float32 states), for each
chunk length and the whole sequence, alternating `--rounds` times, on the
active backend and device; checks each against the whole sequence; and prints
medians and the speedup. Where chunks pay (small batches, long sequences, on a
GPU) is what this measures; the layers use the whole sequence until it has.

    KERAS_BACKEND=torch python benchmarks/time_chunks.py --batch 4 --units 256 --lengths 16384 \\
        --chunks 512 2048 --json outputs/time-chunks-torch.json
"""

import argparse
import statistics

import keras
import numpy as np
from harness import (
    add_model_arguments,
    check_positive,
    device_name,
    median_seconds,
    write_report,
)

from keras_hsru import ops as hsru_ops


def step_function(chunk, current, decay, threshold, upstream):
    """Forward and backward of the scan, as a callable returning values to wait on."""
    backend = keras.backend.backend()

    def loss(current, decay, threshold):
        potential, memory = hsru_ops.hybrid_scan(
            decay, current, threshold, 3.0, time_chunk_length=chunk
        )
        return keras.ops.sum(potential * upstream[0]) + keras.ops.sum(memory * upstream[1])

    if backend == "jax":
        import jax

        grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
        return lambda: grad(current, decay, threshold)
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def grad():
            with tf.GradientTape() as tape:
                tape.watch([current, decay, threshold])
                value = loss(current, decay, threshold)
            return value, tape.gradient(value, [current, decay, threshold])

        return grad
    import torch

    leaves = [t.detach().clone().requires_grad_(True) for t in (current, decay, threshold)]

    def grad():
        value = loss(*leaves)
        return value, torch.autograd.grad(value, leaves)

    return grad


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--chunks", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "units", "lengths", "chunks", "repeats", "rounds"))
    rng = np.random.default_rng(0)
    print(f"backend {keras.backend.backend()}, device {device_name()}, B={args.batch}, ", end="")
    print(f"H={args.units}, I in {args.dtype}; medians of {args.repeats}, over {args.rounds}\n")
    rows = []
    for length in args.lengths:
        shape = (args.batch, length, args.units)
        current = keras.ops.convert_to_tensor(rng.normal(size=shape) * 0.3, args.dtype)
        decay = keras.ops.convert_to_tensor(rng.uniform(0.5, 0.99, args.units), "float32")
        threshold = keras.ops.convert_to_tensor(rng.uniform(0.0, 0.5, args.units), "float32")
        upstream = [keras.ops.convert_to_tensor(rng.normal(size=shape), "float32") for _ in "vd"]
        chunks = [None] + [c for c in args.chunks if c < length]
        whole = hsru_ops.hybrid_scan(decay, current, threshold, 3.0)
        steps, agreement = {}, {}
        for chunk in chunks:
            states = hsru_ops.hybrid_scan(decay, current, threshold, 3.0, time_chunk_length=chunk)
            agreement[chunk] = {
                "v_max_abs_difference": float(
                    np.abs(keras.ops.convert_to_numpy(states[0] - whole[0])).max()
                ),
                # A V within rounding of the threshold may spike on one side only.
                "d_agree": float(
                    np.mean(
                        keras.ops.convert_to_numpy(states[1])
                        == keras.ops.convert_to_numpy(whole[1])
                    )
                ),
            }
            steps[chunk] = step_function(chunk, current, decay, threshold, upstream)
        times = {chunk: [] for chunk in chunks}
        for _ in range(args.rounds):
            for chunk, step in steps.items():
                times[chunk].append(median_seconds(step, args.repeats)[0] * 1e3)
        for chunk in chunks:
            rows.append(
                {
                    "length": length,
                    "chunk": chunk,
                    "ms": statistics.median(times[chunk]),
                    "rounds_ms": times[chunk],
                    **agreement[chunk],
                }
            )
    print("| L | time chunk | forward + backward ms | speedup | max V difference | D agree |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        base = next(r for r in rows if r["length"] == row["length"] and r["chunk"] is None)
        print(
            f"| {row['length']} | {row['chunk'] or 'whole'} | {row['ms']:.2f} | "
            f"{base['ms'] / row['ms']:.2f} | {row['v_max_abs_difference']:.1e} | "
            f"{row['d_agree']:.6f} |"
        )
    if args.json:
        write_report(
            args.json, args, ("batch", "units", "dtype", "repeats", "rounds"), results=rows
        )


if __name__ == "__main__":
    main()
