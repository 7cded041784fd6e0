"""HSRU's readout y = tanh(V W_V + D W_D + b): `keras_hsru.ops.tanh_dense` against keras ops.

`tanh_dense` is what the layers call; on torch it runs the bias and the sum in
`addmm`'s accumulator and tanh in place. The composed form is the same
arithmetic written with keras ops (two matmuls, two additions, a tanh), which
JAX and TensorFlow compile into the same kernels, so the comparison matters
on torch, which runs it op by op. Times forward and backward of each form on
(batch * length, units) states, alternating `--rounds` times, on the active
backend and device, in the dtype of `--dtype`, and prints medians and the ratio.

    KERAS_BACKEND=torch python benchmarks/readout.py --batch 64 --units 256 --lengths 1024 4096
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


def composed(inputs, kernels, bias):
    """The same arithmetic in keras ops: what JAX and TensorFlow run for tanh_dense."""
    total = bias
    for x, kernel in zip(inputs, kernels):
        total = total + hsru_ops.matmul_rows(x, kernel)
    return keras.ops.tanh(total)


FORMS = {"keras ops": composed, "tanh_dense": hsru_ops.tanh_dense}


def step_function(form, states, kernels, bias):
    """One forward and backward pass of `form`, as a callable returning a value to wait on."""
    backend = keras.backend.backend()
    weights = [*kernels, bias]
    if backend == "jax":
        import jax

        def loss(weights, states):
            return keras.ops.sum(keras.ops.square(form(states, weights[:-1], weights[-1])))

        grad = jax.jit(jax.grad(loss))
        return lambda: grad(weights, states)
    if backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(w) for w in weights]

        @tf.function
        def grad():
            with tf.GradientTape() as tape:
                y = form(states, variables[:-1], variables[-1])
                loss = tf.reduce_sum(tf.square(y))
            return tape.gradient(loss, variables)

        return grad
    import torch

    leaves = [w.detach().clone().requires_grad_(True) for w in weights]

    def grad():
        y = form(states, leaves[:-1], leaves[-1])
        return torch.autograd.grad(y.square().sum(), leaves)

    return grad


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two forms")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "units", "lengths", "repeats", "rounds"))
    rng = np.random.default_rng(0)
    units = args.units
    print(f"backend {keras.backend.backend()}, device {device_name()}, B={args.batch}, ", end="")
    print(f"H={units}, {args.dtype}; medians of {args.repeats}, then over {args.rounds} rounds\n")
    rows = []
    for length in args.lengths:

        def tensor(shape):
            return keras.ops.convert_to_tensor(rng.normal(size=shape) / np.sqrt(units), args.dtype)

        states = [tensor((args.batch, length, units)) for _ in range(2)]
        kernels = [tensor((units, units)) for _ in range(2)]
        bias = tensor((units,))
        expected = keras.ops.convert_to_numpy(composed(states, kernels, bias))
        got = keras.ops.convert_to_numpy(hsru_ops.tanh_dense(states, kernels, bias))
        error = float(np.abs(got.astype(float) - expected.astype(float)).max())
        steps = {form: step_function(fn, states, kernels, bias) for form, fn in FORMS.items()}
        times = {form: [] for form in FORMS}
        for _ in range(args.rounds):
            for form, step in steps.items():
                times[form].append(median_seconds(step, args.repeats)[0] * 1e3)
        row = {"length": length, "max_abs_difference": error}
        row.update({f"{form}_ms": statistics.median(t) for form, t in times.items()})
        row["rounds_ms"] = times
        rows.append(row)
    print("| L | keras ops ms | tanh_dense ms | keras ops / tanh_dense | max abs difference |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['length']} | {row['keras ops_ms']:.2f} | {row['tanh_dense_ms']:.2f} | "
            f"{row['keras ops_ms'] / row['tanh_dense_ms']:.2f} | {row['max_abs_difference']:.1e} |"
        )
    if args.json:
        write_report(
            args.json, args, ("batch", "units", "dtype", "repeats", "rounds"), results=rows
        )


if __name__ == "__main__":
    main()
