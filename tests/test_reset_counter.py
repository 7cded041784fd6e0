"""The reset counter (`memory="reset"`): a count modulo k that V's levels move and a down spike resets.

`keras_hsru.ops.reset_counter_scan` is compared with a float64 step loop and its
gradients with backpropagation through that loop by hand
(`reference.reset_counter_gradients`); the layers with the float64
`reference.hsru_forward(..., memory="reset")` and, values and gradients, with
keras' step loop over `HSRUCell(memory="reset")`, whose gradient is autodiff
through the cell's step. Inputs are drawn so that V stays clear of every level
`j * theta` and of `-theta`: a rounding difference there would move a count.
"""

import keras
import numpy as np
import pytest

import keras_hsru
from keras_hsru.layers import memory
from tests.support import reference
from tests.support.backend_utils import layer_gradients
from tests.support.helpers import (
    assert_saved_model_serves_like_predict,
    assert_scan_matches_loop,
    numpy,
)

K = 4


def draw_reset_problem(rng, k=K, batch=3, length=12, input_dim=4, units=5):
    """Inputs and weights whose |V| sits clear of every level `j * theta`
    (j = 1 .. k: the adding levels above, the reset and setting levels below),
    each unit's theta chosen for the widest margin."""
    x = rng.normal(size=(batch, length, input_dim)).astype(np.float32)
    w_in = (rng.normal(size=(input_dim, units)) * 0.8).astype(np.float32)
    b_in = rng.normal(scale=0.1, size=units).astype(np.float32)
    tau = rng.uniform(-2, 0, size=units).astype(np.float32)
    w_out = (rng.normal(size=(k * units, units)) / np.sqrt(k * units)).astype(np.float32)
    b_out = rng.normal(scale=0.1, size=units).astype(np.float32)
    v = reference.potentials(x, w_in, b_in, tau).reshape(-1, units)
    candidates = np.linspace(0.1, 0.8, 1401)
    edges = np.stack([candidates * j for j in range(1, k + 1)])  # (k, candidates)
    gaps = np.abs(np.abs(v)[:, :, None, None] - edges[None, None]).min(axis=(0, 2))
    theta, margin = candidates[gaps.argmax(1)], gaps.max(1)
    assert margin.min() > 1e-4, margin
    return x, [w_in, b_in, tau, theta.astype(np.float32), w_out, b_out]


def reset_layer(kind, weights, k=K, input_dim=4, units=5, cell_class=None, **kwargs):
    """`RNN(HSRUCell(memory="reset"))` ("cell") or `HSRU(memory="reset")` ("hsru")."""
    if kind == "cell":
        cell_class = cell_class or keras_hsru.HSRUCell
        cell = cell_class(units, memory="reset", memory_states=k)
        layer = keras.layers.RNN(cell, **kwargs)
    else:
        layer = keras_hsru.HSRU(units, memory="reset", memory_states=k, **kwargs)
    layer.build((None, None, input_dim))
    layer.set_weights(weights)
    return layer


def op_gradients(moves, resets, initial, upstream, modulus):
    """`reset_counter_scan`'s values and gradients on the active backend, as NumPy."""
    scan = keras_hsru.ops.reset_counter_scan
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(*args):
            return (scan(args[0], args[1], modulus, args[2]) * upstream).sum()

        grads = jax.grad(loss, argnums=(0, 1, 2))(moves, resets, initial)
    elif backend == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(a) for a in (moves, resets, initial)]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(scan(*variables[:2], modulus, variables[2]) * upstream)
        grads = tape.gradient(loss, variables)
    else:
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in (moves, resets, initial)]
        (scan(*tensors[:2], modulus, tensors[2]) * torch.tensor(upstream)).sum().backward()
        grads = [t.grad for t in tensors]
    return numpy(scan(moves, resets, modulus, initial)), [numpy(g) for g in grads]


# Each modulus and level count, and each length (one step, a few, many) at
# least once; the longest with the most levels.
@pytest.mark.parametrize(
    "modulus, levels, length",
    [(2, 1, 9), (5, 4, 1), (5, 4, 300), (5, 2, 9), (7, 6, 300)],
)
def test_the_scan_and_its_gradients_equal_the_step_formula(modulus, levels, length, rng):
    batch, units = 3, 4
    moves = (rng.random((batch, length, levels, units)) < 0.4).astype(np.float32)
    resets = (rng.random((batch, length, units)) < 0.1).astype(np.float32)
    # A start between counts: the scan is linear in it.
    initial = rng.dirichlet(np.ones(modulus), size=(batch, units)).transpose(0, 2, 1)
    initial = initial.astype(np.float32)
    upstream = rng.normal(size=(batch, length, modulus, units)).astype(np.float32)
    got, (grad_moves, grad_resets, grad_initial) = op_gradients(
        moves, resets, initial, upstream, modulus
    )
    want, o = [], initial.astype(np.float64)
    for t in range(length):
        o = reference.reset_counter_step(o, moves[:, t].astype(np.float64), resets[:, t])
        want.append(o)
    np.testing.assert_allclose(got, np.stack(want, 1), atol=1e-5)
    want_moves, want_resets, want_initial = reference.reset_counter_gradients(
        moves, resets, initial, upstream
    )
    scale = 1e-4 * max(1.0, np.sqrt(length))
    np.testing.assert_allclose(grad_moves, want_moves, atol=scale)
    np.testing.assert_allclose(grad_resets, want_resets, atol=scale)
    np.testing.assert_allclose(grad_initial, want_initial, atol=scale)
    assert np.abs(want_moves).max() > 0 and np.abs(want_resets).max() > 0


def test_the_scan_counts_moves_and_resets():
    # Two moves, one, a reset, two: counts 2, 3, 0, 2; a reset and moves at once: 0 then moves.
    moves = np.array([[[[1.0], [1.0]], [[1.0], [0.0]], [[0.0], [0.0]], [[1.0], [1.0]]]])
    resets = np.array([[[0.0], [0.0], [1.0], [1.0]]])
    counts = numpy(keras.ops.argmax(keras_hsru.ops.reset_counter_scan(moves, resets, 5), 2))
    assert counts[0, :, 0].tolist() == [2, 3, 0, 2]


@pytest.mark.parametrize("length", [1, 37])
def test_hsru_equals_the_step_loop_and_the_reference(length, rng):
    x, weights = draw_reset_problem(rng, length=length)
    cot = np.random.default_rng(2)
    cotangents = [cot.normal(size=(3, length, 5))] + [
        cot.normal(size=(3, size)) for size in (5, 5, (K - 1) * 5)
    ]
    loop, scan = (
        layer_gradients(
            reset_layer(kind, weights, return_sequences=True, return_state=True), x, cotangents
        )
        for kind in ("cell", "hsru")
    )
    ref_out, ref_states = reference.hsru_forward(x, weights, 5.0, memory="reset", memory_states=K)
    # The threshold is learned through every level's and the reset's surrogates.
    assert_scan_matches_loop(loop, scan, [ref_out, *ref_states])


def test_the_count_adds_the_levels_passed_above_and_is_set_below(rng):
    x, weights = draw_reset_problem(rng, length=60)
    activity = reset_layer("hsru", weights).spike_activity(x)
    potential, counts = numpy(activity["potential"]), numpy(activity["memory"])
    theta = weights[3]
    passed = sum(
        (potential > j * theta).astype(int) + (-potential > (j + 1) * theta).astype(int)
        for j in range(1, K)
    )
    reset = -potential > theta
    count = np.zeros(counts[:, 0].shape, int)
    for t in range(potential.shape[1]):
        count = (np.where(reset[:, t], 0, count) + passed[:, t]) % K
        np.testing.assert_array_equal(counts[:, t], count)
    assert reset.any() and (passed > 1).any() and (reset & (passed > 0)).any()
    spikes = numpy(activity["spikes"])
    np.testing.assert_array_equal(spikes, passed + reset)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_masked_sequences_equal_the_unpadded_ones(go_backwards, rng):
    x, weights = draw_reset_problem(rng, length=15)
    mask = np.ones((3, 15), bool)
    mask[0, 9:] = False
    mask[1, 12:] = False
    padded = np.where(mask[..., None], x, 0.0).astype(np.float32)
    layer = reset_layer("hsru", weights, return_state=True, go_backwards=go_backwards)
    loop = reset_layer("cell", weights, return_state=True, go_backwards=go_backwards)
    got = [numpy(o) for o in layer(padded, mask=mask)]
    for want in ([numpy(o) for o in loop(padded, mask=mask)],):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-5)
    if not go_backwards:
        for row, length in ((0, 9), (1, 12)):
            alone = [numpy(o) for o in layer(x[row : row + 1, :length])]
            for a, b in zip(got, alone):
                np.testing.assert_allclose(a[row : row + 1], b, atol=1e-5)


def test_stateful_chunks_equal_the_whole_sequence(rng):
    x, weights = draw_reset_problem(rng, batch=2, length=24)
    whole = reset_layer("hsru", weights, return_sequences=True)
    chunked = keras_hsru.HSRU(
        5, memory="reset", memory_states=K, return_sequences=True, stateful=True
    )
    chunked.build((2, None, 4))
    chunked.set_weights(weights)
    pieces = [numpy(chunked(x[:, start : start + 8])) for start in range(0, 24, 8)]
    np.testing.assert_allclose(np.concatenate(pieces, 1), numpy(whole(x)), atol=1e-5)


def test_attentive_hsru_takes_a_reset_counter(rng):
    x, weights = draw_reset_problem(rng, length=20)
    weights = weights + [np.abs(rng.normal(size=4)).astype(np.float32) + 0.5]
    layer = keras_hsru.AttentiveHSRU(5, memory="reset", memory_states=K, return_sequences=True)
    layer.build((None, None, 4))
    layer.set_weights(weights)
    loop = reset_layer(
        "cell", weights, cell_class=keras_hsru.AttentiveHSRUCell, return_sequences=True
    )
    np.testing.assert_allclose(numpy(layer(x)), numpy(loop(x)), atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_the_count_in_float32(policy, rng):
    x, weights = draw_reset_problem(rng, length=20)
    layer = keras_hsru.HSRU(
        5, memory="reset", memory_states=K, return_sequences=True, return_state=True, dtype=policy
    )
    layer.build((None, None, 4))
    layer.set_weights(weights)
    outputs, _, _, state = layer(x)
    assert keras.backend.standardize_dtype(outputs.dtype) == policy.split("_")[1]
    _, states = reference.hsru_forward(x, weights, 5.0, memory="reset", memory_states=K)
    # Low precision may move a borderline count; the bulk stays where it was.
    assert (numpy(keras.ops.cast(state, "float32")) == states[2]).mean() > 0.9


def test_keras_file_round_trip(tmp_path, rng):
    x, weights = draw_reset_problem(rng, length=10)
    model = keras.Sequential(
        [keras.Input((None, 4)), reset_layer("hsru", weights), keras.layers.Dense(2)]
    )
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.layers[0].memory == "reset" and loaded.layers[0].memory_states == K
    np.testing.assert_allclose(numpy(loaded(x)), numpy(model(x)), atol=1e-6)


def test_the_kind_and_its_levels():
    kind = memory.memory_kind("reset", 5, units=3)
    assert type(kind) is memory.ResetCounter and kind.levels == 8 and kind.channels == 4
    assert kind.level_signs == [1.0] * 4 + [-1.0] * 4
    assert kind.level_multiples == [1.0, 2.0, 3.0, 4.0, 2.0, 3.0, 4.0, 5.0]
    assert memory.memory_kind("reset", 2, units=3).levels == 2
    cell = keras_hsru.HSRUCell(3, memory="reset", memory_states=5)
    assert cell.state_size == [3, 3, 12]
    assert cell.get_config()["memory"] == "reset"


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((np.zeros((1, 3, 2)), np.zeros((1, 3, 2)), 5), "move_spikes.shape="),
        ((np.zeros((1, 3, 1, 2)), np.zeros((1, 4, 2)), 5), "reset_spikes.shape="),
        ((np.zeros((1, 3, 1, 2)), np.zeros((1, 3, 2)), 1), "modulus=1"),
        ((np.zeros((1, 3, 1, 2), "int32"), np.zeros((1, 3, 2)), 5), "dtype=int32"),
        (
            (np.zeros((1, 3, 1, 2)), np.zeros((1, 3, 2)), 5, np.zeros((1, 4, 2))),
            "initial_state.shape=",
        ),
    ],
)
def test_the_scan_validates_its_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        keras_hsru.ops.reset_counter_scan(*arguments)


def test_an_unknown_memory_raises_naming_it():
    with pytest.raises(ValueError, match="memory='resets'"):
        keras_hsru.HSRU(4, memory="resets")


@pytest.mark.skipif(
    keras.backend.backend() == "torch", reason="keras exports tf_saved_model from TF and JAX"
)
def test_a_reset_counter_exports_to_a_saved_model_of_any_length(rng, tmp_path):
    x, weights = draw_reset_problem(rng, length=130, input_dim=3, units=4)
    model = keras.Sequential(
        [
            keras.Input((None, 3)),
            keras_hsru.HSRU(4, memory="reset", memory_states=K),
            keras.layers.Dense(1),
        ]
    )
    model(x[:, :2])
    model.layers[0].set_weights(weights)
    assert_saved_model_serves_like_predict(model, x, (1, 7, 130), tmp_path / "model")


# The hand-set cascades: tanh(20 * 0.5) = 1 - 4e-9; exp(-softplus(20)) = 2e-9.
SHARP, DECAYLESS = 20.0, 20.0


def _indicator_layer(inputs, units, k, targets, features):
    """The weights of a hand-set `HSRU(units, memory="reset", memory_states=k)`
    layer (or, with k = 2, of the XOR bit's `HSRU(units)`, whose weights have
    the same shapes): decay ~0 (V is this step's input), threshold 1.

    `targets[(feature, unit)]`: V where that input feature is on (inputs are
    +-1 indicators, one on a step); `features[out] = (rows, bias)`: the
    pre-activation `SHARP * (sum of those rows of [V, D] + bias)`; the other
    outputs are -1."""
    w_in = np.zeros((inputs, units), np.float32)
    for (feature, unit), value in targets.items():
        w_in[feature, unit] = value / 2
    b_in = w_in.sum(0)  # with +-1 inputs: V = 2 * w_in[active feature]
    w_out = np.zeros((k * units, units), np.float32)
    b_out = np.full(units, -SHARP, np.float32)
    for out, (rows, bias) in features.items():
        for row, weight in rows:
            w_out[row, out] = SHARP * weight
        b_out[out] = SHARP * bias
    tau, theta = np.full(units, DECAYLESS, np.float32), np.ones(units, np.float32)
    return [w_in, b_in, tau, theta, w_out, b_out]


def _d_row(units, count, unit):
    """The row of `[V, D]` that holds `unit`'s channel for `count` (1 .. k - 1)."""
    return count * units + unit


def _count_features(units, k):
    """`_indicator_layer`'s features for outputs 0 .. k - 1: unit 0's count is that value."""
    features = {0: ([(_d_row(units, c, 0), -1.0) for c in range(1, k)], 0.5)}
    features.update({c: ([(_d_row(units, c, 0), 1.0)], -0.5) for c in range(1, k)})
    return features


def _cascade_for_modular_arithmetic():
    """A three-layer cascade of reset counters, its weights set by hand, that
    follows Modular Arithmetic (Simple) modulo 5 (`keras_hsru.tasks.ModularArithmetic`).

    It keeps the value as `a + b`: `a` the sum of the finished terms, `b` the
    signed product since the last `+` or `-`. Every unit has decay ~0 (V is
    this step's input), threshold 1, and V at a band's centre, so that each
    step adds (`m + 0.5`) or sets (`-(m + 1.5)`) a count, or holds (0).

    - Layer 1 (k = 4): unit 0 sets its count to the last operator (1 `+`,
      2 `-`, 3 `*`; 0 at the start); units 1-8 carry the token in V (0.5,
      inside the band where the memory holds). Its outputs are indicators of
      (number, operator before it) and of each operator.
    - Layer 2 (k = 4): `b` as `Z` (unit 1: count 1 where b = 0) and `E`
      (unit 0: b = 2^E modulo 5): a number after `+` or the start sets E to
      log2 n, after `-` to log2 n + 2 (b = -n), after `*` adds log2 n; n = 0
      sets Z. Units 2 and 3 carry "a number" and "`*`". Its outputs are
      indicators of (number or `*`, E, b != 0).
    - Layer 3 (k = 5): unit 0 counts `a + b`: a number adds the new b, a `*`
      takes the old b away. Its outputs are the count's indicators, which the
      Dense layer reads.
    """
    log2 = {1: 0, 2: 1, 4: 2, 3: 3}  # b = 2^E modulo 5
    plus, minus, times = 5, 6, 7  # the operators' tokens after the numbers 0 .. 4

    # Layer 1: 9 one-hot tokens in, 32 units.
    targets = {(plus, 0): -2.5, (minus, 0): -3.5, (times, 0): -4.5}
    targets.update({(token, 1 + token): 0.5 for token in range(8)})  # inside the band
    features = {}
    for n in range(5):
        features[4 * n] = ([(1 + n, 2.0)] + [(_d_row(32, c, 0), -1.0) for c in (1, 2, 3)], -0.5)
        for c in (1, 2, 3):
            features[4 * n + c] = ([(1 + n, 2.0), (_d_row(32, c, 0), 1.0)], -1.5)
    for index, token in enumerate((plus, minus, times)):
        features[20 + index] = ([(1 + token, 2.0)], -0.5)
    first = _indicator_layer(9, 32, 4, targets, features)
    # The tokens are one-hot (0 and 1), not +-1: V = w_in[token].
    first[0], first[1] = first[0] * 2, np.zeros(32, np.float32)

    # Layer 2: layer 1's 32 indicators in, 16 units (E, Z, a number, `*`).
    targets = {}
    for n in range(5):
        for c in range(4):  # 0 start, 1 +, 2 -, 3 *
            feature = 4 * n + c
            targets[(feature, 2)] = 0.5
            if n == 0:
                targets[(feature, 1)] = -2.5  # set Z to 1: b = 0
            elif c < 3:
                targets[(feature, 1)] = -1.5  # set Z to 0
                e = log2[n] + (2 if c == 2 else 0)
                targets[(feature, 0)] = -((e % 4) + 1.5)  # set E
            elif log2[n]:
                targets[(feature, 0)] = log2[n] + 0.5  # add log2 n to E
    targets[(22, 3)] = 0.5
    features = {}
    for kind, unit in enumerate((2, 3)):  # a number, `*`
        for e in range(4):
            zero = [(_d_row(16, 1, 1), -1.0)]
            if e == 0:
                rows = [(unit, 2.0), *zero] + [(_d_row(16, c, 0), -1.0) for c in (1, 2, 3)]
                features[4 * kind] = (rows, -0.5)
            else:
                features[4 * kind + e] = ([(unit, 2.0), *zero, (_d_row(16, e, 0), 1.0)], -1.5)
    second = _indicator_layer(32, 16, 4, targets, features)

    # Layer 3: layer 2's 16 indicators in, 8 units; unit 0 counts a + b modulo 5.
    targets = {}
    for e in range(4):
        b = 2**e % 5
        targets[(e, 0)] = b + 0.5  # a number: add the new b
        targets[(4 + e, 0)] = (5 - b) + 0.5  # `*`: take the old b away
    features = {c - 1: ([(_d_row(8, c, 0), 1.0)], -0.5) for c in range(1, 5)}
    features[4] = ([(_d_row(8, c, 0), -1.0) for c in range(1, 5)], 0.5)
    third = _indicator_layer(16, 8, 5, targets, features)

    model = keras.Sequential(
        [
            keras.Input((None, 9)),
            keras_hsru.HSRU(32, memory="reset", memory_states=4, return_sequences=True),
            keras_hsru.HSRU(16, memory="reset", memory_states=4, return_sequences=True),
            keras_hsru.HSRU(8, memory="reset", memory_states=5),
            keras.layers.Dense(5),
        ]
    )
    readout = np.zeros((8, 5), np.float32)
    for c in range(1, 5):
        readout[c - 1, c] = 1.0
    readout[4, 0] = 1.0
    for layer, weights in zip(model.layers, (first, second, third, [readout, np.zeros(5)])):
        layer.set_weights(weights)
    return model


def test_a_hand_set_cascade_of_reset_counters_follows_modular_arithmetic():
    """The reset counter is enough to follow the task's automaton at any length
    (which training does not yet find): exact, with weights set by hand."""
    cascade = _cascade_for_modular_arithmetic()
    model = keras.Sequential([keras.Input((None, 9)), keras.layers.Masking(0.0), *cascade.layers])
    task = keras_hsru.tasks.ModularArithmetic(41, batch_size=1, seed=0)
    _assert_right_at_every_length(model, lambda count, n: task.sample(count, length=n, seed=n))


def _assert_right_at_every_length(model, draw, lengths=(1, 41, 499, 10_001), count=6):
    """`model` answers all `count` sequences of each length right (`draw(count,
    length)` gives them and their labels), scored in one batch padded with
    zeros, which `Masking` skips: a one-hot token is never all zeros."""
    xs, ys = [], []
    for length in lengths:
        x, y = draw(count, length)
        xs.append(np.pad(x, ((0, 0), (0, lengths[-1] - length), (0, 0))))
        ys.append(y)
    predicted = model.predict_on_batch(np.concatenate(xs)).argmax(-1)
    for index, (length, y) in enumerate(zip(lengths, ys)):
        got = predicted[index * count : (index + 1) * count]
        np.testing.assert_array_equal(got, y, err_msg=f"length {length}")


def _cascade_for_a_dihedral_group(task):
    """A two-layer cascade, its weights set by hand, that follows the word
    problem of a dihedral group D_n (`keras_hsru.tasks.WordProblem`; S3 is D3:
    every permutation of a triangle's corners is one of its symmetries).

    An element is a rotation `i -> k + i` (b = 0) or a reflection
    `i -> k - i` (b = 1), k modulo n. After a prefix the product is
    `(k_t, b_t)`; with `u_t = (-1)^b_t k_t` a token `(c, d)` makes
    `b_t = b_{t-1} xor d` and `u_t = u_{t-1} + (-1)^b_t c`: a bit, and below
    it in the cascade's order a count that the bit steers. Every unit has
    decay ~0 (V is this step's input) and V at a band's centre.

    - Layer 1 (the XOR bit, 2n + 1 units): units 0 .. n - 1 carry "the token
      turns by c" in V (below the threshold: their bits never flip); unit n
      spikes on a reflection, so its D is b_t. Its outputs are indicators of (b_t, c_t)
      and of b_t.
    - Layer 2 (k = n, n + 1 units): unit 0 adds `(-1)^b_t c_t` modulo n
      (V = m + 0.5 passes m levels of threshold 1); unit 1 carries b_t in V.
      Its outputs are the count's indicators and b_t's, which the Dense
      layer reads.
    """
    n, order = task.elements.shape[1], task.classes
    parts = []
    for p in task.elements:
        k, points = int(p[0]), np.arange(n)
        parts.append((k, 0) if np.array_equal(p, (k + points) % n) else (k, 1))
        assert np.array_equal(p, (k + (-1) ** parts[-1][1] * points) % n), p

    # Layer 1: one-hot tokens in. Units 0 .. n - 1 carry the rotation c (V = 0.5,
    # below the threshold); unit n's V passes it on a reflection, flipping its bit.
    units = 2 * n + 1
    targets = {(token, c): 0.5 for token, (c, d) in enumerate(parts)}
    targets.update({(token, n): 1.5 for token, (c, d) in enumerate(parts) if d})
    bit = _d_row(units, 1, n)  # unit n's D
    features = {2 * n: ([(bit, 1.0)], -0.5)}
    for c in range(n):  # V_c and [b_t = b]
        features[c] = ([(c, 2.0), (bit, -1.0)], -0.5)
        features[n + c] = ([(c, 2.0), (bit, 1.0)], -1.5)
    first = _indicator_layer(order, units, 2, targets, features)
    # The tokens are one-hot (0 and 1), not +-1: V = w_in[token].
    first[0], first[1] = first[0] * 2, np.zeros(units, np.float32)

    # Layer 2: layer 1's outputs in. Unit 0 adds (-1)^b_t c_t (V = m + 0.5 passes
    # m levels); unit 1 carries b_t (V = 0.5, inside the band).
    top = n + 1
    targets = {(2 * n, 1): 0.5}
    for b in (0, 1):
        for c in range(n):
            m = (c if b == 0 else -c) % n
            if m:
                targets[(b * n + c, 0)] = m + 0.5
    features = _count_features(top, n)
    features[n] = ([(1, 2.0)], -0.5)
    second = _indicator_layer(units, top, n, targets, features)

    # Each element scores 2 where its count and its bit hold, at most 1 elsewhere.
    readout, bias = np.zeros((top, order), np.float32), np.ones(order, np.float32)
    for element, (k, b) in enumerate(parts):
        readout[(-1) ** b * k % n, element] += 0.5
        readout[n, element] += 0.5 if b else -0.5
    model = keras.Sequential(
        [
            keras.Input((None, order)),
            keras.layers.Masking(0.0),
            keras_hsru.HSRU(units, return_sequences=True),
            keras_hsru.HSRU(top, memory="reset", memory_states=n),
            keras.layers.Dense(order),
        ]
    )
    for layer, weights in zip(model.layers[1:], (first, second, [readout, bias])):
        layer.set_weights(weights)
    return model


def _cascade_for_z60():
    """A three-layer cascade of reset counters, its weights set by hand, that
    follows the word problem of Z60 (`keras_hsru.tasks.WordProblem`): a sum
    modulo 60, as its residues modulo 4, 3 and 5 (Z60 = Z4 x Z3 x Z5), one
    count a layer of at most 4 levels, where one count modulo 60 takes 59.

    Each layer (12 units) adds the token's residue to its count (unit 0) and
    carries what the layers above need in its other units' V (0.5, inside the
    band where the memory holds): the token's other residues, and the counts
    below. Its outputs are indicators of its count and of what it carries; the
    Dense layer gives the element whose three residues hold 3, every other at
    most 2.
    """
    units, moduli = 12, (4, 3, 5)

    def carried(pairs, first_unit, first_out):
        """Each input feature of `pairs` carried in a unit's V, then read out."""
        targets, features = {}, {}
        for index, feature in enumerate(pairs):
            targets[(feature, first_unit + index)] = 0.5
            features[first_out + index] = ([(first_unit + index, 2.0)], -0.5)
        return targets, features

    def adds(residue_features):
        """Unit 0 adds r where the feature of residue r is on."""
        return {(f, 0): r + 0.5 for r, f in enumerate(residue_features) if r}

    # Layer 1 (k = 4): tokens in; carries the token modulo 3 and modulo 5.
    targets = {(j, 0): j % 4 + 0.5 for j in range(60) if j % 4}
    targets.update({(j, 1 + j % 3): 0.5 for j in range(60)})
    targets.update({(j, 4 + j % 5): 0.5 for j in range(60)})
    features = _count_features(units, 4)
    features.update({4 + r: ([(1 + r, 2.0)], -0.5) for r in range(3)})
    features.update({7 + r: ([(4 + r, 2.0)], -0.5) for r in range(5)})
    first = _indicator_layer(60, units, 4, targets, features)
    # The tokens are one-hot (0 and 1), not +-1: V = w_in[token].
    first[0], first[1] = first[0] * 2, np.zeros(units, np.float32)

    # Layer 2 (k = 3): outputs [count mod 4, token mod 3, token mod 5] in.
    targets, features = carried([*range(4), *range(7, 12)], 1, 3)
    targets.update(adds(range(4, 7)))
    features.update(_count_features(units, 3))
    second = _indicator_layer(units, units, 3, targets, features)

    # Layer 3 (k = 5): outputs [count mod 3, count mod 4, token mod 5] in.
    targets, features = carried(range(7), 5, 5)  # carries both counts
    targets.update(adds(range(7, 12)))
    features.update(_count_features(units, 5))
    third = _indicator_layer(units, units, 5, targets, features)

    # Outputs [count mod 5, count mod 3, count mod 4].
    readout = np.zeros((units, 60), np.float32)
    for j in range(60):
        readout[j % 5, j] = readout[5 + j % 3, j] = readout[8 + j % 4, j] = 0.5
    model = keras.Sequential(
        [
            keras.Input((None, 60)),
            keras.layers.Masking(0.0),
            *(
                keras_hsru.HSRU(units, memory="reset", memory_states=k, return_sequences=i < 2)
                for i, k in enumerate(moduli)
            ),
            keras.layers.Dense(60),
        ]
    )
    weights = (first, second, third, [readout, np.full(60, 1.5, np.float32)])
    for layer, layer_weights in zip(model.layers[1:], weights):
        layer.set_weights(layer_weights)
    return model


@pytest.mark.parametrize("group", ["S3", "D4", "Z60"])
def test_a_hand_set_cascade_follows_a_word_problem(group):
    """Cascades of reset counters are enough for these groups at any length
    (which training does not yet find): exact, with weights set by hand."""
    task = keras_hsru.tasks.WordProblem(1, group=group)
    model = _cascade_for_z60() if group == "Z60" else _cascade_for_a_dihedral_group(task)
    rng = np.random.default_rng(0)
    _assert_right_at_every_length(model, lambda count, n: task.generate(rng, count, n))
