"""SurrogateSlopeSchedule: each epoch trains with its scheduled slope, on every backend, retracing
only when the slope changes; logged; validated."""

import math

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru.callbacks import SurrogateSlopeSchedule, hsru_layers
from keras_hsru.models import HSRURNN
from keras_hsru.tasks import TemporalParity

BATCH = TemporalParity(10, batch_size=32, steps_per_epoch=1, seed=3)[0]


def parity_model(slope, seed=0):
    keras.utils.set_random_seed(seed)
    model = HSRURNN(8, num_layers=2, layer_arguments={"surrogate_slope": slope})
    # SGD keeps no state, so one step from the same weights is a function of the gradient only.
    model.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
    model.build((None, None, 1))
    return model


def weights_after(slopes):
    """Weights after one SGD step per slope, each by a model built with that slope."""
    weights = parity_model(slopes[0]).get_weights()
    for slope in slopes:
        model = parity_model(slope)
        model.set_weights(weights)
        model.train_on_batch(*BATCH)
        weights = model.get_weights()
    return weights


def scheduled_weights(schedule, epochs, slope=5.0):
    model = parity_model(slope)
    callback = SurrogateSlopeSchedule(schedule)
    history = model.fit(
        *BATCH, batch_size=32, epochs=epochs, shuffle=False, verbose=0, callbacks=[callback]
    )
    return model, callback, history


def test_each_epoch_trains_with_its_slope():
    slopes = [1.0, 20.0, 3.0]
    model, callback, history = scheduled_weights(lambda epoch: slopes[epoch], 3)
    want = weights_after(slopes)
    for got, expected in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The slopes matter here: one constant slope ends elsewhere.
    constant = weights_after([5.0, 5.0, 5.0])
    assert max(np.max(np.abs(a - b)) for a, b in zip(constant, want)) > 1e-3
    assert history.history["surrogate_slope"] == slopes
    assert [layer.cell.surrogate_slope for layer in hsru_layers(model)] == [3.0, 3.0]
    assert callback.retraces == 3


def test_the_train_step_is_remade_only_when_the_slope_changes():
    _, callback, history = scheduled_weights(lambda epoch: 5.0, 3)
    assert callback.retraces == 0
    assert history.history["surrogate_slope"] == [5.0, 5.0, 5.0]
    _, callback, _ = scheduled_weights(lambda epoch: 2.0 if epoch < 2 else 8.0, 4)
    assert callback.retraces == 2


def test_keras_schedule_objects_are_called_with_the_epoch():
    decay = keras.optimizers.schedules.ExponentialDecay(8.0, decay_steps=1, decay_rate=0.5)
    _, _, history = scheduled_weights(decay, 3)
    np.testing.assert_allclose(history.history["surrogate_slope"], [8.0, 4.0, 2.0])


def test_rnn_over_a_cell_in_a_functional_model_follows_the_schedule():
    inputs = keras.Input((None, 1))
    hidden = keras.layers.RNN(keras_hsru.HSRUCell(4), return_sequences=True)(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras_hsru.HSRU(4)(hidden))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "binary_crossentropy")
    model.fit(*BATCH, epochs=2, verbose=0, callbacks=[SurrogateSlopeSchedule(lambda e: 1.5 + e)])
    assert [layer.cell.surrogate_slope for layer in hsru_layers(model)] == [2.5, 2.5]


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf, "5", None])
def test_a_schedule_value_that_is_not_a_positive_number_raises(value):
    model = parity_model(5.0)
    with pytest.raises(ValueError, match=r"schedule\(0\)="):
        model.fit(
            *BATCH, epochs=1, verbose=0, callbacks=[SurrogateSlopeSchedule(lambda epoch: value)]
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [({"schedule": 5.0}, "schedule=5.0"), ({"schedule": abs, "verbose": 2}, "verbose=2")],
)
def test_invalid_arguments_raise_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SurrogateSlopeSchedule(**kwargs)


def test_a_model_without_hsru_layers_fails_clearly():
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(2), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="found no HSRU layer"):
        model.fit(*BATCH, epochs=1, verbose=0, callbacks=[SurrogateSlopeSchedule(abs)])
