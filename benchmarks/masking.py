"""What a mask costs: a train step on a padded batch with and without its mask.

Real sequences come in different lengths, padded to the longest of a batch and
masked (`keras.layers.Masking`, or an upstream layer's mask). For each layer
and length this times one optimizer step (`train_on_batch`) of
`[Masking(0.0)] -> layer -> Dense(1)` on one batch of sequences whose lengths
are drawn from a quarter of the length to all of it, three ways:

- `unmasked`: the padded batch, no mask (the padding is read as data);
- `right`: padded at the end, masked (the common case);
- `left`: padded at the start, masked (what `go_backwards` and pre-padding give).

It prints the medians and each masked step's ratio to the unmasked one; the
layers alternate in `--rounds` passes, so that a slow spell of a shared machine
falls on all of them. Writes everything as JSON.

    KERAS_BACKEND=jax python benchmarks/masking.py --lengths 361 --rounds 3 \\
        --json outputs/masking-jax.json
"""

import argparse
import platform
import statistics

import keras
import numpy as np
from harness import (
    add_model_arguments,
    check_positive,
    device_name,
    host_name,
    median_seconds,
    write_report,
)

import keras_hsru

LAYERS = {
    "HSRU": lambda units, sequences: keras_hsru.HSRU(units, return_sequences=sequences),
    # The layer HSRUClassifier stacks: the latch memory.
    "HSRU(latch)": lambda units, sequences: keras_hsru.HSRU(
        units, memory="latch", return_sequences=sequences
    ),
    "LSTM": lambda units, sequences: keras.layers.LSTM(units, return_sequences=sequences),
    "GRU": lambda units, sequences: keras.layers.GRU(units, return_sequences=sequences),
}
PADDINGS = ("unmasked", "right", "left")


def padded_batch(rng, batch, length, features):
    """`(right-padded, left-padded)` batches of the same sequences, zeros as padding."""
    lengths = rng.integers(max(1, length // 4), length + 1, size=batch)
    lengths[0] = length  # the batch's longest fills the length
    steps = np.arange(length)
    right_mask = steps[None, :] < lengths[:, None]
    left_mask = steps[None, ::-1] < lengths[:, None]
    # Nonzero data, so that Masking(0.0) masks exactly the padding.
    shape = (batch, length, features)
    data = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    right = np.where(right_mask[..., None], data, 0.0).astype("float32")
    left = np.where(left_mask[..., None], data[:, ::-1], 0.0).astype("float32")
    return right, left, lengths


def build_model(layer, length, features, masked):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((length, features))]
        + ([keras.layers.Masking(0.0)] if masked else [])
        + [layer]
        + ([keras.layers.GlobalAveragePooling1D()] if layer.return_sequences else [])
        + [keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.AdamW(1e-3, global_clipnorm=1.0), "mse")
    return model


def run(args):
    rng = np.random.default_rng(0)
    results = []
    for length in args.lengths:
        right, left, lengths = padded_batch(rng, args.batch, length, args.features)
        inputs = {"unmasked": right, "right": right, "left": left}
        y = rng.normal(size=(args.batch, 1)).astype("float32")
        timed = []
        for name in args.layers:
            for padding in PADDINGS:
                layer = LAYERS[name](args.units, args.return_sequences)
                model = build_model(layer, length, args.features, padding != "unmasked")
                row = {"layer": name, "length": length, "padding": padding, "rounds_s": []}
                row["mean_length"] = float(lengths.mean())
                results.append(row)
                x = inputs[padding]
                timed.append((row, lambda model=model, x=x, y=y: model.train_on_batch(x, y)))
        for round_ in range(args.rounds):
            for row, step in timed:
                row["rounds_s"].append(
                    median_seconds(step, args.repeats, 2 if round_ == 0 else 1)[0]
                )
                print(
                    f"{row['layer']:12s} L={length:6d} {row['padding']:9s} round {round_ + 1}  "
                    f"train {row['rounds_s'][-1] * 1e3:9.2f} ms",
                    flush=True,
                )
        for row, _ in timed:
            row["train_s"] = statistics.median(row["rounds_s"])
        for row, _ in timed:
            base = next(
                r["train_s"]
                for r, _ in timed
                if r["layer"] == row["layer"] and r["padding"] == "unmasked"
            )
            row["x_unmasked"] = row["train_s"] / base
    return results


def print_table(results, args):
    print()
    print(
        f"backend {keras.backend.backend()}, device {device_name()}, B={args.batch}, "
        f"Din={args.features}, H={args.units}, return_sequences={args.return_sequences}; "
        f"train step, medians of {args.repeats} steps, then over {args.rounds} rounds"
    )
    header = f"{'layer':12s} {'L':>6s} {'padding':>9s} {'train ms':>10s} {'x unmasked':>11s}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['layer']:12s} {r['length']:6d} {r['padding']:>9s} {r['train_s'] * 1e3:10.2f} "
            f"{r['x_unmasked']:11.2f}"
        )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument("--lengths", type=int, nargs="+", default=[361])
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    parser.add_argument(
        "--return-sequences", action="store_true", help="outputs at every step, averaged over time"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the layers")
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    check_positive(args, ("batch", "features", "units", "lengths", "repeats", "rounds"))
    results = run(args)
    print_table(results, args)
    if args.json:
        write_report(
            args.json,
            args,
            ("batch", "features", "units", "return_sequences", "repeats", "rounds"),
            keras=keras.__version__,
            python=platform.python_version(),
            host=host_name(),
            results=results,
        )


if __name__ == "__main__":
    main()
