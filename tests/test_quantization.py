"""`Model.quantize("int8")` on models holding HSRU layers: int8 kernels, the same computation."""

import warnings

import keras
import numpy as np
import pytest

import keras_hsru
from tests.support.helpers import numpy

LAYERS = {
    "HSRU": lambda: keras_hsru.HSRU(6, return_sequences=True, seed=1),
    "HSRU-latch": lambda: keras_hsru.HSRU(6, memory="latch", return_sequences=True, seed=1),
    "HSRU-counter": lambda: keras_hsru.HSRU(6, memory_states=3, return_sequences=True, seed=1),
    "AttentiveHSRU": lambda: keras_hsru.AttentiveHSRU(6, return_sequences=True, seed=1),
    "RNN(HSRUCell)": lambda: keras.layers.RNN(keras_hsru.HSRUCell(6), return_sequences=True),
    "RNN(AnalogOnlyCell)": lambda: keras.layers.RNN(
        keras_hsru.AnalogOnlyCell(6), return_sequences=True
    ),
}
KERNELS = ("input_kernel", "output_kernel")


def build(name, features=3):
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((None, features)), LAYERS[name](), keras.layers.Dense(2)])
    model.build((None, None, features))
    return model


def dequantized(cell):
    """Each kernel as the float32 values its int8 weights and scales stand for."""
    return {
        name: numpy(getattr(cell, name)).astype(np.float32) / numpy(getattr(cell, f"{name}_scale"))
        for name in KERNELS
    }


@pytest.mark.parametrize("name", LAYERS)
def test_int8_layers_compute_with_the_kernels_their_int8_weights_stand_for(name, rng):
    x = rng.normal(size=(3, 11, 3)).astype(np.float32)
    model = build(name)
    cell = model.layers[0].cell
    original = {kernel: numpy(getattr(cell, kernel)) for kernel in KERNELS}
    model.quantize("int8")

    assert cell.dtype_policy.name == "int8_from_float32"
    assert cell.quantization_mode == "int8"
    for kernel in KERNELS:
        assert keras.backend.standardize_dtype(getattr(cell, kernel).dtype) == "int8"
    # Per unit (column), the largest weight maps to +-127 and each weight is
    # within half a step of its value.
    for kernel, values in dequantized(cell).items():
        step = np.abs(original[kernel]).max(axis=0) / 127
        assert np.all(np.abs(values - original[kernel]) <= step / 2 + 1e-7), kernel
        assert np.abs(numpy(getattr(cell, kernel))).max(axis=0).min() == 127

    # The float model with those kernels computes what the int8 model does,
    # on every path that reads them (the spike activity included).
    reference = build(name)
    kernels = dequantized(cell)
    for variable in reference.layers[0].cell.weights:
        value = kernels.get(variable.name)
        variable.assign(numpy(getattr(cell, variable.name)) if value is None else value)
    layer, reference_layer = model.layers[0], reference.layers[0]
    np.testing.assert_allclose(numpy(layer(x)), numpy(reference_layer(x)), atol=1e-6)
    if hasattr(layer, "spike_activity"):
        got, expected = layer.spike_activity(x), reference_layer.spike_activity(x)
        for key in got:
            np.testing.assert_allclose(numpy(got[key]), numpy(expected[key]), atol=1e-6)


def test_int8_model_trains_its_float_weights_and_keeps_its_int8_kernels(rng):
    x = rng.normal(size=(8, 7, 3)).astype(np.float32)
    y = rng.normal(size=(8, 7, 2)).astype(np.float32)
    model = build("HSRU")
    model.quantize("int8")
    cell = model.layers[0].cell
    kernels = {name: numpy(getattr(cell, name)) for name in KERNELS}
    bias = numpy(cell.input_bias)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=2, verbose=0)
    for name, values in kernels.items():
        np.testing.assert_array_equal(numpy(getattr(cell, name)), values)
    assert not np.allclose(numpy(cell.input_bias), bias)


def test_int8_model_round_trips_through_a_keras_file(tmp_path, rng):
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    inputs = keras.Input((None, 3))
    hidden = keras_hsru.HSRU(5, return_sequences=True, seed=1)(inputs)
    hidden = keras_hsru.AttentiveHSRU(4, return_sequences=True, seed=2)(hidden)
    outputs = keras.layers.RNN(keras_hsru.HSRUCell(3))(hidden)
    model = keras.Model(inputs, outputs)
    model.quantize("int8")
    path = str(tmp_path / "int8.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(numpy(restored(x)), numpy(model(x)), atol=1e-6)
    for layer in restored.layers[1:]:
        assert layer.cell.dtype_policy.name == "int8_from_float32"
        # The layer holds no kernel of its own: it runs in the float policy.
        assert layer.dtype_policy.name == "float32"
        assert keras.backend.standardize_dtype(layer.cell.input_kernel.dtype) == "int8"
    assert [(w.name, w.shape, w.dtype) for w in restored.weights] == [
        (w.name, w.shape, w.dtype) for w in model.weights
    ]


def weight_bytes(layer):
    return sum(
        int(np.prod(w.shape)) * np.dtype(keras.backend.standardize_dtype(w.dtype)).itemsize
        for w in layer.weights
    )


def test_int8_weights_are_more_than_three_times_smaller():
    model = keras.Sequential([keras.Input((None, 16)), keras_hsru.HSRU(64)])
    before = weight_bytes(model.layers[0])
    model.quantize("int8")
    after = weight_bytes(model.layers[0])
    assert before / after > 3, (before, after)


def test_modes_other_than_int8_leave_the_cell_as_it_was():
    model = build("HSRU")
    cell = model.layers[0].cell
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.quantize("int4")
    assert any("mode='int4'" in str(w.message) for w in caught)
    assert cell.quantization_mode is None
    assert keras.backend.standardize_dtype(cell.input_kernel.dtype) == "float32"
    with pytest.raises(NotImplementedError, match="mode='float8'"):
        cell.quantize("float8")
    with pytest.raises(ValueError, match="mode=int9"):
        cell.quantize("int9")


def test_quantizing_an_unbuilt_cell_raises():
    with pytest.raises(ValueError, match="isn't yet built"):
        keras_hsru.HSRUCell(3).quantize("int8")


def test_int8_classifier_round_trips_through_a_keras_file(tmp_path, rng):
    x = rng.normal(size=(3, 10, 2)).astype(np.float32)
    x[1, 6:] = np.nan
    model = keras_hsru.models.HSRUClassifier(3, units=4, mask_value=np.nan, seed=1)
    model.compile()
    model.fit(x, np.array([0, 1, 2]), epochs=1, verbose=0)
    model.quantize("int8")
    expected = numpy(model.predict(x, verbose=0))
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(numpy(restored.predict(x, verbose=0)), expected, atol=1e-6)
    assert restored.get_config()["quantized_layers"] == {
        "hsru_0/hsru_cell": "int8",
        "hsru_1/hsru_cell": "int8",
        "head": "int8",
    }
    restored.fit(x, np.array([0, 1, 2]), epochs=1, verbose=0)


@pytest.mark.parametrize("layer_class", [keras_hsru.HSRU, keras_hsru.AttentiveHSRU])
def test_a_layer_quantizes_as_keras_layers_do(layer_class, rng):
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    layer = layer_class(4, seed=1)
    expected_shape = tuple(layer(x).shape)
    layer.quantize("int8")
    assert layer.cell.quantization_mode == "int8"
    assert layer.dtype_policy.name == "float32"
    assert tuple(layer(x).shape) == expected_shape
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")


def test_a_classifier_config_naming_an_unknown_quantized_layer_raises():
    config = keras_hsru.models.HSRUClassifier(2, units=3).get_config()
    config["quantized_layers"] = {"hsru_7/hsru_cell": "int8"}
    model = keras_hsru.models.HSRUClassifier.from_config(config)
    with pytest.raises(ValueError, match="hsru_7/hsru_cell"):
        model.build((None, 5, 1))


def test_an_unbuilt_classifier_configures_with_no_quantized_layers():
    model = keras_hsru.models.HSRUClassifier(2, units=3)
    config = model.get_config()
    assert config["quantized_layers"] == {}
    assert keras_hsru.models.HSRUClassifier.from_config(config).get_config() == config


def test_kernel_names_one_of_the_two_kernels():
    cell = keras_hsru.HSRUCell(3)
    cell.build((None, 2))
    assert tuple(cell.kernel("output_kernel").shape) == (6, 3)
    with pytest.raises(ValueError, match="name='tau'"):
        cell.kernel("tau")


def test_int8_under_mixed_precision_round_trips(tmp_path, rng):
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = keras.Sequential(
            [keras.Input((None, 3)), keras_hsru.HSRU(6, return_sequences=True, seed=1)]
        )
        model.quantize("int8")
        cell = model.layers[0].cell
        assert cell.dtype_policy.name == "int8_from_mixed_bfloat16"
        assert keras.backend.standardize_dtype(cell.kernel("input_kernel").dtype) == "bfloat16"
        model.save(str(tmp_path / "bf16.keras"))
        restored = keras.saving.load_model(str(tmp_path / "bf16.keras"))
        assert restored.layers[0].dtype_policy.name == "mixed_bfloat16"
        np.testing.assert_array_equal(numpy(restored(x)), numpy(model(x)))
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "make", [lambda: keras_hsru.models.HSRURNN(6), lambda: keras_hsru.models.LSTMBaseline(6)]
)
def test_int8_stacked_models_round_trip_through_a_keras_file(make, tmp_path, rng):
    # Subclassed models make their layers again from their arguments: the
    # quantized ones are recorded in the config and quantized again on load.
    x = rng.integers(0, 2, size=(4, 10, 1)).astype(np.float32)
    model = make()
    model.compile("adam", "binary_crossentropy")
    model.fit(x, np.zeros(4), epochs=1, verbose=0)
    model.quantize("int8")
    path = str(tmp_path / "stacked.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        numpy(restored.predict(x, verbose=0)), numpy(model.predict(x, verbose=0)), atol=1e-6
    )
    assert restored.get_config()["quantized_layers"] == model.get_config()["quantized_layers"]
    assert "head" in restored.get_config()["quantized_layers"]
