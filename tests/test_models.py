"""AttentiveHSRU against the reference; HSRURNN variants and the LSTM baseline build, train, save."""

import warnings

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru import tasks
from keras_hsru.models import (
    HSRURNN,
    LSTMBaseline,
    _hsru_layer_count,
    _lstm_layer_count,
    _stacked_parameter_count,
    comparable_lstm_units,
)
from tests.support import reference
from tests.support.helpers import draw_problem, numpy


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("kind", ["layer", "layer in chunks", "cell"])
def test_attentive_hsru_is_hsru_on_gated_inputs(kind, rng, request):
    """AttentiveHSRU(x) == reference HSRU(g * x), g = d * softmax(sharpness * a), in float64."""
    if kind == "layer in chunks":
        chunk_lengths = request.getfixturevalue("chunks_of_four")
    units, input_dim, sharpness = 5, 4, 3.0
    logits = rng.normal(scale=0.5, size=input_dim).astype(np.float32)
    gate = input_dim * softmax(sharpness * logits.astype(np.float64))
    x = rng.normal(size=(3, 17, input_dim)).astype(np.float32)
    # Draw the threshold in gaps of V computed on the gated inputs.
    _, weights = draw_problem(rng, units=units, x=(x * gate).astype(np.float32))
    if kind != "cell":
        layer = keras_hsru.AttentiveHSRU(
            units, attention_sharpness=sharpness, return_sequences=True, return_state=True
        )
    else:
        cell = keras_hsru.AttentiveHSRUCell(units, attention_sharpness=sharpness)
        layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer.build((None, None, input_dim))
    layer.set_weights(weights + [logits])
    outputs, *states = layer(x)
    expected, expected_states = reference.hsru_forward(x * gate, weights, 5.0)
    np.testing.assert_allclose(numpy(outputs), expected, atol=2e-5)
    for state, want in zip(states, expected_states):
        np.testing.assert_allclose(numpy(state), want, atol=2e-5)
    if kind == "layer in chunks":
        assert chunk_lengths == [17]


def test_attentive_hsru_starts_as_hsru_and_its_gate_sums_to_the_input_width(rng):
    x, weights = draw_problem(rng, input_dim=6)
    plain = keras_hsru.HSRU(5)
    attentive = keras_hsru.AttentiveHSRU(5)
    for layer in (plain, attentive):
        layer.build((None, None, 6))
    plain.set_weights(weights)
    attentive.set_weights(weights + [np.zeros(6, np.float32)])
    np.testing.assert_allclose(numpy(attentive(x)), numpy(plain(x)), atol=1e-6)
    attentive.cell.feature_attention.assign(np.arange(6, dtype=np.float32))
    gate = numpy(attentive.cell.attention())
    assert gate.sum() == pytest.approx(6.0, rel=1e-5) and np.all(np.diff(gate) > 0)
    assert [w.name for w in attentive.weights][-1] == "feature_attention"


def test_attentive_hsru_config_round_trip_and_validation():
    layer = keras_hsru.AttentiveHSRU(3, attention_sharpness=2.0, attention_regularizer="l2")
    config = layer.get_config()
    assert config["attention_sharpness"] == 2.0 and layer.attention_sharpness == 2.0
    assert keras_hsru.AttentiveHSRU.from_config(config).get_config() == config
    for bad in (0.0, -1.0, float("inf"), "sharp"):
        with pytest.raises(ValueError, match="attention_sharpness="):
            keras_hsru.AttentiveHSRU(3, attention_sharpness=bad)


@pytest.mark.parametrize("variant", ["hsru", "attentive", "analog_only", "lstm"])
def test_models_build_train_and_round_trip_through_keras_files(variant, tmp_path):
    if variant == "lstm":
        model = LSTMBaseline(6, num_layers=2)
    else:
        model = HSRURNN(6, num_layers=2, variant=variant, layer_arguments={"seed": 3})
    task = tasks.EmbeddedParity(5, distractors=2, batch_size=16, steps_per_epoch=3, seed=0)
    model.compile(keras.optimizers.AdamW(1e-2, global_clipnorm=1.0), "binary_crossentropy")
    model.build((None, None, task.features))
    before = [numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(task, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    changed = [not np.allclose(b, numpy(w)) for b, w in zip(before, model.trainable_weights)]
    assert sum(changed) >= len(changed) - 1  # training moved the weights
    x, _ = task.sample(4)
    expected = numpy(model(x))
    assert expected.shape == (4, 1)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(numpy(restored(x)), expected, atol=1e-6)
    assert restored.get_config() == model.get_config()


def test_sequence_to_sequence_head_and_encode():
    model = HSRURNN(4, output_units=1, output_activation=None, return_sequences=True)
    x = np.random.default_rng(0).uniform(-1, 1, size=(2, 7, 1)).astype(np.float32)
    assert tuple(model(x).shape) == (2, 7, 1)
    assert tuple(model.encode(x).shape) == (2, 7, 4)
    assert tuple(HSRURNN(4).encode(x).shape) == (2, 4)


@pytest.mark.parametrize(
    "units, input_dim, num_layers, memory_states", [(16, 1, 1, 2), (5, 3, 2, 2), (6, 2, 2, 5)]
)
def test_comparable_lstm_units_matches_the_parameter_count(
    units, input_dim, num_layers, memory_states
):
    # The function counts from weight shapes; check those counts against built models.
    hsru = HSRURNN(units, num_layers=num_layers, layer_arguments={"memory_states": memory_states})
    hsru.build((None, None, input_dim))
    counted = _stacked_parameter_count(
        lambda u, i: _hsru_layer_count(u, i, memory_states), units, input_dim, num_layers
    )
    assert counted == hsru.count_params()
    lstm_units = comparable_lstm_units(
        units, input_dim=input_dim, num_layers=num_layers, memory_states=memory_states
    )
    distances = {}
    for n in (lstm_units - 1, lstm_units, lstm_units + 1):
        lstm = LSTMBaseline(n, num_layers=num_layers)
        lstm.build((None, None, input_dim))
        counted = _stacked_parameter_count(_lstm_layer_count, n, input_dim, num_layers)
        assert counted == lstm.count_params()
        distances[n] = abs(lstm.count_params() - hsru.count_params())
    assert distances[lstm_units] == min(distances.values()), distances


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: HSRURNN(0), "units=0"),
        (lambda: HSRURNN(4, num_layers=0), "num_layers=0"),
        (lambda: HSRURNN(4, output_units=1.5), "output_units=1.5"),
        (lambda: HSRURNN(4, variant="gru"), "variant='gru'"),
        (lambda: HSRURNN(4, layer_arguments=[1]), r"layer_arguments=\[1\]"),
        (lambda: LSTMBaseline(-2), "units=-2"),
        (lambda: comparable_lstm_units(8, input_dim=0), "input_dim=0"),
        (lambda: comparable_lstm_units(8, input_dim=1, num_layers=0), "num_layers=0"),
        (lambda: comparable_lstm_units(8, input_dim=1, memory_states=1), "memory_states=1"),
    ],
)
def test_invalid_arguments_raise_value_errors_naming_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_attentive_hsru_under_mixed_precision(policy, rng):
    x = rng.normal(size=(2, 30, 5)).astype(np.float32)
    reference_layer = keras_hsru.AttentiveHSRU(4, return_state=True, seed=1)
    expected = reference_layer(x)
    keras.config.set_dtype_policy(policy)
    layer = keras_hsru.AttentiveHSRU(4, return_state=True, seed=1)
    layer.build((None, None, 5))
    layer.set_weights(reference_layer.get_weights())
    assert layer.cell.compute_dtype == policy.split("_")[1]
    assert {keras.backend.standardize_dtype(w.dtype) for w in layer.weights} == {"float32"}
    output = layer(x)[0]
    assert keras.backend.standardize_dtype(output.dtype) == policy.split("_")[1]
    # A low-precision potential may land on the other side of theta and flip a
    # bit, so compare the bulk of the outputs.
    close = np.isclose(numpy(keras.ops.cast(output, "float32")), numpy(expected[0]), atol=0.1)
    assert close.mean() > 0.9


def _generator(x, y):
    while True:
        yield x, y


@pytest.mark.parametrize("data", ["arrays", "task", "tf.data"])
def test_an_unbuilt_model_trains_under_backup_and_restore(data, tmp_path):
    # keras' BackupAndRestore needs the weights when training begins, before
    # keras' TensorFlow trainer would build the model.
    task = tasks.TemporalParity(6, batch_size=8, steps_per_epoch=2, seed=0)
    x, y = task[0]
    if data == "arrays":
        arguments = {"x": x, "y": y}
    elif data == "task":
        arguments = {"x": task}
    else:
        tf = pytest.importorskip("tensorflow")
        arguments = {"x": tf.data.Dataset.from_tensor_slices((x, y)).batch(4)}
    model = HSRURNN(4)
    model.compile("adamw", "binary_crossentropy")
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    model.fit(**arguments, epochs=1, callbacks=[backup], verbose=0)
    assert model.built and model.recurrent_layers[0].cell.input_kernel.shape == (1, 4)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="keras' TensorFlow trainer")
def test_from_a_python_generator_keras_says_how_to_build(tmp_path):
    x, y = tasks.TemporalParity(6, batch_size=8, seed=0)[0]
    model = HSRURNN(4)
    model.compile("adamw", "binary_crossentropy")
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(ValueError, match="calling it on a batch of data"):
        model.fit(_generator(x, y), steps_per_epoch=2, epochs=1, callbacks=[backup], verbose=0)


def test_attentive_hsru_on_one_feature_warns_that_it_is_hsru(rng):
    x = rng.normal(size=(2, 9, 1)).astype(np.float32)
    layer = keras_hsru.AttentiveHSRU(3, return_sequences=True)
    with pytest.warns(UserWarning, match="one input feature computes what HSRUCell computes"):
        layer.build(x.shape)
    plain = keras_hsru.HSRU(3, return_sequences=True)
    plain.build(x.shape)
    plain.set_weights(layer.get_weights()[:-1])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(plain(x)), atol=1e-6
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keras_hsru.AttentiveHSRU(3).build((None, None, 2))
