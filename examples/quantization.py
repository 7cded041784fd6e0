"""int8 weights: `model.quantize("int8")` on a trained parity model and a trained classifier.

Trains `HSRU(16)` on temporal parity at lengths 10 and 11 (`_quick_parity`:
AdamW 1e-2, 8 epochs of 6,400 fresh sequences) and `HSRUClassifier(2, units=64)`
on ItalyPowerDemand (the Real sequences page's protocol, 300 epochs), saves
each, loads a copy and quantizes it (`int8` kernels in every HSRU cell and in
the Dense head; V and D stay float32). Reports, per seed, float32 against
int8: test accuracy (parity at length 10 and at `--long-length`), the bytes of
the weights, and the latency of `predict_on_batch` on one parity sequence of `--latency-length` steps (median of `--rounds`
calls, float32 and int8 alternating in one run).

    KERAS_BACKEND=jax python examples/quantization.py        # ~2 minutes on 2 CPU cores
    KERAS_BACKEND=jax python examples/quantization.py --quick

Needs `aeon` for ItalyPowerDemand (`pip install -e ".[examples]"`).
"""

import argparse
import os
import statistics
import tempfile
import time

import _ucr
import keras
import numpy as np
from _outputs import add_output_arguments, write_json
from _quick_parity import parity_batch, train_parity

from keras_hsru.models import HSRUClassifier


def train_classifier(seed, epochs, limit):
    x_train, y_train, x_test, y_test, classes = _ucr.load("ItalyPowerDemand", limit=limit)
    keras.utils.set_random_seed(seed)
    model = HSRUClassifier(classes, units=64, mask_value=_ucr.PAD, seed=seed)
    model.compile()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    return model, (x_test, y_test)


def weight_bytes(model):
    return sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)


def float_and_int8(model, directory, name):
    """The model loaded from its `.keras` file and a loaded copy quantized to int8
    (itself saved and loaded back), with the bytes of their weights."""
    paths = {kind: os.path.join(directory, f"{name}-{kind}.keras") for kind in ("float32", "int8")}
    model.save(paths["float32"])
    models = {kind: keras.saving.load_model(paths["float32"]) for kind in paths}
    models["int8"].quantize("int8")
    models["int8"].save(paths["int8"])
    models["int8"] = keras.saving.load_model(paths["int8"])
    return models, {kind: weight_bytes(model) for kind, model in models.items()}


def accuracy(model, x, y, binary):
    probabilities = model.predict(x, batch_size=100, verbose=0)
    predicted = (probabilities[:, 0] > 0.5) if binary else probabilities.argmax(axis=-1)
    return float(np.mean(predicted == y))


def latencies(models, x, rounds):
    """Median seconds of `predict_on_batch(x)` per model, the models alternating."""
    for model in models.values():
        model.predict_on_batch(x)  # compiles
    seconds = {kind: [] for kind in models}
    for _ in range(rounds):
        for kind, model in models.items():
            start = time.perf_counter()
            model.predict_on_batch(x)
            seconds[kind].append(time.perf_counter() - start)
    return {kind: statistics.median(values) for kind, values in seconds.items()}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--long-length", type=int, default=10_000)
    parser.add_argument("--latency-length", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    add_output_arguments(parser)
    args = parser.parse_args()
    for name in ("seeds", "long_length", "latency_length", "rounds"):
        value = getattr(args, name)
        if value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive. Received: {value}")
    parity_epochs, parity_count, classifier_epochs, limit, test_count = 8, 6400, 300, None, 2000
    if args.quick:
        args.seeds, args.long_length, args.latency_length, args.rounds = 1, 50, 20, 3
        parity_epochs, parity_count, classifier_epochs, limit, test_count = 1, 640, 2, 16, 100

    runs = []
    with tempfile.TemporaryDirectory() as directory:
        for seed in range(args.seeds):
            rng = np.random.default_rng(1000 + seed)
            models, sizes = float_and_int8(
                train_parity(seed, parity_epochs, parity_count), directory, f"parity{seed}"
            )
            tests = {
                f"parity L={length}": parity_batch(rng, count, length)
                for length, count in ((10, test_count), (args.long_length, 200))
            }
            x_latency, _ = parity_batch(rng, 1, args.latency_length)
            seconds = latencies(models, x_latency, args.rounds)
            for kind, model in models.items():
                runs.append(
                    {
                        "model": "HSRU(16) parity",
                        "seed": seed,
                        "weights": kind,
                        **{name: accuracy(model, *test, True) for name, test in tests.items()},
                        "weight_bytes": sizes[kind],
                        "predict_on_batch_seconds": seconds[kind],
                    }
                )
            classifier, (x_test, y_test) = train_classifier(seed, classifier_epochs, limit)
            models, sizes = float_and_int8(classifier, directory, f"classifier{seed}")
            for kind, model in models.items():
                runs.append(
                    {
                        "model": "HSRUClassifier(64) ItalyPowerDemand",
                        "seed": seed,
                        "weights": kind,
                        "test": accuracy(model, x_test, y_test, False),
                        "weight_bytes": sizes[kind],
                    }
                )
            for run in runs[-4:]:
                scores = "  ".join(
                    f"{key} {100 * value:.1f}%"
                    for key, value in run.items()
                    if key.startswith(("parity", "test"))
                )
                print(
                    f"{run['model']:<36} seed {run['seed']} {run['weights']:<7}  {scores}  "
                    f"weights {run['weight_bytes']:,} B"
                )
    write_json(
        args,
        "quantization",
        {
            "backend": keras.backend.backend(),
            "quick": args.quick,
            "long_length": args.long_length,
            "latency_length": args.latency_length,
            "rounds": args.rounds,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
