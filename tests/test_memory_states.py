"""The k-state digital memory (`memory_states=k`): a counter modulo k moved by up and down spikes.

Compared with the float64 references in `tests/support/reference.py`
(`hsru_forward(..., memory_states=k)` and `counter_gradients`, backpropagation
through time written out by hand) and with keras' step loop over `HSRUCell(memory_states=k)`.
Inputs are drawn so that |V| stays clear of the threshold: a rounding
difference there would move a count for good.
"""

import io
import json
import zipfile

import keras
import numpy as np
import pytest

import keras_hsru
from tests.support import reference
from tests.support.backend_utils import layer_gradients
from tests.support.helpers import (
    assert_match_reference,
    assert_saved_model_serves_like_predict,
    numpy,
)


def draw_counter_problem(rng, k, batch=3, length=12, input_dim=4, units=5):
    """Inputs and weights whose |V| sits clear of every unit's threshold, so that
    neither an up spike (V > theta) nor a down spike (-V > theta) is borderline."""
    x = rng.normal(size=(batch, length, input_dim)).astype(np.float32)
    w_in = (rng.normal(size=(input_dim, units)) / np.sqrt(input_dim)).astype(np.float32)
    b_in = rng.normal(scale=0.1, size=units).astype(np.float32)
    tau = rng.uniform(-2, 2, size=units).astype(np.float32)
    w_out = (rng.normal(size=(k * units, units)) / np.sqrt(k * units)).astype(np.float32)
    b_out = rng.normal(scale=0.1, size=units).astype(np.float32)
    v = reference.potentials(x, w_in, b_in, tau)
    theta, margin = reference.threshold_in_gaps(np.abs(v))
    assert margin.min() > 1e-4, margin
    return x, [w_in, b_in, tau, theta.astype(np.float32), w_out, b_out]


def counter_layer(kind, weights, k, input_dim=4, units=5, cell_class=None, **kwargs):
    """`RNN(HSRUCell(memory_states=k))` ("cell") or `HSRU(memory_states=k)` ("hsru")."""
    if kind == "cell":
        cell_class = cell_class or keras_hsru.HSRUCell
        layer = keras.layers.RNN(cell_class(units, memory_states=k), **kwargs)
    else:
        layer = keras_hsru.HSRU(units, memory_states=k, **kwargs)
    layer.build((None, None, input_dim))
    layer.set_weights(weights)
    return layer


def counter_steps(up, down, initial):
    """float64 step loop of `keras_hsru.ops.counter_scan`: (batch, time, k, units)."""
    o, out = initial, []
    for t in range(up.shape[1]):
        o = reference.counter_step(o, up[:, t], down[:, t])
        out.append(o)
    return np.stack(out, 1)


def counter_step_gradients(up, down, initial, upstream):
    """float64 gradients of sum(upstream * counter_steps(...)) by the step formula."""
    roll = lambda o, shift: np.roll(o, shift, axis=1)  # noqa: E731
    states = counter_steps(up, down, initial)
    adjoint = np.zeros_like(initial)
    grad_up, grad_down = np.zeros_like(up), np.zeros_like(down)
    for t in reversed(range(up.shape[1])):
        adjoint = adjoint + upstream[:, t]
        previous = states[:, t - 1] if t > 0 else initial
        u, d = up[:, t][:, None], down[:, t][:, None]
        grad_up[:, t] = (
            adjoint
            * ((1 - d) * (roll(previous, 1) - previous) + d * (previous - roll(previous, -1)))
        ).sum(1)
        grad_down[:, t] = (
            adjoint
            * ((1 - u) * (roll(previous, -1) - previous) + u * (previous - roll(previous, 1)))
        ).sum(1)
        adjoint = (
            (1 - u) * (1 - d) * adjoint
            + u * (1 - d) * roll(adjoint, -1)
            + d * (1 - u) * roll(adjoint, 1)
            + u * d * adjoint
        )
    return grad_up, grad_down, adjoint


def op_gradients(up, down, initial, upstream, modulus):
    """`counter_scan` and its gradients on the active backend, as NumPy."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(*args):
            return (
                keras_hsru.ops.counter_scan(args[0], args[1], modulus, args[2]) * upstream
            ).sum()

        grads = jax.grad(loss, argnums=(0, 1, 2))(up, down, initial)
    elif backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(a) for a in (up, down, initial)]
        with tf.GradientTape() as tape:
            out = keras_hsru.ops.counter_scan(variables[0], variables[1], modulus, variables[2])
            loss = tf.reduce_sum(out * upstream)
        grads = tape.gradient(loss, variables)
    else:
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in (up, down, initial)]
        out = keras_hsru.ops.counter_scan(tensors[0], tensors[1], modulus, tensors[2])
        (out * torch.tensor(upstream)).sum().backward()
        grads = [t.grad for t in tensors]
    return [numpy(g) for g in grads]


@pytest.mark.parametrize("modulus", [2, 3, 5])
@pytest.mark.parametrize("length", [1, 9, 300])
def test_counter_scan_equals_the_step_formula(modulus, length, rng):
    up = (rng.random((2, length, 3)) < 0.4).astype(np.float32)
    down = (rng.random((2, length, 3)) < 0.4).astype(np.float32)
    # A distribution between counts: the step formula is linear in it.
    initial = rng.random((2, modulus, 3)).astype(np.float32)
    initial /= initial.sum(1, keepdims=True)
    upstream = rng.normal(size=(2, length, modulus, 3)).astype(np.float32)
    want = counter_steps(*(a.astype(np.float64) for a in (up, down, initial)))
    got = numpy(keras_hsru.ops.counter_scan(up, down, modulus, initial))
    np.testing.assert_allclose(got, want, atol=1e-6)
    want_grads = counter_step_gradients(
        *(a.astype(np.float64) for a in (up, down, initial, upstream))
    )
    for got_grad, want_grad in zip(op_gradients(up, down, initial, upstream, modulus), want_grads):
        np.testing.assert_allclose(got_grad, want_grad, atol=1e-4 * max(1, np.abs(want_grad).max()))


def test_counter_scan_of_two_states_is_the_xor_memory(rng):
    spikes = (rng.random((2, 20, 3)) < 0.5).astype(np.float32)
    memory0 = (rng.random((2, 3)) < 0.5).astype(np.float32)
    xor = numpy(keras_hsru.ops.xor_scan(spikes, memory0))
    counts = keras_hsru.ops.counter_scan(
        spikes, np.zeros_like(spikes), 2, np.stack([1 - memory0, memory0], 1)
    )
    np.testing.assert_array_equal(numpy(counts)[:, :, 1], xor)


def test_counter_scan_starts_at_count_zero_and_counts_down_below_it():
    up = np.zeros((1, 3, 1), np.float32)
    down = np.ones((1, 3, 1), np.float32)
    counts = numpy(keras.ops.argmax(keras_hsru.ops.counter_scan(up, down, 5), axis=2))
    assert counts[0, :, 0].tolist() == [4, 3, 2]


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("length", [1, 37])
def test_hsru_equals_the_step_loop_and_the_reference(k, length, rng):
    x, weights = draw_counter_problem(rng, k, length=length)
    cot = np.random.default_rng(2)
    cotangents = [
        cot.normal(size=(3, length, 5)),
        cot.normal(size=(3, 5)),
        cot.normal(size=(3, 5)),
        cot.normal(size=(3, (k - 1) * 5)),
    ]
    results = [
        layer_gradients(
            counter_layer(kind, weights, k, return_sequences=True, return_state=True),
            x,
            cotangents,
        )
        for kind in ("cell", "hsru")
    ]
    ref_out, ref_states = reference.hsru_forward(x, weights, 5.0, memory_states=k)
    upstream = cotangents[0].copy()
    upstream[:, -1] += cotangents[1]
    ref_dx, ref_dw = reference.counter_gradients(
        x, weights, 5.0, k, upstream, cotangents[2], cotangents[3]
    )
    assert_match_reference(*results, [ref_out, *ref_states], ref_dx, ref_dw)


def test_the_counts_move_as_the_spikes_say(rng):
    # The reference's counts cover all k values and both directions.
    x, weights = draw_counter_problem(rng, 5, length=60)
    activity = counter_layer("hsru", weights, 5).spike_activity(x)
    potential, memory = numpy(activity["potential"]), numpy(activity["memory"])
    theta = weights[3]
    moves = (potential > theta).astype(int) - (-potential > theta).astype(int)
    np.testing.assert_array_equal(memory, np.cumsum(moves, axis=1) % 5)
    assert set(np.unique(memory)) == {0, 1, 2, 3, 4}
    np.testing.assert_array_equal(
        numpy(activity["spikes"]), (potential > theta) + (-potential > theta)
    )


@pytest.mark.parametrize("padding", ["any", "right"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_sequences_hold_the_count(go_backwards, padding, rng):
    x, weights = draw_counter_problem(rng, 4, length=15)
    mask = rng.random((3, 15)) < 0.7
    if padding == "right":  # the unmasked scan's path (see test_layers.py)
        mask = np.arange(15) < np.array([[0], [9], [15]])
    mask[0] = False  # a sequence without a step keeps its initial states
    # y0 = 0: before a row's first step keras' loop emits zeros on some backends
    # (tests/test_layers.py shows it), HSRU y0.
    initial = [np.zeros((3, 5), np.float32), rng.normal(size=(3, 5)).astype(np.float32)]
    counts = rng.integers(0, 4, size=(3, 5))
    one_hot = np.eye(4, dtype=np.float32)[counts].transpose(0, 2, 1)  # (batch, k, units)
    initial.append(one_hot[:, 1:].reshape(3, -1))
    outputs = []
    for kind in ("cell", "hsru"):
        layer = counter_layer(
            kind, weights, 4, return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        outputs.append([numpy(o) for o in layer(x, initial_state=initial, mask=mask)])
    for got, want in zip(*outputs):
        np.testing.assert_allclose(got, want, atol=1e-5)
    if not go_backwards:
        ref_out, ref_states = reference.hsru_forward(
            x, weights, 5.0, initial, mask, memory_states=4
        )
        for got, want in zip(outputs[1], [ref_out, *ref_states]):
            np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_array_equal(outputs[1][3][0], initial[2][0])


def test_stateful_chunks_equal_the_whole_sequence(rng):
    x, weights = draw_counter_problem(rng, 5, batch=2, length=24)
    whole = counter_layer("hsru", weights, 5, return_sequences=True)
    chunked = keras_hsru.HSRU(5, memory_states=5, return_sequences=True, stateful=True)
    chunked.build((2, None, 4))
    chunked.set_weights(weights)
    pieces = [numpy(chunked(x[:, start : start + 8])) for start in range(0, 24, 8)]
    np.testing.assert_allclose(np.concatenate(pieces, 1), numpy(whole(x)), atol=1e-5)


def test_forward_chunk_by_chunk_equals_the_whole_sequence(chunks_of_four, rng):
    x, weights = draw_counter_problem(rng, 3, length=13)
    layer = counter_layer("hsru", weights, 3, return_sequences=True, return_state=True)
    chunked = [numpy(o) for o in layer(x)]
    assert chunks_of_four == [13]
    loop = counter_layer("cell", weights, 3, return_sequences=True, return_state=True)
    for got, want in zip(chunked, (numpy(o) for o in loop(x))):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_attentive_hsru_takes_a_k_state_memory(rng):
    x, weights = draw_counter_problem(rng, 5, length=20)
    weights = weights + [rng.normal(size=4).astype(np.float32)]
    layer = keras_hsru.AttentiveHSRU(5, memory_states=5, return_sequences=True)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    loop = counter_layer(
        "cell", weights, 5, cell_class=keras_hsru.AttentiveHSRUCell, return_sequences=True
    )
    np.testing.assert_allclose(numpy(layer(x)), numpy(loop(x)), atol=1e-5)
    assert layer.memory_states == 5


def test_a_counter_starts_with_a_band_where_it_holds():
    layer = keras_hsru.HSRU(4, memory_states=5)
    layer.build((None, None, 3))
    np.testing.assert_array_equal(numpy(layer.cell.threshold), np.full(4, 0.25, np.float32))
    xor = keras_hsru.HSRU(4)
    xor.build((None, None, 3))
    np.testing.assert_array_equal(numpy(xor.cell.threshold), np.zeros(4, np.float32))


def test_the_default_is_the_xor_memory_bit_for_bit(rng):
    from tests.support.helpers import draw_problem, hsru_layer

    x, weights = draw_problem(rng, length=30)
    default = hsru_layer(weights, 4, 5, return_sequences=True, return_state=True)
    explicit = hsru_layer(weights, 4, 5, return_sequences=True, return_state=True, memory_states=2)
    for got, want in zip(default(x), explicit(x)):
        np.testing.assert_array_equal(numpy(got), numpy(want))
    assert default.cell.state_size == [5, 5, 5]
    assert tuple(default.cell.output_kernel.shape) == (10, 5)


def test_a_file_saved_before_memory_states_loads_as_the_xor_memory(tmp_path, rng):
    # Such a file's configs have no `memory_states`: removed here from a fresh one.
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    inputs = keras.Input((None, 3))
    hidden = keras_hsru.HSRU(4, return_sequences=True)(inputs)
    outputs = keras.layers.RNN(keras_hsru.HSRUCell(3))(hidden)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                text = data.decode()
                assert text.count('"memory_states": 2') == 2
                data = text.replace(', "memory_states": 2', "").encode()
                assert b"memory_states" not in data
            target.writestr(item, data)
    loaded = keras.saving.load_model(old)
    np.testing.assert_array_equal(numpy(loaded(x)), numpy(model(x)))
    assert [layer.cell.memory_states for layer in loaded.layers[1:]] == [2, 2]


def test_keras_file_round_trip(tmp_path, rng):
    x = rng.normal(size=(2, 9, 3)).astype(np.float32)
    inputs = keras.Input((None, 3))
    hidden = keras_hsru.HSRU(4, memory_states=5, return_sequences=True)(inputs)
    outputs = keras.layers.RNN(keras_hsru.HSRUCell(3, memory_states=3))(hidden)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-6)
    assert [layer.cell.memory_states for layer in loaded.layers[1:]] == [5, 3]
    config = loaded.layers[1].get_config()
    assert config["memory_states"] == 5
    assert keras_hsru.HSRU.from_config(config).get_config() == config
    json.dumps(keras.saving.serialize_keras_object(loaded.layers[1]))
    with zipfile.ZipFile(path) as archive:
        assert "memory_states" in io.TextIOWrapper(archive.open("config.json")).read()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_the_count_in_float32(policy, rng):
    x, weights = draw_counter_problem(rng, 5, length=20)
    layer = keras_hsru.HSRU(
        5, memory_states=5, return_sequences=True, return_state=True, dtype=policy
    )
    layer.build((None, None, 4))
    layer.set_weights(weights)
    outputs, _, _, memory = layer(x)
    compute = policy.split("_")[1]
    assert keras.backend.standardize_dtype(outputs.dtype) == compute
    expected, states = reference.hsru_forward(x, weights, 5.0, memory_states=5)
    close = np.isclose(numpy(keras.ops.cast(outputs, "float32")), expected, atol=0.1)
    assert close.mean() > 0.95
    # Low precision may move a borderline count; the bulk stays where it was.
    assert (numpy(keras.ops.cast(memory, "float32")) == states[2]).mean() > 0.9


@pytest.mark.parametrize("kind", ["cell", "hsru"])
def test_a_model_learns_cycle_navigation_steps(kind):
    # A count modulo 5 is what the task asks; a few hundred steps move the loss.
    task = keras_hsru.tasks.CycleNavigation(8, batch_size=32, steps_per_epoch=20, seed=0)
    layer = (
        keras.layers.RNN(keras_hsru.HSRUCell(8, memory_states=5))
        if kind == "cell"
        else keras_hsru.HSRU(8, memory_states=5)
    )
    model = keras.Sequential([keras.Input((None, 3)), layer, keras.layers.Dense(5)])
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(task, epochs=3, verbose=0).history["loss"]
    assert np.isfinite(history).all()
    assert history[-1] < history[0]


def test_the_spike_rate_regularizer_counts_both_directions(rng):
    x, weights = draw_counter_problem(rng, 5, length=20)
    regularizer = keras_hsru.regularizers.SpikeRateRegularizer(target=0.0, weight=1.0)
    layer = keras_hsru.HSRU(5, memory_states=5, spike_rate_regularizer=regularizer)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    layer(x, training=True)
    potential = reference.potentials(x, *weights[:3])
    spikes = (potential > weights[3]) + (-potential > weights[3])
    want = numpy(regularizer(keras.ops.convert_to_tensor(spikes.mean(axis=(0, 1)), "float32")))
    np.testing.assert_allclose(numpy(layer.losses[0]), want, rtol=1e-5)


@pytest.mark.parametrize("value", [1, 0, -3, 2.5, True, "5", None])
def test_invalid_memory_states_raise(value):
    for make in (keras_hsru.HSRUCell, keras_hsru.HSRU, keras_hsru.AttentiveHSRU):
        with pytest.raises(ValueError, match=f"memory_states.*Received: memory_states={value!r}"):
            make(4, memory_states=value)


def test_the_fused_implementation_declines_a_counter():
    with pytest.raises(ValueError, match="implementation='fused' with memory_states=5"):
        keras_hsru.HSRU(4, memory_states=5, implementation="fused")


def test_an_initial_memory_of_the_wrong_width_raises(rng):
    layer = keras_hsru.HSRU(5, memory_states=5)
    x = rng.normal(size=(3, 4, 4)).astype(np.float32)
    states = [np.zeros((3, 5), np.float32)] * 3
    with pytest.raises(ValueError, match=r"\(batch, \(k - 1\) \* units\) = \(3, 20\).*\(3, 5\)"):
        layer(x, initial_state=states)


def test_counter_scan_validates_its_arguments():
    spikes = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match="Received: modulus=1"):
        keras_hsru.ops.counter_scan(spikes, spikes, 1)
    with pytest.raises(ValueError, match=r"`down_spikes` must have shape .*=\(2, 4, 2\)"):
        keras_hsru.ops.counter_scan(spikes, spikes[..., :2], 3)
    with pytest.raises(ValueError, match=r"`initial_state` must have shape .*=\(2, 3\)"):
        keras_hsru.ops.counter_scan(spikes, spikes, 3, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="floating point"):
        keras_hsru.ops.counter_scan(spikes.astype("int32"), spikes, 3)
    with pytest.raises(ValueError, match="rank 3"):
        keras_hsru.ops.counter_scan(spikes[0], spikes[0], 3)


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="keras exports tf_saved_model from TF and JAX"
)
def test_a_counter_exports_to_a_saved_model_of_any_length(rng, tmp_path):
    x, weights = draw_counter_problem(rng, 5, length=130, input_dim=3, units=4)
    model = keras.Sequential(
        [keras.Input((None, 3)), keras_hsru.HSRU(4, memory_states=5), keras.layers.Dense(1)]
    )
    model(x[:, :2])
    model.layers[0].set_weights(weights)
    assert_saved_model_serves_like_predict(model, x, (1, 7, 130), tmp_path / "model")


def test_an_initial_state_of_the_wrong_count_raises_naming_each_states_width():
    # A k-state D is (k - 1) * units wide, not `units`: the message says so.
    layer = keras_hsru.HSRU(3, memory_states=5)
    x = np.zeros((2, 4, 1), np.float32)
    states = [np.zeros((2, 3), np.float32)] * 2
    with pytest.raises(ValueError, match=r"widths \[3, 3, 12\]\. Received: 2 of shapes"):
        layer(x, initial_state=states)
