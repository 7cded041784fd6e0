"""HSRU's whole-sequence computation equals RNN(HSRUCell) at any length, and scales."""

import keras
import numpy as np
import pytest

import keras_hsru
from tests.conftest import BACKEND
from tests.support import reference
from tests.support.backend_utils import layer_gradients
from tests.support.helpers import (
    assert_match_reference,
    draw_problem,
    hsru_layer,
    numpy,
    rnn_layer,
)


@pytest.mark.parametrize("length", [1, 2, 513, 2000])
def test_equals_step_loop_and_reference(length, rng):
    x, weights = draw_problem(rng, batch=2, length=length, input_dim=3, units=4)
    cot = np.random.default_rng(2)
    cotangents = [cot.normal(size=(2, length, 4))] + [cot.normal(size=(2, 4)) for _ in range(3)]
    results = []
    for make in (rnn_layer, hsru_layer):
        layer = make(weights, 3, 4, return_sequences=True, return_state=True)
        results.append(layer_gradients(layer, x, cotangents))
    ref_out, ref_states = reference.hsru_forward(x, weights, 5.0)
    upstream = cotangents[0].copy()
    upstream[:, -1] += cotangents[1]
    ref_dx, ref_dw = reference.hsru_gradients(
        x, weights, 5.0, upstream, cotangents[2], cotangents[3]
    )
    assert_match_reference(*results, [ref_out, *ref_states], ref_dx, ref_dw)


def test_implementation_loop_is_the_keras_rnn_loop(rng):
    x, weights = draw_problem(rng)
    scan = hsru_layer(weights, 4, 5, return_sequences=True, implementation="scan")
    loop = hsru_layer(weights, 4, 5, return_sequences=True, implementation="loop")
    np.testing.assert_allclose(numpy(scan(x)), numpy(loop(x)), atol=1e-5)


@pytest.mark.parametrize("implementation", ["fused", "scan"])
def test_fused_and_scan_implementations_equal_auto(implementation, rng):
    from tests.support.backend_utils import fused_kernels_run_here

    x, weights = draw_problem(rng)
    layer = hsru_layer(weights, 4, 5, return_sequences=True, implementation=implementation)
    if implementation == "fused" and not fused_kernels_run_here():
        with pytest.raises(ValueError, match="fused HSRU kernels .* Received: device="):
            layer(x)
        return
    auto = hsru_layer(weights, 4, 5, return_sequences=True)
    cotangents = [np.random.default_rng(2).normal(size=(3, 12, 5))]
    (out,), dx, dw = layer_gradients(layer, x, cotangents)
    (want,), want_dx, want_dw = layer_gradients(auto, x, cotangents)
    np.testing.assert_allclose(out, want, atol=1e-5)
    np.testing.assert_allclose(dx, want_dx, atol=1e-4)
    for got, expected in zip(dw, want_dw):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_set_weights_from_rnn_cell(rng):
    x, weights = draw_problem(rng)
    source = rnn_layer(weights, 4, 5)
    target = keras_hsru.HSRU(5)
    target.build((None, None, 4))
    target.set_weights(source.get_weights())
    np.testing.assert_allclose(numpy(target(x)), numpy(source(x)), atol=1e-5)


def test_hundred_thousand_steps_forward_and_backward_finite():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 100_000, 2)).astype(np.float32)
    layer = keras_hsru.HSRU(
        4, return_sequences=True, tau_initializer=keras.initializers.Constant(-6.0)
    )
    layer.build((None, None, 2))
    outputs, dx, dw = layer_gradients(layer, x, [np.ones((1, 100_000, 4), np.float32)])
    assert np.all(np.isfinite(outputs[0]))
    assert np.all(np.isfinite(dx)) and all(np.all(np.isfinite(g)) for g in dw)


@pytest.mark.parametrize("jit_compile", [False, True] if BACKEND != "torch" else [False])
def test_any_length_in_a_compiled_model(jit_compile):
    inputs = keras.Input((None, 2))
    outputs = keras.layers.Dense(1)(keras_hsru.HSRU(4)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse", jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    for length in (5, 17, 64):
        x = rng.normal(size=(8, length, 2)).astype(np.float32)
        loss = model.train_on_batch(x, np.zeros((8, 1), np.float32))
        assert np.isfinite(loss)
        reference_model = keras.Sequential(
            [
                keras.Input((None, 2)),
                keras.layers.RNN(keras_hsru.HSRUCell(4)),
                keras.layers.Dense(1),
            ]
        )
        reference_model.set_weights(model.get_weights())
        np.testing.assert_allclose(
            model.predict(x, verbose=0), numpy(reference_model(x)), atol=1e-4
        )


# Less than a chunk, one chunk, and chunks with a remainder, each with both
# values of each switch, and each pair of switches: every pair of settings once
# (the lengths and the switches meet in separate code).
@pytest.mark.parametrize(
    "length, return_sequences, go_backwards",
    [
        (3, True, False),
        (3, False, True),
        (4, True, True),
        (4, False, False),
        (13, True, False),
        (13, False, True),
    ],
)
def test_forward_chunk_by_chunk_equals_the_step_loop(
    length, return_sequences, go_backwards, chunks_of_four, rng
):
    """Outputs, final states and gradients (of a call with training=False, whose
    gradients must stay right) as RNN(HSRUCell) computes them."""
    x, weights = draw_problem(rng, length=length)
    kwargs = dict(return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    output_shape = (3, length, 5) if return_sequences else (3, 5)
    cot = np.random.default_rng(2)
    cotangents = [cot.normal(size=output_shape)] + [cot.normal(size=(3, 5)) for _ in range(3)]
    (loop_out, loop_dx, loop_dw), (out, dx, dw) = (
        layer_gradients(make(weights, 4, 5, **kwargs), x, cotangents)
        for make in (rnn_layer, hsru_layer)
    )
    assert chunks_of_four and set(chunks_of_four) == {length}
    for got, want in zip(out, loop_out):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(dx, loop_dx, atol=1e-4)
    for got, want in zip(dw, loop_dw):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_forward_chunk_by_chunk_in_a_model_of_any_length(chunks_of_four, rng):
    """`predict` (compiled, training=False) on sequences of several lengths, and a
    stateful layer fed in pieces that are not whole chunks."""
    x, weights = draw_problem(rng, length=14)
    whole, _ = reference.hsru_forward(x, weights, 5.0)
    model = keras.Sequential(
        [keras.Input((None, 4)), hsru_layer(weights, 4, 5, return_sequences=True)]
    )
    for length in (5, 14):
        np.testing.assert_allclose(
            model.predict(x[:, :length], verbose=0), whole[:, :length], atol=2e-5
        )
    stateful = hsru_layer(weights, 4, 5, batch_size=3, stateful=True, return_sequences=True)
    pieces = [numpy(stateful(x[:, start:end])) for start, end in ((0, 6), (6, 7), (7, 14))]
    np.testing.assert_allclose(np.concatenate(pieces, 1), whole, atol=2e-5)
    assert chunks_of_four
