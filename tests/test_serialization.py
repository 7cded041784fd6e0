"""Configs, .keras round trips (safe_mode=True), and files saved by another backend."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_hsru
from tests.conftest import BACKEND
from tests.support.scripts import ROOT


def build_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, 3))
    fast = keras_hsru.HSRU(4, return_sequences=True, surrogate_slope=3.0, dropout=0.1, seed=2)(
        inputs
    )
    looped = keras.layers.RNN(keras_hsru.HSRUCell(5, tau_regularizer="l2"), return_sequences=True)(
        fast
    )
    analog = keras.layers.RNN(keras_hsru.AnalogOnlyCell(2))(looped)
    return keras.Model(inputs, analog)


def probe_inputs():
    return np.random.default_rng(11).normal(size=(2, 9, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: keras_hsru.HSRUCell(
            3, surrogate_slope=2.0, dropout=0.2, seed=4, threshold_constraint="non_neg"
        ),
        lambda: keras_hsru.AnalogOnlyCell(3, input_regularizer="l1"),
        lambda: keras_hsru.AttentiveHSRUCell(
            3, attention_sharpness=4.0, attention_constraint="non_neg"
        ),
        lambda: keras_hsru.HSRU(3, return_state=True, go_backwards=True, implementation="loop"),
    ],
)
def test_get_config_round_trip(layer):
    original = layer()
    config = original.get_config()
    restored = original.__class__.from_config(config)
    assert restored.get_config() == config
    json.dumps(keras.saving.serialize_keras_object(original))


def test_hsru_exposes_cell_arguments():
    layer = keras_hsru.HSRU(7, surrogate_slope=2.5, dropout=0.25)
    assert (layer.units, layer.surrogate_slope, layer.dropout) == (7, 2.5, 0.25)
    assert isinstance(layer.cell, keras_hsru.HSRUCell)


@pytest.mark.parametrize("layer_class", [keras_hsru.HSRU, keras_hsru.AttentiveHSRU])
def test_layers_spell_out_their_arguments_and_show_their_cells(layer_class):
    # As keras' LSTM does: each argument in the signature, each cell argument a
    # read-only property that reads the cell.
    import inspect

    from keras_hsru.layers.hsru import CELL_ARGUMENTS

    signature = inspect.signature(layer_class.__init__).parameters
    arguments = inspect.signature(keras_hsru.HSRU.__init__).parameters
    assert set(arguments) - {"kwargs"} <= set(signature)
    layer = layer_class(3, surrogate_slope=2.5, memory="latch", seed=4, dropout=0.1)
    names = CELL_ARGUMENTS + layer_class.extra_cell_arguments
    for name in names:
        assert name in signature, name
        assert isinstance(inspect.getattr_static(layer_class, name), property), name
        assert getattr(layer, name) is getattr(layer.cell, name), name
    assert (layer.surrogate_slope, layer.memory, layer.seed) == (2.5, "latch", 4)


def test_keras_file_round_trip_in_safe_mode(tmp_path):
    model = build_model()
    x = probe_inputs()
    expected = keras.ops.convert_to_numpy(model(x))
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(x)), expected, atol=1e-6)
    assert [(w.name, w.shape) for w in restored.weights] == [
        (w.name, w.shape) for w in model.weights
    ]


def build_classifier():
    """A `HSRUClassifier` (latch memory, NaN padding) and padded inputs for it."""
    keras.utils.set_random_seed(3)
    model = keras_hsru.models.HSRUClassifier(3, units=4, mask_value=float("nan"), seed=1)
    x = probe_inputs()
    x[1, 6:] = np.nan
    return model, x


SAVE_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from tests.test_serialization import build_classifier, build_model, probe_inputs
import keras
model = build_model()
model.save({path!r})
np.save({expected!r}, keras.ops.convert_to_numpy(model(probe_inputs())))
classifier, x = build_classifier()
np.save({expected!r} + ".classifier.npy", keras.ops.convert_to_numpy(classifier(x)))
classifier.save({path!r} + ".classifier.keras")
quantized = build_model()
quantized.quantize("int8")
quantized.save({path!r} + ".int8.keras")
np.save({expected!r} + ".int8.npy", keras.ops.convert_to_numpy(quantized(probe_inputs())))
"""


# Each backend loads the files of one other, in a cycle (JAX loads TensorFlow's,
# TensorFlow torch's, torch JAX's): every backend saves once and loads once, a
# fresh Python each; the file itself is the same keras format whoever wrote it.
SAVED_BY = {"jax": "tensorflow", "tensorflow": "torch", "torch": "jax"}


@pytest.mark.parametrize("other", [SAVED_BY[BACKEND]])
def test_loads_file_saved_by_other_backend(other, tmp_path):
    path, expected = str(tmp_path / f"{other}.keras"), str(tmp_path / f"{other}.npy")
    env = {**os.environ, "KERAS_BACKEND": other, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = SAVE_SCRIPT.format(root=ROOT, path=path, expected=expected)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=300)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(probe_inputs())), np.load(expected), atol=1e-5
    )
    classifier = keras.saving.load_model(path + ".classifier.keras", safe_mode=True)
    _, x = build_classifier()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(classifier(x)), np.load(expected + ".classifier.npy"), atol=1e-5
    )
    assert classifier.recurrent_layers[0].memory == "latch"
    # int8 kernels (`Model.quantize`) load as int8 on this backend too.
    quantized = keras.saving.load_model(path + ".int8.keras", safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(quantized(probe_inputs())),
        np.load(expected + ".int8.npy"),
        atol=1e-5,
    )
    assert {layer.cell.quantization_mode for layer in quantized.layers[1:]} == {"int8"}
