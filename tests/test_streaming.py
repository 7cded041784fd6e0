"""Streaming: a stateful HSRU fed chunk by chunk equals the whole sequence, on every backend."""

import keras
import numpy as np

import keras_hsru
from tests.support.helpers import draw_problem, numpy

ATOL = 1e-5


def stateful_model(weights, batch, input_dim, units, stateful=True):
    model = keras.Sequential(
        [
            keras.Input(batch_shape=(batch, None, input_dim)),
            keras_hsru.HSRU(units, return_sequences=True, stateful=stateful),
        ]
    )
    model.layers[0].set_weights(weights)
    return model


def test_predict_on_batch_carries_the_states_between_calls_and_reset_clears_them(rng):
    # JAX included: keras' own LSTM(stateful=True) forgets its states there.
    x, weights = draw_problem(rng, batch=3, length=40)
    streaming = stateful_model(weights, 3, 4, 5)
    whole = stateful_model(weights, 3, 4, 5, stateful=False).predict_on_batch(x)
    chunks = [streaming.predict_on_batch(x[:, t : t + 10]) for t in range(0, 40, 10)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, atol=ATOL)
    streaming.layers[0].reset_states()
    np.testing.assert_allclose(streaming.predict_on_batch(x[:, :10]), whole[:, :10], atol=ATOL)


def test_a_stateful_layer_keeps_the_weights_of_a_stateless_one(rng):
    _, weights = draw_problem(rng)
    layer = stateful_model(weights, 3, 4, 5).layers[0]
    assert len(layer.get_weights()) == len(weights) == 6
    assert all(v.trainable is False for v in layer.non_trainable_variables)
    assert {id(v) for v in layer.states} <= {id(v) for v in layer.non_trainable_variables}
    keras_hsru.HSRU(5, stateful=False)  # and a stateless layer has no state variables
    cell = keras.layers.RNN(keras_hsru.HSRUCell(5), stateful=True)
    cell.build((3, None, 4))
    cell.set_weights(layer.get_weights())


def test_explicit_states_stream_one_state_per_stream(rng):
    x, weights = draw_problem(rng, batch=3, length=40)
    layer = keras_hsru.HSRU(5, return_sequences=True, return_state=True)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    whole = numpy(layer(x)[0])
    states, chunks = None, []
    for t in range(0, 40, 8):
        outputs, *states = layer(x[:, t : t + 8], initial_state=states)
        chunks.append(numpy(outputs))
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), whole, atol=ATOL)
    # One stream's state, fed alone, continues that stream.
    first = [s[:1] for s in states]
    more = x[:1, :8]
    alone = numpy(layer(more, initial_state=first)[0])
    together = numpy(layer(x[:, :8], initial_state=states)[0])[:1]
    np.testing.assert_allclose(alone, together, atol=ATOL)
