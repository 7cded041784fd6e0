"""Quickstart: train keras.layers.RNN(keras_hsru.HSRUCell) on temporal parity.

Each sequence is a stream of random bits; the label is the parity of the whole
stream (1 if it holds an odd number of ones). Fresh sequences are drawn for
every epoch, and accuracy is measured on sequences never seen in training.

    KERAS_BACKEND=jax python examples/quickstart_parity.py            # ~1 minute on 2 CPU cores
    KERAS_BACKEND=torch python examples/quickstart_parity.py --quick  # a smoke run
"""

import argparse

import keras
import numpy as np
from _outputs import add_output_arguments, write_json
from _quick_parity import parity_batch

import keras_hsru


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--length", type=int, default=10, help="sequence length")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.epochs = 1

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = keras.Sequential(
        [
            keras.Input((None, 1)),
            keras.layers.RNN(keras_hsru.HSRUCell(args.units)),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-2, global_clipnorm=1.0),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    train_count = 640 if args.quick else 6400
    for epoch in range(args.epochs):
        x, y = parity_batch(rng, train_count, args.length)
        history = model.fit(x, y, batch_size=64, epochs=1, verbose=0).history
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {history['loss'][0]:.4f}, "
            f"train accuracy {history['accuracy'][0]:.4f}"
        )
    x_test, y_test = parity_batch(rng, 2000, args.length)
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    result = {
        "backend": keras.backend.backend(),
        "length": args.length,
        "seed": args.seed,
        "epochs": args.epochs,
        "test_sequences": 2000,
        "test_accuracy": float(test_accuracy),
    }
    print(
        f"parity at L={args.length}, {keras.backend.backend()}: test accuracy {test_accuracy:.4f} on 2000 fresh sequences"
    )
    write_json(args, "quickstart_parity", result)


if __name__ == "__main__":
    main()
