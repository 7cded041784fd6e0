"""The latch memory (`memory="latch"`): D set by an up spike, reset by a down spike.

Compared with the float64 reference (`reference.hsru_forward(..., memory="latch")`)
and, values and gradients, with keras' step loop over `HSRUCell(memory="latch")`,
whose gradient is autodiff through the cell's step. Inputs are drawn so that
|V| stays clear of the threshold, as for the counter.
"""

import keras
import numpy as np
import pytest

import keras_hsru
from tests.support import reference
from tests.support.backend_utils import layer_gradients
from tests.support.helpers import assert_scan_matches_loop, numpy
from tests.test_memory_states import draw_counter_problem


def latch_layer(kind, weights, input_dim=4, units=5, **kwargs):
    """`RNN(HSRUCell(memory="latch"))` ("cell") or `HSRU(memory="latch")` ("hsru")."""
    if kind == "cell":
        layer = keras.layers.RNN(keras_hsru.HSRUCell(units, memory="latch"), **kwargs)
    else:
        layer = keras_hsru.HSRU(units, memory="latch", **kwargs)
    layer.build((None, None, input_dim))
    layer.set_weights(weights)
    return layer


@pytest.mark.parametrize("length", [1, 37])
def test_hsru_equals_the_step_loop_and_the_reference(length, rng):
    x, weights = draw_counter_problem(rng, 2, length=length)
    cot = np.random.default_rng(2)
    cotangents = [cot.normal(size=(3, length, 5))] + [cot.normal(size=(3, 5)) for _ in range(3)]
    loop, scan = (
        layer_gradients(
            latch_layer(kind, weights, return_sequences=True, return_state=True), x, cotangents
        )
        for kind in ("cell", "hsru")
    )
    ref_out, ref_states = reference.hsru_forward(x, weights, 5.0, memory="latch")
    # The threshold is learned through both spikes' surrogates.
    assert_scan_matches_loop(loop, scan, [ref_out, *ref_states])


def test_the_latch_is_set_by_up_spikes_and_reset_by_down_spikes(rng):
    x, weights = draw_counter_problem(rng, 2, length=80)
    activity = latch_layer("hsru", weights).spike_activity(x)
    potential, memory = numpy(activity["potential"]), numpy(activity["memory"])
    theta = weights[3]
    up, down = potential > theta, -potential > theta
    expected, state = np.zeros_like(memory), np.zeros(memory[:, 0].shape)
    for t in range(memory.shape[1]):
        state = np.where(up[:, t], 1.0, np.where(down[:, t], 0.0, state))
        expected[:, t] = state
    np.testing.assert_array_equal(memory, expected)
    # Held steps exist, and both transitions happen.
    held = ~up & ~down
    assert (
        held.any() and (np.diff(memory, axis=1) > 0).any() and (np.diff(memory, axis=1) < 0).any()
    )
    np.testing.assert_array_equal(numpy(activity["spikes"]), up.astype(int) + down)


def test_noise_inside_the_band_leaves_the_latch_where_the_xor_bit_flips():
    # One unit, V = x (alpha = exp(-softplus(50)) ~ 0): above the threshold
    # for 4 steps, then noise within the band [-0.5, 0.5]. The readout is D.
    x = np.array([[[1.0]] * 4 + [[0.1], [-0.1]] * 5], np.float32)
    weights = [np.ones((1, 1)), np.zeros(1), np.full(1, 50.0), np.full(1, 0.5)]
    weights += [np.array([[0.0], [1.0]]), np.zeros(1)]
    weights = [np.asarray(w, np.float32) for w in weights]
    memories = {}
    for memory in ("toggle", "latch"):
        layer = keras_hsru.HSRU(1, memory=memory)
        layer.build((None, None, 1))
        layer.set_weights(weights)
        memories[memory] = numpy(layer.spike_activity(x)["memory"])[0, :, 0]
    np.testing.assert_array_equal(memories["latch"], [1.0] * 14)
    np.testing.assert_array_equal(memories["toggle"], [1, 0, 1, 0] + [0] * 10)


@pytest.mark.parametrize("padding", ["any", "right"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_sequences_hold_the_latch(go_backwards, padding, rng):
    x, weights = draw_counter_problem(rng, 2, length=15)
    mask = rng.random((3, 15)) < 0.7
    if padding == "right":  # the unmasked scan's path (see test_layers.py)
        mask = np.arange(15) < np.array([[0], [9], [15]])
    mask[0] = False
    initial = [
        np.zeros((3, 5), np.float32),
        rng.normal(size=(3, 5)).astype(np.float32),
        rng.integers(0, 2, size=(3, 5)).astype(np.float32),
    ]
    outputs = [
        [
            numpy(o)
            for o in latch_layer(
                kind, weights, return_sequences=True, return_state=True, go_backwards=go_backwards
            )(x, initial_state=initial, mask=mask)
        ]
        for kind in ("cell", "hsru")
    ]
    for got, want in zip(*outputs):
        np.testing.assert_allclose(got, want, atol=1e-5)
    if not go_backwards:
        ref_out, ref_states = reference.hsru_forward(x, weights, 5.0, initial, mask, memory="latch")
        for got, want in zip(outputs[1], [ref_out, *ref_states]):
            np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_array_equal(outputs[1][3][0], initial[2][0])


def test_stateful_chunks_equal_the_whole_sequence(rng):
    x, weights = draw_counter_problem(rng, 2, batch=2, length=24)
    whole = latch_layer("hsru", weights, return_sequences=True)
    chunked = keras_hsru.HSRU(5, memory="latch", return_sequences=True, stateful=True)
    chunked.build((2, None, 4))
    chunked.set_weights(weights)
    pieces = [numpy(chunked(x[:, start : start + 8])) for start in range(0, 24, 8)]
    np.testing.assert_allclose(np.concatenate(pieces, 1), numpy(whole(x)), atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_the_latch_in_float32(policy, rng):
    x, weights = draw_counter_problem(rng, 2)
    keras.config.set_dtype_policy(policy)
    layer = keras_hsru.HSRU(5, memory="latch", return_state=True)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    output, _, _, memory = layer(x)
    assert keras.backend.standardize_dtype(output.dtype) == policy.split("_")[1]
    _, ref_states = reference.hsru_forward(x, weights, 5.0, memory="latch")
    np.testing.assert_array_equal(numpy(memory), ref_states[2])


def test_keras_file_round_trip_and_default(tmp_path, rng):
    x, weights = draw_counter_problem(rng, 2)
    model = keras.Sequential([keras.Input((None, 4)), keras_hsru.HSRU(5, memory="latch")])
    model.layers[0].set_weights(weights)
    path = str(tmp_path / "latch.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].memory == "latch" and loaded.layers[0].cell.memory == "latch"
    np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-6)
    assert keras_hsru.HSRU(3).memory == "toggle"
    assert float(keras_hsru.HSRUCell(3, memory="latch").threshold_initializer.value) == 0.25


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"memory": "flip"}, "memory='flip'"),
        ({"memory": None}, "memory=None"),
        ({"memory": "latch", "memory_states": 3}, "memory_states=3"),
        ({"memory": "latch", "implementation": "fused"}, "memory='latch'"),
    ],
)
def test_invalid_memory_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        keras_hsru.HSRU(3, **kwargs)
