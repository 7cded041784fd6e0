"""Hostile input: each case has the behaviour the user guide's "Hostile input" table states.

NaN and inf stay in the rows (and steps) that hold them; masked steps are
never read; huge magnitudes stay finite; integer and boolean inputs and
initial states are cast; what cannot be computed raises a ValueError; no call
changes the weights, and a failed call leaves a stateful layer's states.
"""

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru.models import HSRURNN, LSTMBaseline
from tests.support import reference
from tests.support.backend_utils import layer_gradients
from tests.support.helpers import KINDS, draw_problem, make_layer, numpy

BACKEND = keras.backend.backend()
IMPLEMENTATIONS = ("auto", "scan", "loop")


def hsru(weights, implementation, **kwargs):
    return make_layer("hsru", weights, 4, 5, implementation=implementation, **kwargs)


def weights_of(layer):
    return [np.array(w) for w in layer.get_weights()]


def assert_binary(memory):
    assert set(np.unique(memory)) <= {0.0, 1.0}, np.unique(memory)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_non_finite_input_stays_in_its_row_from_its_step_on(value, implementation, rng):
    x, weights = draw_problem(rng, batch=3, length=10, input_dim=4, units=5)
    layer = hsru(weights, implementation, return_sequences=True, return_state=True)
    hostile = x.copy()
    hostile[1, 4, 2] = value
    outputs, _, potential, memory = [numpy(t) for t in layer(hostile)]

    clean_outputs, *_ = [numpy(t) for t in layer(x)]
    # Steps before the hostile one, and the other rows, are what they were.
    np.testing.assert_allclose(outputs[1, :4], clean_outputs[1, :4], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(outputs[[0, 2]], clean_outputs[[0, 2]], rtol=1e-6, atol=1e-6)
    # From it on, the row's outputs are NaN (tanh of a sum of inf and -inf, or of NaN).
    assert np.isnan(outputs[1, 4:]).any(axis=-1).all()
    assert not np.isfinite(potential[1]).all() and np.isfinite(potential[[0, 2]]).all()
    # D is still a bit: a comparison with NaN is false, so D stops flipping.
    assert_binary(memory)
    for got, want in zip(weights_of(layer), weights):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_masked_steps_are_never_read(kind, value, rng):
    x, weights = draw_problem(rng, batch=3, length=8, input_dim=4, units=5)
    mask = np.ones((3, 8), bool)
    mask[0, 5:] = False  # right padding
    mask[1, :3] = False  # left padding
    padded = np.where(mask[..., None], x, 0).astype(np.float32)
    hostile = np.where(mask[..., None], x, value).astype(np.float32)
    layer = make_layer(kind, weights, 4, 5, return_sequences=True)
    np.testing.assert_array_equal(numpy(layer(hostile, mask=mask)), numpy(layer(padded, mask=mask)))
    want, _ = reference.hsru_forward(padded, weights, 5.0, mask=mask)
    np.testing.assert_allclose(numpy(layer(hostile, mask=mask)), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_hsru_gradients_ignore_what_masked_steps_hold(value, rng):
    x, weights = draw_problem(rng, batch=2, length=6, input_dim=4, units=5)
    mask = np.ones((2, 6), bool)
    mask[0, 4:] = False
    layer = hsru(weights, "auto", return_sequences=True)
    cotangent = rng.normal(size=(2, 6, 5))
    hostile = np.where(mask[..., None], x, value).astype(np.float32)
    _, _, hostile_grads = layer_gradients(layer, hostile, [cotangent], mask=mask)
    padded = np.where(mask[..., None], x, 0).astype(np.float32)
    _, _, clean_grads = layer_gradients(layer, padded, [cotangent], mask=mask)
    for got, want in zip(hostile_grads, clean_grads):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_huge_magnitudes_stay_finite_and_match_the_reference(kind, rng):
    x, weights = draw_problem(rng, batch=3, length=10, input_dim=4, units=5)
    huge = (x * 1e30).astype(np.float32)
    layer = make_layer(kind, weights, 4, 5, return_sequences=True, return_state=True)
    outputs, _, potential, memory = [numpy(t) for t in layer(huge)]
    assert np.isfinite(outputs).all() and np.isfinite(potential).all()
    assert_binary(memory)
    want, (_, want_v, want_d) = reference.hsru_forward(huge, weights, 5.0)
    np.testing.assert_allclose(outputs, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(potential, want_v, rtol=1e-4)
    np.testing.assert_array_equal(memory, want_d)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float64", "float16"])
def test_inputs_of_other_dtypes_are_cast_to_the_compute_dtype(kind, dtype, rng):
    x, weights = draw_problem(rng, batch=2, length=6, input_dim=4, units=5)
    x = rng.integers(0, 2, size=x.shape)  # 0/1: exact in every dtype
    layer = make_layer(kind, weights, 4, 5, return_sequences=True)
    got = layer(x.astype(dtype))
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    np.testing.assert_array_equal(numpy(got), numpy(layer(x.astype(np.float32))))


@pytest.mark.parametrize("cls", [keras_hsru.HSRU, keras_hsru.AttentiveHSRU])
def test_inputs_that_are_not_numbers_raise_a_value_error(cls):
    # Where the backend converts the array itself it refuses it first (JAX:
    # "could not convert string to float", torch: "Invalid dtype"); TensorFlow
    # holds strings in tensors, which the layer refuses by their dtype.
    with pytest.raises(ValueError, match="string|str"):
        cls(4)(np.array([[["a"]]]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "bool"])
def test_an_initial_state_of_another_dtype_is_cast(kind, dtype, rng):
    x, weights = draw_problem(rng, batch=2, length=6, input_dim=4, units=5)
    states = [rng.integers(0, 2, size=(2, 5)).astype(np.float32) for _ in range(3)]
    layer = make_layer(kind, weights, 4, 5, return_sequences=True)
    got = layer(x, initial_state=[s.astype(dtype) for s in states])
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    np.testing.assert_array_equal(numpy(got), numpy(layer(x, initial_state=states)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch", [1, 0])
def test_batches_of_one_and_of_none(kind, batch, rng):
    x, weights = draw_problem(rng, batch=max(batch, 1), length=7, input_dim=4, units=5)
    x = x[:batch]
    layer = make_layer(kind, weights, 4, 5, return_sequences=True)
    got = numpy(layer(x))
    assert got.shape == (batch, 7, 5)
    if batch:
        want, _ = reference.hsru_forward(x, weights, 5.0)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_stateful_layer_fed_another_batch_size_fails_and_keeps_its_states(kind, rng):
    x, weights = draw_problem(rng, batch=3, length=6, input_dim=4, units=5)
    layer = make_layer(kind, weights, 4, 5, stateful=True, batch_size=3)
    layer(x)
    states = [numpy(s).copy() for s in layer.states]
    with pytest.raises(ValueError, match="batch size"):
        layer(x[:2])
    for got, want in zip(layer.states, states):
        np.testing.assert_array_equal(numpy(got), want)
    for got, want in zip(weights_of(layer), weights):
        np.testing.assert_array_equal(got, want)


def test_a_zero_length_sequence_raises_a_value_error_naming_the_shape():
    with pytest.raises(ValueError, match=r"sequences.shape=\(2, 0, 4\)"):
        keras_hsru.HSRU(5)(np.zeros((2, 0, 4), np.float32))


@pytest.mark.parametrize("make", [lambda: keras_hsru.HSRUCell(5), lambda: keras.layers.LSTMCell(5)])
def test_keras_rnn_loop_fails_on_a_zero_length_sequence_for_any_cell(make):
    # keras' RNN raises its own error before any cell runs; keras' LSTM cell is the control.
    with pytest.raises(Exception) as error:
        keras.layers.RNN(make())(np.zeros((2, 0, 4), np.float32))
    assert not isinstance(error.value, ValueError) or "0" in str(error.value)


def nan_batches():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(16, 6, 1)).astype(np.float32)
    y = (x.sum(axis=1) % 2).astype(np.float32)
    x[11, 2, 0] = np.nan  # in the second batch of 8
    return x, y


@pytest.mark.parametrize("make", [HSRURNN, LSTMBaseline])
def test_terminate_on_nan_stops_training_at_the_first_nan_loss(make):
    x, y = nan_batches()
    model = make(4, output_activation=None)
    model.compile("adamw", keras.losses.BinaryCrossentropy(from_logits=True))
    seen = []
    logger = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        shuffle=False,
        callbacks=[keras.callbacks.TerminateOnNaN(), logger],
        verbose=0,
    )
    assert seen == [0, 1]  # the first batch trained, the second gave NaN: no third
    # The NaN batch's update has already been applied: every weight it reached is NaN.
    assert not np.isfinite(np.concatenate([w.ravel() for w in model.get_weights()])).all()


@pytest.mark.skipif(BACKEND != "torch", reason="keras' torch loss")
@pytest.mark.parametrize("make", [HSRURNN, LSTMBaseline])
def test_on_torch_a_sigmoid_head_with_nan_fails_in_keras_binary_crossentropy(make):
    # torch's binary_cross_entropy checks its input is in [0, 1], which NaN is
    # not; keras' LSTM is the control. A from_logits loss reports a NaN loss.
    x, y = nan_batches()
    model = make(4)
    model.compile("adamw", "binary_crossentropy")
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
