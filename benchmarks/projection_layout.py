"""HSRU's projections over whole sequences: flattened 2D matmuls against rank-3 ones.

HSRU projects whole sequences at once, `I = x W_in` and `y = tanh([V, D] W_out)`.
`keras_hsru` computes each as one matmul on the flattened (batch * time, rows)
(`matmul_rows` in `keras_hsru/layers/leaky_integrator.py`). This times one
`train_on_batch` and one `predict_on_batch` of the model `speed.py` times,
with an HSRU layer, once with those flattened projections and once with the
rank-3 `ops.matmul(x, kernel)` they replaced, alternating for `--rounds`
rounds in one run, and prints medians and the ratio.

    KERAS_BACKEND=jax python benchmarks/projection_layout.py --json results/projection-layout-cpu-jax.json
"""

import argparse
import functools
import json
import statistics

import keras
import numpy as np
from keras import ops
from speed import add_model_arguments, build_model, check_positive, median_seconds

import keras_hsru
from keras_hsru.layers import leaky_integrator

Cell = leaky_integrator.LeakyIntegratorCell
FLATTENED = {"input_current": Cell.input_current, "readout": Cell.readout}


def rank3_input_current(self, inputs):
    current = ops.matmul(inputs, self.input_kernel) + self.input_bias
    return ops.cast(current, leaky_integrator.STATE_DTYPE)


def rank3_readout(self, *states):
    features = states[0] if len(states) == 1 else ops.concatenate(states, axis=-1)
    features = ops.cast(features, self.compute_dtype)
    return ops.tanh(ops.matmul(features, self.output_kernel) + self.output_bias)


RANK3 = {"input_current": rank3_input_current, "readout": rank3_readout}


def time_model(methods, args):
    """Median train-step and forward milliseconds with the cell's projections set to `methods`."""
    for name, method in methods.items():
        setattr(Cell, name, method)
    model = build_model(
        keras_hsru.HSRU(args.units, return_sequences=True), args.length, args.features
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.length, args.features)).astype("float32")
    x = ops.convert_to_tensor(x)
    y = ops.zeros((args.batch, 1))
    train, _ = median_seconds(functools.partial(model.train_on_batch, x, y), args.repeats)
    forward, _ = median_seconds(functools.partial(model.predict_on_batch, x), args.repeats)
    return 1e3 * train, 1e3 * forward


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "length", "repeats", "rounds"))

    backend = keras.backend.backend()
    print(f"{backend}, B={args.batch} L={args.length} Din={args.features} H={args.units}")
    print("| layout | round | train ms | forward ms |")
    print("| --- | ---: | ---: | ---: |")
    rows = []
    try:
        for round_ in range(1, args.rounds + 1):
            for layout, methods in (("rank3", RANK3), ("flattened", FLATTENED)):
                train, forward = time_model(methods, args)
                rows.append(
                    {"layout": layout, "round": round_, "train_ms": train, "forward_ms": forward}
                )
                print(f"| {layout} | {round_} | {train:.1f} | {forward:.1f} |", flush=True)
    finally:
        for name, method in FLATTENED.items():
            setattr(Cell, name, method)

    def median(layout, key):
        return statistics.median(r[key] for r in rows if r["layout"] == layout)

    ratios = {
        key: median("rank3", key) / median("flattened", key) for key in ("train_ms", "forward_ms")
    }
    print(
        f"\nrank3 / flattened (median over rounds): train {ratios['train_ms']:.2f}x, "
        f"forward {ratios['forward_ms']:.2f}x"
    )
    if args.json:
        with open(args.json, "w") as file:
            report = {"backend": backend, "config": vars(args), "rows": rows, "ratios": ratios}
            json.dump(report, file, indent=2)


if __name__ == "__main__":
    main()
