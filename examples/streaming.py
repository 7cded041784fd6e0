"""Online inference: a trained parity model reads a long bit stream chunk by chunk.

Trains `HSRURNN(16)` on temporal parity (curriculum 10 -> 31 -> 60, `--lengths`), copies its
weights into a stateful model that keeps `HSRU`'s states between calls, and feeds it one
stream through `predict_on_batch`, `--chunks` steps per call. After every call the model's
answer is checked against the true parity of the stream so far. The same runs with
`RNN(HSRUCell)`, keras' step loop over the same weights. Reports, per layer and chunk size,
the fraction of correct answers, the latency per call (median and 99th percentile) and the
steps per second.

    KERAS_BACKEND=jax python examples/streaming.py       # 1,000,000 steps per chunk size
    KERAS_BACKEND=jax python examples/streaming.py --quick

One step per call runs over a shorter stream (`--single-step-stream`): a million calls of
`predict_on_batch` would time Python's call overhead for minutes. `RNN(HSRUCell)` streams
`--loop-stream` steps at most: keras' torch loop steps in Python.
"""

import argparse
import time

import keras
import numpy as np
from _latency import percentiles_ms
from _outputs import add_output_arguments, write_json

import keras_hsru
from keras_hsru.callbacks import Curriculum
from keras_hsru.models import HSRURNN
from keras_hsru.tasks import TemporalParity


def train(args):
    keras.utils.set_random_seed(0)
    train_task = TemporalParity(10, batch_size=64, steps_per_epoch=args.steps, seed=0)
    model = HSRURNN(16)
    model.compile(
        keras.optimizers.AdamW(3e-3, global_clipnorm=1.0),
        "binary_crossentropy",
        metrics=["accuracy"],
    )
    lengths = args.lengths
    curriculum = Curriculum([train_task], lengths=lengths, epochs_per_stage=args.epochs_per_stage)
    model.fit(
        train_task, epochs=len(lengths) * args.epochs_per_stage, callbacks=[curriculum], verbose=0
    )
    return model


def streaming_model(trained, kind):
    layer = trained.recurrent_layers[0]
    if kind == "HSRU":
        recurrent = keras_hsru.HSRU(16, stateful=True)
    else:
        recurrent = keras.layers.RNN(keras_hsru.HSRUCell(16), stateful=True)
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(1, None, 1)),
            recurrent,
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    recurrent.set_weights(layer.get_weights())
    model.layers[-1].set_weights(trained.head.get_weights())
    return model


def stream(model, bits, chunk):
    """Feeds `bits` (1, N, 1) `chunk` steps per call; returns latencies and correct answers."""
    model.layers[0].reset_states()
    parity = np.cumsum(bits[0, :, 0]) % 2
    latencies, correct = [], 0
    calls = 0
    for start in range(0, bits.shape[1], chunk):
        piece = bits[:, start : start + chunk]
        began = time.perf_counter()
        answer = model.predict_on_batch(piece)
        latencies.append(time.perf_counter() - began)
        correct += int(float(answer[0, 0]) > 0.5) == parity[start + piece.shape[1] - 1]
        calls += 1
    return latencies, correct / calls


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stream", type=int, default=1_000_000, help="steps per stream")
    parser.add_argument("--single-step-stream", type=int, default=10_000)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 64, 1024])
    # An odd length among them: trained at even lengths only (the paper's 10, 30, 60), a
    # model may read the step count's parity into its answer and be wrong at odd lengths,
    # which a stream answered step by step reaches half the time.
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 31, 60])
    parser.add_argument(
        "--loop-stream",
        type=int,
        default=20_000,
        help="steps per stream for RNN(HSRUCell), whose torch loop runs in Python",
    )
    parser.add_argument("--quick", action="store_true", help="a few steps, for tests")
    add_output_arguments(parser)
    args = parser.parse_args()
    for name in ("stream", "single_step_stream", "loop_stream"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be positive. Received: {getattr(args, name)}")
    for name in ("chunks", "lengths"):
        if any(value < 1 for value in getattr(args, name)):
            raise ValueError(f"--{name} must be positive. Received: {getattr(args, name)}")
    args.steps, args.epochs_per_stage = 100, 3
    if args.quick:
        args.steps, args.epochs_per_stage = 3, 1
        args.stream, args.single_step_stream, args.chunks = 256, 20, [1, 64]
        args.loop_stream = 256
    backend = keras.backend.backend()
    trained = train(args)
    rng = np.random.default_rng(1)
    rows = []
    for kind in ("HSRU", "RNN(HSRUCell)"):
        model = streaming_model(trained, kind)
        for chunk in args.chunks:
            length = args.single_step_stream if chunk == 1 else args.stream
            if kind == "RNN(HSRUCell)":
                length = min(length, args.loop_stream)
            # Whole chunks only: a shorter last chunk would compile a new shape.
            length = max(chunk, length - length % chunk)
            bits = rng.integers(0, 2, size=(1, length, 1)).astype("float32")
            stream(model, bits[:, : 2 * chunk], chunk)  # compile for this chunk size
            latencies, accuracy = stream(model, bits, chunk)
            p50, p99 = percentiles_ms(latencies)
            row = {
                "layer": kind,
                "chunk": chunk,
                "stream": length,
                "calls": len(latencies),
                "accuracy": accuracy,
                "p50_ms": p50,
                "p99_ms": p99,
                "steps_per_s": length / sum(latencies),
            }
            rows.append(row)
            print(
                f"{kind:14s} chunk {chunk:5d}: {row['calls']:7d} calls over {length:,} steps, "
                f"correct {100 * accuracy:6.2f}%, p50 {row['p50_ms']:.3f} ms, "
                f"p99 {row['p99_ms']:.3f} ms, {row['steps_per_s']:,.0f} steps/s",
                flush=True,
            )
    write_json(args, "streaming", {"backend": backend, "rows": rows})


if __name__ == "__main__":
    main()
