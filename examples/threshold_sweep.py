"""The sweep behind HSRUCell's default threshold: parity at L=10 over thresholds and seeds.

For each initial threshold, trains keras.layers.RNN(HSRUCell(16)) on temporal
parity (8 epochs of 6,400 fresh sequences, AdamW 1e-2, global clipnorm 1)
for several seeds and prints the test accuracy of each seed on 2,000 fresh
sequences.

    KERAS_BACKEND=jax python examples/threshold_sweep.py               # ~2 minutes on 2 CPU cores
    KERAS_BACKEND=jax python examples/threshold_sweep.py --quick       # a smoke run
"""

import argparse
import json

import keras
import numpy as np

import keras_hsru


def parity_batch(rng, count, length):
    bits = rng.integers(0, 2, size=(count, length, 1)).astype("float32")
    return bits, (bits.sum(axis=(1, 2)) % 2).astype("float32")


def accuracy(threshold, seed, length, epochs, train_count):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    cell = keras_hsru.HSRUCell(16, threshold_initializer=keras.initializers.Constant(threshold))
    model = keras.Sequential(
        [
            keras.Input((length, 1)),
            keras.layers.RNN(cell),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        keras.optimizers.AdamW(1e-2, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    x, y = parity_batch(rng, train_count * epochs, length)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    x_test, y_test = parity_batch(rng, 2000, length)
    return float(model.evaluate(x_test, y_test, verbose=0)[1])


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one seed, few steps, for tests")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()
    seeds, epochs, train_count = (1, 1, 256) if args.quick else (args.seeds, 8, 6400)
    results = {}
    for threshold in args.thresholds:
        scores = [
            accuracy(threshold, seed, args.length, epochs, train_count) for seed in range(seeds)
        ]
        results[str(threshold)] = scores
        solved = sum(score == 1.0 for score in scores)
        print(
            f"threshold {threshold}: test accuracy per seed {np.round(scores, 4).tolist()}, "
            f"{solved}/{seeds} at 100%",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"backend": keras.backend.backend(), "length": args.length, "results": results},
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
