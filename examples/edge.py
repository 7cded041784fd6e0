"""On the edge: a parity model streamed one step per call in every runtime keras exports to.

Trains `HSRU(16)` on temporal parity (`_quick_parity`), builds its
one-step model `(bit, y, V, D) -> (probability, y, V, D)` with the trained
weights, in float32 and with int8 kernels in its HSRU cell
(`model.quantize("int8", filters="hsru")`), exports each with a static shape
(one stream, one step) to ONNX and to LiteRT, and streams `--steps` random
bits through each runtime, feeding the states back after every call: keras'
`predict_on_batch`, onnxruntime, and LiteRT's interpreter (`ai-edge-litert`,
builtin ops only). Each answer is checked against the parity of the stream so
far. Reports, per runtime and weights, the fraction of correct answers (and
the steps answered wrong), the latency per step (median and 99th percentile) and the exported file's size.

    KERAS_BACKEND=tensorflow python examples/edge.py    # ~1 minute on 2 CPU cores
    KERAS_BACKEND=tensorflow python examples/edge.py --quick

keras exports LiteRT from TensorFlow (and from torch through `litert-torch`,
not installed here); a runtime the backend does not offer is reported with the
exporter's message instead of a row. The Dense head stays float32: keras' int8
`Dense` converts neither to LiteRT nor, from torch, to ONNX.
"""

import argparse
import os
import tempfile
import time

import keras
import numpy as np
from _latency import percentiles_ms
from _outputs import add_output_arguments, write_json
from _quick_parity import UNITS, train_parity

import keras_hsru


def step_model(trained, int8):
    """One step of `trained`'s stream with explicit states, with its weights."""
    bit = keras.Input(batch_shape=(1, 1, 1), name="bit")
    states = [keras.Input(batch_shape=(1, UNITS), name=name) for name in ("y", "v", "d")]
    recurrent = keras_hsru.HSRU(UNITS, return_state=True, name="hsru")
    output, *new_states = recurrent(bit, initial_state=states)
    head = keras.layers.Dense(1, activation="sigmoid", name="head")
    model = keras.Model([bit, *states], [head(output), *new_states])
    recurrent.set_weights(trained.layers[0].get_weights())
    head.set_weights(trained.layers[1].get_weights())
    if int8:
        model.quantize("int8", filters="hsru")
    return model


def signature():
    return [
        [keras.InputSpec(shape=(1, 1, 1), dtype="float32")]
        + [keras.InputSpec(shape=(1, UNITS), dtype="float32")] * 3
    ]


def keras_runtime(model, directory):
    return (lambda feed: [np.asarray(a) for a in model.predict_on_batch(feed)]), None


def onnx_runtime(model, directory):
    import onnxruntime

    path = os.path.join(directory, "step.onnx")
    model.export(path, format="onnx", input_signature=signature(), verbose=False)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [entry.name for entry in session.get_inputs()]
    return (lambda feed: session.run(None, dict(zip(names, feed)))), os.path.getsize(path)


def litert_runtime(model, directory):
    from ai_edge_litert.interpreter import Interpreter

    path = os.path.join(directory, "step.tflite")
    model.export(path, format="litert", input_signature=signature(), verbose=False)
    runner = Interpreter(model_path=path).get_signature_runner()
    # keras names a signature's inputs args_0, args_0_1, ... and its outputs output_0, ...
    inputs = ["args_0"] + [f"args_0_{index}" for index in (1, 2, 3)]

    def run(feed):
        results = runner(**dict(zip(inputs, feed)))
        return [results[f"output_{index}"] for index in range(4)]

    return run, os.path.getsize(path)


RUNTIMES = {
    "keras predict_on_batch": keras_runtime,
    "onnxruntime": onnx_runtime,
    "LiteRT": litert_runtime,
}


def stream(run, bits):
    """Feeds `bits` one per call; returns (the steps answered wrong, counted from 1,
    seconds per call)."""
    states = [np.zeros((1, UNITS), np.float32)] * 3
    wrong, seconds, parity = [], [], 0
    for step, bit in enumerate(bits, start=1):
        start = time.perf_counter()
        probability, *states = run([np.full((1, 1, 1), bit, np.float32), *states])
        seconds.append(time.perf_counter() - start)
        states = [np.asarray(state, np.float32) for state in states]
        parity ^= int(bit)
        if (float(np.asarray(probability).ravel()[0]) > 0.5) != parity:
            wrong.append(step)
    return wrong, seconds


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2000, help="bits streamed per runtime")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    add_output_arguments(parser)
    args = parser.parse_args()
    if args.steps <= 0:
        parser.error(f"--steps must be positive. Received: {args.steps}")
    epochs, count = 8, 6400
    if args.quick:
        args.steps, epochs, count = 20, 1, 640

    trained = train_parity(args.seed, epochs, count)
    bits = np.random.default_rng(1000 + args.seed).integers(0, 2, size=args.steps)
    rows, unavailable = [], {}
    with tempfile.TemporaryDirectory() as directory:
        for weights in ("float32", "int8"):
            model = step_model(trained, int8=weights == "int8")
            for runtime, make in RUNTIMES.items():
                try:
                    run, size = make(model, directory)
                except Exception as error:  # the exporter says why the backend has no route
                    reason = str(error).strip().splitlines()[0]
                    unavailable[f"{runtime} ({weights})"] = reason
                    print(f"{runtime:<24} {weights:<7}  not offered: {reason}")
                    continue
                run([np.zeros((1, 1, 1), np.float32)] + [np.zeros((1, UNITS), np.float32)] * 3)
                wrong, seconds = stream(run, bits)
                p50, p99 = percentiles_ms(seconds)
                row = {
                    "runtime": runtime,
                    "weights": weights,
                    "steps": len(bits),
                    "accuracy": 1 - len(wrong) / len(bits),
                    "wrong_steps": wrong,
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "file_bytes": size,
                }
                rows.append(row)
                print(
                    f"{runtime:<24} {weights:<7}  correct {100 * row['accuracy']:6.2f}%  "
                    f"p50 {row['p50_ms']:.3f} ms  p99 {row['p99_ms']:.3f} ms  "
                    f"file {'-' if size is None else f'{size:,} B'}"
                )
    write_json(
        args,
        "edge",
        {
            "backend": keras.backend.backend(),
            "quick": args.quick,
            "seed": args.seed,
            "rows": rows,
            "unavailable": unavailable,
        },
    )


if __name__ == "__main__":
    main()
