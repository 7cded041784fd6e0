"""Exported models serve every sequence length the way `predict` does, or say why they cannot.

Formats by backend (the docs' "Deploy and scale" has the matrix): `tf_saved_model` from
TensorFlow and JAX, and ONNX from TensorFlow and JAX, with dynamic batch and time axes; ONNX
from torch with a static time axis (torch's tracer fixes the length, and the layer warns);
LiteRT from TensorFlow with a fixed batch size, run on builtin ops alone; int8 models.
"""

import importlib.util
import os
import warnings

import keras
import numpy as np
import pytest

import keras_hsru
from tests.conftest import BACKEND
from tests.support import reference
from tests.support.helpers import draw_problem, numpy

LENGTHS = (1, 7, 130, 300)


def exported_model(rng):
    """Sequential[Input((None, 3)), HSRU(4), Dense(1)] with potentials clear of the thresholds."""
    x, weights = draw_problem(rng, batch=3, length=max(LENGTHS), input_dim=3, units=4)
    model = keras.Sequential([keras.Input((None, 3)), keras_hsru.HSRU(4), keras.layers.Dense(1)])
    model(x[:, :2])
    model.layers[0].set_weights(weights)
    return model, x


def needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"needs {module}")


@pytest.mark.skipif(BACKEND == "torch", reason="keras exports tf_saved_model from TF and JAX")
def test_tf_saved_model_serves_any_batch_and_length(rng, tmp_path):
    import tensorflow as tf

    model, x = exported_model(rng)
    model.export(str(tmp_path / "model"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "model"))  # keeps the variables alive
    for batch in (1, 3):
        for length in LENGTHS:
            inputs = x[:batch, :length]
            np.testing.assert_allclose(
                loaded.serve(tf.constant(inputs)).numpy(),
                model.predict(inputs, verbose=0),
                atol=1e-5,
                err_msg=f"batch {batch}, length {length}",
            )


def run_onnx(path, inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


@needs("onnxruntime")
@pytest.mark.skipif(BACKEND == "torch", reason="torch's export traces one length (below)")
def test_onnx_from_tensorflow_and_jax_serves_any_batch_and_length(rng, tmp_path):
    # keras converts with tf2onnx on TensorFlow and jax2onnx on JAX.
    pytest.importorskip("tf2onnx" if BACKEND == "tensorflow" else "jax2onnx")
    model, x = exported_model(rng)
    path = str(tmp_path / "model.onnx")
    model.export(path, format="onnx", verbose=False)
    for batch in (1, 3):
        for length in LENGTHS:
            inputs = x[:batch, :length]
            np.testing.assert_allclose(
                run_onnx(path, inputs), model.predict(inputs, verbose=0), atol=1e-5
            )


@needs("onnxruntime")
@pytest.mark.skipif(BACKEND == "torch", reason="torch's static route is tested below")
@pytest.mark.parametrize("export_format", ["onnx", "tf_saved_model"])
@pytest.mark.parametrize("shape", [(3, 7, 3), (None, 130, 3)])
def test_a_static_signature_exports_and_serves_its_shape(export_format, shape, rng, tmp_path):
    # A fixed time axis traces the scans at a known length, a route of its own.
    if export_format == "onnx":
        pytest.importorskip("tf2onnx" if BACKEND == "tensorflow" else "jax2onnx")
    model, x = exported_model(rng)
    path = str(tmp_path / ("model.onnx" if export_format == "onnx" else "model"))
    signature = [keras.InputSpec(shape=shape, dtype="float32")]
    model.export(path, format=export_format, input_signature=signature, verbose=False)
    if export_format == "onnx":

        def serve(inputs):
            return run_onnx(path, inputs)

    else:
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # keeps the variables alive

        def serve(inputs):
            return loaded.serve(inputs).numpy()

    for batch in (1, 3) if shape[0] is None else (shape[0],):
        inputs = x[:batch, : shape[1]]
        np.testing.assert_allclose(serve(inputs), model.predict(inputs, verbose=0), atol=1e-5)


@needs("onnxruntime")
@pytest.mark.skipif(BACKEND != "torch", reason="torch's traced ONNX export")
def test_onnx_from_torch_warns_of_the_traced_length_and_the_static_route_matches(rng, tmp_path):
    model, x = exported_model(rng)
    with pytest.warns(UserWarning, match="traced by torch .* at sequence length 1") as record:
        model.export(str(tmp_path / "dynamic.onnx"), format="onnx", verbose=False)
    ours = [str(w.message) for w in record if "traced by torch" in str(w.message)]
    assert "input_signature=[keras.InputSpec(shape=(None, L, 3))]" in ours[0]

    length = 130
    signature = [keras.InputSpec(shape=(None, length, 3), dtype="float32")]
    path = str(tmp_path / "static.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warning, now for L=130
        model.export(path, format="onnx", input_signature=signature, verbose=False)
    for batch in (1, 3):
        inputs = x[:batch, :length]
        np.testing.assert_allclose(
            run_onnx(path, inputs), model.predict(inputs, verbose=0), atol=1e-5
        )


@pytest.mark.skipif(BACKEND != "torch", reason="torch's traceable scan")
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("per_step", [False, True])
def test_torch_traceable_scan_equals_the_in_place_scan(reverse, per_step, rng):
    import torch

    from keras_hsru.ops import _torch

    shape = (2, 37, 3)
    decay = rng.uniform(0.1, 0.99, shape if per_step else shape[-1:])
    decay, inputs = (torch.tensor(a, dtype=torch.float32) for a in (decay, rng.normal(size=shape)))
    torch.testing.assert_close(
        _torch._traceable_scan(decay, inputs, reverse), _torch._scan(decay, inputs, reverse)
    )


@needs("onnxruntime")
@pytest.mark.skipif(BACKEND != "torch", reason="torch's traced ONNX export")
def test_keras_lstm_control_fails_the_same_way_on_torch(rng, tmp_path):
    # The engine's fault, not HSRU's: keras' own LSTM exported with a None time axis is
    # wrong at other lengths, or (a later keras) refuses. When keras exports it right, this
    # fails, and the docs' matrix needs updating.
    x = rng.normal(size=(2, 130, 3)).astype("float32")
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model(x[:, :2])
    path = str(tmp_path / "lstm.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.export(path, format="onnx", verbose=False)
    except ValueError:
        return
    error = np.abs(run_onnx(path, x) - model.predict(x, verbose=0)).max()
    assert error > 1e-3, error


@needs("onnxruntime")
def test_an_int8_model_exports_to_onnx_and_serves_what_predict_does(rng, tmp_path):
    if BACKEND != "torch":
        pytest.importorskip("tf2onnx" if BACKEND == "tensorflow" else "jax2onnx")
    model, x = exported_model(rng)
    # keras' int8 Dense does not export from torch (the control below): there
    # the HSRU cell alone is quantized.
    model.quantize("int8", filters="hsru" if BACKEND == "torch" else None)
    # The int8 kernels move V: put theta back in the widest gap of the new V.
    cell = model.layers[0].cell
    input_kernel = numpy(cell.input_kernel).astype(np.float32) / numpy(cell.input_kernel_scale)
    potentials = reference.potentials(x, input_kernel, numpy(cell.input_bias), numpy(cell.tau))
    theta, margin = reference.threshold_in_gaps(potentials)
    assert margin.min() > 1e-4, margin
    cell.threshold.assign(theta.astype(np.float32))
    # torch's tracer fixes the length (see above): export one.
    length = 130 if BACKEND == "torch" else None
    path = str(tmp_path / "int8.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(
            path,
            format="onnx",
            input_signature=[keras.InputSpec(shape=(None, length, 3), dtype="float32")],
            verbose=False,
        )
    for batch in (1, 3):
        for steps in (130,) if length else LENGTHS:
            inputs = x[:batch, :steps]
            np.testing.assert_allclose(
                run_onnx(path, inputs), model.predict(inputs, verbose=0), atol=1e-5
            )


@needs("onnxruntime")
@pytest.mark.skipif(BACKEND != "torch", reason="torch's traced ONNX export")
def test_keras_int8_dense_control_does_not_export_from_torch(tmp_path):
    model = keras.Sequential([keras.Input((7, 3)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.quantize("int8")
    model.predict(np.zeros((1, 7, 3), np.float32), verbose=0)
    with pytest.raises(Exception, match="aten::divide"):
        model.export(str(tmp_path / "lstm-int8.onnx"), format="onnx", verbose=False)


def run_litert(path, inputs):
    """The model at `path` in LiteRT's interpreter, which has no Flex delegate: a model
    that needs a TensorFlow op beside LiteRT's builtin ones fails to run."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    (entry,) = interpreter.get_input_details()
    interpreter.resize_tensor_input(entry["index"], inputs.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], inputs)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@needs("ai_edge_litert")
@pytest.mark.skipif(BACKEND != "tensorflow", reason="keras exports LiteRT from TensorFlow here")
def test_litert_with_builtin_ops_serves_any_length_at_a_fixed_batch(rng, tmp_path):
    model, x = exported_model(rng)
    path = str(tmp_path / "model.tflite")
    signature = [keras.InputSpec(shape=(3, None, 3), dtype="float32")]
    model.export(path, format="litert", input_signature=signature, verbose=False)
    for length in LENGTHS:
        inputs = x[:, :length]
        np.testing.assert_allclose(
            run_litert(path, inputs), model.predict(inputs, verbose=0), atol=1e-5,
            err_msg=f"length {length}",
        )  # fmt: skip


@needs("ai_edge_litert")
@pytest.mark.skipif(BACKEND != "tensorflow", reason="keras exports LiteRT from TensorFlow here")
@pytest.mark.parametrize("layer", ["HSRU", "LSTM"])
def test_litert_with_a_none_batch_axis_does_not_run_on_builtin_ops(layer, rng, tmp_path):
    # The documented obstacle, with keras' LSTM as the control: exported with
    # a `None` batch axis, neither model runs in LiteRT's interpreter.
    model, x = exported_model(rng)
    if layer == "LSTM":
        model = keras.Sequential(
            [keras.Input((None, 3)), keras.layers.LSTM(4), keras.layers.Dense(1)]
        )
        model.predict(x[:, :2], verbose=0)
    path = str(tmp_path / "model.tflite")
    model.export(path, format="litert", verbose=False)
    expected = {"HSRU": "Fill dimensions must be >= 0", "LSTM": "Select TensorFlow op"}[layer]
    with pytest.raises(RuntimeError, match=expected):
        run_litert(path, x[:, :7])


@needs("ai_edge_litert")
@pytest.mark.skipif(BACKEND != "tensorflow", reason="keras exports LiteRT from TensorFlow here")
def test_litert_dynamic_range_quantization_moves_hsru_far_more_than_the_lstm(tmp_path):
    # The converter's `optimizations=[tf.lite.Optimize.DEFAULT]` (passed on by
    # keras' exporter) stores the kernels as int8 and quantizes each matrix
    # product's input as it runs. The small errors that makes in I_t move V
    # across thresholds, and a flipped spike stays in D: HSRU's answer moves by
    # far more than keras' LSTM's, the control (docs/deploy.md, int8 weights).
    import tensorflow as tf

    x = np.random.default_rng(0).normal(size=(1, 20, 16)).astype(np.float32)
    signature = [keras.InputSpec(shape=(1, 20, 16), dtype="float32")]
    moved, smaller = {}, {}
    for name, layer in (("HSRU", keras_hsru.HSRU), ("LSTM", keras.layers.LSTM)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((20, 16), batch_size=1),
                layer(64, return_sequences=True),
                keras.layers.Dense(3),
            ]
        )
        paths = {kind: str(tmp_path / f"{name}-{kind}.tflite") for kind in ("float", "dynamic")}
        model.export(paths["float"], format="litert", input_signature=signature, verbose=False)
        model.export(
            paths["dynamic"],
            format="litert",
            input_signature=signature,
            verbose=False,
            optimizations=[tf.lite.Optimize.DEFAULT],
        )
        moved[name] = np.abs(run_litert(paths["dynamic"], x) - model.predict(x, verbose=0)).max()
        smaller[name] = os.path.getsize(paths["float"]) / os.path.getsize(paths["dynamic"])
    assert moved["LSTM"] < 1e-2 and moved["HSRU"] > 0.1, moved
    assert min(smaller.values()) > 1.4, smaller


def one_step_model(rng):
    """(x_t, y, V, D) -> (Dense(y_t), y, V, D): a stream's step with its states explicit."""
    x, weights = draw_problem(rng, batch=1, length=40, input_dim=3, units=4)
    step = keras.Input(batch_shape=(1, 1, 3))
    states = [keras.Input(batch_shape=(1, 4)) for _ in range(3)]
    recurrent = keras_hsru.HSRU(4, return_state=True)
    output, *new_states = recurrent(step, initial_state=states)
    model = keras.Model([step, *states], [keras.layers.Dense(1)(output), *new_states])
    recurrent.set_weights(weights)
    return model, x


def stream_through(run, x):
    """The step outputs of feeding `x` one step per call, the states fed back."""
    states = [np.zeros((1, 4), np.float32)] * 3
    outputs = []
    for t in range(x.shape[1]):
        output, *states = [np.asarray(a) for a in run([x[:, t : t + 1], *states])]
        outputs.append(output)
    return np.concatenate(outputs)


@needs("onnxruntime")
@needs("ai_edge_litert")
@pytest.mark.skipif(BACKEND != "tensorflow", reason="keras exports LiteRT from TensorFlow here")
def test_a_step_with_explicit_states_streams_alike_in_onnx_and_litert(rng, tmp_path):
    # What examples/edge.py streams: one call per step, the states carried outside.
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    model, x = one_step_model(rng)
    signature = [
        [keras.InputSpec(shape=(1, 1, 3), dtype="float32")]
        + [keras.InputSpec(shape=(1, 4), dtype="float32")] * 3
    ]
    model.export(str(tmp_path / "step.onnx"), format="onnx", input_signature=signature)
    model.export(str(tmp_path / "step.tflite"), format="litert", input_signature=signature)
    session = onnxruntime.InferenceSession(
        str(tmp_path / "step.onnx"), providers=["CPUExecutionProvider"]
    )
    names = [entry.name for entry in session.get_inputs()]
    runner = Interpreter(model_path=str(tmp_path / "step.tflite")).get_signature_runner()
    arguments = ["args_0", "args_0_1", "args_0_2", "args_0_3"]

    def litert(feed):
        results = runner(**dict(zip(arguments, feed)))
        return [results[f"output_{index}"] for index in range(4)]

    expected = stream_through(model.predict_on_batch, x)
    # The stream, step by step, is the whole sequence read at once.
    whole = keras.Sequential([keras.Input((None, 3)), keras_hsru.HSRU(4, return_sequences=True)])
    whole.layers[0].set_weights(model.layers[4].get_weights())
    np.testing.assert_allclose(expected, numpy(model.layers[-1](whole(x)))[0], atol=1e-5)
    for run in (lambda feed: session.run(None, dict(zip(names, feed))), litert):
        np.testing.assert_allclose(stream_through(run, x), expected, atol=1e-5)
