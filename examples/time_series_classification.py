"""HSRU on real sequences: UCR/UEA time-series classification against LSTM and GRU.

One protocol for every model (`examples/_ucr.py` loads the data): channels
z-scored with the training statistics, variable lengths padded at the end
and masked, Adam 1e-3 with gradients clipped to norm 1.0, batches of 32,
the same epochs per dataset (`_ucr.EPOCHS`) and the same seeds. The models:

- `classifier`: `keras_hsru.models.HSRUClassifier(classes, units)`, the recipe
  (two latch HSRU layers with log-uniform time constants, residual, layer
  normalisation, the last step and the mean over time read out side by side);
- `hsru`, `lstm`, `gru`: `Input -> layer(units) -> Dense(softmax)` on the last
  step, with the layer's defaults (`keras_hsru.HSRU`, `keras.layers.LSTM`,
  `keras.layers.GRU`);
- the recipe's ablations: `classifier-toggle` (the paper's XOR bit instead of
  the latch), `classifier-analog` (no digital memory: `AnalogOnlyCell` layers
  in the same stack), `classifier-short` (time constants 0.5 to 8 steps, about
  HSRU's default decays), `classifier-1layer`, `classifier-last` (the last
  step read out alone), `classifier-mean` (the mean over time alone);
- `dtw`: the nearest training series under dynamic time warping with a full
  window (aeon's `KNeighborsTimeSeriesClassifier`), on the same z-scored
  series without their padding. It has no seed: one run, whatever `--seeds`.

It reports the test accuracy of every seed, the last epoch's training
accuracy and the median seconds per epoch after the first (which compiles).

    KERAS_BACKEND=jax python examples/time_series_classification.py --datasets GunPoint
    KERAS_BACKEND=jax python examples/time_series_classification.py \
        --datasets ItalyPowerDemand --models classifier classifier-toggle classifier-analog
    KERAS_BACKEND=jax python examples/time_series_classification.py --quick   # a smoke run

Needs `aeon` (`pip install -e ".[examples]"`), whose wheel ships the datasets.
"""

import argparse
import statistics
import time

import _ucr
import keras
import numpy as np
from _outputs import add_output_arguments, write_json

import keras_hsru
from keras_hsru.initializers import TimescaleUniform
from keras_hsru.models import HSRUClassifier, PaddingMask

BASELINES = {"hsru": keras_hsru.HSRU, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
# The recipe and its ablations: HSRUClassifier arguments.
RECIPES = {
    "classifier": {},
    "classifier-toggle": {"layer_arguments": {"memory": "toggle"}},
    "classifier-short": {"min_timescale": 0.5, "max_timescale": 8.0},
    "classifier-1layer": {"num_layers": 1},
    "classifier-last": {"readout": "last"},
    "classifier-mean": {"readout": "mean"},
}
MODELS = (*RECIPES, "classifier-analog", *BASELINES, "dtw")


def analog_stack(features, classes, units, seed):
    """The recipe's stack and readout with `AnalogOnlyCell` layers: V alone, no spikes, no D."""
    inputs = keras.Input((None, features))
    hidden = PaddingMask(_ucr.PAD)(inputs)
    for index in range(2):
        cell = keras_hsru.AnalogOnlyCell(
            units, tau_initializer=TimescaleUniform(1.0, 1000.0, seed=seed + index)
        )
        outputs = keras.layers.RNN(cell, return_sequences=True)(hidden)
        hidden = keras.layers.LayerNormalization()(
            outputs if index == 0 else keras.layers.Add()([outputs, hidden])
        )
    # The masked mean: the pooling layer reads the mask the padding layer set.
    readout = keras.layers.Concatenate()(
        [hidden[:, -1], keras.layers.GlobalAveragePooling1D()(hidden)]
    )
    probabilities = keras.layers.Dense(classes, activation="softmax")(readout)
    return keras.Model(inputs, probabilities)


def build_model(kind, features, classes, units, seed):
    if kind in RECIPES:
        model = HSRUClassifier(
            classes, units=units, mask_value=_ucr.PAD, seed=seed, **RECIPES[kind]
        )
        model.compile()  # the classifier's defaults: the protocol's optimizer and loss
        return model
    if kind == "classifier-analog":
        model = analog_stack(features, classes, units, seed)
    else:
        model = keras.Sequential(
            [
                keras.Input((None, features)),
                PaddingMask(_ucr.PAD),
                BASELINES[kind](units),
                keras.layers.Dense(classes, activation="softmax"),
            ]
        )
    model.compile(
        keras.optimizers.Adam(1e-3, clipnorm=1.0),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def nearest_neighbour_dtw(data):
    """1-NN DTW (full window): the test accuracy and the seconds it took.

    Each channel was z-scored with one mean and deviation for every series, so on
    a one-channel dataset the nearest neighbours are those of the raw series.
    """
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    x_train, y_train, x_test, y_test, _ = data
    start = time.perf_counter()
    classifier = KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)
    classifier.fit(_ucr.unpad(x_train), y_train)
    accuracy = float(np.mean(classifier.predict(_ucr.unpad(x_test)) == y_test))
    return {"test_accuracy": accuracy, "seconds": time.perf_counter() - start}


def run(kind, data, units, epochs, seed):
    x_train, y_train, x_test, y_test, classes = data
    keras.utils.set_random_seed(seed)
    model = build_model(kind, x_train.shape[-1], classes, units, seed)
    times = EpochTimes()
    history = model.fit(
        x_train, y_train, batch_size=32, epochs=epochs, verbose=0, callbacks=[times]
    )
    _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    return {
        "test_accuracy": float(accuracy),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "seconds_per_epoch": statistics.median(times.seconds[1:] or times.seconds),
        "parameters": int(model.count_params()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=list(_ucr.EPOCHS), choices=list(_ucr.EPOCHS)
    )
    parser.add_argument(
        "--models", nargs="+", default=["classifier", "hsru", "lstm", "gru"], choices=MODELS
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--epochs", type=int, help="every dataset's epochs (default: _ucr.EPOCHS)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 epochs, 16 cases")
    add_output_arguments(parser)
    args = parser.parse_args()
    for name in ("seeds", "units", "epochs"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name} must be positive. Received: {value}")
    limit = None
    if args.quick:
        args.datasets, args.seeds, args.units, args.epochs, limit = (
            ["ItalyPowerDemand"], 1, 8, 2, 16,
        )  # fmt: skip

    runs, datasets = [], {}
    for dataset in args.datasets:
        data = _ucr.load(dataset, limit=limit)
        datasets[dataset] = _ucr.describe(data)
        epochs = args.epochs or _ucr.EPOCHS[dataset]
        for kind in args.models:
            if kind == "dtw":
                result = nearest_neighbour_dtw(data)
                runs.append({"dataset": dataset, "model": kind, **result})
                print(
                    f"{dataset:22s} {kind:18s}: test {100 * result['test_accuracy']:5.1f}%"
                    f"  {result['seconds']:6.1f} s",
                    flush=True,
                )
                continue
            for seed in range(args.seeds):
                result = run(kind, data, args.units, epochs, seed)
                runs.append(
                    {"dataset": dataset, "model": kind, "seed": seed, "epochs": epochs, **result}
                )
                print(
                    f"{dataset:22s} {kind:18s} seed {seed}: test {100 * result['test_accuracy']:5.1f}%"
                    f"  train {100 * result['train_accuracy']:5.1f}%"
                    f"  {1000 * result['seconds_per_epoch']:6.0f} ms/epoch",
                    flush=True,
                )
    print("\nmean test accuracy over seeds:")
    for dataset in args.datasets:
        cells = []
        for kind in args.models:
            scores = [
                r["test_accuracy"] for r in runs if r["dataset"] == dataset and r["model"] == kind
            ]
            cells.append(f"{kind} {100 * np.mean(scores):5.1f}")
        print(f"  {dataset:22s} " + "  ".join(cells))
    write_json(
        args,
        "time_series_classification",
        {
            "backend": keras.backend.backend(),
            "units": args.units,
            "seeds": args.seeds,
            "batch_size": 32,
            "optimizer": "Adam(1e-3, clipnorm=1.0)",
            "quick": args.quick,
            "datasets": datasets,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
