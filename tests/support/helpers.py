"""Weights and inputs for equivalence tests: V stays clear of the threshold."""

import keras
import numpy as np

import keras_hsru
from tests.support import reference


def draw_problem(rng, batch=3, length=12, input_dim=4, units=5, analog_only=False, x=None):
    """Inputs and weights whose potentials V all sit at least `margin` from theta.

    The XOR memory turns a rounding difference at |V - theta| ~ 1e-7 into a
    flipped bit, so theta is put in the widest gap of V's values per unit
    (V does not depend on theta).
    """
    if x is None:
        x = rng.normal(size=(batch, length, input_dim)).astype(np.float32)
    input_dim = x.shape[-1]
    w_in = (rng.normal(size=(input_dim, units)) / np.sqrt(input_dim)).astype(np.float32)
    b_in = rng.normal(scale=0.1, size=units).astype(np.float32)
    tau = rng.uniform(-2, 2, size=units).astype(np.float32)
    width = 1 if analog_only else 2
    w_out = (rng.normal(size=(width * units, units)) / np.sqrt(width * units)).astype(np.float32)
    b_out = rng.normal(scale=0.1, size=units).astype(np.float32)
    if analog_only:
        return x, [w_in, b_in, tau, w_out, b_out]
    v = reference.potentials(x, w_in, b_in, tau)
    theta, margin = reference.threshold_in_gaps(v)
    assert margin.min() > 1e-4, margin
    return x, [w_in, b_in, tau, theta.astype(np.float32), w_out, b_out]


def rnn_layer(weights, input_dim, units, slope=5.0, batch_size=None, **rnn_kwargs):
    layer = keras.layers.RNN(keras_hsru.HSRUCell(units, surrogate_slope=slope), **rnn_kwargs)
    layer.build((batch_size, None, input_dim))
    layer.set_weights(weights)
    return layer


def hsru_layer(weights, input_dim, units, slope=5.0, batch_size=None, **kwargs):
    layer = keras_hsru.HSRU(units, surrogate_slope=slope, **kwargs)
    layer.build((batch_size, None, input_dim))
    layer.set_weights(weights)
    return layer


KINDS = ("cell", "hsru")


def make_layer(kind, weights, input_dim, units, **kwargs):
    """`RNN(HSRUCell)` ("cell") or the whole-sequence `HSRU` ("hsru") with these weights."""
    if kind == "cell":
        return rnn_layer(weights, input_dim, units, **kwargs)
    return hsru_layer(weights, input_dim, units, **kwargs)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def assert_match_reference(loop, scan, outputs, dx, dw):
    """`layer_gradients` results of keras' step loop (`loop`) and of the whole
    sequence (`scan`) against the float64 references `outputs` (the output
    sequence, then the final states), `dx` and `dw`, and against each other."""
    (loop_out, loop_dx, loop_dw), (scan_out, scan_dx, scan_dw) = loop, scan
    for got, want, looped in zip(scan_out, outputs, loop_out):
        np.testing.assert_allclose(got, want, atol=2e-4 * max(1, np.abs(want).max()))
        np.testing.assert_allclose(got, looped, atol=2e-4 * max(1, np.abs(want).max()))
    scale = lambda a: 1e-3 * max(1.0, np.abs(a).max())  # noqa: E731
    np.testing.assert_allclose(scan_dx, dx, atol=scale(dx))
    np.testing.assert_allclose(scan_dx, loop_dx, atol=scale(dx))
    for got, looped, want in zip(scan_dw, loop_dw, dw):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=scale(want))
        np.testing.assert_allclose(got, looped, rtol=1e-3, atol=scale(want))


def assert_scan_matches_loop(loop, scan, reference_outputs):
    """`layer_gradients` results of keras' step loop (`loop`) and of the whole
    sequence (`scan`), for a memory without a hand-written gradient reference:
    the outputs against the float64 `reference_outputs` (the output sequence,
    then the final states) and each other, the gradients against each other;
    the input's gradient and the threshold's (weight 3) are not all zero."""
    (loop_out, loop_dx, loop_dw), (scan_out, scan_dx, scan_dw) = loop, scan
    for got, looped, want in zip(scan_out, loop_out, reference_outputs):
        np.testing.assert_allclose(got, want, atol=2e-4)
        np.testing.assert_allclose(got, looped, atol=2e-4)
    scale = lambda a: 1e-3 * max(1.0, np.abs(a).max())  # noqa: E731
    np.testing.assert_allclose(scan_dx, loop_dx, atol=scale(loop_dx))
    assert np.abs(loop_dx).max() > 0
    for got, looped in zip(scan_dw, loop_dw):
        np.testing.assert_allclose(got, looped, rtol=1e-3, atol=scale(looped))
    assert np.abs(scan_dw[3]).max() > 0


def assert_saved_model_serves_like_predict(model, x, lengths, directory):
    """`model` exported as a TensorFlow SavedModel to `directory` serves what
    `predict` returns on the first `length` steps of `x`, for each length."""
    import tensorflow as tf

    model.export(str(directory), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(directory))
    for length in lengths:
        inputs = x[:, :length]
        np.testing.assert_allclose(
            loaded.serve(tf.constant(inputs)).numpy(), model.predict(inputs, verbose=0), atol=1e-5
        )
