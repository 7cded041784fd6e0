"""Every public entry point rejects bad arguments with a ValueError naming the value."""

import keras
import numpy as np
import pytest

import keras_hsru

CELLS = [keras_hsru.HSRUCell, keras_hsru.AnalogOnlyCell, keras_hsru.HSRU]


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("units", [0, -3, 2.5, "4", None, True])
def test_units_must_be_positive_integer(cls, units):
    with pytest.raises(ValueError, match=f"units={units!r}"):
        cls(units)


@pytest.mark.parametrize("cls", [keras_hsru.HSRUCell, keras_hsru.HSRU])
@pytest.mark.parametrize("slope", [0, -1.0, float("inf"), float("nan"), "5"])
def test_surrogate_slope_must_be_positive_finite(cls, slope):
    with pytest.raises(ValueError, match="surrogate_slope="):
        cls(4, surrogate_slope=slope)


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.1"])
def test_dropout_must_be_a_rate(cls, rate):
    with pytest.raises(ValueError, match=f"dropout={rate!r}"):
        cls(4, dropout=rate)


def test_implementation_must_be_known():
    with pytest.raises(ValueError, match="implementation='fast'"):
        keras_hsru.HSRU(4, implementation="fast")


@pytest.mark.parametrize(
    "make",
    [lambda: keras.layers.RNN(keras_hsru.HSRUCell(4)), lambda: keras_hsru.HSRU(4)],
)
def test_wrong_input_rank_fails_clearly(make):
    with pytest.raises(ValueError, match="ndim|shape"):
        make()(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="ndim|shape"):
        make()(np.zeros((2, 3, 4, 5), np.float32))


@pytest.mark.parametrize(
    "make",
    [lambda: keras.layers.RNN(keras_hsru.HSRUCell(4)), lambda: keras_hsru.HSRU(4)],
)
def test_feature_size_is_fixed_after_build(make):
    layer = make()
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="axis -1.*5.*6|6.*5"):
        layer(np.zeros((2, 3, 6), np.float32))
