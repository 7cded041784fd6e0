"""RNN(HSRUCell) and HSRU against the float64 reference: the whole keras RNN contract."""

import keras
import numpy as np
import pytest

import keras_hsru
from tests.support import reference
from tests.support.backend_utils import layer_gradients
from tests.support.helpers import KINDS, draw_problem, make_layer, numpy

SLOPE = 5.0
ATOL = 1e-5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", [1, 2, 12])
def test_forward_and_final_states_match_reference(kind, length, rng):
    x, weights = draw_problem(rng, length=length)
    layer = make_layer(kind, weights, 4, 5, return_sequences=True, return_state=True)
    outputs, y, v, d = [numpy(t) for t in layer(x)]
    ref_outputs, (ref_y, ref_v, ref_d) = reference.hsru_forward(x, weights, SLOPE)
    np.testing.assert_allclose(outputs, ref_outputs, atol=ATOL)
    np.testing.assert_allclose(y, ref_y, atol=ATOL)
    np.testing.assert_allclose(v, ref_v, atol=ATOL)
    np.testing.assert_array_equal(d, ref_d)
    assert 0 < ref_d.mean() < 1  # the test exercises spikes and flips


@pytest.mark.parametrize("kind", KINDS)
def test_last_output_only(kind, rng):
    x, weights = draw_problem(rng)
    out = numpy(make_layer(kind, weights, 4, 5)(x))
    np.testing.assert_allclose(out, reference.hsru_forward(x, weights, SLOPE)[0][:, -1], atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_analytic_surrogate(kind, rng):
    x, weights = draw_problem(rng, length=15)
    cot = np.random.default_rng(3)
    g_seq, g_y, g_v, g_d = (
        cot.normal(size=(3, 15, 5)),
        cot.normal(size=(3, 5)),
        cot.normal(size=(3, 5)),
        cot.normal(size=(3, 5)),
    )
    layer = make_layer(kind, weights, 4, 5, return_sequences=True, return_state=True)
    _, dx, dw = layer_gradients(layer, x, [g_seq, g_y, g_v, g_d])
    upstream = g_seq.copy()
    upstream[:, -1] += g_y
    ref_dx, ref_dw = reference.hsru_gradients(x, weights, SLOPE, upstream, g_v, g_d)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-4, atol=1e-4)
    names = ["input_kernel", "input_bias", "tau", "threshold", "output_kernel", "output_bias"]
    assert [w.name for w in layer.trainable_weights] == names
    for name, got, want in zip(names, dw, ref_dw):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)
    assert np.abs(ref_dw[3]).max() > 1e-3  # the surrogate reaches the threshold


@pytest.mark.parametrize("kind", KINDS)
def test_right_padded_mask_equals_cut_sequences(kind, rng):
    x, weights = draw_problem(rng, length=10)
    lengths = [10, 6, 1]
    mask = np.arange(10)[None, :] < np.array(lengths)[:, None]
    layer = make_layer(kind, weights, 4, 5, return_sequences=True, return_state=True)
    outputs, y, v, d = [numpy(t) for t in layer(x, mask=mask)]
    for i, n in enumerate(lengths):
        ref_out, (ref_y, ref_v, ref_d) = reference.hsru_forward(x[i : i + 1, :n], weights, SLOPE)
        np.testing.assert_allclose(outputs[i, :n], ref_out[0], atol=ATOL)
        np.testing.assert_allclose(
            outputs[i, n:], np.broadcast_to(ref_y[0], (10 - n, 5)), atol=ATOL
        )
        np.testing.assert_allclose(y[i], ref_y[0], atol=ATOL)
        np.testing.assert_allclose(v[i], ref_v[0], atol=ATOL)
        np.testing.assert_array_equal(d[i], ref_d[0])


def test_right_padding_is_told_from_other_masks():
    from keras_hsru.layers.hsru import right_padded

    def told(rows):
        return bool(numpy(right_padded(np.array(rows, bool))))

    assert told([[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1]]) and told([[1], [0]])
    assert not told([[1, 1, 0], [0, 1, 1]])  # left padding
    assert not told([[1, 0, 1]])  # a gap


@pytest.mark.parametrize("branch", [True, False])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_right_padded_gradients_equal_each_sequence_cut(return_sequences, branch, rng, monkeypatch):
    # With the branch (keras_hsru.ops.right_padded_branch; by default on
    # TensorFlow graphs on a CPU only), right padding takes the unmasked scan;
    # either way the gradients equal the float64 backpropagation through each
    # sequence alone.
    monkeypatch.setattr(keras_hsru.ops, "right_padded_branch", lambda: branch)
    x, weights = draw_problem(rng, length=10)
    lengths = [10, 6, 1]
    mask = np.arange(10)[None, :] < np.array(lengths)[:, None]
    x = np.where(mask[..., None], x, np.nan).astype(np.float32)  # padding is never read
    cot = np.random.default_rng(3)
    g_seq, g_y, g_v, g_d = cot.normal(size=(3, 10, 5)), *cot.normal(size=(3, 3, 5))
    if not return_sequences:
        g_seq = np.zeros((3, 1, 5))
    layer = make_layer("hsru", weights, 4, 5, return_sequences=return_sequences, return_state=True)
    outputs, dx, dw = layer_gradients(layer, x, [g_seq, g_y, g_v, g_d], mask=mask)
    want_dw = [np.zeros_like(w, np.float64) for w in weights]
    for i, n in enumerate(lengths):
        ref_out, (ref_y, ref_v, ref_d) = reference.hsru_forward(x[i : i + 1, :n], weights, SLOPE)
        if return_sequences:
            # A padded step's output is the last one again.
            np.testing.assert_allclose(outputs[0][i, :n], ref_out[0], atol=ATOL)
            np.testing.assert_allclose(
                outputs[0][i, n:], ref_y[0][None].repeat(10 - n, 0), atol=ATOL
            )
            upstream = g_seq[i : i + 1, :n].copy()
            upstream[:, -1] += g_seq[i, n:].sum(0)
        else:
            upstream = np.zeros((1, n, 5))
        upstream[:, -1] += g_y[i]
        ref_dx, ref_dw = reference.hsru_gradients(
            x[i : i + 1, :n], weights, SLOPE, upstream, g_v[i : i + 1], g_d[i : i + 1]
        )
        np.testing.assert_allclose(dx[i, :n], ref_dx[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(dx[i, n:], 0.0)
        want_dw = [total + g for total, g in zip(want_dw, ref_dw)]
    for got, want in zip(dw, want_dw):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_arbitrary_mask_skips_steps(kind, rng):
    x, weights = draw_problem(rng, length=10)
    mask = rng.uniform(size=(3, 10)) < 0.6
    mask[:, 0] = [False, True, False]  # a leading masked step repeats the initial output
    layer = make_layer(kind, weights, 4, 5, return_sequences=True, return_state=True)
    outputs, y, v, d = [numpy(t) for t in layer(x, mask=mask)]
    ref_out, (ref_y, ref_v, ref_d) = reference.hsru_forward(x, weights, SLOPE, mask=mask)
    np.testing.assert_allclose(outputs, ref_out, atol=ATOL)
    np.testing.assert_allclose(v, ref_v, atol=ATOL)
    np.testing.assert_array_equal(d, ref_d)
    last = numpy(make_layer(kind, weights, 4, 5)(x, mask=mask))
    np.testing.assert_allclose(last, ref_y, atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_masking_layer_in_a_model(kind, rng):
    x, weights = draw_problem(rng, length=8)
    x[1, 5:] = 0.0
    layer = make_layer(kind, weights, 4, 5)
    model = keras.Sequential([keras.Input((None, 4)), keras.layers.Masking(0.0), layer])
    ref, _ = reference.hsru_forward(x[1:2, :5], weights, SLOPE)
    np.testing.assert_allclose(numpy(model(x))[1], ref[0, -1], atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_go_backwards(kind, rng):
    x, weights = draw_problem(rng, length=9)
    layer = make_layer(kind, weights, 4, 5, go_backwards=True, return_sequences=True)
    ref, _ = reference.hsru_forward(x[:, ::-1], weights, SLOPE)
    np.testing.assert_allclose(numpy(layer(x)), ref, atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_initial_state(kind, rng):
    x, weights = draw_problem(rng, length=6)
    initial = [
        rng.uniform(-1, 1, (3, 5)).astype(np.float32),
        rng.normal(size=(3, 5)).astype(np.float32) * 0.01,  # keep V's gaps
        (rng.uniform(size=(3, 5)) < 0.5).astype(np.float32),
    ]
    layer = make_layer(kind, weights, 4, 5, return_sequences=True)
    ref, _ = reference.hsru_forward(x, weights, SLOPE, initial_state=initial)
    np.testing.assert_allclose(numpy(layer(x, initial_state=initial)), ref, atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_chunks_equal_whole_sequence_and_reset(kind, rng):
    x, weights = draw_problem(rng, length=12)
    whole, _ = reference.hsru_forward(x, weights, SLOPE)
    # stateful needs a static batch size
    layer = make_layer(kind, weights, 4, 5, batch_size=3, stateful=True, return_sequences=True)
    chunks = [numpy(layer(x[:, i : i + 4])) for i in range(0, 12, 4)]
    np.testing.assert_allclose(np.concatenate(chunks, 1), whole, atol=ATOL)
    layer.reset_states()
    np.testing.assert_allclose(numpy(layer(x[:, :4])), whole[:, :4], atol=ATOL)


def test_unroll_matches_reference(rng):
    x, weights = draw_problem(rng, length=7)
    layer = make_layer("cell", weights, 4, 5, unroll=True, return_sequences=True)
    model = keras.Sequential([keras.Input((7, 4)), layer])
    np.testing.assert_allclose(
        numpy(model(x)), reference.hsru_forward(x, weights, SLOPE)[0], atol=ATOL
    )


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional(kind, rng):
    x, forward_weights = draw_problem(rng, length=8)
    _, backward_weights = draw_problem(rng, x=np.ascontiguousarray(x[:, ::-1]))
    layer = make_layer(kind, forward_weights, 4, 5)
    bidirectional = keras.layers.Bidirectional(layer)
    bidirectional.build((None, None, 4))
    bidirectional.forward_layer.set_weights(forward_weights)
    bidirectional.backward_layer.set_weights(backward_weights)
    expected = np.concatenate(
        [
            reference.hsru_forward(x, forward_weights, SLOPE)[0][:, -1],
            reference.hsru_forward(x[:, ::-1], backward_weights, SLOPE)[0][:, -1],
        ],
        -1,
    )
    np.testing.assert_allclose(numpy(bidirectional(x)), expected, atol=ATOL)


def test_stacked_cells_match_chained_reference(rng):
    x, first = draw_problem(rng, length=8)
    hidden, _ = reference.hsru_forward(x, first, SLOPE)
    _, second = draw_problem(rng, x=hidden.astype(np.float32), units=3)
    layer = keras.layers.RNN(
        [
            keras_hsru.HSRUCell(5, surrogate_slope=SLOPE),
            keras_hsru.HSRUCell(3, surrogate_slope=SLOPE),
        ],
        return_sequences=True,
    )
    layer.build((None, None, 4))
    layer.set_weights(first + second)
    expected, _ = reference.hsru_forward(hidden, second, SLOPE)
    np.testing.assert_allclose(numpy(layer(x)), expected, atol=ATOL)


def test_analog_only_cell_forward_and_gradients(rng):
    x, weights = draw_problem(rng, length=9, analog_only=True)
    layer = keras.layers.RNN(keras_hsru.AnalogOnlyCell(5), return_sequences=True, return_state=True)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    assert [w.name for w in layer.weights] == [
        "input_kernel",
        "input_bias",
        "tau",
        "output_kernel",
        "output_bias",
    ]
    ref_out, (ref_y, ref_v) = reference.hsru_forward(x, weights, None, analog_only=True)
    outputs, y, v = [numpy(t) for t in layer(x)]
    np.testing.assert_allclose(outputs, ref_out, atol=ATOL)
    np.testing.assert_allclose(v, ref_v, atol=ATOL)
    # The ablation is smooth: central differences of the float64 reference are exact enough.
    cot = np.random.default_rng(5).normal(size=ref_out.shape)
    _, dx, dw = layer_gradients(layer, x, [cot, np.zeros_like(ref_y), np.zeros_like(ref_v)])

    def objective(x_, weights_):
        return float((reference.hsru_forward(x_, weights_, None, analog_only=True)[0] * cot).sum())

    eps = 1e-6
    for i, w in enumerate(weights):
        flat = np.asarray(w, np.float64).ravel()
        numeric = np.zeros_like(flat)
        for j in range(flat.size):
            plus, minus = flat.copy(), flat.copy()
            plus[j] += eps
            minus[j] -= eps
            wp = [*weights[:i], plus.reshape(w.shape), *weights[i + 1 :]]
            wm = [*weights[:i], minus.reshape(w.shape), *weights[i + 1 :]]
            numeric[j] = (objective(x, wp) - objective(x, wm)) / (2 * eps)
        np.testing.assert_allclose(dw[i].ravel(), numeric, rtol=1e-3, atol=1e-4)
    x64 = x.astype(np.float64)
    index = (1, 4, 2)
    plus, minus = x64.copy(), x64.copy()
    plus[index] += eps
    minus[index] -= eps
    numeric = (objective(plus, weights) - objective(minus, weights)) / (2 * eps)
    np.testing.assert_allclose(dx[index], numeric, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_applies_only_in_training(kind, rng):
    x, weights = draw_problem(rng)
    if kind == "hsru":
        layer = keras_hsru.HSRU(5, dropout=0.5, seed=1)
    else:
        layer = keras.layers.RNN(keras_hsru.HSRUCell(5, dropout=0.5, seed=1))
    layer.build((None, None, 4))
    layer.set_weights(weights)
    inference = numpy(layer(x, training=False))
    np.testing.assert_allclose(
        inference, reference.hsru_forward(x, weights, SLOPE)[0][:, -1], atol=ATOL
    )
    assert not np.allclose(numpy(layer(x, training=True)), inference)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_lowers_loss(kind):
    rng = np.random.default_rng(0)
    # Majority vote over 7 bits: learnable in a few epochs by any recurrent layer.
    x = rng.integers(0, 2, (256, 7, 1)).astype(np.float32)
    y = (x.sum((1, 2)) > 3.5).astype(np.float32)
    layer = keras.layers.RNN(keras_hsru.HSRUCell(8)) if kind == "cell" else keras_hsru.HSRU(8)
    model = keras.Sequential(
        [keras.Input((None, 1)), layer, keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(keras.optimizers.AdamW(1e-2, global_clipnorm=1.0), "binary_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("implementation", ["auto", "scan"])
def test_leading_masked_steps_emit_the_initial_output_where_keras_loop_differs(implementation, rng):
    # HSRU emits the initial output y before a row's first unmasked step on every
    # backend. keras' own loop emits it on JAX and zeros on TensorFlow and torch:
    # keras' LSTM, the control, does the same with its initial h.
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[False, False, True, True], [True] * 4])
    y0 = np.full((2, 5), 0.5, np.float32)
    states = [y0, np.zeros((2, 5), np.float32), np.zeros((2, 5), np.float32)]
    hsru = keras_hsru.HSRU(5, return_sequences=True, implementation=implementation)
    np.testing.assert_array_equal(numpy(hsru(x, initial_state=states, mask=mask))[0, :2], 0.5)

    lstm = keras.layers.LSTM(5, return_sequences=True)
    lstm_outputs = numpy(lstm(x, initial_state=[y0, states[1]], mask=mask))[0, :2]
    loop = keras.layers.RNN(keras_hsru.HSRUCell(5), return_sequences=True)
    loop_outputs = numpy(loop(x, initial_state=states, mask=mask))[0, :2]
    keras_emits = 0.5 if keras.backend.backend() == "jax" else 0.0
    np.testing.assert_array_equal(lstm_outputs, keras_emits)
    np.testing.assert_array_equal(loop_outputs, keras_emits)
